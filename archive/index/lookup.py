"""Finding a URL's lines in a sorted CDXJ file by binary search over byte offsets.

The file is never loaded: each probe seeks, skips to the next line start and reads one
line, so a lookup costs O(log n) seeks whatever the size (see benchmarks/index_lookup.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _line_at_or_after(fh: BinaryIO, pos: int) -> tuple[int, bytes]:
    """The first complete line starting at or after ``pos``, and where it starts."""
    if pos == 0:
        fh.seek(0)
    else:
        fh.seek(pos - 1)
        fh.readline()  # finish the line ``pos - 1`` is in
    start = fh.tell()
    return start, fh.readline()


def lower_bound(fh: BinaryIO, key: bytes) -> int:
    """Offset of the first line that sorts at or after ``key``."""
    lo, hi = 0, fh.seek(0, 2)
    while lo < hi:
        mid = (lo + hi) // 2
        _, line = _line_at_or_after(fh, mid)
        if line and line < key:
            lo = mid + 1
        else:
            hi = mid
    start, _ = _line_at_or_after(fh, lo)
    return start


def iter_prefix(path: Path, prefix: bytes) -> Iterator[bytes]:
    """Every line of the sorted file ``path`` that starts with ``prefix``, in order."""
    with open(path, "rb") as fh:
        fh.seek(lower_bound(fh, prefix))
        for line in fh:
            if not line.startswith(prefix):
                return
            yield line


def lines_for_key(path: Path, urlkey: str) -> Iterator[bytes]:
    """The lines of one SURT key (the key is followed by a space in every line)."""
    return iter_prefix(path, urlkey.encode("utf-8") + b" ")
