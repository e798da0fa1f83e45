"""Subject-key names reveal nothing about the subject."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from keys.naming import PREFIX, shard_for, subject_key_name

SECRET = b"recvault naming test secret"
NAME = re.compile(r"^subj-[0-9a-f]{64}$")


@given(st.text(min_size=8, max_size=200))
def test_a_name_never_contains_the_subject_id(subject_id: str) -> None:
    name = subject_key_name(SECRET, subject_id)
    assert NAME.match(name)
    assert subject_id not in name
    assert subject_id.lower() not in name


@given(st.uuids())
def test_uuid_subject_ids_stay_out_of_names(subject_id: object) -> None:
    text = str(subject_id)
    name = subject_key_name(SECRET, text)
    assert text not in name and text.replace("-", "") not in name


@given(st.text(min_size=1), st.text(min_size=1))
def test_names_are_deterministic_and_distinct(a: str, b: str) -> None:
    assert subject_key_name(SECRET, a) == subject_key_name(SECRET, a)
    assert (subject_key_name(SECRET, a) == subject_key_name(SECRET, b)) == (a == b)
    assert subject_key_name(SECRET, a) != subject_key_name(b"another secret", a)


@given(st.text(min_size=1), st.integers(min_value=1, max_value=64))
def test_shards_stay_in_range(subject_id: str, shards: int) -> None:
    assert 0 <= shard_for(subject_key_name(SECRET, subject_id), shards) < shards
    assert subject_key_name(SECRET, subject_id).startswith(PREFIX)
