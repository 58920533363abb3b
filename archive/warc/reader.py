"""A checking reader for WARC files: walks gzip members, re-computes digests.

This is the engine of ``archive verify`` and ``--repair``. It maps the file (no copy in
Python), inflates each member in bounded slices, and reports problems with their offset
instead of stopping at the first: after a corrupt member it resynchronises at the next
gzip header. An uncompressed WARC (``x.warc``: another tool's, or one gunzipped) is read
record by record the same way, each found by its Content-Length, resynchronising at the
next WARC version line after damage. Reading for analysis (indexes, extraction, replay) uses warcio, once
:func:`first_damage` has found the file readable (or a record's member inflated whole).
"""

from __future__ import annotations

import hashlib
import mmap
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.digests import b32_is, sha1_label
from archive.warc.records import http_head_end

_GZIP_MAGIC = b"\x1f\x8b\x08"
# Input is fed as views of the map (no copy), but what follows a member's end in the last
# window is copied into ``unused_data``. Most members are a few KB, so a member's first
# window is small; a large one continues in large windows.
_FIRST_IN = 16 << 10
_IN = 256 << 10
_OUT = 4 << 20
_MAX_HEADER = 1 << 20
_HTTP_TYPES = {"response", "request"}
_PAYLOAD_TYPES = {"response", "request", "resource", "conversion"}
_VERSIONS = ("WARC/1.1", "WARC/1.0", "WARC/0.18", "WARC/0.17")  # (the drafts, as warcio reads them)
_REQUIRED = ("warc-type", "warc-record-id", "warc-date")
_REQUIRED_SET = frozenset(_REQUIRED)
# A Content-Length of more digits than this is none a file holds (18 digits pass an exabyte),
# and Python refuses to read a number of over 4,300 digits: either way, not a length.
_MAX_LENGTH_DIGITS = 18


@dataclass
class CheckedRecord:
    """What the reader learned about one record (or one unreadable stretch of the file)."""

    offset: int
    length: int
    fields: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    complete: bool = True
    cut: bool = False  # its header or block ends before its Content-Length says

    @property
    def type(self) -> str:
        return self.fields.get("warc-type", "")

    @property
    def record_id(self) -> str:
        return self.fields.get("warc-record-id", "")


class _BlockState:
    """Consumes the inflated bytes of one record: header, block (digests), trailer.

    Usually a record arrives in one piece; then the header is parsed from it and the block
    and payload are hashed through views of it, without copying. Pieces (a long record,
    or a header cut across two) take the same path with small buffers.
    """

    def __init__(self) -> None:
        self.head = bytearray()
        self.fields: dict[str, str] = {}
        self.in_header = True
        self.block_len = 0
        self.expected: int | None = None
        self.block = hashlib.sha1()
        self.payload: hashlib._Hash | None = None
        self.http_head: bytearray | None = None
        self.tail = bytearray()
        self.problems: list[str] = []
        self.cut = False  # (set by finish: the header or block ends before it says)

    def feed(self, data: bytes) -> None:
        start = 0
        if self.in_header:
            if self.head:
                self.head += data
                data = bytes(self.head)
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if not self.head:
                    self.head += data
                if len(self.head) > _MAX_HEADER:
                    raise _Unreadable("WARC header section longer than 1 MiB or not terminated")
                return
            self._parse_header(data[:end])
            self.in_header = False
            self.head = bytearray()
            start = end + 4
        if self.expected is None:
            return
        stop = min(len(data), start + self.expected - self.block_len)
        if stop > start:
            with memoryview(data) as view:
                self.block.update(view[start:stop])
                self.block_len += stop - start
                self._payload(data, view, start, stop)
        if stop < len(data):
            self.tail += data[stop:]

    def _parse_header(self, raw: bytes) -> None:
        first, fields, malformed = _header_fields(raw)
        if first not in _VERSIONS:
            raise _Unreadable(f"not a WARC record (first line {first[:40]!r})")
        self.fields.update(fields)
        self.problems.extend(f"malformed header line {line[:60]!r}" for line in malformed)
        self.expected = _length(self.fields)
        if self.expected is None:
            raise _Unreadable("missing or invalid Content-Length")
        hashed, http = _payload_hashed(self.fields)
        if hashed:
            self.payload = hashlib.sha1()
            if http:
                self.http_head = bytearray()

    def _payload(self, data: bytes, view: memoryview, start: int, stop: int) -> None:
        """Hash the payload part of ``data[start:stop]`` (all of it, past the HTTP head)."""
        if self.payload is None:
            return
        if self.http_head is not None:
            if not self.http_head:
                end = http_head_end(data, start, stop)
                if end >= 0:  # the whole HTTP head is in this piece (the usual case)
                    self.http_head = None
                    self.payload.update(view[end:stop])
                    return
            self.http_head += view[start:stop]
            end = http_head_end(self.http_head)
            if end < 0:
                if len(self.http_head) > _MAX_HEADER:
                    self.problems.append("HTTP header section not terminated")
                    self.payload = None
                return
            self.payload.update(self.http_head[end:])
            self.http_head = None
            return
        self.payload.update(view[start:stop])

    def finish(self) -> list[str]:
        problems = list(self.problems)
        if self.in_header:
            self.cut = True
            return ["record ends inside its WARC header"]
        if self.expected is not None and self.block_len != self.expected:
            self.cut = True
            problems.append(f"block is {self.block_len} bytes, Content-Length says {self.expected}")
        if bytes(self.tail) != b"\r\n\r\n":
            problems.append("record is not followed by exactly CRLF CRLF")
        return problems + _field_problems(self.fields, self.block, self.payload, self.http_head is not None)


