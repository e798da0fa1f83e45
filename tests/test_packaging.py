"""The wheel is the product: it carries every package and the migrations, and runs alone.

Built from this checkout with ``pip wheel``, installed into a new virtual
environment (recvault itself with ``--no-deps``: its dependencies are taken
from the test environment through a path entry, not from this checkout), then
``recvault db upgrade`` migrates a new SQLite file from an unrelated directory.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


#: one worker builds the wheel: two builds in one checkout share its build/ folder
pytestmark = pytest.mark.xdist_group("packaging")


def _packages_in_tree() -> set[str]:
    found = {
        path.parent.relative_to(ROOT).as_posix().replace("/", ".")
        for top in ("vault", "keys", "api")
        for path in (ROOT / top).rglob("__init__.py")
    }
    return found | {"vault.migrations", "vault.migrations.versions"}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    assert listed == _packages_in_tree()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: the build writes build/ and *.egg-info beside its source, and
    # the suite's other workers use the checkout meanwhile.
    source = tmp_path_factory.mktemp("source") / "recvault"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "node_modules",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".mypy_cache",
            ".ruff_cache",
            ".pytest_cache",
            "artifacts",
            ".recvault",
        ),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [built] = out.glob("recvault-*.whl")
    return built


def test_the_wheel_carries_the_migrations_and_policies(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "vault/migrations/env.py" in names
    assert "vault/migrations/script.py.mako" in names
    assert any(n.startswith("vault/migrations/versions/0001_") for n in names)
    assert {"keys/policy-service.hcl", "keys/policy-key-admin.hcl", "vault/py.typed"} <= names
    assert not any(n.startswith(("tests/", "bench/", "migrations/")) for n in names)


def test_the_wheel_carries_the_console_templates_and_static_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    console = ROOT / "api" / "console"
    shipped = {
        path.relative_to(ROOT).as_posix()
        for folder in ("templates", "static")
        for path in (console / folder).iterdir()
    }
    assert {"api/console/static/htmx.min.js", "api/console/templates/base.html"} <= shipped
    assert shipped <= names, sorted(shipped - names)


def test_installed_wheel_upgrades_a_new_database_from_anywhere(wheel: Path, tmp_path: Path) -> None:
    home = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(home)  # pip from the bundled wheel, offline
    python = home / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # recvault from the wheel only; its dependencies from this environment's site-packages
    subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (purelib / "recvault-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RECVAULT_DATABASE__URL": f"sqlite:///{elsewhere / 'new' / 'meta.db'}",
    }
    where = subprocess.run(
        [
            python,
            "-c",
            "import vault, vault.metadata.migrate as m; print(vault.__file__);"
            " print(m.MIGRATIONS_DIR)",
        ],
        cwd=elsewhere,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert where[0].startswith(str(purelib)) and where[1] == str(purelib / "vault" / "migrations")
    upgraded = subprocess.run(
        [home / "bin" / "recvault", "db", "upgrade"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    with sqlite3.connect(elsewhere / "new" / "meta.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"subjects", "records", "record_versions", "audit_events", "alembic_version"} <= tables
    version = subprocess.run(
        [home / "bin" / "recvault", "--version"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.returncode == 0 and version.stdout.strip() == "recvault 0.1.0"


@pytest.mark.slow
def test_wheel_with_its_dependencies_from_the_package_index(wheel: Path, tmp_path: Path) -> None:
    """Exactly what an operator does: a new venv, ``pip install <wheel>``, ``db upgrade``."""
    home = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(home)
    subprocess.run(
        [home / "bin" / "python", "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RECVAULT_DATABASE__URL": f"sqlite:///{tmp_path / 'meta.db'}",
    }
    upgraded = subprocess.run(
        [home / "bin" / "recvault", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
