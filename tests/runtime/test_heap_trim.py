"""The C heap's free pages go back to the system when a scene unloads (glibc)."""

from __future__ import annotations

import sys

import pytest

from exhibit_engine.runtime._layers import trim_heap


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_returns_the_free_pages_in_the_middle_of_the_heap() -> None:
    # 8 KiB blocks (below the mmap threshold: they live in the heap), every other one
    # freed: 80 MiB free in whole pages between live blocks, which free() keeps.
    blocks = [bytearray(8192) for _ in range(20_000)]
    del blocks[::2]
    before = _rss_kb()
    trim_heap()
    after = _rss_kb()
    assert before - after > 40_000, f"RSS {before} kB -> {after} kB"
    trim_heap()        # again: harmless
    assert len(blocks) == 10_000
