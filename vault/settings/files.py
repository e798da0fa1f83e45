"""Secrets read from files (``*_FILE`` variables, ``token_file``, AppRole's ids, the
console's client secret): one reader, so every one fails the same way."""

from __future__ import annotations

from pathlib import Path

from vault.errors import ConfigError


def read_secret_file(path: str, what: str) -> str:
    """A secret from the file at ``path``, stripped.

    A file that cannot be read, is not UTF-8 text or is empty is a ``ConfigError``
    naming ``what`` (the setting or variable that points at it) and the file, never
    its content.
    """
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{what}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    if not value:
        raise ConfigError(f"{what}: {path} is empty")
    return value
