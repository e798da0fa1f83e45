"""The ``recvault`` client commands against a live API: outcomes, JSON, exit codes, errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, LiveApi, Result, run_cli, run_cli_process
from vault.crypto.documents import verify_document


def ok_json(result: Result) -> object:
    assert result.code == 0, result.err
    return json.loads(result.out)


def one_line_error(result: Result, code: str) -> None:
    """Errors are one line on stderr, with the server's code, and no traceback."""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ") and lines[0].endswith(f"[{code}]"), lines[0]
    assert "Traceback" not in result.err


@pytest.fixture(scope="module")
def stored(live_api: LiveApi) -> dict[str, str]:
    """One JP subject with one 3 MB record, stored through the CLI."""
    subject = ok_json(
        run_cli(live_api, "SERVICE", "subjects", "create", "CLINIC-77", "--region", "jp", "--json")
    )
    assert isinstance(subject, dict) and subject["region"] == "JP"
    content = os.urandom(3 * 1024 * 1024 + 17)
    source = live_api.workdir / "scan.stl"
    source.write_bytes(content)
    record = ok_json(
        run_cli(
            live_api,
            "SERVICE",
            "records",
            "put",
            str(source),
            "--subject",
            subject["id"],
            "--category",
            "impression",
            "--json",
        )
    )
    assert isinstance(record, dict)
    assert record["size"] == len(content) and record["version"] == 1
    return {"subject": subject["id"], "record": record["id"], "path": str(source)}


def test_subjects_create_is_idempotent_and_get_reads_back(live_api, stored):
    again = run_cli(live_api, "SERVICE", "subjects", "create", "CLINIC-77", "--region", "JP", "-q")
    assert again.code == 0 and again.out.strip() == stored["subject"]
    subject = ok_json(run_cli(live_api, "DPO", "subjects", "get", stored["subject"], "--json"))
    assert subject["id"] == stored["subject"] and subject["restricted"] is False
    human = run_cli(live_api, "SERVICE", "subjects", "get", stored["subject"])
    assert human.code == 0 and "JP" in human.out


def test_records_get_streams_the_whole_file_and_a_range(live_api, stored, tmp_path):
    content = Path(stored["path"]).read_bytes()
    out = tmp_path / "copy.stl"
    got = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "-o", str(out), "--json")
    assert ok_json(got)["bytes"] == len(content)
    assert out.read_bytes() == content and not (tmp_path / "copy.stl.part").exists()
    part = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "--range", "100-1123")
    assert part.code == 0 and part.raw == content[100:1124]
    raw = tmp_path / "range.bin"
    ranged = run_cli(
        live_api,
        "SERVICE",
        "records",
        "get",
        stored["record"],
        "--range",
        "100-1123",
        "-o",
        str(raw),
    )
    assert ranged.code == 0 and raw.read_bytes() == content[100:1124]


def test_records_get_into_a_pipe_or_through_a_link_keeps_what_is_there(live_api, stored, tmp_path):
    """``-o`` naming a FIFO (or a device: ``-o /dev/null``) is written straight into, not
    replaced by a renamed file; through a symbolic link the file it names is replaced and
    the link stays (before, a get to /dev/null replaced the device with a file)."""
    content = Path(stored["path"]).read_bytes()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = bytearray()

    def drain() -> None:
        with fifo.open("rb") as reader:
            while chunk := reader.read(65536):
                received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)  # left blocked if nothing writes
    reader.start()
    got = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "-o", str(fifo))
    reader.join(timeout=30)
    assert got.code == 0, got.err
    assert not reader.is_alive(), "nothing was written into the pipe"
    assert bytes(received) == content
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and sorted(tmp_path.iterdir()) == [fifo]

    real = tmp_path / "scans" / "copy.stl"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "latest.stl"
    link.symlink_to(real)
    got = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "-o", str(link))
    assert got.code == 0, got.err
    assert link.is_symlink() and link.resolve() == real and real.read_bytes() == content
    assert sorted(p.name for p in real.parent.iterdir()) == ["copy.stl"]


def test_records_get_to_a_path_it_cannot_write_is_refused_before_anything_is_read(
    live_api, stored, tmp_path
):
    """A directory, a missing folder: refused with the path as given, nothing left behind,
    and no read of the record on the server (before, it read, then failed on ``x.part``)."""

    def reads() -> int:
        found = ok_json(
            run_cli(
                live_api,
                "COMPLIANCE",
                "audit",
                "query",
                "--action",
                "record.read",
                "--all",
                "--json",
            )
        )
        return sum(1 for e in found["items"] if e["target"] == stored["record"])

    before = reads()
    for given, says in (
        (str(tmp_path), "is a directory"),
        (str(tmp_path / "missing" / "copy.stl"), "no such directory"),
    ):
        got = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "-o", given)
        assert got.code == 2, got.err
        assert says in got.err and given in got.err and ".part" not in got.err, got.err
    assert list(tmp_path.iterdir()) == []
    assert reads() == before
    got = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "-o", "copy.stl")
    assert got.code == 0 and reads() == before + 1  # the count moves when a read happens


