"""The permission matrix: which roles may call which route (DESIGN section 9).

Every ``/v1`` route is named, and the router-level dependency in ``api.deps``
looks the route up here before its handler runs. A route missing from the
matrix is refused (fail closed); a test checks that every route is listed.
Region grants and restriction are enforced inside ``RecordVault`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vault.domain import Role

S, A, SEC, C, D = Role.SERVICE, Role.ADMIN, Role.SECURITY, Role.COMPLIANCE, Role.DPO


@dataclass(frozen=True)
class Rule:
    """Allowed when the principal has any role of ``any_of`` and every role of ``all_of``."""

    any_of: frozenset[Role] = frozenset()
    all_of: frozenset[Role] = frozenset()

    def allows(self, roles: Iterable[Role]) -> bool:
        held = set(roles)
        if self.all_of and not self.all_of <= held:
            return False
        return not self.any_of or bool(self.any_of & held)


def any_of(*roles: Role) -> Rule:
    return Rule(any_of=frozenset(roles))


def all_of(*roles: Role) -> Rule:
    return Rule(all_of=frozenset(roles))


MATRIX: dict[str, Rule] = {
    "subjects.create": any_of(S),
    "subjects.get": any_of(S, D),
    "records.create": any_of(S),
    "records.list": any_of(S, D),
    "records.get": any_of(S, D),
    "records.content": any_of(S),
    "records.update": any_of(S),
    "holds.place": any_of(A),
    "holds.release": any_of(A),
    "holds.list": any_of(A),
    "erasure.request": any_of(D),
    "erasure.status": any_of(D),
    "restriction.set": any_of(D),
    "restriction.clear": any_of(D),
    "subjects.export": any_of(D),
    # A transfer moves a person's data across borders: one principal must hold both the
    # admin and the compliance role (no two-person flow over HTTP yet).
    "subjects.transfer": all_of(A, C),
    "keys.rotate": any_of(SEC),
    "keys.status": any_of(SEC),
    "destructions.list": any_of(SEC, C),
    "destructions.cancel": any_of(SEC, C),
    "destructions.certificate": any_of(SEC, C),
    "retention.plan": any_of(C),
    "retention.sweep": any_of(C),
    "retention.approve": any_of(C),
    "residency.report": any_of(C),
    "residency.objects": any_of(C),
    "residency.keys": any_of(C),
    "audit.query": any_of(C),
    "audit.verify": any_of(C),
}


def allowed(route_name: str, roles: Iterable[Role]) -> bool:
    rule = MATRIX.get(route_name)
    return rule is not None and rule.allows(roles)
