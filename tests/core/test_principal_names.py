"""Principal names are what the audit log, the access log and every table show: printable,
without spaces or control characters, so that no name can pass for another or rewrite an
operator's terminal."""

from __future__ import annotations

import pytest

from vault.domain import SYSTEM
from vault.errors import InvalidInput


@pytest.mark.parametrize(
    "name",
    [
        "two words",
        "tab\there",
        "line\nbreak",
        "esc\x1b[31mred",
        "nul\x00",
        "bidi\u202eevil",
        "\u00a0",
    ],
)
def test_a_name_with_spaces_or_control_characters_is_refused(make_vault, sqlite_url, name):
    vault = make_vault(sqlite_url)
    with pytest.raises(InvalidInput, match="principal name"):
        vault.principals.add(name, ["service"], None, SYSTEM)
    assert vault.principals.list(SYSTEM) == []


@pytest.mark.parametrize("name", ["intake", "dev-admin-2", "clinic.tokyo_1", "ops@example.org"])
def test_ordinary_names_are_kept(make_vault, sqlite_url, name):
    vault = make_vault(sqlite_url)
    principal, _ = vault.principals.add(f"  {name} ", ["service"], None, SYSTEM)
    assert principal.name == name
