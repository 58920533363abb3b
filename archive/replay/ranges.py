"""Byte ranges of replayed captures, and payloads read only as far as an answer needs.

A browser seeks in a video with many ``Range`` requests, and asks for its head with HEAD:
a capture's payload served as archived is answered from its record's headers and read
(inflated) only up to the range's end, never kept whole (:class:`Payload`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator
from typing import Any

from archive.errors import StoreError
from archive.index.records import ArchivedRecord, payload_chunks
from archive.store import CollectionDir

log = logging.getLogger(__name__)

# One range of bytes (RFC 9110 §14.1.2): first-last, first-, or -suffix; spaces around the parts
# allowed. Numbers of more digits than any body has bytes are no range (the whole is sent).
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d{0,18})\s*-\s*(\d{0,18})\s*", re.ASCII | re.IGNORECASE)


READ_FIRST = 1 << 20  # bytes of a Payload read before it is answered (a range of up to this many: all)


class Payload:
    """Bytes ``first`` to ``stop`` of a record's payload as archived, not yet read: its
    length is known from the record's headers, its bytes are read when iterated."""

    def __init__(self, coll: CollectionDir, record: ArchivedRecord, first: int = 0, stop: int | None = None):
        assert record.payload_size is not None
        self.coll, self.record = coll, record
        self.first = first
        self.stop = record.payload_size if stop is None else stop

    def __len__(self) -> int:
        return self.stop - self.first

    def __getitem__(self, part: slice) -> Payload:
        first, stop, _ = part.indices(len(self))
        return Payload(self.coll, self.record, self.first + first, self.first + max(first, stop))

    def start(self, size: int) -> bytes:
        """Its first ``size`` bytes (at most)."""
        return b"".join(payload_chunks(self.coll, self.record, self.first, min(self.stop, self.first + size)))

    def chunks(self) -> Iterator[bytes]:
        """Its bytes, a chunk at a time. The first ``READ_FIRST`` are read at once, so that
        a record that cannot be read as far as they go (or, if they are all, whose gzip
        member fails its CRC) raises StoreError before anything is answered; one damaged
        further on is cut off where the damage is found, its status and Content-Length sent
        already (RFC 9112 §8: the client, given fewer bytes than Content-Length before the
        connection closes, knows its body incomplete), and said in the log with the WARC,
        the record's offset and the bytes sent. Damage that inflates without error (most bit
        rot in a video's stored blocks) is found by the member's CRC alone, at the payload's
        end: bytes of a range that stops before it are sent as read."""
        first, chunks = self._first()
        return iter(first) if chunks is None else self._rest(first, chunks)

    def check(self) -> None:
        """Read it as far as :meth:`chunks` does before an answer, and no further: StoreError
        where that fails. What a HEAD is told is what a GET would get: not a capture whose
        damage a GET finds before its first byte and passes over for another."""
        _, chunks = self._first()
        if chunks is not None:
            chunks.close()

    def _first(self) -> tuple[list[bytes], Generator[bytes, None, None] | None]:
        """Its first ``READ_FIRST`` bytes (or all of them, read to the member's end), and the
        chunks still to be read, or None when there are none."""
        chunks = payload_chunks(self.coll, self.record, self.first, self.stop)
        first: list[bytes] = []
        read = 0
        while read < READ_FIRST:
            chunk = next(chunks, None)
            if chunk is None:
                return first, None
            first.append(chunk)
            read += len(chunk)
        return first, chunks

    def _rest(self, first: list[bytes], chunks: Iterator[bytes]) -> Iterator[bytes]:
        sent = 0
        for chunk in first:
            yield chunk
            sent += len(chunk)
        try:
            for chunk in chunks:
                yield chunk
                sent += len(chunk)
        except StoreError as exc:
            log.warning("replay of %s cut off after %d of %d bytes (bytes %d-%d of its payload) from %s at offset %d, "
                        "the client left with an incomplete body: %s", self.record.warc("WARC-Target-URI"), sent,
                        len(self), self.first, self.stop - 1, self.record.filename, self.record.offset, exc)


Body = bytes | Payload
Response = tuple[str, list[tuple[str, str]], Body]


def byte_range(environ: dict[str, Any], method: str, status: str, headers: list[tuple[str, str]],
               body: Body) -> Response:
    """A replayed 200 as the client's ``Range`` asks (RFC 9110 §14): 206 with the one range
    asked for, or 416 if it starts past the end. Media players seek this way (Safari plays
    no video without it). Several ranges, an unreadable Range, or an ``If-Range`` that does
    not match the capture's ETag or Last-Modified get the whole capture, as a server may
    answer. The range is of the body as replayed, which is the same bytes every time."""
    headers = [*headers, ("Accept-Ranges", "bytes")]
    asked = _RANGE.fullmatch(environ.get("HTTP_RANGE") or "") if method == "GET" else None
    if asked is None or asked.group(1) == asked.group(2) == "":
        return status, headers, body
    condition = (environ.get("HTTP_IF_RANGE") or "").strip()
    if condition and (condition.startswith("W/") or condition not in
                      {v.strip() for k, v in headers if k.lower() in ("etag", "last-modified")}):
        return status, headers, body  # the client holds part of another representation
    size = len(body)
    if asked.group(1) == "":  # the last N bytes
        first, last = size - min(int(asked.group(2)), size), size - 1
        if int(asked.group(2)) == 0:
            first = size  # none of them: not satisfiable
    else:
        first, last = int(asked.group(1)), size - 1
        if asked.group(2) != "":
            if int(asked.group(2)) < first:
                return status, headers, body  # not a range at all
            last = min(int(asked.group(2)), last)
    if first >= size:
        return ("416 Range Not Satisfiable",
                [("Content-Range", f"bytes */{size}"), ("Content-Type", "text/plain; charset=utf-8")], b"")
    return "206 Partial Content", [*headers, ("Content-Range", f"bytes {first}-{last}/{size}")], body[first:last + 1]
