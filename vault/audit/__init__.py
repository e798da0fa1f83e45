"""The audit log: an append-only, keyed hash chain of every access.

Owns appending events, verifying the chain and querying it (``chain``).
Imports only ``vault.metadata`` and ``vault.domain``.
"""
