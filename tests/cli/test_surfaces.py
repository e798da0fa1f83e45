"""What a person sees at the terminal: ids in full, clear refusals, one error shape."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

import pytest

from tests.cli.conftest import LiveApi, Result, run_cli, run_cli_process

HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")


def ok_json(result: Result) -> object:
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.fixture(scope="module")
def scene(live_api: LiveApi) -> dict[str, str]:
    """A subject with one record and an active hold."""
    subject = ok_json(
        run_cli(
            live_api, "SERVICE", "subjects", "create", "CLINIC-SURF", "--region", "JP", "--json"
        )
    )
    assert isinstance(subject, dict)
    source = live_api.workdir / "surface.png"
    source.write_bytes(b"an x-ray")
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
            "xray",
            "--json",
        )
    )
    assert isinstance(record, dict)
    hold = ok_json(
        run_cli(
            live_api,
            "ADMIN",
            "holds",
            "place",
            subject["id"],
            "--case-ref",
            "CASE-SURF",
            "--reason",
            "counsel",
            "--json",
        )
    )
    assert isinstance(hold, dict)
    return {
        "subject": subject["id"],
        "record": record["id"],
        "hold": hold["id"],
        "path": str(source),
    }


@pytest.mark.parametrize("columns", ["80", "40"])
def test_tables_print_ids_in_full_when_narrow_or_piped(live_api, scene, columns):
    narrow = {"COLUMNS": columns}
    listed = run_cli_process(live_api, "SERVICE", "records", "ls", scene["subject"], env=narrow)
    assert listed.code == 0, listed.err
    assert scene["record"] in listed.out
    holds = run_cli_process(live_api, "ADMIN", "holds", "ls", "--active", env=narrow)
    assert holds.code == 0, holds.err
    assert scene["hold"] in holds.out and scene["subject"] in holds.out
    plan = run_cli_process(
        live_api, "COMPLIANCE", "retention", "plan", "--as-of", "2040-01-01T00:00:00Z", env=narrow
    )
    assert plan.code == 0, plan.err
    assert scene["record"] in plan.out and scene["subject"] in plan.out
    events = run_cli_process(
        live_api, "COMPLIANCE", "audit", "query", "--subject", scene["subject"], env=narrow
    )
    assert events.code == 0, events.err
    assert "…" not in events.out
    assert scene["record"] in events.out or scene["subject"] in events.out
    shown = run_cli_process(live_api, "DPO", "subjects", "get", scene["subject"], env=narrow)
    assert shown.code == 0, shown.err
    assert scene["subject"] in shown.out


def one_line_error(result: Result, *needles: str) -> None:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_an_empty_file_is_refused(live_api, scene):
    empty = live_api.workdir / "empty.png"
    empty.write_bytes(b"")
    new = run_cli(
        live_api,
        "SERVICE",
        "records",
        "put",
        str(empty),
        "-s",
        scene["subject"],
        "--category",
        "xray",
    )
    assert new.code == 2
    one_line_error(new, "empty record is refused", "[invalid-input]")
    version = run_cli(
        live_api, "SERVICE", "records", "put", str(empty), "--record", scene["record"]
    )
    assert version.code == 2
    one_line_error(version, "empty record is refused")
    piped = run_cli(
        live_api, "SERVICE", "records", "put", "-", "-s", scene["subject"], "--category", "xray"
    )
    assert piped.code == 2 and "empty record is refused" in piped.err


def test_an_unknown_category_is_refused_before_anything_is_sent(live_api, scene):
    # an unreachable address: had the CLI sent the file, the error would say "unreachable"
    result = run_cli(
        live_api,
        "SERVICE",
        "records",
        "put",
        scene["path"],
        "-s",
        scene["subject"],
        "--category",
        "scan",
        "--addr",
        "http://127.0.0.1:9",
    )
    assert result.code == 2
    assert "scan" in result.err and "xray" in result.err and "unreachable" not in result.err


def test_a_directory_is_named_as_one(live_api, scene, tmp_path):
    result = run_cli(
        live_api,
        "SERVICE",
        "records",
        "put",
        str(tmp_path),
        "-s",
        scene["subject"],
        "--category",
        "xray",
    )
    assert result.code == 2
    assert "is a directory" in result.err and "no such file" not in result.err


def _on_a_terminal(live_api: LiveApi, *args: str) -> tuple[int, bytes, str]:
    """Run the CLI with stdout on a pseudo-terminal; return (exit code, stdout bytes, stderr)."""
    primary, secondary = pty.openpty()
    done = subprocess.Popen(
        [sys.executable, "-m", "vault.cli", *args],
        env=live_api.env("SERVICE"),
        cwd=live_api.workdir,
        stdout=secondary,
        stderr=subprocess.PIPE,
    )
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    err = done.stderr.read().decode() if done.stderr else ""
    code = done.wait(timeout=60)
    os.close(primary)
    return code, seen, err


def test_records_get_refuses_binary_to_a_terminal(live_api, scene):
    code, seen, err = _on_a_terminal(live_api, "records", "get", scene["record"])
    assert code == 2 and b"an x-ray" not in seen
    assert "-o FILE" in err and len(err.strip().splitlines()) == 1
    forced_code, forced, _ = _on_a_terminal(live_api, "records", "get", scene["record"], "-o", "-")
    assert forced_code == 0 and b"an x-ray" in forced
    piped = run_cli_process(live_api, "SERVICE", "records", "get", scene["record"])
    assert piped.code == 0 and piped.raw == b"an x-ray"