def test_records_get_over_http_loads_neither_the_server_stack_nor_httpx(live_api, stored, tmp_path):
    """A download's command starts with its own modules only (docs/benchmarks.md, P9 CLI):
    not the server's stack, not httpx, and no rich when nobody watches stderr."""
    out = tmp_path / "fast.stl"
    probe = (
        "import sys\n"
        "from vault.cli import main\n"
        f"sys.argv = ['recvault', 'records', 'get', {stored['record']!r}, '-o', {str(out)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        "heavy = ('httpx', 'sqlalchemy', 'fastapi', 'uvicorn', 'cryptography', 'rich.console')\n"
        "print(code, sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=live_api.env("SERVICE"),
        cwd=live_api.workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"
    assert out.read_bytes() == Path(stored["path"]).read_bytes()
    # the status line, written without rich, is one whole line however long the path
    assert done.stderr == f"wrote {out.stat().st_size} bytes to {out}\n"


def test_version_loads_no_command(tmp_path):
    """``recvault --version`` answers from the package's metadata without any command's
    modules (it loaded every one of them, ~1 s, before)."""
    probe = (
        "import sys\n"
        "from vault.cli import main\n"
        "sys.argv = ['recvault', '--version']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m.startswith('vault.cli.') or m == 'sqlalchemy')\n"
        "print(code, loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    version, verdict = done.stdout.strip().splitlines()
    assert version.startswith("recvault ") and version != "recvault "
    assert verdict == "0 ['vault.cli.app']"


def test_records_put_new_version_ls_info_versions(live_api, stored):
    update = live_api.workdir / "v2.bin"
    update.write_bytes(b"rectified content")
    info = ok_json(
        run_cli(
            live_api,
            "SERVICE",
            "records",
            "put",
            str(update),
            "--record",
            stored["record"],
            "--json",
        )
    )
    assert info["version"] == 2 and info["size"] == len(b"rectified content")
    listed = ok_json(run_cli(live_api, "SERVICE", "records", "ls", stored["subject"], "--json"))
    assert [r["id"] for r in listed["items"]] == [stored["record"]] and listed["next"] is None
    versions = ok_json(run_cli(live_api, "DPO", "records", "versions", stored["record"], "--json"))
    assert [v["version"] for v in versions] == [1, 2]
    meta = ok_json(run_cli(live_api, "DPO", "records", "info", stored["record"], "--json"))
    assert meta["version"] == 2 and "retain_until" in meta
    table = run_cli(live_api, "SERVICE", "records", "ls", stored["subject"])
    assert table.code == 0 and stored["record"][:8] in table.out


def test_records_put_from_stdin(live_api, stored):
    result = run_cli(
        live_api,
        "SERVICE",
        "records",
        "put",
        "-",
        "--subject",
        stored["subject"],
        "--category",
        "clinical_finding",
        "-q",
        stdin=b"finding: class II",
    )
    assert result.code == 0, result.err
    new_id = result.out.strip()
    back = run_cli(live_api, "SERVICE", "records", "get", new_id)
    assert back.code == 0 and back.out == "finding: class II"


def test_usage_errors_exit_2(live_api, stored):
    both = run_cli(live_api, "SERVICE", "records", "put", stored["path"])
    assert both.code == 2 and "exactly one of --subject" in both.err
    bad_range = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "--range", "9-1")
    assert bad_range.code == 2 and "Traceback" not in bad_range.err
    missing = run_cli(live_api, "SERVICE", "records", "get")
    assert missing.code == 2 and "Traceback" not in missing.err
    past_end = run_cli(
        live_api, "SERVICE", "records", "get", stored["record"], "--range", "999999999-"
    )
    assert past_end.code == 2
    one_line_error(past_end, "range-not-satisfiable")
    schema = run_cli(live_api, "SERVICE", "records", "info", "not-an-id")
    assert schema.code == 2
    one_line_error(schema, "malformed-id")
    naked = run_cli(live_api, None, "records", "ls", stored["subject"])
    assert naked.code == 2 and "RECVAULT_TOKEN" in naked.err


def test_server_refusals_are_one_line_and_exit_1(live_api, stored):
    forbidden = run_cli(live_api, "SERVICE", "holds", "ls")
    assert forbidden.code == 1
    one_line_error(forbidden, "forbidden")
    unknown = run_cli(live_api, "SERVICE", "records", "info", "0" * 32)
    assert unknown.code == 1
    one_line_error(unknown, "not-found")
    bad_token = run_cli(live_api, None, "records", "ls", stored["subject"], "--token", "rvt_nope")
    assert bad_token.code == 1
    one_line_error(bad_token, "unauthenticated")
    real = run_cli_process(live_api, "SERVICE", "holds", "ls")
    assert real.code == 1
    one_line_error(real, "forbidden")
    nowhere = run_cli(
        live_api, "SERVICE", "records", "ls", stored["subject"], "--addr", "http://127.0.0.1:9"
    )
    assert nowhere.code == 1
    one_line_error(nowhere, "unreachable")


def test_records_get_through_a_proxy_named_in_the_environment_uses_httpx(
    live_api, stored, tmp_path, monkeypatch
):
    """Downloads go straight to the address by http.client; with a proxy, httpx carries them."""
    from vault.cli.http import ApiClient

    client = ApiClient(live_api.addr, "rvt_x")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert client._proxied()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert not client._proxied()
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("HTTP_PROXY")
    assert not client._proxied()
    direct = tmp_path / "direct.stl"
    got = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "-o", str(direct))
    assert got.code == 0, got.err
    monkeypatch.setattr(ApiClient, "_proxied", lambda self: True)
    out = tmp_path / "via-httpx.stl"
    got = run_cli(live_api, "SERVICE", "records", "get", stored["record"], "-o", str(out))
    assert got.code == 0, got.err
    assert out.stat().st_size > 0 and out.read_bytes() == direct.read_bytes()


