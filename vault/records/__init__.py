"""Records: subjects, writing and reading record versions, export, and crash leftovers.

Owns the data path of a subject's records: subjects pinned to a region
(``subjects``), crash-safe puts and new versions (``writes``, committed by
``commit``), verified reads and ranges (``reads``), the subject export
(``export``) and garbage collection of what crashed writes leave, keeping and
reporting any stored object the DB does not reference (``gc``).
Imports ``vault.format``, ``vault.metadata``, the stores and key providers
through the regions in the context (``keys.base.DekWrapper`` only),
``vault.retention`` for the processing clock and Object Lock, and
``vault.residency.transfer`` to refuse writes to a subject in transfer.
"""
