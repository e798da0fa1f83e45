"""Residency: proof that a subject's objects and key live in its region only.

Owns the signed residency report (``report``) built from sorted streams of
what the DB expects and what stores and key providers hold (``streams``),
and audited, resumable transfers of a subject between regions
(``transfer``: the state machine, copying each version with ``copy``; the
checks before it starts in ``transfer_start``, the switch to the copies and
the clean-up in ``transfer_cutover``, the rows, audit events and result
they share in ``transfer_record``; one runner at a time under the lease in
``leases``, which the other jobs ask before they act on a subject). Imports
``vault.format``, ``vault.metadata``, ``vault.retention`` (holds, Object
Lock), ``vault.erasure.remnants`` (objects a store keeps under Object Lock
after their key was destroyed) and the regions in the context.
"""
