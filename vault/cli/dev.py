"""``recvault dev``: the whole vault on one machine with one command (DESIGN section 10).

SQLite, local object stores for JP and PH and a persistent OpenBao
(``vault.cli.devbao``) under one data directory, the API on a loopback port,
and one principal per role whose tokens land in ``<data dir>/dev.env``. A
second start reuses everything: the same secrets, database, objects, subject
keys and tokens. Ctrl-C or SIGTERM stops what it started: the API first, then
OpenBao.

``dev.env`` (mode 0600) holds everything a second shell needs: the API's
address and tokens for the client commands, and ``RECVAULT_CONFIG``, the
deployment secrets and a key-admin Vault token for the server-side ones
(``recvault principals add``). ``dev.lock`` is held (``flock``) while an
instance runs, so a second start on the same data directory says so.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shlex
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Annotated

import typer

from vault.cli.app import app
from vault.cli.devbao import EmbeddedBao, write_private
from vault.cli.output import console
from vault.cli.server import server_options
from vault.errors import ConfigError, Conflict, Unauthenticated
from vault.settings import Settings

if TYPE_CHECKING:
    from vault.domain import Actor

REGIONS = {"JP": "ap-northeast-1", "PH": "ph-manila-1"}
SECRET_NAMES = ("RECVAULT_NAME_SECRET", "RECVAULT_SIGNING_KEY", "RECVAULT_MASTER_KEY")
VAULT_TOKEN_ENV = "RECVAULT_VAULT_TOKEN"  # noqa: S105  (a variable name)
#: (dev.env suffix, principal name, roles): two admins, so one can release the other's
#: hold; a transfer needs admin and compliance held by one principal (api.permissions).
DEV_PRINCIPALS = (
    ("SERVICE", "dev-service", ["service"]),
    ("ADMIN", "dev-admin", ["admin"]),
    ("ADMIN2", "dev-admin-2", ["admin"]),
    ("SECURITY", "dev-security", ["security"]),
    ("COMPLIANCE", "dev-compliance", ["compliance"]),
    ("DPO", "dev-dpo", ["dpo"]),
    ("TRANSFER", "dev-transfer", ["admin", "compliance"]),
)


class Stop(BaseException):
    """SIGTERM: leave through the ``finally`` blocks that stop what was started."""


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (an optional ``export`` prefix); comments and blanks skipped."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_or_make_secrets(data_dir: Path) -> dict[str, str]:
    """Generated once into ``secrets.env`` (0600) and reused: the data stays readable."""
    path = data_dir / "secrets.env"
    values = read_env_file(path)
    missing = [name for name in SECRET_NAMES if name not in values]
    if missing and values:
        raise ConfigError(f"{path} lacks {', '.join(missing)}; restore it or use a new --data-dir")
    if missing:
        values = {name: secrets.token_hex(32) for name in SECRET_NAMES}
        lines = ["# recvault dev secrets: generated once, keep with this directory"]
        write_private(path, "\n".join([*lines, *(f"{k}={v}" for k, v in values.items())]) + "\n")
    return values


def dev_mounts(region: str) -> list[str]:
    """Two Transit mounts per region, so that every dev run places keys as a sharded region
    does (ADR 0012). The first is the region's original mount: older data dirs keep working."""
    return [f"transit-{region.lower()}", f"transit-{region.lower()}-1"]


def write_config(data_dir: Path, bao_addr: str) -> Path:
    parts = [f'[database]\nurl = "sqlite:///{data_dir / "meta.db"}"\n']
    for name, location in REGIONS.items():
        parts.append(
            f'[regions.{name}]\nlocation = "{location}"\n'
            f'[regions.{name}.store]\nkind = "local"\n'
            f'path = "{data_dir / "objects" / name.lower()}"\n'
            f'[regions.{name}.keys]\nkind = "vault"\naddr = "{bao_addr}"\n'
            f"mounts = {json.dumps(dev_mounts(name))}\n"
            f'token_env = "{VAULT_TOKEN_ENV}"\n'
        )
    path = data_dir / "recvault.toml"
    path.write_text("# Written by `recvault dev` on every start.\n" + "\n".join(parts))
    return path


def ensure_principals(data_dir: Path) -> dict[str, str]:
    """One principal per role; tokens from an earlier ``dev.env`` are kept if they still work."""
    from vault.service import RecordVault
    from vault.settings import Settings

    earlier = read_env_file(data_dir / "dev.env")
    vault = RecordVault.from_settings(Settings.load())
    tokens: dict[str, str] = {}
    try:
        for suffix, name, roles in DEV_PRINCIPALS:
            known = earlier.get(f"RECVAULT_TOKEN_{suffix}")
            if known:
                try:
                    vault.principals.authenticate(known)
                    tokens[suffix] = known
                    continue
                except Unauthenticated:
                    pass
            for attempt in range(1, 100):
                try:
                    candidate = name if attempt == 1 else f"{name}-{attempt}"
                    tokens[suffix] = vault.principals.add(candidate, roles, None, _operator())[1]
                    break
                except Conflict:
                    continue
    finally:
        vault.close()
    return tokens


