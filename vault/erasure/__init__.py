"""Erasure and restriction: subjects' requests, crypto-shredding and its certificate.

Owns erasure requests and restriction of processing (``requests``), key
destruction with its cancellable waiting period (``destruction``), the
signed destruction certificate (``certificates``) and the per-record
crypto-shred that reseals a living subject's key (``reseal``). Imports
``vault.retention`` for its rules and holds, ``vault.rotation`` for the
rewrap machinery, and ``vault.metadata``.
"""
