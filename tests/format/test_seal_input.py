"""Sealing refuses bad input: wrong content length (before the final segment), bad arguments."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from tests.format.support import CONTEXT, DEK, KEY_BLOCK, SEG, open_bytes, plaintext
from vault.errors import InvalidInput
from vault.format import envelope


class _Store:
    """Collects chunks like an object store writing a temporary object."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def put(self, chunks: object) -> None:
        for chunk in chunks:  # type: ignore[attr-defined]
            self.chunks.append(chunk)


def _seal(source: object, length: int) -> Iterator[bytes]:
    return envelope.seal(
        source,  # type: ignore[arg-type]
        dek=DEK,
        key_block=KEY_BLOCK,
        context=CONTEXT,
        plaintext_length=length,
    )


LENGTHS = [0, 1, SEG, SEG + 1, 2 * SEG + SEG // 2]


def _sources(data: bytes) -> dict[str, object]:
    return {
        "stream": io.BytesIO(data),
        "one-chunk": [data],
        "small-chunks": [data[i : i + 4099] for i in range(0, len(data), 4099)],
    }


MISMATCHES = [(n, d) for n in LENGTHS for d in (-1, 1, 5000, -SEG) if n + d >= 0]


@pytest.mark.parametrize(("length", "delta"), MISMATCHES)
@pytest.mark.parametrize("kind", ["stream", "one-chunk", "small-chunks"])
def test_wrong_length_raises_before_final_segment(length: int, kind: str, delta: int) -> None:
    actual = length + delta
    source = _sources(plaintext(actual))[kind]
    store = _Store()
    with pytest.raises(envelope.ContentLengthMismatch) as caught:
        store.put(_seal(source, length))
    assert isinstance(caught.value, InvalidInput)
    count = max(1, -(-length // SEG))
    yielded_segments = len(store.chunks) - 1  # the header comes first
    assert yielded_segments < count, "final segment was yielded despite the length mismatch"
    if delta < 0:
        assert "ended after" in str(caught.value)
    else:
        assert "longer than" in str(caught.value)


def test_extra_bytes_after_empty_chunks_are_found() -> None:
    data = plaintext(10)
    with pytest.raises(envelope.ContentLengthMismatch):
        list(_seal([data, b"", b"", b"x"], 10))
    assert open_bytes(b"".join(_seal([data, b"", b""], 10))) == data


def test_exact_length_from_reused_buffer_source() -> None:
    # A producer that recycles one buffer between chunks must not corrupt the final segment.
    data = plaintext(SEG + 300)
    buf = bytearray(SEG)

    def producer() -> Iterator[bytes]:
        view = memoryview(data)
        while view:
            n = min(len(buf), len(view))
            buf[:n] = view[:n]
            view = view[n:]
            yield memoryview(buf)[:n]
        buf[:] = bytes(len(buf))

    assert open_bytes(b"".join(_seal(producer(), len(data)))) == data


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dek": bytes(31)}, "32 bytes"),
        ({"salt": bytes(16)}, "salt"),
        ({"plaintext_length": -1}, "plaintext length"),
        ({"plaintext_length": (1 << 52) + 1}, "plaintext length"),
        ({"context": envelope.ObjectContext("r", 1, "s", "日本")}, "ASCII"),
        ({"context": envelope.ObjectContext("", 1, "s", "JP")}, "empty"),
        ({"context": envelope.ObjectContext("r", -1, "s", "JP")}, "32 bits"),
        ({"context": envelope.ObjectContext("r" * 70_000, 1, "s", "JP")}, "longer"),
        ({"key_block": envelope.KeyBlock("k", 2**32, b"w")}, "32 bits"),
        ({"key_block": envelope.KeyBlock("k", 1, bytes(70_000))}, "key block"),
    ],
)
def test_bad_arguments_fail_at_the_call(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "dek": DEK,
        "key_block": KEY_BLOCK,
        "context": CONTEXT,
        "plaintext_length": 0,
        "salt": None,
        **kwargs,
    }
    with pytest.raises(InvalidInput, match=message):
        envelope.seal([b""], **args)  # type: ignore[arg-type]


def test_largest_plaintext_length_is_accepted() -> None:
    assert envelope.sealed_size(1 << 52, 200) == 200 + (1 << 52) + 16 * (1 << 32)
    with pytest.raises(InvalidInput):
        envelope.sealed_size((1 << 52) + 1, 200)


def test_open_with_a_bad_dek_length_is_invalid_input() -> None:
    obj = b"".join(_seal([b"abc"], 3))
    with pytest.raises(InvalidInput):
        open_bytes(obj, dek=bytes(16))
