"""Residency: proof that a subject's objects and key live in its region only.

Owns the signed residency report (``report``) built from sorted streams of
what the DB expects and what stores and key providers hold (``streams``),
and audited, resumable transfers of a subject between regions
(``transfer``, copying each version with ``copy``, one runner at a time
under the lease in ``leases``, which the other jobs ask before they act on
a subject). Imports
``vault.format``, ``vault.metadata``, ``vault.retention`` (holds, Object
Lock), ``vault.erasure.remnants`` (objects a store keeps under Object Lock
after their key was destroyed) and the regions in the context.
"""
