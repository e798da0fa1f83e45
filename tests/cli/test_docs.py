"""The ``console`` and ``bash`` (curl) examples of README.md and docs/users.md, run live.

The curl examples run with ``--fail-with-body``: a refused request (a hold
released by the wrong id, 409) fails the test instead of printing a problem.
"""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from tests.cli.conftest import ROOT

USERS_MD = ROOT / "docs" / "users.md"
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(console|bash)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def console_commands(text: str) -> list[str]:
    """Lines starting with ``$ `` (continuations end with a backslash); output lines skipped.

    A ``bash`` block is a script as a whole (its curl examples), run in document order.
    """
    commands: list[str] = []
    for kind, block in BLOCK.findall(text):
        if kind == "bash":
            commands.append(block.rstrip("\n"))
            continue
        pending = ""
        for line in block.splitlines():
            if pending:
                pending += "\n" + line
            elif line.startswith("$ "):
                pending = line[2:]
            else:
                continue
            if not pending.endswith("\\"):
                commands.append(pending)
                pending = ""
    return commands


@pytest.mark.parametrize(
    ("doc", "at_least"),
    [
        (USERS_MD, 20),
        # README's tour runs the commands of docs/users.md's examples, with other arguments
        pytest.param(README, 15, marks=pytest.mark.slow),
    ],
    ids=["users", "readme"],
)
def test_console_examples_run(live_api, tmp_path, doc, at_least):
    commands = console_commands(doc.read_text())
    assert len(commands) > at_least
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "recvault"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m vault.cli "$@"\n')
    wrapper.chmod(0o755)
    (bin_dir / "activate").write_text("")  # stands in for .venv/bin/activate
    (tmp_path / ".venv").symlink_to(tmp_path)
    (tmp_path / ".recvault").mkdir()
    env_lines = [f"export RECVAULT_ADDR={live_api.addr}"] + [
        f"export RECVAULT_TOKEN_{role}={token}" for role, token in live_api.tokens.items()
    ]
    (tmp_path / ".recvault" / "dev.env").write_text("\n".join(env_lines) + "\n")
    script = ["set -euo pipefail", 'curl() { command curl --fail-with-body "$@"; }']
    for number, command in enumerate(commands, 1):
        script.append(f"echo '>>> {number}' >&2")
        script.append(command)
    script.append('echo; echo "RECORD=${RECORD:-}"')  # curl's answers end without a newline
    env = live_api.env(None)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env["TMPDIR"] = str(tmp_path / "tmp")  # where the examples' mktemp -d lands
    (tmp_path / "tmp").mkdir()
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    last = [line for line in done.stderr.splitlines() if line.startswith(">>> ")]
    failed_at = commands[int(last[-1][4:]) - 1] if last else "?"
    assert done.returncode == 0, f"failed at: {failed_at}\n{done.stderr[-2000:]}"
    assert "deferred" in done.stdout  # the erasure request was answered with its deferral
    # the examples write into a directory of their own, not where the reader stands
    assert sorted(p.name for p in tmp_path.iterdir()) == [".recvault", ".venv", "bin", "tmp"]
    if doc is USERS_MD:
        # every version, including the one curl PUT, was stored as the PNG it is
        record = re.findall(r"^RECORD=(\w+)$", done.stdout, re.MULTILINE)[-1]
        info = httpx.get(
            f"{live_api.addr}/v1/records/{record}",
            headers={"Authorization": f"Bearer {live_api.tokens['DPO']}"},
        ).json()
        assert len(info["versions"]) == 3
        assert {v["content_type"] for v in info["versions"]} == {"image/png"}
