"""``recvault help TOPIC`` explains the concepts; shell completion installs and completes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT
from vault.cli.topics import TOPICS


def recvault(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RECVAULT_", "_RECVAULT"))}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


#: words each topic must explain (the policy's terms, the settings, the commands)
EXPECTED = {
    "retention": ["retain_until", "P10Y", "legal hold", "recvault retention plan"],
    "holds": ["case reference", "another principal", "recvault holds place"],
    "erasure": ["waiting_period", "P30D", "deferred", "410", "recvault erasure request"],
    "residency": ["JP", "legal basis", "recvault residency report", "admin and compliance"],
    "rotation": ["rewraps", "max_age", "no object is", "recvault keys rotate"],
}


@pytest.mark.parametrize("topic", sorted(EXPECTED))
def test_each_topic_explains_its_concept(topic):
    shown = recvault("help", topic)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    for words in EXPECTED[topic]:
        assert words in text, (topic, words)
    assert len(shown.stdout.splitlines()) < 25  # short: the docs page holds the details


def test_topics_are_listed_and_an_unknown_one_is_a_usage_error():
    listed = recvault("help")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == list(TOPICS)
    unknown = recvault("help", "backups")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: no help topic 'backups'")
    assert "retention" in unknown.stderr


def test_install_completion_and_complete(tmp_path: Path):
    installed = recvault("--install-completion", "bash", env={"HOME": str(tmp_path)})
    assert installed.returncode == 0, installed.stderr
    script = (tmp_path / ".bash_completions" / "recvault.sh").read_text()
    assert "_RECVAULT_COMPLETE=complete_bash" in script
    assert "recvault.sh" in (tmp_path / ".bashrc").read_text()
    words = {"_RECVAULT_COMPLETE": "complete_bash", "COMP_WORDS": "recvault hel", "COMP_CWORD": "1"}
    assert recvault(env=words).stdout.split() == ["help"]
    words.update(COMP_WORDS="recvault help re", COMP_CWORD="2")
    assert recvault(env=words).stdout.split() == ["retention", "residency"]
