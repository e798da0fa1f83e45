"""Tokens ``recvault login`` keeps: one entry per API address, in the user's config directory.

The file is ``<config dir>/recvault/credentials.json`` (``platformdirs``: on
Linux ``$XDG_CONFIG_HOME/recvault``, else ``~/.config/recvault``), written with
mode 0600 in a directory of mode 0700. Client commands use a stored token when
neither ``--token`` nor ``RECVAULT_TOKEN`` gives one; an access token about to
expire is renewed first with its refresh token, when the provider gave one.
"""

from __future__ import annotations

import json
import os
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


def _load() -> dict[str, Any]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(data: dict[str, Any]) -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    # created 0600 before a byte is written; renamed over the old file at once
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2, sort_keys=True)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def store(addr: str, entry: dict[str, Any]) -> Path:
    data = _load()
    data[addr] = entry
    _save(data)
    return credentials_path()


def forget(addr: str) -> dict[str, Any] | None:
    data = _load()
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
