"""The ``recvault`` command: server-side administration and an HTTP client."""

from vault.cli.app import app, main

__all__ = ["app", "main"]
