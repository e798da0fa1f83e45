"""Import rules of recvault (STYLE habits 1 and 1b), checked over every module's syntax tree.

This is the one import-rule check (ruff's banned-api repeats the hazmat rule in
editors):

- ``cryptography.hazmat``: only ``vault/crypto/`` (``keys/`` has no ``cryptography``
  at all: ``keys/local.py`` goes through ``vault.crypto``);
- ``hvac``: only ``keys/vault_transit.py`` (``keys/transit/`` builds on it);
- ``boto3`` / ``botocore`` / ``s3transfer``: only ``vault/storage/s3.py``
  (``s3_multipart`` is given the error translation);
- ``vault.storage.tuning``: only ``vault/storage/`` (Linux tuning stays private);
- ``vault/storage/`` imports neither keys nor crypto; ``vault/format/`` and
  ``vault/crypto/`` import no DB, store or key provider; the pure retention
  rules import nothing of recvault but durations; nothing under ``vault/``
  imports the HTTP edge (``api``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vault", "keys", "api")

#: (forbidden module prefix, predicate on the repository-relative path that may import it)
RULES: list[tuple[str, str, Callable[[str], bool]]] = [
    ("cryptography.hazmat", "vault/crypto/", lambda p: p.startswith("vault/crypto/")),
    ("cryptography", "anything outside keys/", lambda p: not p.startswith("keys/")),
    ("hvac", "keys/vault_transit.py", lambda p: p == "keys/vault_transit.py"),
    ("boto3", "vault/storage/s3.py", lambda p: p == "vault/storage/s3.py"),
    ("botocore", "vault/storage/s3.py", lambda p: p == "vault/storage/s3.py"),
    ("s3transfer", "vault/storage/s3.py", lambda p: p == "vault/storage/s3.py"),
    ("vault.storage.tuning", "vault/storage/", lambda p: p.startswith("vault/storage/")),
    ("api", "api/", lambda p: not p.startswith("vault/")),
]

#: the facade the edges call (RecordVault, its oversight half, its wiring)
FACADE = ("vault.service", "vault.oversight", "vault.wiring")

#: (importing folder, module prefixes it must not import): the layers of docs/architecture.md
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("vault/storage/", ("keys", "vault.crypto", "vault.metadata", "vault.format", *FACADE)),
    ("vault/crypto/", ("keys", "vault.storage", "vault.metadata", "vault.format", *FACADE)),
    ("vault/format/", ("keys", "vault.storage", "vault.metadata", *FACADE)),
    ("vault/metadata/", ("keys", "vault.storage", "vault.format", *FACADE)),
    ("vault/retention/rules.py", ("keys", "vault.storage", "vault.metadata", "vault.context")),
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


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(relpath: str, source: str) -> list[str]:
    out = []
    for module in sorted(imported_modules(source)):
        for prefix, owner, allowed in RULES:
            if _under(module, prefix) and not allowed(relpath):
                out.append(f"{relpath} imports {module}; only {owner} may")
        for folder, forbidden in LAYERS:
            if relpath.startswith(folder) and any(_under(module, f) for f in forbidden):
                out.append(f"{relpath} imports {module}; {folder} is below it")
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
        ("keys/local.py", "from cryptography.fernet import Fernet"),
        ("vault/service.py", "from vault.storage.tuning.allocator import tune_allocator"),
        ("vault/records/reads.py", "from vault.storage.tuning import direct"),
        ("vault/storage/local.py", "from keys.base import KeyProvider"),
        ("vault/storage/base.py", "from vault.crypto import random_bytes"),
        ("vault/format/envelope.py", "from vault.metadata import RecordRow"),
        ("vault/retention/rules.py", "from vault.metadata import RecordRow"),
        ("vault/records/writes.py", "from api.problems import install"),
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
        ("vault/storage/local.py", "from vault.storage.tuning.direct import read_range"),
        ("vault/cli/server.py", "from vault.storage import tune_process"),
        ("api/app.py", "from api.problems import install"),
    ],
)
def test_checker_allows_owners_and_lookalikes(relpath: str, source: str) -> None:
    assert violations(relpath, source) == []


def test_importing_vault_storage_does_not_load_boto3() -> None:
    code = (
        "import sys, vault.storage as s; "
        "assert 'boto3' not in sys.modules; "
        "cls = s.S3Store; "
        "assert 'boto3' in sys.modules and cls.__name__ == 'S3Store'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
