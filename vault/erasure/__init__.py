"""Erasure and restriction: subjects' requests, crypto-shredding and its certificate.

Owns erasure requests (``requests``), restriction of processing
(``restriction``), key destruction with its cancellable waiting period
(``destruction``, carried out when due by ``execution``; the open requests,
open destructions and disposal decision both ask are ``decisions``), the
signed destruction certificate (``certificates``) and
per-record erasure with the reseal of a living subject's key (``reseal``),
and shredded remnants: objects a store keeps under Object Lock after their
key was destroyed, deleted by the sweep once the lock lapses (``remnants``).
Imports ``vault.retention`` for its rules and holds, ``vault.rotation`` for
the rewrap machinery, ``vault.residency.leases`` (nothing is erased or
scheduled while a transfer moves the subject), ``vault.crypto.documents`` for
signing, and ``vault.metadata``; never the edges (``api``, ``vault.cli``).
"""
