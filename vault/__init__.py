"""recvault: an encrypted records vault for clinical treatment records.

``from vault import RecordVault, Settings`` is the Python entry point. The
names below load on first use, so that leaf modules (``vault.errors``,
``vault.crypto``) import without pulling in the whole service.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vault.domain import Actor, Category, RecordInfo, Role, Subject
    from vault.errors import VaultError
    from vault.records.writes import RecordInput
    from vault.service import RecordVault
    from vault.settings import Settings

_EXPORTS = {
    "Actor": "vault.domain",
    "Category": "vault.domain",
    "RecordInfo": "vault.domain",
    "Role": "vault.domain",
    "Subject": "vault.domain",
    "VaultError": "vault.errors",
    "RecordInput": "vault.records.writes",
    "RecordVault": "vault.service",
    "Settings": "vault.settings",
}

__all__ = [
    "Actor",
    "Category",
    "RecordInfo",
    "RecordInput",
    "RecordVault",
    "Role",
    "Settings",
    "Subject",
    "VaultError",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vault' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
