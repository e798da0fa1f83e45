"""recvault: an encrypted records vault for clinical treatment records.

``from vault import RecordVault, Settings`` is the Python entry point.
"""

from vault.domain import Actor, Category, RecordInfo, Role, Subject
from vault.errors import VaultError
from vault.records import RecordInput
from vault.service import RecordVault
from vault.settings import Settings

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
