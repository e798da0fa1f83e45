"""``python -m vault.cli``: the same as the ``recvault`` console script."""

from vault.cli.app import main

main()
