"""A dependency that fails or hangs is a 503 with Retry-After, never a 500 or a dropped
connection: PostgreSQL backends killed mid-request, a held lock (lock_timeout), a key
service that never answers (/readyz); and input the code cannot compute is a 400."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import problem
from tests.fixtures.db import PG_BASE
from vault.metadata.migrate import downgrade, upgrade


def _named(pg_url: str) -> tuple[str, str]:
    """``pg_url`` with an application name of its own, so only this test's backends are killed."""
    name = "rv-edge-" + uuid.uuid4().hex[:12]
    return f"{pg_url}&application_name={name}", name


def _subject(api) -> str:
    response = api.client.post(
        "/v1/subjects", json={"external_ref": "p-1", "region": "JP"}, headers=api.auth("svc")
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def pg_admin():
    engine = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_locker():
    """A connection of its own that takes locks inside a transaction."""
    engine = create_engine(PG_BASE)
    yield engine
    engine.dispose()


def _terminate(admin, app_name: str) -> int:
    with admin.connect() as conn:
        return len(
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": app_name},
            ).all()
        )


@pytest.mark.postgres
def test_backend_killed_while_waiting_is_503_then_serves_again(
    make_api, pg_url, pg_admin, pg_locker
):
    url, app_name = _named(pg_url)
    api = make_api(url, database={"lock_timeout": "PT60S", "statement_timeout": "PT60S"})
    subject_id = _subject(api)
    h = api.auth("svc")
    schema = pg_url.rsplit("%3D", 1)[1]
    answers: list = []
    locker = pg_locker.connect()
    tx = locker.begin()
    locker.execute(text(f'LOCK TABLE "{schema}".subjects IN ACCESS EXCLUSIVE MODE'))
    try:
        reader = threading.Thread(
            target=lambda: answers.append(api.client.get(f"/v1/subjects/{subject_id}", headers=h))
        )
        reader.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the request waits on the lock
            with pg_admin.connect() as conn:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE application_name = :n AND wait_event_type = 'Lock'"
                    ),
                    {"n": app_name},
                ).scalar()
            if waiting:
                break
            time.sleep(0.05)
        assert _terminate(pg_admin, app_name) >= 1
        reader.join(timeout=30)
    finally:
        tx.rollback()
        locker.close()
    [killed] = answers
    assert killed.status_code == 503, killed.text
    assert int(killed.headers["retry-after"]) >= 1
    assert problem(killed)["code"] == "unavailable"
    assert api.client.get(f"/v1/subjects/{subject_id}", headers=h).status_code == 200


@pytest.mark.postgres
def test_backends_killed_in_a_loop_give_only_200_or_503(make_api, pg_url, pg_admin):
    url, app_name = _named(pg_url)
    api = make_api(url)
    subject_id = _subject(api)
    h = api.auth("svc")
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set():
            _terminate(pg_admin, app_name)
            time.sleep(0.01)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        statuses = [
            api.client.get(f"/v1/subjects/{subject_id}", headers=h).status_code for _ in range(60)
        ]
        statuses += [
            api.client.get(f"/v1/subjects/{subject_id}/records", headers=h).status_code
            for _ in range(30)
        ]
    finally:
        stop.set()
        thread.join()
    assert set(statuses) <= {200, 503}, statuses
    assert api.client.get(f"/v1/subjects/{subject_id}", headers=h).status_code == 200


@pytest.mark.postgres
def test_a_held_table_lock_is_503_within_the_lock_timeout(make_api, pg_url, pg_locker):
    api = make_api(pg_url, database={"lock_timeout": "PT1S", "statement_timeout": "PT5S"})
    subject_id = _subject(api)
    h = api.auth("svc")
    schema = pg_url.rsplit("%3D", 1)[1]
    with pg_locker.connect() as locker:
        tx = locker.begin()
        locker.execute(text(f'LOCK TABLE "{schema}".subjects IN ACCESS EXCLUSIVE MODE'))
        try:
            held = api.client.get(f"/v1/subjects/{subject_id}", headers=h)
        finally:
            tx.rollback()
    assert held.status_code == 503, held.text
    assert "retry-after" in held.headers and problem(held)["code"] == "unavailable"
    assert "LOCK" not in held.text and "SELECT" not in held.text
    assert api.client.get(f"/v1/subjects/{subject_id}", headers=h).status_code == 200


