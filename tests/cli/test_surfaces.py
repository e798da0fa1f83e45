"""What a person sees at the terminal: ids in full, clear refusals, one error shape."""

from __future__ import annotations

import io
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


@pytest.mark.parametrize("columns", [pytest.param("80", marks=pytest.mark.slow), "40"])
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
    one_line_error(result, "'--category': 'scan' is not one of")  # no validator's prefix


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


def test_keys_status_and_residency_report_are_tables_per_region(live_api, scene):
    keys = run_cli_process(live_api, "SECURITY", "keys", "status", env={"COLUMNS": "100"})
    assert keys.code == 0, keys.err
    header = next(line for line in keys.out.splitlines() if " JP " in line and " PH " in line)
    assert header  # one column per region
    row = next(line for line in keys.out.splitlines() if "subject_keys" in line)
    assert "=" not in row and "region=" not in keys.out  # no flattened key=value dump
    residency = run_cli_process(live_api, "COMPLIANCE", "residency", "report")
    assert residency.code == 0, residency.err
    for name in ("expected_location", "reported_location", "objects_accounted"):
        assert name in residency.out
    assert "…" not in residency.out


def test_a_new_version_shows_its_versions(live_api, scene):
    update = live_api.workdir / "surface-v2.png"
    update.write_bytes(b"an annotated x-ray")
    shown = run_cli(live_api, "SERVICE", "records", "put", str(update), "--record", scene["record"])
    assert shown.code == 0, shown.err
    row = next(line for line in shown.out.splitlines() if "versions" in line)
    assert "1, 2" in row
    answer = ok_json(
        run_cli(
            live_api,
            "SERVICE",
            "records",
            "put",
            str(update),
            "--record",
            scene["record"],
            "--json",
        )
    )
    assert [v["version"] for v in answer["versions"]] == [1, 2, 3]


def test_restriction_answers_on_stdout(live_api, scene):
    subject = ok_json(
        run_cli(
            live_api, "SERVICE", "subjects", "create", "CLINIC-RESTR", "--region", "JP", "--json"
        )
    )["id"]
    restricted = run_cli(live_api, "DPO", "restriction", "set", subject)
    assert restricted.code == 0 and "restricted" in restricted.out
    cleared = run_cli(live_api, "DPO", "restriction", "clear", subject)
    assert cleared.code == 0 and "allowed" in cleared.out


def test_json_wins_over_quiet_and_errors_are_json_with_json(live_api, scene):
    both = run_cli(
        live_api, "SERVICE", "subjects", "create", "CLINIC-SURF", "--region", "JP", "-q", "--json"
    )
    assert ok_json(both)["id"] == scene["subject"]
    missing = run_cli(live_api, "SERVICE", "records", "info", "0" * 32, "--json")
    assert missing.code == 1 and missing.out == ""
    problem = json.loads(missing.err)
    assert problem["code"] == "not-found" and problem["status"] == 404 and problem["exit_code"] == 1
    usage = run_cli(live_api, "SERVICE", "records", "put", "nope", "--json")
    assert usage.code == 2
    assert json.loads(usage.err)["code"] == "usage"


def test_one_error_shape_for_usage_and_server_errors(live_api, scene):
    usage = run_cli(live_api, "SERVICE", "records", "put", "nope")
    assert usage.code == 2
    one_line_error(usage, "give exactly one of --subject", "[usage]")
    assert "Invalid value" not in usage.err and "usage error" not in usage.err
    choice = run_cli(live_api, "SERVICE", "records", "put", "nope", "-s", "x", "--category", "scan")
    assert choice.code == 2
    one_line_error(choice, "'scan'", "[usage]")
    server = run_cli(live_api, "SERVICE", "records", "info", "0" * 32)
    assert server.code == 1
    one_line_error(server, "[not-found]")


def _help(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vault.cli", *args, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_reads_as_help():
    top = _help()
    assert "<bool>" not in top and "``" not in top
    names = [line.split()[1] for line in top.splitlines() if line.startswith("│ ") and "  " in line]
    assert names.index("subjects") < names.index("records") < names.index("serve")
    assert names.index("audit") < names.index("gc")
    assert "temp files, incomplete uploads)" in top  # a docstring's line break is not kept
    put = _help("records", "put")
    assert "<bool>" not in put and "photo|impression|xray" in put
    assert "Usage: recvault records put [OPTIONS] FILE" in put and "{file}" not in put
    transfer = _help("residency", "transfer")
    assert "consent|adequacy|contractual_safeguards" in transfer.replace("\n", "").replace("│", "")
    listing = _help("principals", "list")
    assert "machine-readable JSON" in listing


def test_a_short_flag_means_one_thing_everywhere():
    import typer

    from vault.cli import dev, oversight, rights, server, worker  # noqa: F401  (registers)
    from vault.cli.app import app, tidy_help

    meanings: dict[str, set[str]] = {}

    def walk(command) -> None:
        for param in command.params:
            longs = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in param.opts if o.startswith("-") and not o.startswith("--")):
                meanings.setdefault(short, set()).update(longs)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(tidy_help(typer.main.get_command(app)))
    assert meanings and all(len(longs) == 1 for longs in meanings.values()), meanings


@pytest.mark.parametrize("total", [None, 80_000_000])
def test_progress_shows_no_made_up_total(total):
    from rich.console import Console

    from vault.cli.output import transfer_progress

    screen = Console(file=io.StringIO(), force_terminal=True, width=120)
    with transfer_progress(total_known=total is not None, on=screen) as progress:
        task = progress.add_task("export", total=total)
        progress.advance(task, 55_600_000)
    shown = screen.file.getvalue()
    assert "/?" not in shown and "55.6" in shown
    assert ("80.0 MB" in shown) is (total is not None)


def test_instants_read_to_the_second_and_fold_into_date_and_time(monkeypatch, capsys):
    from vault.cli import output

    monkeypatch.setenv("COLUMNS", "80")
    output.console.cache_clear()  # a console 80 columns wide, dropped again below
    rows = [
        {
            "seq": 9,
            "ts": "2026-12-04T21:28:27.367496Z",
            "actor": "dev-service",
            "role": "service",
            "action": "record.create",
            "target": "0585eebd572e490eaffc107451cc7f40",
            "region": "JP",
            "outcome": "ok",
        }
    ]
    try:
        output.show_rows(rows, title="audit events")
        output.show_object({"placed_at": "2026-12-04T21:28:34.587387+00:00", "note": "T21"})
    finally:
        output.console.cache_clear()
    shown = capsys.readouterr().out
    assert "367496" not in shown and "587387" not in shown
    assert "2026-12-04 21:28:34Z" in shown  # whole where there is room
    row = next(line for line in shown.splitlines() if "0585eebd" in line)
    assert row.split("│")[2].strip() == "2026-12-04"  # folded at the space, not mid-number
    assert any(line.split("│")[2].strip() == "21:28:27Z" for line in shown.splitlines()[4:6])
    assert "0585eebd572e490eaffc107451cc7f40" in shown and "T21" in shown