def _operator() -> Actor:
    from vault.domain import Actor, Role

    return Actor("recvault-dev", frozenset(Role))


def write_dev_env(
    data_dir: Path, addr: str, tokens: dict[str, str], server: dict[str, str] | None = None
) -> Path:
    """The client's address and tokens, and ``server``: what server-side commands read."""
    lines = [
        "# recvault dev: `source` this file in a shell (it holds secrets: mode 0600).",
        "# Client commands: RECVAULT_TOKEN=$RECVAULT_TOKEN_SERVICE recvault subjects ...",
        f"export RECVAULT_ADDR={addr}",
        *(f"export RECVAULT_TOKEN_{suffix}={token}" for suffix, token in tokens.items()),
        "# Server-side commands (recvault principals add ...): config, secrets, Vault token",
        *(f"export {name}={shlex.quote(value)}" for name, value in (server or {}).items()),
    ]
    path = data_dir / "dev.env"
    write_private(path, "\n".join(lines) + "\n")
    return path


class AlreadyRunning(Conflict):
    """``recvault dev`` already runs on this data directory."""

    code = "already-running"


def hold_lock(data_dir: Path, addr: str) -> IO[str]:
    """Hold ``dev.lock`` for as long as this process lives (the kernel drops it at exit)."""
    path = data_dir / "dev.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        running = handle.read().strip() or "an unknown address"
        handle.close()
        raise AlreadyRunning(
            f"recvault dev already runs on {data_dir} at {running}; "
            f"use it (source {data_dir / 'dev.env'}) or stop it first"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{addr} (pid {os.getpid()})\n")
    handle.flush()
    return handle


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _banner(addr: str, tokens: dict[str, str], env_file: Path, data_dir: Path) -> None:
    console().print(f"\n[bold]recvault dev[/] is starting on {addr} (data in {data_dir})")
    for suffix, token in tokens.items():
        console().print(f"  {suffix.lower():<11} {token}", markup=False)
    console().print(
        f"\nWeb console: {addr}/console (sign in with a token above)\n"
        f"\nIn another shell:\n  export PATH={Path(sys.executable).parent}:$PATH\n"
        f"  source {env_file}\n"
        "  RECVAULT_TOKEN=$RECVAULT_TOKEN_SERVICE recvault subjects create CLINIC-1 --region JP\n"
        "  RECVAULT_TOKEN=$RECVAULT_TOKEN_SECURITY recvault keys status\n"
        "  RECVAULT_TOKEN=$RECVAULT_TOKEN_COMPLIANCE recvault audit verify\n"
        "  recvault principals add clinic-ph --role service --region PH   # server-side, too\n"
        f"API reference: {addr}/docs (or {addr}/redoc)\n"
        "Ctrl-C stops the API and OpenBao.\n",
        markup=False,
    )


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Stop


@app.command("dev")
def dev(
    port: Annotated[int, typer.Option("--port", help="API port on 127.0.0.1")] = 8000,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="where everything is kept")] = Path(
        ".recvault"
    ),
) -> None:
    """Run recvault on this machine: OpenBao, SQLite, local stores and the API."""
    import uvicorn

    from keys.bootstrap import bootstrap_transit, create_token
    from vault.metadata.migrate import upgrade

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    addr = f"http://127.0.0.1:{port}"
    lock = hold_lock(data_dir, addr)
    if not _port_free(port):
        lock.close()
        raise typer.BadParameter(f"127.0.0.1:{port} is in use; choose another with --port")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    bao = EmbeddedBao(data_dir / "bao")
    try:
        deployment_secrets = load_or_make_secrets(data_dir)
        os.environ.update(deployment_secrets)
        console().print(f"starting OpenBao (storage in {bao.home})", markup=False)
        bao.start()
        bootstrap_transit(bao.addr, bao.root_token, [m for r in REGIONS for m in dev_mounts(r)])
        os.environ[VAULT_TOKEN_ENV] = create_token(
            bao.addr, bao.root_token, ["recvault-key-admin"], ttl="768h"
        )
        os.environ["RECVAULT_CONFIG"] = str(write_config(data_dir, bao.addr))
        upgrade(f"sqlite:///{data_dir / 'meta.db'}")
        tokens = ensure_principals(data_dir)
        server_side = {
            "RECVAULT_CONFIG": os.environ["RECVAULT_CONFIG"],
            **deployment_secrets,
            VAULT_TOKEN_ENV: os.environ[VAULT_TOKEN_ENV],
        }
        env_file = write_dev_env(data_dir, addr, tokens, server_side)
        _banner(addr, tokens, env_file, data_dir)
        # Same limits and logs as `recvault serve`
        server = uvicorn.Server(
            uvicorn.Config(
                "api.app:build",
                factory=True,
                host="127.0.0.1",
                port=port,
                **server_options(Settings.load()),
            )
        )
        server.run()
    except (Stop, KeyboardInterrupt):
        pass
    finally:
        bao.stop()
        signal.signal(signal.SIGTERM, previous)
        lock.close()
        console().print("recvault dev stopped", markup=False)
