"""The audit log: an append-only, keyed hash chain of every access, anchored outside the DB.

Owns appending events, verifying the chain and querying it (``chain``); the
signed checkpoints kept in every region's object store, and their offline
check (``checkpoints``); queries for a principal, whole or a page at a time
(``query``); and the periodic writer the API and the worker run
(``schedule``). ``chain`` imports only ``vault.metadata`` and ``vault.domain``;
``checkpoints`` and ``query`` add ``vault.context``, ``vault.crypto.documents`` and the
``ObjectStore`` interface.
"""
