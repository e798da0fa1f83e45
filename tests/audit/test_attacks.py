"""Each attack on the audit log by someone who can write the metadata DB, before and after
a signed checkpoint, on SQLite and PostgreSQL.

Before a checkpoint the chain alone catches an edited or deleted row, a cut tail
(``audit_head`` still names the lost events) and a chain recomputed with another
key; a rewound head, or a chain recomputed with the chain key, verifies: that is
the gap checkpoints close. After a checkpoint every attack on covered events fails.
The two attack tables run on PostgreSQL under ``-m slow``; the rewind and loss
cases below run on both in the default run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest

from tests.audit.conftest import Attacker, fill, head
from tests.fixtures.db import postgres_slow


@dataclass(frozen=True)
class Case:
    name: str
    #: ok before a checkpoint (True: the chain alone cannot tell)
    ok_before: bool
    #: first_broken_seq after a checkpoint at ``cp`` of a chain ending at ``top``
    broken_after: str


CASES = [
    Case("edit", False, "5"),
    Case("delete_middle", False, "5"),
    Case("cut_tail", False, "top-49"),
    Case("rewind_head", True, "top-49"),
    Case("replace_other_key", False, "1"),
    Case("rewrite_with_chain_key", True, "cp"),
]


def attack(case: str, attacker: Attacker, top: int, chain_secret: bytes) -> None:
    if case == "edit":
        attacker.edit(5)
    elif case == "delete_middle":
        attacker.delete(5)
    elif case == "cut_tail":
        attacker.cut_tail(top - 50)
    elif case == "rewind_head":
        attacker.rewind(top - 50)  # the newest 50 events vanish, the head says so too
    elif case == "replace_other_key":
        attacker.rewrite(secrets.token_bytes(32), actor_at=5)
    elif case == "rewrite_with_chain_key":
        attacker.rewrite(chain_secret, actor_at=5)


def expected_seq(rule: str, top: int, cp: int) -> int:
    return {"top-49": top - 49, "cp": cp}.get(rule) or int(rule)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@postgres_slow
def test_attack_before_a_checkpoint(make_vault, attacker, db_url, clock, case):
    vault = make_vault(db_url)
    fill(vault, clock, 70)
    assert vault.verify_audit().ok
    top = head(vault)
    attack(case.name, attacker(db_url), top, vault.settings.secret_bytes("signing_key"))
    verdict = vault.verify_audit()
    assert verdict.ok is case.ok_before, verdict
    assert verdict.checkpoint_seq is None and verdict.checkpoint_status == "none"
    if not verdict.ok:
        assert verdict.first_broken_seq == expected_seq(case.broken_after, top, cp=0)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@postgres_slow
def test_attack_after_a_checkpoint(make_vault, attacker, db_url, clock, case):
    vault = make_vault(db_url)
    fill(vault, clock, 60)
    checkpoint = vault.audit_checkpoint()
    assert checkpoint is not None and checkpoint.seq == 60
    assert checkpoint.regions == ("JP", "PH")
    fill(vault, clock, 10)
    top = head(vault)
    before = vault.verify_audit()
    assert before.ok and before.checkpoint_seq == 60
    assert before.events_after_checkpoint == top - 60  # the checkpoint event and 10 more
    top = head(vault)
    attack(case.name, attacker(db_url), top, vault.settings.secret_bytes("signing_key"))
    verdict = vault.verify_audit()
    assert not verdict.ok, verdict
    assert verdict.first_broken_seq == expected_seq(case.broken_after, top, 60)
    assert verdict.checkpoint_seq == 60 and verdict.checkpoint_status == "found"
    assert verdict.reason


def test_rewound_head_names_what_is_gone(make_vault, attacker, db_url, clock):
    vault = make_vault(db_url)
    fill(vault, clock, 60)
    vault.audit_checkpoint()
    fill(vault, clock, 10)
    top = head(vault)
    attacker(db_url).rewind(top - 50)
    verdict = vault.verify_audit()
    assert verdict.events == top - 50
    assert verdict.events_after_checkpoint == 0
    gone = 60 - (top - 50)
    assert verdict.reason == f"chain ends at event {top - 50}; {gone} checkpointed events are gone"


def test_loss_after_the_newest_checkpoint_is_measured(make_vault, attacker, db_url, clock):
    """Events after the newest checkpoint have the chain only: the answer says how many."""
    vault = make_vault(db_url)
    fill(vault, clock, 20)
    vault.audit_checkpoint()
    fill(vault, clock, 10)
    attacker(db_url).rewind(25)
    verdict = vault.verify_audit()
    assert verdict.ok and verdict.checkpoint_seq == 20 and verdict.events_after_checkpoint == 5
