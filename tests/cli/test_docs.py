"""The ``console`` examples of docs/users.md, run in order in one shell against a live API."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.cli.conftest import ROOT

USERS_MD = ROOT / "docs" / "users.md"
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


def test_users_md_console_examples_run(live_api, tmp_path):
    commands = console_commands(USERS_MD.read_text())
    assert len(commands) > 20
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
