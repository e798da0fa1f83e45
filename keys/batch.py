"""The batch error rule shared by every provider: one typed error, or ``KeyBatchError``."""

from __future__ import annotations

from collections.abc import Mapping

from keys.base import KeyBatchError
from vault.errors import VaultError


def batch_failure(op: str, failures: Mapping[int, VaultError], total: int) -> VaultError:
    """The error to raise when items of a batch of ``total`` failed.

    When every item failed for the same reason (same error class) that error is
    raised as is, so callers can catch ``KeyDestroyed`` or ``KeyVersionRetired``
    directly; otherwise ``KeyBatchError`` maps each failed index to its error.
    """
    kinds = {type(error) for error in failures.values()}
    if len(failures) == total and len(kinds) == 1:
        return next(iter(failures.values()))
    return KeyBatchError(f"{len(failures)} of {total} items failed in {op}", failures)
