"""Retention and legal holds: how long records are kept, and what keeps them longer.

Owns the pure disposal rules (``rules``: functions of facts and ``now``),
the processing clock that moves ``retain_until`` (``processing``), legal
holds (``holds``), their mirror on S3 Object Lock (``object_lock``) and
disposal planning and sweeps (``disposal``). ``rules`` imports nothing of
recvault but ``vault.durations``; the rest imports ``vault.metadata`` and
``vault.residency.leases`` (a subject being transferred is kept), and hands
subject-wide disposal to ``vault.erasure``.
"""
