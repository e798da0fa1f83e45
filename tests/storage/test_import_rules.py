"""Import rules of vault.storage: boto3 stays inside s3.py, and only loads on demand."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AWS_SDK = {"boto3", "botocore", "s3transfer"}
ALLOWED = {Path("vault/storage/s3.py")}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_s3_module_imports_the_aws_sdk() -> None:
    offenders = []
    for package in ("vault", "keys", "api"):
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO)
            if relative not in ALLOWED and imported_modules(path) & AWS_SDK:
                offenders.append(str(relative))
    assert offenders == []
    assert imported_modules(REPO / "vault/storage/s3.py") >= {"boto3", "botocore"}


def test_storage_does_not_import_keys_or_crypto() -> None:
    for path in sorted((REPO / "vault/storage").rglob("*.py")):
        tree = ast.parse(path.read_text())
        modules = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not any(m.startswith(("vault.crypto", "keys", "cryptography")) for m in modules)


def test_importing_vault_storage_does_not_load_boto3() -> None:
    code = (
        "import sys, vault.storage as s; "
        "assert 'boto3' not in sys.modules; "
        "cls = s.S3Store; "
        "assert 'boto3' in sys.modules and cls.__name__ == 'S3Store'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
