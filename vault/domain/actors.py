"""Who acts: the roles, and the Actor each operation is done by (``SYSTEM`` by default)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    SERVICE = "service"
    ADMIN = "admin"
    SECURITY = "security"
    COMPLIANCE = "compliance"
    DPO = "dpo"


@dataclass(frozen=True)
class Actor:
    """Who acts: a name for the audit log, roles and granted regions.

    ``regions=None`` means every region (the embedded library default).
    """

    name: str = "system"
    roles: frozenset[Role] = frozenset({Role.SERVICE})
    regions: frozenset[str] | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    def may_access_region(self, region: str) -> bool:
        return self.regions is None or region in self.regions

    @property
    def role_label(self) -> str:
        return ",".join(sorted(r.value for r in self.roles))


SYSTEM = Actor()


def as_actor(actor: Actor | str) -> Actor:
    """The actor a call names: an ``Actor``, or a bare name acting with the default roles."""
    return Actor(name=actor) if isinstance(actor, str) else actor
