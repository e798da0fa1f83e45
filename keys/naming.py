"""Opaque subject-key names: ``subj-`` + HMAC-SHA-256(name secret, subject id).

No identifier of a person ever reaches the key service; the name reveals
nothing without the deployment's name secret.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "subj-"


def subject_key_name(name_secret: bytes, subject_id: str) -> str:
    digest = hmac.new(
        name_secret, b"recvault/subject-key\x00" + subject_id.encode(), hashlib.sha256
    )
    return PREFIX + digest.hexdigest()


def shard_for(key_name: str, shards: int) -> int:
    """Pick a Transit mount for a key by a prefix of its (already uniform) HMAC."""
    if shards <= 1:
        return 0
    return int(key_name[len(PREFIX) : len(PREFIX) + 8], 16) % shards
