"""SQLite: writers of one process queue on a lock; readers (``read_scope``) never wait for it."""

from __future__ import annotations

import threading

from sqlalchemy import text

from vault.domain import SYSTEM
from vault.metadata import read_scope, session_scope


def test_a_reader_in_another_thread_reads_while_a_writer_holds_the_lock(make_vault, sqlite_url):
    vault = make_vault(sqlite_url)
    vault.principals.add("intake", ["service"], None, SYSTEM)
    engine = vault._ctx.engine
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with session_scope(engine) as session:
            session.execute(text("UPDATE principals SET disabled = disabled"))
            holding.set()
            release.wait()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(30)
        with read_scope(engine) as reader:  # would wait for the writer's lock, then fail
            count = reader.execute(text("SELECT count(*) FROM principals")).scalar_one()
        assert count == 1
    finally:
        release.set()
        thread.join()


def test_concurrent_writers_all_commit(make_vault, sqlite_url):
    vault = make_vault(sqlite_url)
    engine = vault._ctx.engine
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE tally (n INTEGER)"))
        session.execute(text("INSERT INTO tally VALUES (0)"))
    failures: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with session_scope(engine) as session:
                    n = session.execute(text("SELECT n FROM tally")).scalar_one()
                    session.execute(text("UPDATE tally SET n = :n"), {"n": n + 1})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    with read_scope(engine) as session:
        assert session.execute(text("SELECT n FROM tally")).scalar_one() == 200
