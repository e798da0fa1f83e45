"""Linux I/O tuning private to ``vault.storage``: nothing outside storage imports it.

Direct (O_DIRECT) reads into huge pages (``direct``), the write-behind
pipeline for puts (``pipeline``), early writeback of what a put has written
(``writeback``), and process-level allocator, libc and
``cachestat(2)`` helpers (``allocator``, ``libc``, ``cachestat``). Each is a measured choice
(docs/adr/0003-linux-io-tuning.md); everything falls back to plain buffered
I/O off Linux. ``vault.storage.tune_process`` is the one entry point the
commands call at start-up.
"""
