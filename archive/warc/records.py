"""Building WARC 1.1 records from plain values.

A record here is a list of header fields plus its block as a sequence of byte chunks, so a
large body travels by reference (a ``memoryview`` of the bytes the client already holds)
and is never copied to build the record. Writing is apart, in ``writer.py``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from archive.digests import sha1_label

WARC_VERSION = "WARC/1.1"
CRLF = b"\r\n"

# WARC 1.1 §6.7: revisit profiles (the 1.0 URIs are accepted on reading).
PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

Chunk = bytes | bytearray | memoryview


def new_record_id() -> str:
    """A ``<urn:uuid:...>`` of a random (version 4) UUID.

    Made 64 at a time from one read of the system's random source: a capture takes three,
    and uuid.uuid4() read 16 bytes and built a UUID object for each. ``pop`` is atomic, so
    threads never share an id; a forked child starts with none of its parent's.
    """
    try:
        return _SPARE_IDS.pop()
    except IndexError:
        fresh = _random_ids(os.urandom(16 * 64))
        mine = fresh.pop()  # before sharing the rest: other threads may take them all at once
        _SPARE_IDS.extend(fresh)
        return mine


_SPARE_IDS: list[str] = []
os.register_at_fork(after_in_child=_SPARE_IDS.clear)
# RFC 9562 §5.4: version 4 in the top four bits of octet 6, variant 10 in the top two of octet 8.
_V4_CLEAR = ~((0xF << 76) | (0x3 << 62))
_V4_SET = (0x4 << 76) | (0x2 << 62)


def _random_ids(data: bytes) -> list[str]:
    ids = []
    for start in range(0, len(data), 16):
        h = "%032x" % (int.from_bytes(data[start : start + 16], "big") & _V4_CLEAR | _V4_SET)
        ids.append(f"<urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}>")
    return ids


def warc_date(moment: datetime) -> str:
    """WARC 1.1 §5.4: W3C ISO 8601 in UTC; sub-second precision is allowed in 1.1."""
    return _utc_text(moment.astimezone(UTC))


@functools.lru_cache(maxsize=16)
def _utc_text(moment: datetime) -> str:
    """Remembered for the last few moments: a capture's records, metadata and log line all
    carry its start. (Keyed by the moment in UTC: a local time in a daylight-saving fold
    equals the other time of that hour, and naive times depend on the zone of the day.)"""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Record:
    """One WARC record: named header fields and a block made of byte chunks.

    ``payload_from`` is the index of the first chunk that belongs to the payload (for HTTP
    records the chunks before it are the status line and headers); ``None`` means the
    record has no payload and gets no ``WARC-Payload-Digest``.
    """

    fields: list[tuple[str, str]]
    chunks: Sequence[Chunk] = ()
    payload_from: int | None = None
    # False when the payload is already compressed (a Content-Encoding, an image): deflating
    # it again costs time and gains nothing, so the writer stores it in its gzip member.
    compressible: bool = True
    _digests: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def record_id(self) -> str:
        return self.get("WARC-Record-ID") or ""

    @property
    def block_length(self) -> int:
        return sum(len(c) for c in self.chunks)

    def get(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.fields:
            if key.lower() == lname:
                return value
        return None

    def digests(self) -> dict[str, str]:
        """Block and payload SHA-1, computed once over the chunks in place.

        A payload digest the caller already computed (``make_record(payload_digest=...)``)
        is used as given, so a body is not hashed twice for the same digest.
        """
        if "block" not in self._digests:
            block = hashlib.sha1()
            known = "payload" in self._digests
            payload = hashlib.sha1() if self.payload_from is not None and not known else None
            for index, chunk in enumerate(self.chunks):
                block.update(chunk)
                if payload is not None and index >= self.payload_from:  # type: ignore[operator]
                    payload.update(chunk)
            self._digests["block"] = sha1_label(block)
            if payload is not None:
                self._digests["payload"] = sha1_label(payload)
        return self._digests

    def header_bytes(self) -> bytes:
        """The record's header section, digests and length filled in, ending in CRLF CRLF."""
        digests = self.digests()
        lines = [WARC_VERSION]
        declared = None
        for name, value in self.fields:
            lname = name.lower()
            if lname in _COMPUTED:
                if lname == "warc-payload-digest" and declared is None:
                    declared = value  # the first, as given
                continue
            lines.append(f"{name}: {value}")
        lines.append("WARC-Block-Digest: " + digests["block"])
        if declared or "payload" in digests:
            lines.append("WARC-Payload-Digest: " + (declared or digests["payload"]))
        lines.append(f"Content-Length: {self.block_length}")
        return (_crlf_joined(lines) + "\r\n\r\n").encode()


# Fields the writer computes; a caller-supplied WARC-Payload-Digest is kept (a revisit
# carries its original's payload digest, WARC 1.1 §6.7.2).
_COMPUTED = {"warc-block-digest", "content-length", "warc-payload-digest"}


def _crlf_joined(lines: list[str]) -> str:
    """``lines`` joined by CRLF, any CR or LF within a line made a space: a field value may
    not span lines (WARC 1.1 §4). (Counted over the whole text, not looked for line by line.)"""
    text = "\r\n".join(lines)
    if text.count("\n") >= len(lines) or text.count("\r") >= len(lines):
        text = "\r\n".join([line.replace("\r", " ").replace("\n", " ") for line in lines])
    return text


def warc_fields(items: Iterable[tuple[str, object]]) -> bytes:
    """``application/warc-fields`` block: one ``name: value`` per line (WARC 1.1 §5.12)."""
    lines = []
    for name, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        lines.append(f"{name}: {value}")
    return (_crlf_joined(lines) + "\r\n").encode("utf-8") if lines else b""


def make_record(
    record_type: str,
    *,
    target_uri: str | None = None,
    date: datetime,
    content_type: str | None = None,
    chunks: Sequence[Chunk] = (),
    payload_from: int | None = None,
    extra: Iterable[tuple[str, str]] = (),
    record_id: Callable[[], str] = new_record_id,
    payload_digest: str | None = None,
) -> Record:
    """A record with the mandatory fields in the usual order and any ``extra`` after them.

    ``payload_digest``: the labelled SHA-1 of the payload chunks, when the caller has it
    already (it must be exactly that digest; the record does not hash the payload again).
    """
    fields = [("WARC-Type", record_type), ("WARC-Record-ID", record_id()), ("WARC-Date", warc_date(date))]
    if target_uri is not None:
        fields.append(("WARC-Target-URI", target_uri))
    if content_type is not None:
        fields.append(("Content-Type", content_type))
    fields.extend(extra)
    record = Record(fields=fields, chunks=chunks, payload_from=payload_from)
    if payload_digest is not None and payload_from is not None:
        record._digests["payload"] = payload_digest
    return record


def http_head_end(data: bytes | bytearray, start: int = 0, stop: int | None = None) -> int:
    """The index just past the empty line that ends the HTTP head beginning at ``start`` in
    ``data[:stop]``, or -1 if it is not there. A line may end in CRLF or in LF alone: HTTP
    clients accept both (Twisted's and warcio's parsers among them), and the capture keeps
    the head as the server sent it, so its reader must end it where the client did."""
    if stop is None:
        stop = len(data)
    crlf = data.find(b"\n\r\n", start, stop)
    # A bare-LF empty line counts only if it comes first; search no further than a CRLF one.
    lf = data.find(b"\n\n", start, stop if crlf < 0 else crlf + 1)
    if lf >= 0:
        return lf + 2
    return crlf + 3 if crlf >= 0 else -1
