"""Import rules of recvault (STYLE habit 1), checked over every module's syntax tree.

- ``cryptography.hazmat``: only ``vault/crypto/`` (``keys/local.py`` goes through it too);
- ``hvac``: only ``keys/vault_transit.py`` (``keys/transit/`` builds on it);
- ``boto3`` / ``botocore``: only ``vault/storage/s3.py`` (``s3_multipart`` is given
  the error translation).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vault", "keys", "api")

#: (forbidden module prefix, predicate on the repository-relative path that may import it)
RULES: list[tuple[str, str, Callable[[str], bool]]] = [
    ("cryptography.hazmat", "vault/crypto/", lambda p: p.startswith("vault/crypto/")),
    ("hvac", "keys/vault_transit.py", lambda p: p == "keys/vault_transit.py"),
    ("boto3", "vault/storage/s3.py", lambda p: p == "vault/storage/s3.py"),
    ("botocore", "vault/storage/s3.py", lambda p: p == "vault/storage/s3.py"),
]


def imported_modules(source: str) -> set[str]:
    """Every module a source imports: statements, ``from`` forms and dynamic imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            dynamic = name in {"import_module", "__import__"}
            if dynamic and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def violations(relpath: str, source: str) -> list[str]:
    out = []
    for module in sorted(imported_modules(source)):
        for prefix, owner, allowed in RULES:
            hit = module == prefix or module.startswith(prefix + ".")
            if hit and not allowed(relpath):
                out.append(f"{relpath} imports {module}; only {owner} may")
    return out


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_packages_are_present() -> None:
    relpaths = {p.relative_to(ROOT).as_posix() for p in _modules()}
    assert "vault/crypto/primitives.py" in relpaths
    assert "vault/format/envelope.py" in relpaths


def test_import_boundaries_hold() -> None:
    found = [
        v
        for path in _modules()
        for v in violations(path.relative_to(ROOT).as_posix(), path.read_text("utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    ("relpath", "source"),
    [
        (
            "vault/format/envelope.py",
            "from cryptography.hazmat.primitives.ciphers.aead import AESGCM",
        ),
        ("keys/local.py", "import cryptography.hazmat.primitives.hashes as h"),
        ("vault/service.py", "from cryptography import hazmat"),
        ("api/app.py", "import importlib\nimportlib.import_module('cryptography.hazmat')"),
        ("vault/service.py", "def f():\n    import hvac\n"),
        ("keys/local.py", "from hvac.exceptions import Forbidden"),
        ("vault/storage/local.py", "import boto3"),
        ("vault/residency/report.py", "from botocore.exceptions import ClientError"),
        ("keys/vault_transit.py", "__import__('boto3')"),
        ("keys/transit/provider.py", "from hvac.exceptions import Forbidden"),
        ("vault/storage/s3_multipart.py", "import botocore.exceptions"),
    ],
)
def test_checker_catches_offenders(relpath: str, source: str) -> None:
    assert violations(relpath, source), "the boundary check failed to see an offending import"


@pytest.mark.parametrize(
    ("relpath", "source"),
    [
        ("vault/crypto/primitives.py", "from cryptography.hazmat.primitives import hashes"),
        ("keys/vault_transit.py", "import hvac"),
        ("vault/storage/s3.py", "import boto3\nfrom botocore.config import Config"),
        ("vault/format/envelope.py", "from vault.crypto import AesGcm\nimport cryptography.x509"),
        ("vault/hvac_errors.py", "import hvacish\nfrom .boto3 import x"),
    ],
)
def test_checker_allows_owners_and_lookalikes(relpath: str, source: str) -> None:
    assert violations(relpath, source) == []
