"""What a person sees at the terminal: ids in full, clear refusals, one error shape."""

from __future__ import annotations

import json
import re

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
