"""Schemathesis's own runner against a served API: every check, zero failures.

``st run <addr>/openapi.json -c all`` with a principal holding every role, so
requests get past authorization into the handlers: no server error, every
status and content type documented, answers matching their schemas,
schema-valid requests accepted and invalid ones refused, 401 without a token,
405 with a right ``Allow``. The default run is short (examples and a few
fuzzed cases per operation); the slow one is the full run (coverage, fuzzing
and stateful phases).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import ApiEnv

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).parent / "st"


def run_st(api: ApiEnv, url: str, cwd: Path, *options: str, timeout: float) -> str:
    token = api.token("fuzzer", [r for r in ("service", "admin", "security", "compliance", "dpo")])
    command = [
        str(ST),
        "--config-file",
        str(ROOT / "schemathesis.toml"),  # what a paged list's cursor may answer
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--no-color",
        *options,
    ]
    # st keeps a cache in its working directory: a temporary one, never the repository
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    output = done.stdout + done.stderr
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    print(summary)
    assert done.returncode == 0, output[-20_000:]
    assert not re.search(r"\b[1-9]\d* (unique )?failures?\b", summary), summary
    return summary


def cases_generated(summary: str) -> int:
    found = re.search(r"(\d+) generated", summary)
    assert found, summary
    return int(found.group(1))


def test_schemathesis_all_checks_short(api, serve, tmp_path):
    served = serve(api.app)
    summary = run_st(
        api,
        served.url,
        tmp_path,
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        "2",
        "--seed",
        "20261203",
        timeout=280,
    )
    assert cases_generated(summary) >= 90


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_schemathesis_all_checks_every_phase(api, serve, tmp_path):
    served = serve(api.app)
    summary = run_st(api, served.url, tmp_path, "--request-timeout", "60", timeout=3500)
    assert cases_generated(summary) >= 900
