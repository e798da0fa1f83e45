"""Schema migrations: Alembic over the tables of ``vault.metadata`` (``recvault db upgrade``)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection

from vault.errors import SchemaNotCurrent
from vault.metadata.sessions import schema_missing


def _migrations_dir() -> Path:
    """``vault/migrations`` in an installed wheel, ``migrations/`` in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "migrations"
    return installed if (installed / "env.py").is_file() else package.parent / "migrations"


MIGRATIONS_DIR = _migrations_dir()

#: tables the models do not describe: the monthly partitions of audit_events on PostgreSQL
#: (attached or detached, vault/audit/partitions.py)
_PARTITION = re.compile(r"^audit_events_(\d{4}_\d{2}|default)$")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: leave the audit partitions out of comparisons."""
    return not (type_ == "table" and name is not None and _PARTITION.match(name))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the metadata DB at ``url`` to ``revision`` (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


@functools.cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """This recvault's head revisions, and every revision it knows."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    known = frozenset(r.revision for r in script.walk_revisions())
    return frozenset(script.get_heads()), known


def check_schema(conn: Connection) -> None:
    """Raise ``SchemaNotCurrent`` if the DB lacks recvault's schema or holds an older one.

    Readiness runs it, so a process whose database was not migrated (``recvault db
    upgrade`` not run) is taken out of service instead of answering every request
    503. A revision this recvault does not know is a newer one (a later release
    migrated the DB while this process still runs): not refused here.
    """
    try:
        current = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except sa_exc.DBAPIError as exc:
        if schema_missing(exc):
            raise SchemaNotCurrent() from None
        raise
    heads, known = _revisions()
    if not current or (current <= known and not current & heads):
        raise SchemaNotCurrent()
