"""Write-behind: order kept, errors from either side raised, nothing written after one."""

from __future__ import annotations

import threading

import pytest

from vault.storage.tuning.pipeline import write_behind


@pytest.mark.parametrize("count", [0, 1, 2, 3, 50])
def test_order_and_content(count):
    written: list[bytes] = []
    write_behind((bytes([i]) * 10 for i in range(count)), written.append)
    assert written == [bytes([i]) * 10 for i in range(count)]


def test_small_objects_stay_in_the_callers_thread():
    threads: set[int] = set()
    write_behind([b"header", b"segment"], lambda _: threads.add(threading.get_ident()))
    assert threads == {threading.get_ident()}


def test_producer_error_is_raised():
    def chunks():
        yield b"a"
        yield b"b"
        yield b"c"
        raise ValueError("source failed")

    written: list[bytes] = []
    with pytest.raises(ValueError, match="source failed"):
        write_behind(chunks(), written.append)
    assert written == [b"a", b"b", b"c"]


def test_writer_error_stops_and_is_raised():
    written: list[bytes] = []

    def write(chunk: bytes) -> None:
        if chunk == b"3":
            raise OSError("disk full")
        written.append(chunk)

    with pytest.raises(OSError, match="disk full"):
        write_behind((str(i).encode() for i in range(100)), write)
    assert written == [b"0", b"1", b"2"]
