"""The ``console`` examples of README.md and docs/users.md, run in order against a live API."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT

USERS_MD = ROOT / "docs" / "users.md"
README = ROOT / "README.md"
BLOCK = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)


def console_commands(text: str) -> list[str]:
    """Lines starting with ``$ `` (continuations end with a backslash); output lines skipped."""
    commands: list[str] = []
    for block in BLOCK.findall(text):
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
    ("doc", "at_least"), [(USERS_MD, 20), (README, 15)], ids=["users", "readme"]
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
    script = ["set -euo pipefail"]
    for number, command in enumerate(commands, 1):
        script.append(f"echo '>>> {number}' >&2")
        script.append(command)
    env = live_api.env(None)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
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
