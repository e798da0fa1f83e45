"""Copy one record version into another region: decrypt, re-seal under the new key, verify.

The plaintext streams segment by segment from the source object into the
sealer, so no whole record is held. The copy is then read back through the
target key service, as a reader will, and the SHA-256 of its plaintext
compared with the source's; a copy that differs is deleted and refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from vault.crypto import random_bytes
from vault.errors import IntegrityError
from vault.format.envelope import KeyBlock, ObjectContext, open_stream, seal
from vault.metadata import RecordVersionRow
from vault.regions import Region


@dataclass(frozen=True)
class VersionCopy:
    header: bytes
    wrapped_dek: str
    key_version: int
    #: SHA-256 of the plaintext, hex
    digest: str


def copy_version(
    version: RecordVersionRow,
    subject_id: str,
    source: Region,
    target: Region,
    new_key_name: str,
    new_object_key: str,
) -> VersionCopy:
    assert version.wrapped_dek is not None
    old_dek = source.keys.unwrap(version.key_name, [version.wrapped_dek])[0]
    new_dek = random_bytes(32)
    wrapped = target.keys.wrap(new_key_name, [new_dek])[0]
    key_block = KeyBlock(new_key_name, wrapped.key_version, wrapped.ciphertext.encode())
    old_ctx = ObjectContext(version.record_id, version.version, subject_id, source.name)
    new_ctx = ObjectContext(version.record_id, version.version, subject_id, target.name)
    digest = hashlib.sha256()

    def plaintext(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            digest.update(chunk)
            yield chunk

    with source.store.open(version.object_key) as stream:
        sealed = seal(
            plaintext(open_stream(stream, dek=old_dek, context=old_ctx)),
            dek=new_dek,
            key_block=key_block,
            context=new_ctx,
            plaintext_length=version.size,
            salt=random_bytes(32),
        )
        header = next(sealed)
        target.store.put(new_object_key, chain([header], sealed))
    check = hashlib.sha256()
    unwrapped = target.keys.unwrap(new_key_name, [wrapped.ciphertext])[0]
    with target.store.open(new_object_key) as stream:
        for chunk in open_stream(stream, dek=unwrapped, context=new_ctx):
            check.update(chunk)
    if check.digest() != digest.digest():
        target.store.delete(new_object_key)
        raise IntegrityError(f"the copy of {version.record_id} v{version.version} differs")
    return VersionCopy(header, wrapped.ciphertext, wrapped.key_version, digest.hexdigest())
