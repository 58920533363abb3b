"""Which per-WARC indexes an earlier version keyed otherwise than this one keys them.

Before its sidecar recorded the form of its keys (``keys``, :data:`~archive.index.cdxj.KEYS`),
an index keyed a response to a HEAD or a POST as if it answered a GET (the page's key: a
later HEAD was taken for the page), and then a POST's or PUT's by its method alone, without
its body (replay finds a POST by its body). Only a WARC holding requests of another method
than GET is keyed otherwise now, and those are few: which they are is read from the index
itself where it has a ``method`` field, else from the records the index leaves out (warcinfo,
requests, metadata: a few hundred bytes each, the responses it holds passed over unread),
so that the indexes of a store an earlier version made are made again only where they must be.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from archive.errors import StoreError
from archive.index.cdxj import entry_or_none

_HEAD_BYTES = 8 << 10  # of a record left out, what is inflated to read its WARC-Type and request line
_READ = 64 << 10
_WITH_BODY = (b'"method": "POST"', b'"method": "PUT"')
_REQUEST = re.compile(rb"^WARC-Type:[ \t]*request[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_LENGTH = re.compile(rb"^Content-Length:[ \t]*(\d+)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def keyed_otherwise(index: Path, warc: Path) -> bool:
    """Whether ``index``, made by a version that did not record the form of its keys, keys
    a capture of ``warc`` otherwise than it is keyed now. StoreError where ``warc`` cannot
    be read so (damaged): indexing it again says what is wrong."""
    held: dict[int, int] = {}  # offset -> length of each record the index holds
    with open(index, "rb") as fh:
        for line in fh:
            if any(method in line for method in _WITH_BODY):
                return True  # (a POST's or PUT's key without its body)
            if b'"method": ' in line:
                continue  # (a HEAD's, keyed as it is now: its method is in its key)
            entry = entry_or_none(line, str(index))
            if entry is not None and entry.filename == warc.name:
                held[entry.offset] = entry.length
    return _asks_otherwise(warc, held)


def _asks_otherwise(warc: Path, held: dict[int, int]) -> bool:
    """Whether a record of ``warc`` not in ``held`` (offset -> length) is a request of
    another method than GET."""
    gzipped = warc.name.endswith(".gz")
    try:
        with open(warc, "rb") as fh:
            size, pos = warc.stat().st_size, 0
            while pos < size:
                if pos in held:
                    pos += held[pos]
                    continue
                fh.seek(pos)
                head, length = _member(fh, warc, pos) if gzipped else _record(fh, warc, pos)
                if _REQUEST.search(head.partition(b"\r\n\r\n")[0]):
                    method = head.partition(b"\r\n\r\n")[2].split(b" ", 1)[0].upper()
                    if method not in (b"", b"GET"):
                        return True
                pos += length
    except OSError as exc:
        raise StoreError(f"cannot read {warc}: {exc}") from exc
    return False


def _member(fh, warc: Path, pos: int) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    """The start of the record in the gzip member at ``pos``, and the member's length."""
    inflater = zlib.decompressobj(31)
    head, fed, ask = b"", 0, 4096  # (most records left out are a few hundred bytes: read a little first)
    try:
        while not inflater.eof:
            data = fh.read(ask)
            ask = _READ
            if not data:
                raise StoreError(f"{warc} is cut short in the record at offset {pos}: run `archive verify`")
            fed += len(data)
            while data and not inflater.eof:
                out = inflater.decompress(data, _READ)
                if len(head) < _HEAD_BYTES:
                    head += out[:_HEAD_BYTES - len(head)]
                data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise StoreError(f"{warc} is damaged at offset {pos} ({exc}): run `archive verify`") from None
    return head, fed - len(inflater.unused_data) - len(inflater.unconsumed_tail)


def _record(fh, warc: Path, pos: int) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    """The start of the uncompressed record at ``pos``, and its length (headers, block and
    the CRLF CRLF after it; an index's length of such a record leaves those out, so a record
    may begin after them)."""
    read = fh.read(_HEAD_BYTES)
    head = read.lstrip(b"\r\n")
    fields, sep, _ = head.partition(b"\r\n\r\n")
    length = _LENGTH.search(fields)
    if not sep or length is None:
        raise StoreError(f"{warc} has no readable WARC record at offset {pos}: run `archive verify`")
    return head, len(read) - len(head) + len(fields) + 4 + int(length.group(1)) + 4
