"""Key rotation without rewriting data: rotate, rewrap the DEKs, retire old versions.

Owns persisted, resumable rotation jobs (``jobs``), the entry points and
queueing (``rotate``), the run report (``report``) and the key inventory
with scheduled rotation (``inventory``). Imports ``vault.metadata``,
``vault.residency.leases`` (a job defers while its subject is transferred)
and the key providers through the regions in the context.
"""
