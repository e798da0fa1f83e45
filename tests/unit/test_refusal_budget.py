"""Refused access tokens are audited within a budget; what is left out is counted."""

from __future__ import annotations

from api.oidc import RefusalBudget


def test_refusals_past_the_budget_are_counted_in_the_next_minute() -> None:
    now = [0.0]
    budget = RefusalBudget(per_minute=2, clock=lambda: now[0])
    assert [budget.outcome("expired") for _ in range(5)] == [
        "refused:expired",
        "refused:expired",
        None,
        None,
        None,
    ]
    assert budget.outcome("issuer") == "refused:issuer"  # each reason has its own budget
    now[0] = 61.0
    assert budget.outcome("expired") == "refused:expired:more=3"
    assert budget.outcome("expired") == "refused:expired"