def test_records_get_cut_short_fails_and_leaves_no_file(live_api, tmp_path):
    """A body that ends before its Content-Length is an error, and nothing is left behind."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    out = tmp_path / "short.stl"
    try:
        cut = run_cli(
            live_api,
            "SERVICE",
            "records",
            "get",
            "0" * 32,
            "-o",
            str(out),
            "--addr",
            f"http://127.0.0.1:{port}",
        )
    finally:
        server.join(10)
        listener.close()
    assert cut.code == 1
    one_line_error(cut, "unreachable")
    assert not out.exists() and not (tmp_path / "short.stl.part").exists()


def test_holds_place_ls_release_by_another_admin(live_api, stored):
    hold = ok_json(
        run_cli(
            live_api,
            "ADMIN",
            "holds",
            "place",
            stored["subject"],
            "--case-ref",
            "CASE-2026-01",
            "--reason",
            "pending litigation",
            "--json",
        )
    )
    assert hold["active"] is True and hold["case_ref"] == "CASE-2026-01"
    active = ok_json(run_cli(live_api, "ADMIN", "holds", "ls", "--active", "--json"))
    assert hold["id"] in [h["id"] for h in active["items"]]
    same = run_cli(live_api, "ADMIN", "holds", "release", hold["id"], "--reason", "settled")
    assert same.code == 1
    one_line_error(same, "forbidden")
    released = ok_json(
        run_cli(live_api, "ADMIN2", "holds", "release", hold["id"], "--reason", "settled", "--json")
    )
    assert released["active"] is False and released["released_by"] == "cli-admin2"


def test_erasure_restriction_export(live_api, stored, tmp_path):
    decision = ok_json(run_cli(live_api, "DPO", "erasure", "request", stored["subject"], "--json"))
    assert decision["status"] == "deferred" and decision["reasons"]
    human = run_cli(live_api, "DPO", "erasure", "status", stored["subject"])
    assert human.code == 0 and "deferred" in human.out and "retention" in human.out
    restricted = ok_json(
        run_cli(live_api, "DPO", "restriction", "set", stored["subject"], "--json")
    )
    assert restricted["restricted"] is True
    blocked = run_cli(live_api, "SERVICE", "records", "get", stored["record"])
    assert blocked.code == 1
    one_line_error(blocked, "restricted")
    cleared = run_cli(live_api, "DPO", "restriction", "clear", stored["subject"])
    assert cleared.code == 0
    target = tmp_path / "export.zip"
    exported = ok_json(
        run_cli(live_api, "DPO", "export", stored["subject"], "-o", str(target), "--json")
    )
    assert exported["bytes"] == target.stat().st_size
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
    assert "manifest.json" in names and len(names) >= 2


def test_retention_plan_and_sweep(live_api, stored):
    plan = ok_json(run_cli(live_api, "COMPLIANCE", "retention", "plan", "--json"))
    assert isinstance(plan["items"], list) and "as_of" in plan
    ours = [i for i in plan["items"] if i["subject_id"] == stored["subject"]]
    assert not any(i["disposable"] for i in ours)  # retained for ten years
    dated = run_cli(live_api, "COMPLIANCE", "retention", "plan", "--as-of", "2030-01-01")
    assert dated.code == 2 and "zone" in dated.err
    sweep = ok_json(run_cli(live_api, "COMPLIANCE", "retention", "sweep", "--json"))
    assert sweep["records_erased"] == 0


def test_keys_destructions_ls(live_api):
    rows = ok_json(run_cli(live_api, "SECURITY", "keys", "destructions", "ls", "--json"))
    assert rows == {"items": [], "next": None}
    unknown = run_cli(live_api, "COMPLIANCE", "keys", "destructions", "certificate", "0" * 32)
    assert unknown.code == 1
    one_line_error(unknown, "not-found")


def test_keys_and_residency(live_api, stored):
    """Rotation, key status and the residency report answer JSON and exit 0."""
    rotated = ok_json(run_cli(live_api, "SECURITY", "keys", "rotate", "--region", "JP", "--json"))
    assert rotated["keys_rotated"] >= 1
    status = ok_json(run_cli(live_api, "SECURITY", "keys", "status", "--json"))
    assert "JP" in json.dumps(status)
    signed = ok_json(run_cli(live_api, "COMPLIANCE", "residency", "report", "--json"))
    assert verify_document(signed) and signed["document"]["ok"] is True
    denied = run_cli(live_api, "SERVICE", "keys", "rotate", "--json")
    assert denied.code == 1 and json.loads(denied.err)["code"] == "forbidden"


def test_residency_sections_page_by_page(live_api, stored):
    for n in range(2):  # three JP subjects and their keys at least
        run_cli(live_api, "SERVICE", "subjects", "create", f"CLINIC-PAGE-{n}", "-r", "JP")
    first = ok_json(
        run_cli(live_api, "COMPLIANCE", "residency", "keys", "JP", "--limit", "1", "--json")
    )
    assert len(first["items"]) == 1 and first["next"]
    every = ok_json(
        run_cli(
            live_api, "COMPLIANCE", "residency", "keys", "jp", "--limit", "1", "--all", "--json"
        )
    )
    keys = [e["key"] for e in every["items"]]
    assert every["next"] is None and len(keys) >= 3 and keys == sorted(set(keys))
    assert keys[0] == first["items"][0]["key"]
    assert {e["verdict"] for e in every["items"]} == {"ok"}
    objects = ok_json(run_cli(live_api, "COMPLIANCE", "residency", "objects", "JP", "--json"))
    assert objects["items"] and all(e["present"] for e in objects["items"])
    table = run_cli(live_api, "COMPLIANCE", "residency", "keys", "JP", "--limit", "1")
    assert table.code == 0 and "verdict" in table.out and "--cursor" in table.err


def test_audit_verify_and_query(live_api, stored):
    verified = ok_json(run_cli(live_api, "COMPLIANCE", "audit", "verify", "--json"))
    assert verified["ok"] is True and verified["events"] > 0
    events = ok_json(
        run_cli(
            live_api,
            "COMPLIANCE",
            "audit",
            "query",
            "--subject",
            stored["subject"],
            "--actor",
            "cli-service",
            "--limit",
            "3",
            "--json",
        )
    )
    assert 1 <= len(events["items"]) <= 3
    assert all(e["actor"] == "cli-service" for e in events["items"])
    first = ok_json(run_cli(live_api, "COMPLIANCE", "audit", "query", "--limit", "2", "--json"))
    assert len(first["items"]) == 2 and first["next"]
    rest = ok_json(
        run_cli(
            live_api, "COMPLIANCE", "audit", "query", "--limit", "2", "--cursor", first["next"],
            "--json",
        )
    )  # fmt: skip
    assert rest["items"][0]["seq"] > first["items"][-1]["seq"]
    paged = ok_json(
        run_cli(live_api, "COMPLIANCE", "audit", "query", "--limit", "3", "--all", "--json")
    )
    seqs = [e["seq"] for e in paged["items"]]
    assert paged["next"] is None and len(seqs) > 3
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert seqs[:2] == [e["seq"] for e in first["items"]]


def test_help_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "vault.cli", "--help"], capture_output=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0 and b"records" in done.stdout