def _whole(data: bytes) -> tuple[dict[str, str], list[str]] | None:
    """The common case, a whole record inflated in one piece, checked in one go.

    Returns the fields and problems, or None for anything unusual (a malformed header line,
    a length that does not fit, an unterminated HTTP head): :class:`_BlockState` then
    decides, and words the problems.
    """
    framed = _framed(data)
    if framed is None:
        return None
    fields, start, stop = framed
    payload = None
    hashed, http = _payload_hashed(fields)
    with memoryview(data) as view:
        block = hashlib.sha1(view[start:stop])
        if hashed:
            head = start
            if http:
                head = http_head_end(data, start, stop)
                if head < 0:
                    return None
            payload = hashlib.sha1(view[head:stop])
    return fields, _field_problems(fields, block, payload, False)


def _framed(data: bytes) -> tuple[dict[str, str], int, int] | None:
    """A whole record's fields and where its block starts and stops, if its header is well
    formed and its Content-Length is exactly what lies before the closing CRLF CRLF."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    first, fields, malformed = _header_fields(data[:end])
    if first not in _VERSIONS or malformed:
        return None
    length = _length(fields)
    if length is None:
        return None
    start = end + 4
    stop = start + length
    if stop + 4 != len(data) or not data.endswith(b"\r\n\r\n"):
        return None
    return fields, start, stop


# A WARC header as writers commonly lay it out, matched in one call instead of parsed line
# by line (most of the lean pass's time per record beside inflating and hashing): the
# version line of WARC/1.0 or 1.1, then fields named in their usual case, each written
# ``Name: value`` with the value in printable ASCII and, for the fields the check reads,
# without space around it. A field named again is taken from its last line, as the parser
# takes it. Anything else (another name, another spelling or spacing, a line without a
# colon, a byte outside ASCII) does not match, and the header is parsed line by line.
_VALUE = rb"[!-~](?:[ -~]*[!-~])?"
_USUAL_HEAD = re.compile(
    rb"WARC/1\.[01]\r\n(?:"
    rb"(?:WARC-Target-URI|WARC-IP-Address|WARC-Warcinfo-ID|WARC-Protocol|WARC-Concurrent-To|WARC-Filename"
    rb"|WARC-Refers-To|WARC-Refers-To-Target-URI|WARC-Refers-To-Date|WARC-Profile|WARC-Truncated"
    rb"|WARC-Identified-Payload-Type): [ -~]*\r\n"
    rb"|WARC-Type: (?P<type>" + _VALUE + rb")\r\n"
    rb"|WARC-Record-ID: (?P<id>" + _VALUE + rb")\r\n"
    rb"|WARC-Date: (?P<date>" + _VALUE + rb")\r\n"
    rb"|Content-Type: (?P<ctype>" + _VALUE + rb")\r\n"
    rb"|Content-Length: (?P<length>[0-9]{1," + b"%d" % _MAX_LENGTH_DIGITS + rb"})\r\n"
    rb"|WARC-Block-Digest: (?P<block>" + _VALUE + rb")\r\n"
    rb"|WARC-Payload-Digest: (?P<payload>" + _VALUE + rb")\r\n"
    rb")*")
_FIELDS_READ = ("type", "id", "date", "ctype", "length", "block", "payload")


def _clean(data: bytes) -> bool:
    """Whether ``data``, a record inflated in one piece, is one :func:`_whole` finds nothing
    wrong with, checked in fewer steps (verify's common case). False says nothing: the
    record is then checked by :func:`_whole`, which decides and words the problems."""
    end = data.find(b"\r\n\r\n")
    usual = _USUAL_HEAD.fullmatch(data, 0, end + 2) if end >= 0 else None
    if usual is None:  # (parsed line by line)
        framed = _framed(data)
        if framed is None or not framed[0].keys() >= _REQUIRED_SET:
            return False
        fields, start, stop = framed
        return _digests_clean(data, start, stop, fields["warc-type"], fields.get("content-type", ""),
                              fields.get("warc-block-digest"), fields.get("warc-payload-digest"))
    rtype, rid, date, ctype, length, block, payload = usual.group(*_FIELDS_READ)
    if rtype is None or rid is None or date is None or length is None:
        return False
    start = end + 4
    stop = start + int(length)
    if stop + 4 != len(data) or not data.endswith(b"\r\n\r\n"):
        return False
    return _digests_clean(data, start, stop, rtype.decode("ascii"), "" if ctype is None else ctype.decode("ascii"),
                          None if block is None else block.decode("ascii"),
                          None if payload is None else payload.decode("ascii"))


def _digests_clean(data: bytes, start: int, stop: int, rtype: str, ctype: str, block: str | None,
                   payload: str | None) -> bool:
    """Whether the block ``data[start:stop]`` of a record of type ``rtype`` and Content-Type
    ``ctype`` is the one its declared SHA-1 ``block`` digest says, and its payload, where one
    is declared, the one ``payload`` says."""
    view = memoryview(data)  # (released on return)
    if not _sha1_is(block, view[start:stop]):
        return False
    if payload is None or rtype not in _PAYLOAD_TYPES:
        return True
    if rtype in _HTTP_TYPES and ctype.startswith("application/http"):
        start = http_head_end(data, start, stop)
        if start < 0:
            return False
    return _sha1_is(payload, view[start:stop])


def _sha1_is(declared: str | None, data: memoryview) -> bool:
    """Whether ``declared`` is ``sha1:`` (lower case) and the SHA-1 of ``data``."""
    return declared is not None and declared[:5] == "sha1:" and b32_is(declared[5:], hashlib.sha1(data).digest())


def _length(fields: dict[str, str]) -> int | None:
    """Content-Length, if it is one (WARC 1.1 §5.6: ``1*DIGIT``; ``int`` alone would also
    take a sign, underscores and other scripts' digits)."""
    value = fields.get("content-length")
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > _MAX_LENGTH_DIGITS:
        return None
    return int(value)


def _header_fields(raw: bytes) -> tuple[str, dict[str, str], list[str]]:
    """A WARC header section: its first line, its fields (names lower-cased) and the lines
    that are not ``name: value``. One decode for the whole section (decoding line by line
    was most of verify's time)."""
    lines = raw.decode("utf-8", "replace").split("\r\n")
    fields: dict[str, str] = {}
    malformed: list[str] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
        else:
            malformed.append(line)
    return lines[0], fields, malformed


def _payload_hashed(fields: dict[str, str]) -> tuple[bool, bool]:
    """Whether a record's payload digest is checked, and whether its payload follows an
    HTTP head inside the block."""
    rtype = fields.get("warc-type", "")
    hashed = rtype in _PAYLOAD_TYPES and "warc-payload-digest" in fields
    return hashed, hashed and rtype in _HTTP_TYPES and fields.get("content-type", "").startswith("application/http")


def _field_problems(fields: dict[str, str], block: hashlib._Hash, payload: hashlib._Hash | None,
                    http_unterminated: bool) -> list[str]:
    """Missing mandatory fields, and declared digests that are not the computed ones."""
    if fields.keys() >= _REQUIRED_SET:
        problems = []  # (the usual case, without a comprehension's cost per record)
    else:
        problems = [f"missing {name}" for name in _REQUIRED if name not in fields]
    declared = fields.get("warc-block-digest")
    if declared is None:
        problems.append("no WARC-Block-Digest")
    elif _differs(declared, block):
        problems.append(f"WARC-Block-Digest mismatch: header {declared}, content {sha1_label(block)}")
    if payload is not None:
        declared = fields["warc-payload-digest"]
        if http_unterminated:
            problems.append("HTTP header section not terminated")
        elif _differs(declared, payload):
            problems.append(f"WARC-Payload-Digest mismatch: header {declared}, content {sha1_label(payload)}")
    return problems


def _differs(declared: str, hasher: hashlib._Hash) -> bool:
    """A declared ``sha1:`` digest (any case) that is not the one computed; other
    algorithms are not checked."""
    label = declared[:5]
    if label != "sha1:" and label.lower() != "sha1:":
        return False
    return not b32_is(declared[5:], hasher.digest())


class _Unreadable(Exception):
    pass


def check_records(path: Path, start: int = 0, stop: int | None = None, *,
                  hasher: Any = None) -> Iterator[CheckedRecord]:
    """Yield every record of a WARC (gzipped, or uncompressed if named ``.warc``) with the
    problems found in it.

    ``start``/``stop``: only the records that begin in ``[start, stop)``; ``start`` must be
    where a record begins. (The last one may end past ``stop``.) ``hasher`` (a hashlib
    object), of a whole file read to its end: given the file's bytes as they are read, so
    that a reader that also wants the file's digest reads it once.
    """
    with _mapped(path) as (mm, view, size):
        stop = size if stop is None else min(stop, size)
        pos = start
        check = _check_plain if is_plain(path) else _check_member
        while pos < stop:
            record, next_pos = check(mm, view, pos, size)
            assert record is not None  # (only a lean check passes a record over)
            if hasher is not None and next_pos > pos:
                hasher.update(view[pos:next_pos])
            yield record
            if next_pos <= pos:
                break
            pos = next_pos
        if hasher is not None and pos < size:
            hasher.update(view[pos:size])


def record_problems(path: Path, start: int = 0, stop: int | None = None) -> tuple[int, list[tuple[int, str]], int]:
    """What ``archive verify`` needs of the records :func:`check_records` yields: their
    count, their problems as (offset, message), and where the last one ends.

    Sooner than taking them from :func:`check_records`: a record found clean in one piece
    (nearly every record) is passed over without building its :class:`CheckedRecord`.
    """
    count, problems, end = 0, [], start
    with _mapped(path) as (mm, view, size):
        stop = size if stop is None else min(stop, size)
        pos = start
        check = _check_plain if is_plain(path) else _check_member
        while pos < stop:
            count += 1
            record, next_pos = check(mm, view, pos, size, lean=True)
            if record is None:
                pos = end = next_pos
                continue
            problems.extend((record.offset, message) for message in record.problems)
            end = record.offset + record.length
            if next_pos <= pos:
                break
            pos = next_pos
    return count, problems, end


def record_sound(path: Path, offset: int, payload_digest: str) -> bool:
    """Whether the record at ``offset`` of the gzipped WARC ``path`` reads whole, its digests
    are those it declares, and its payload digest is ``payload_digest``: a record a revisit
    may refer to. False for a file that cannot be read."""
    try:
        with _mapped(path) as (mm, view, size):
            if not 0 <= offset < size:
                return False
            record, _ = _check_member(mm, view, offset, size)
    except (OSError, ValueError):
        return False
    return (record is not None and record.complete and not record.cut and not record.problems
            and record.fields.get("warc-payload-digest") == payload_digest)


def first_damage(path: Path) -> int | None:
    """Where the first record of a gzipped WARC that cannot be read whole begins, or None
    (an uncompressed WARC gives None): a gzip member that does not inflate or is cut
    short, a header or block that ends before its Content-Length says.

    For readers built on warcio's, which read past a gzip member damaged after its first
    block (writing zlib's error to stderr) and so take a damaged WARC for a shorter whole
    one. Not for what warcio reads as it is written (a digest that does not match, a field
    missing): those are ``archive verify``'s to report.
    """
    if not path.name.endswith(".gz"):
        return None
    if _remembered is None:
        return _first_damage(path)
    stat = path.stat()
    key = (path, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key not in _remembered:
        _remembered[key] = _first_damage(path)
    return _remembered[key]


_remembered: dict[tuple[object, ...], int | None] | None = None


@contextmanager
def damage_remembered() -> Iterator[None]:
    """Within it, :func:`first_damage` reads a file once while it stays as it is (for a
    job's end, which extracts and then indexes its new WARCs). Only that long: a disk's
    fault changes a file's bytes without changing what ``stat`` says of it."""
    global _remembered
    outer, _remembered = _remembered, {}
    try:
        yield
    finally:
        _remembered = outer


def _first_damage(path: Path) -> int | None:
    with _mapped(path) as (mm, view, size):
        pos = 0
        while pos < size:
            record, next_pos = _check_member(mm, view, pos, size, lean=True)
            if record is not None and (not record.complete or record.cut):
                return record.offset
            if next_pos <= pos:
                break
            pos = next_pos
    return None


@contextmanager
def _mapped(path: Path) -> Iterator[tuple[mmap.mmap | bytes, memoryview, int]]:
    """``path`` mapped for reading, a view of it, and its size (an empty file, which cannot
    be mapped, as empty bytes)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            with memoryview(b"") as view:
                yield b"", view, 0
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm, memoryview(mm) as view:
            yield mm, view, size


def _check_member(mm: mmap.mmap | bytes, view: memoryview, pos: int, size: int,
                  lean: bool = False) -> tuple[CheckedRecord | None, int]:
    """The record whose gzip member begins at ``pos``, and where the next one begins.

    ``lean``: a record found clean in one piece comes back as None (see :func:`_clean`).
    """
    if mm[pos : pos + 3] != _GZIP_MAGIC:
        nxt = _resync(mm, pos, size)
        return CheckedRecord(pos, nxt - pos, problems=["not a gzip member (bytes do not start with a gzip header)"], complete=False), nxt
    inflater = zlib.decompressobj(31)
    cursor = pos
    try:
        # (a slice of the view, released as soon as the call returns: no copy, and cheaper
        # than a ``with``, which is most of the cost of a small record beside its header)
        first = inflater.decompress(view[pos : pos + _FIRST_IN], _OUT)
        cursor = min(pos + _FIRST_IN, size)
        if inflater.eof:
            end = cursor - len(inflater.unused_data)
            if lean and _clean(first):
                return None, end
            whole = _whole(first)
            if whole is not None:
                return CheckedRecord(pos, end - pos, whole[0], whole[1]), end
    except zlib.error as exc:
        nxt = _resync(mm, pos, size)
        return CheckedRecord(pos, nxt - pos, {}, [f"unreadable record: {exc}"], complete=False), nxt
    state = _BlockState()
    try:
        state.feed(first)
        while not inflater.eof:
            if cursor >= size and not inflater.unconsumed_tail:
                rec = CheckedRecord(pos, size - pos, state.fields, ["file ends inside this record (incomplete)"], complete=False)
                return rec, size
            if inflater.unconsumed_tail:
                data = inflater.decompress(inflater.unconsumed_tail, _OUT)
            else:
                with view[cursor : cursor + _IN] as piece:  # no copy of the input
                    cursor += len(piece)
                    data = inflater.decompress(piece, _OUT)
            state.feed(data)
        end = cursor - len(inflater.unused_data)
    except (zlib.error, _Unreadable) as exc:
        nxt = _resync(mm, pos, size)
        return CheckedRecord(pos, nxt - pos, state.fields, [f"unreadable record: {exc}"], complete=False), nxt
    problems = state.finish()
    return CheckedRecord(pos, end - pos, state.fields, problems, cut=state.cut), end


def is_plain(path: Path) -> bool:
    """Whether ``path`` is an uncompressed WARC, by its name (``.warc``, not ``.warc.gz``)."""
    return path.name.endswith(".warc")


def _check_plain(mm: mmap.mmap | bytes, view: memoryview, pos: int, size: int,
                 lean: bool = False) -> tuple[CheckedRecord, int]:
    """The record of an uncompressed WARC that begins at ``pos``, and where the next one
    begins: its header, then as many bytes as its Content-Length says and CRLF CRLF, hashed
    in pieces. (``lean`` is taken for :func:`_check_member`'s sake; every record comes back.)"""
    if mm[pos : pos + 5] != b"WARC/":
        nxt = _resync_plain(mm, pos, size)
        problem = "not a WARC record (bytes do not start with a WARC version line)"
        return CheckedRecord(pos, nxt - pos, problems=[problem], complete=False), nxt
    state = _BlockState()
    head = mm.find(b"\r\n\r\n", pos, min(size, pos + _MAX_HEADER))
    if head < 0 and size < pos + _MAX_HEADER:
        return CheckedRecord(pos, size - pos, problems=["file ends inside this record (incomplete)"],
                             complete=False), size
    try:
        if head < 0:
            raise _Unreadable("WARC header section longer than 1 MiB or not terminated")
        state.feed(mm[pos : head + 4])
        assert state.expected is not None  # (else feed raised)
        end = head + 4 + state.expected + 4
        cursor = head + 4
        while cursor < min(end, size):
            with view[cursor : min(end, size, cursor + _OUT)] as piece:
                state.feed(bytes(piece))
                cursor += len(piece)
    except _Unreadable as exc:
        nxt = _resync_plain(mm, pos, size)
        return CheckedRecord(pos, nxt - pos, state.fields, [f"unreadable record: {exc}"], complete=False), nxt
    if end > size:
        return CheckedRecord(pos, size - pos, state.fields, ["file ends inside this record (incomplete)"],
                             complete=False), size
    problems = state.finish()
    return CheckedRecord(pos, end - pos, state.fields, problems, cut=state.cut), end


def _resync_plain(mm: mmap.mmap | bytes, pos: int, size: int) -> int:
    """The next line of an uncompressed WARC after ``pos`` that begins as a record does."""
    found = mm.find(b"\nWARC/1.", pos)
    return size if found < 0 else found + 1


def _resync(mm: mmap.mmap | bytes, pos: int, size: int) -> int:
    """The next gzip member after ``pos`` that starts a WARC record.

    A gzip header alone is not enough: a stored payload (a gzip-encoded body kept as sent)
    contains gzip headers of its own.
    """
    found = mm.find(_GZIP_MAGIC, pos + 1)
    while found >= 0:
        try:
            start = zlib.decompressobj(31).decompress(mm[found : found + 4096], 8)
        except zlib.error:
            start = b""
        if start.startswith(b"WARC/1."):
            return found
        found = mm.find(_GZIP_MAGIC, found + 1)
    return size
