"""The object format v1 (spec: docs/format.md): header, sealing, opening, ranges.

Owns the bytes of an object: the header layout and its strict parser
(``header``), what every segment shares (``segments``), streaming seal
(``sealing``), streaming open (``opening``) and range reads (``ranges``),
all imported by callers through ``envelope``; turning caller content into a
stream of known length (``content``) and the verified plaintext stream handed
to readers (``reader``). Imports only ``vault.crypto`` and ``vault.errors``:
no DB, no store, no key provider.
"""
