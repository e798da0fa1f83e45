"""Import boundaries: hvac only in keys/vault_transit.py; no cryptography.hazmat in keys/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("keys", "vault", "api")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _sources(*packages: str) -> list[Path]:
    return [p for pkg in packages if (ROOT / pkg).is_dir() for p in (ROOT / pkg).rglob("*.py")]


def test_only_vault_transit_imports_hvac() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for path in _sources(*PRODUCT_PACKAGES)
        if any(name == "hvac" or name.startswith("hvac.") for name in _imports(path))
    }
    assert importers == {"keys/vault_transit.py"}


def test_keys_use_only_vault_crypto() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _sources("keys")
        if any(name.startswith("cryptography") for name in _imports(path))
    ]
    assert offenders == []
