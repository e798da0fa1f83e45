"""Tokens ``recvault login`` keeps: one entry per API address, in the user's config directory.

The file is ``<config dir>/recvault/credentials.json`` (``platformdirs``: on
Linux ``$XDG_CONFIG_HOME/recvault``, else ``~/.config/recvault``), written with
mode 0600 in a directory of mode 0700. Client commands use a stored token when
neither ``--token`` nor ``RECVAULT_TOKEN`` gives one; an access token about to
expire is renewed first with its refresh token, when the provider gave one.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import platformdirs

from vault.errors import VaultError

#: renew an access token this many seconds before it expires
EARLY = 30


class SignInExpired(VaultError):
    """The stored sign-in has expired and cannot be renewed: run recvault login again."""

    code = "sign-in-expired"


def credentials_path() -> Path:
    return Path(platformdirs.user_config_dir("recvault")) / "credentials.json"


class UnsafeCredentials(VaultError):
    """The credentials file is not one only this user could have written and can read."""

    code = "credentials"


def _unsafe(path: Path, problem: str) -> UnsafeCredentials:
    return UnsafeCredentials(
        f"{path} {problem}: its tokens are not used; remove it and run recvault login"
    )


def _load(*, damaged_ok: bool = False) -> dict[str, Any]:
    """The stored sign-ins; a file others could read or replace is refused, never used.

    ``damaged_ok``: a file that is not JSON counts as empty (``login`` replaces it).
    """
    path = credentials_path()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        if os.path.islink(path):
            raise _unsafe(path, "is a symbolic link") from None
        raise _unsafe(path, f"cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _unsafe(path, "is not a regular file")
        if info.st_uid != os.geteuid():
            raise _unsafe(path, "belongs to another user")
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise _unsafe(path, f"is readable or writable by others (mode {mode:04o}, not 0600)")
        raw = handle.read()
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        if damaged_ok:
            return {}
        raise _unsafe(path, "is damaged (not the JSON recvault login writes)")
    return data


def _private_folder(folder: Path) -> None:
    """The folder exists, is this user's and is 0700 (an older one is tightened)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise _unsafe(folder, "is not a folder of this user")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)


def _save(data: dict[str, Any]) -> None:
    path = credentials_path()
    _private_folder(path.parent)
    # a new file of our own (O_EXCL: never one planted there, nor what a link points to),
    # 0600 before a byte is written, renamed over the old file at once
    fd, temporary = tempfile.mkstemp(prefix=".credentials-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def store(addr: str, entry: dict[str, Any]) -> Path:
    data = _load(damaged_ok=True)
    data[addr] = entry
    _save(data)
    return credentials_path()


def forget(addr: str) -> dict[str, Any] | None:
    data = _load(damaged_ok=True)
    entry = data.pop(addr, None)
    if entry is not None:
        _save(data)
    return entry if isinstance(entry, dict) else None


def entry_from_tokens(
    tokens: dict[str, Any], *, issuer: str, client_id: str, token_endpoint: str
) -> dict[str, Any]:
    expires_in = tokens.get("expires_in")
    return {
        "issuer": issuer,
        "client_id": client_id,
        "token_endpoint": token_endpoint,
        "access_token": tokens["access_token"],
        "refresh_token": tokens.get("refresh_token"),
        "expires_at": time.time() + float(expires_in) if expires_in else None,
    }


def stored_token(addr: str) -> str | None:
    """The access token stored for ``addr``, renewed first if it is about to expire."""
    entry = _load().get(addr)
    if not isinstance(entry, dict) or not isinstance(entry.get("access_token"), str):
        return None
    expires_at = entry.get("expires_at")
    if expires_at is None or float(expires_at) - EARLY > time.time():
        return str(entry["access_token"])
    refresh = entry.get("refresh_token")
    if not refresh:
        raise SignInExpired(f"the sign-in for {addr} has expired: run recvault login")
    import httpx  # only to renew: a command's start does not pay for it (docs/benchmarks.md)

    try:
        answer = httpx.post(
            entry["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": entry["client_id"],
            },
            timeout=30,
        )
    except httpx.HTTPError:
        raise SignInExpired(
            f"the sign-in for {addr} has expired and the identity provider cannot be "
            "reached to renew it"
        ) from None
    if answer.status_code != 200:
        raise SignInExpired(f"the sign-in for {addr} has expired: run recvault login")
    tokens = answer.json()
    if "refresh_token" not in tokens:
        tokens["refresh_token"] = refresh  # providers that do not rotate them keep the old one
    renewed = entry_from_tokens(
        tokens,
        issuer=entry["issuer"],
        client_id=entry["client_id"],
        token_endpoint=entry["token_endpoint"],
    )
    store(addr, renewed)
    return str(renewed["access_token"])
