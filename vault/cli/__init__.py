"""The ``recvault`` command: server-side administration and an HTTP client.

An edge, like ``api``: server commands call only ``RecordVault`` (and the
migrations, key bootstrap and process tuning at start-up); client commands
call the HTTP API. Errors become exit codes in one place (``app``).
"""

from vault.cli.app import app, main

__all__ = ["app", "main"]