def test_readyz_answers_when_the_key_service_hangs(make_api, sqlite_url):
    """A key service that accepts connections and never answers: /readyz says ``timeout``
    for it (all checks run at once) instead of waiting for every client timeout in turn."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    addr = f"http://127.0.0.1:{hole.getsockname()[1]}"

    class Bao:
        root_token = "hvs.unused"

    Bao.addr = addr
    try:
        api = make_api(sqlite_url, keys="transit", bao=Bao, key_timeout=30.0)
        ready = api.client.get("/readyz")
    finally:
        hole.close()
    assert ready.status_code == 503 and "retry-after" in ready.headers
    checks = ready.json()["checks"]
    assert checks["keys:JP"] == "timeout" and checks["keys:PH"] == "timeout"
    assert checks["database"] == "ok" and checks["store:JP"] == "ok"


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "9999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+00:00",
    ],
)
def test_dates_at_the_edge_of_the_calendar_are_400_or_answered(api, value):
    h = api.auth("comp", ["compliance"])
    for path, name in (("/v1/retention/plan", "as_of"), ("/v1/audit", "since")):
        response = api.client.get(path, params={name: value}, headers=h)
        assert response.status_code in (200, 400), (path, value, response.text)
        if response.status_code == 400:
            assert problem(response)["code"] == "invalid-input"
    # an offset that moves the instant past year 1 or 9999 is clamped to the edge, not refused
    # (a well-formed RFC 3339 time is a valid request)
    plan = api.client.get("/v1/retention/plan", params={"as_of": value}, headers=h)
    assert plan.status_code == 200, plan.text
    audit = api.client.get("/v1/audit", params={"until": value}, headers=h)
    assert audit.status_code in (200, 400)


def test_an_absurd_range_is_416(api):
    subject_id = _subject(api)
    h = api.auth("svc")
    created = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=xray", content=b"0123456789", headers=h
    )
    url = f"/v1/records/{created.json()['id']}/content"
    for spec in ("bytes=99999999999999999999999-", "bytes=4611686018427387904-"):
        refused = api.client.get(url, headers={**h, "Range": spec})
        assert refused.status_code == 416, (spec, refused.text)
        assert refused.headers["content-range"] == "bytes */10"
    huge_suffix = api.client.get(url, headers={**h, "Range": "bytes=-99999999999999999999999"})
    assert huge_suffix.status_code == 206 and huge_suffix.content == b"0123456789"


def test_a_database_without_this_recvaults_schema_is_not_ready_and_answers_503(make_api, db_url):
    """``recvault db upgrade`` not run (or an older release's schema): /readyz takes the
    process out of service and requests answer 503 ``schema-not-current``, never 500. A
    revision this release does not know is a newer release's: still ready."""
    api = make_api(db_url)
    h = api.auth("svc")

    def database_check() -> tuple[int, str]:
        ready = api.client.get("/readyz")
        return ready.status_code, ready.json()["checks"]["database"]

    assert database_check() == (200, "ok")
    downgrade(db_url, "0006")  # the schema of the release before
    assert database_check() == (503, "schema-not-current")
    upgrade(db_url)
    assert database_check() == (200, "ok")
    with create_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert database_check() == (200, "ok")

    with create_engine(db_url).begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("ALTER TABLE subjects RENAME TO subjects_elsewhere"))
    assert database_check() == (503, "schema-not-current")
    response = api.client.post(
        "/v1/subjects", json={"external_ref": "p-1", "region": "JP"}, headers=h
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "schema-not-current"
    assert "subjects" not in response.text  # no SQL in the answer
