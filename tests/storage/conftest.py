"""Storage tests: a store class may name inherited tables that run under ``-m slow`` only."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before ``-m 'not slow'`` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` each case of the tables a class lists in ``slow_tables``."""
    for item in items:
        tables = getattr(getattr(item, "cls", None), "slow_tables", ())
        if getattr(item, "originalname", None) in tables:
            item.add_marker(pytest.mark.slow)
