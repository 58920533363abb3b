"""Reading one capture back from where an index points (file, offset, length).

Only names that look like WARC files directly inside ``warcs/`` are opened: index lines
are data, and a crafted ``filename`` must not reach any other file.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import zlib
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from w3lib.encoding import html_to_unicode
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader

from archive.errors import StoreError
from archive.store import CollectionDir
from archive.warc.reader import CheckedRecord, check_records

log = logging.getLogger(__name__)

_WARC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.warc(\.gz)?$")
Headers = list[tuple[str, str]]
_INFLATE_IN = 64 << 10  # compressed bytes given to zlib at a time


@dataclass
class ArchivedRecord:
    rec_type: str
    warc_headers: Headers
    status: int | None = None
    reason: str = ""
    http_headers: Headers = field(default_factory=list)
    payload: bytes = b""  # as archived: content encoding kept, transfer coding removed
    filename: str = ""
    offset: int = 0
    length: int = 0
    # The payload's length as archived, where the record's headers say it (not where the
    # payload keeps a transfer coding's chunks); False ``complete``: the payload was not read
    # (``read_record(head_only=True)``), ``payload_chunks`` reads what of it is needed.
    payload_size: int | None = None
    complete: bool = True

    def warc(self, name: str) -> str | None:
        return _get(self.warc_headers, name)

    def header(self, name: str) -> str | None:
        return _get(self.http_headers, name)

    def decoded_payload(self, limit: int | None = None) -> bytes:
        """The payload with its ``Content-Encoding`` undone (unchanged when it cannot be), at
        most ``limit`` bytes of it."""
        return decode_content(self.payload, self.header("Content-Encoding"), limit, self.warc("WARC-Target-URI"))


def _get(headers: Headers, name: str) -> str | None:
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


def html_text(content_type: str | None, body: bytes) -> str:
    """An HTML body's text as w3lib's ``html_to_unicode`` reads it (HTTP charset, BOM,
    ``<meta>``, else UTF-8), a charset naming a codec of no text (``charset=base64``,
    ``rot13``, which w3lib takes as Python codecs) passed over as a browser passes over a
    label it does not know."""
    for header in (content_type, None):
        try:
            return html_to_unicode(header, body)[1]
        except LookupError:
            continue
    return body.decode("utf-8", "replace")


def decode_content(data: bytes, encoding: str | None, limit: int | None = None, what: str | None = None) -> bytes:
    """``data`` with its content codings undone, or unchanged when they cannot be.

    Past ``limit`` bytes decoding stops (the start is returned): a few hundred KB as sent
    can inflate to gigabytes. ``what``: whose payload it is (a URL), for the warnings.
    """
    of = f" of {what}" if what else ""
    codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        try:
            if coding in ("gzip", "x-gzip"):
                data = _inflate(data, 47, limit)
            elif coding == "deflate":
                try:
                    data = _inflate(data, 15, limit)
                except zlib.error:  # servers send raw deflate as often as zlib-wrapped
                    data = _inflate(data, -15, limit)
            elif coding == "br":
                import brotli  # type: ignore[import-not-found]

                try:
                    data = _unbrotli(brotli, data, limit)
                except brotli.error as exc:  # brotli's own error, unlike zlib's and gzip's
                    log.warning("could not undo content coding br%s: %s", of, exc)
                    return data
            elif coding == "zstd":
                zstd = _zstd()
                try:
                    data = _unzstd(zstd, data, limit)
                except zstd.ZstdError as exc:
                    log.warning("could not undo content coding zstd%s: %s", of, exc)
                    return data
            elif coding != "identity":
                log.warning("unknown content coding %r%s left as is", coding, of)
                return data
        except (zlib.error, ImportError, OSError) as exc:
            log.warning("could not undo content coding %s%s: %s", coding, of, exc)
            return data
    return data


def _inflate(data: bytes, wbits: int, limit: int | None) -> bytes:
    return zlib.decompressobj(wbits).decompress(data, limit or 0)  # max_length 0: no limit


def _unbrotli(brotli: Any, data: bytes, limit: int | None) -> bytes:
    if limit is None:
        return bytes(brotli.decompress(data))
    try:
        return bytes(brotli.Decompressor().process(data, output_buffer_limit=limit)[:limit])
    except TypeError:  # Brotli before 1.2 cannot stop early
        return bytes(brotli.decompress(data)[:limit])


def _zstd() -> Any:
    """Python's zstd module (3.14), or its backport, which Scrapy installs to read zstd
    bodies; ImportError if neither is there."""
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef]
    return zstd


def _unzstd(zstd: Any, data: bytes, limit: int | None) -> bytes:
    """Every frame of ``data`` (a body may hold several, one after the other), at most
    ``limit`` bytes of what they hold. Bytes after a whole frame that are no frame (padding)
    end it, as gzip's reader ends at its members' end; a first frame that is none raises."""
    out = bytearray()
    while data and (limit is None or len(out) < limit):
        frame = zstd.ZstdDecompressor()
        try:
            out += frame.decompress(data, max_length=-1 if limit is None else limit - len(out))
        except zstd.ZstdError:
            if not out:
                raise
            break
        if not frame.eof:
            break  # (the limit reached, or the body cut off: what came is kept)
        data = frame.unused_data
    return bytes(out if limit is None else out[:limit])


def warc_path(coll: CollectionDir, filename: str) -> Path:
    if not _WARC_NAME.match(filename):
        raise StoreError(f"index names {filename!r}, which is not a WARC file name")
    path = coll.warcs / filename
    if path.resolve().parent != coll.warcs.resolve():
        raise StoreError(f"index names {filename!r} outside {coll.warcs}")
    return path


def not_here(coll: CollectionDir, path: Path) -> str | None:
    """What to say of a WARC that is not in the store because `archive push --delete-local`
    removed it (its receipt says where its copy is), or None."""
    try:
        receipt = json.loads(coll.receipt(path.name).read_text("utf-8"))
        url, when = receipt["url"], str(receipt.get("deleted", ""))[:10]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(url, str):
        return None
    on = f" on {when}" if when else ""
    return (f"{path} is not in the store: `archive push --delete-local` removed it{on}, its copy being {url}; "
            "`archive pull` brings it back")


def read_record(coll: CollectionDir, filename: str, offset: int, length: int, *,
                head_only: bool = False) -> ArchivedRecord:
    """The record at ``offset`` of ``warcs/<filename>``. ``head_only``: its WARC and HTTP
    headers alone, its payload left unread (a 100 MB video's HEAD or range needs no more)."""
    path = warc_path(coll, filename)
    what = f"the record at offset {offset} of {path}"
    if head_only:
        with _record_stream(coll, path, offset, length) as (_, record):
            return _archived(record, filename, offset, length, head_only=True)
    with _opened(coll, path) as fh:
        try:
            fh.seek(offset)
            data = fh.read(length)
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
    if len(data) < length:
        raise StoreError(f"{what} is cut short: run `archive verify`")
    stream = _Inflating(io.BytesIO(data), length, what) if data[:2] == b"\x1f\x8b" else io.BytesIO(data)
    try:
        record = next(iter(ArchiveIterator(stream)), None)
        archived = _archived(record, filename, offset, length) if record is not None else None
    except ArchiveLoadFailed as exc:
        raise StoreError(f"no readable WARC record at offset {offset} of {path}: {exc}") from None
    if archived is None:
        raise StoreError(f"no WARC record at offset {offset} of {path}")
    _to_the_end(stream)
    return archived


def payload_chunks(coll: CollectionDir, record: ArchivedRecord, first: int = 0,
                   stop: int | None = None) -> Generator[bytes, None, None]:
    """Bytes ``first`` to ``stop`` (exclusive; None: the end) of ``record``'s payload as
    archived, read from its WARC as they are asked for: the record is inflated as far as
    ``stop`` and no further, none of it kept. Where they reach the payload's end the member
    is read to its end, for its CRC. StoreError where the record is damaged or cut short,
    or its payload's length is not known from its headers (``payload_size``)."""
    size = record.payload_size
    path = warc_path(coll, record.filename)
    what = f"the record at offset {record.offset} of {path}"
    if size is None:
        raise StoreError(f"{what} keeps its payload's transfer coding: its length is not known without reading it")
    stop = size if stop is None else min(stop, size)
    with _record_stream(coll, path, record.offset, record.length) as (stream, archived):
        raw = archived.raw_stream
        at = 0
        while at < stop:
            chunk = raw.read(min(stop - at, _INFLATE_IN) if at >= first else min(first - at, _INFLATE_IN))
            if not chunk:
                raise StoreError(f"{what} is cut short: run `archive verify`")
            if at >= first:
                yield chunk
            at += len(chunk)
        if stop == size:
            _to_the_end(stream)


@contextmanager
def _record_stream(coll: CollectionDir, path: Path, offset: int, length: int) -> Iterator[tuple[IO[bytes], Any]]:
    """The record at ``offset`` of ``path`` as warcio parses it (its headers read, its
    payload not), and the stream it reads, inflating the record's member as it is read."""
    what = f"the record at offset {offset} of {path}"
    with _opened(coll, path) as fh:
        try:
            if os.fstat(fh.fileno()).st_size < offset + length:
                raise StoreError(f"{what} is cut short: run `archive verify`")
            fh.seek(offset)
            gzipped = fh.read(2) == b"\x1f\x8b"
            fh.seek(offset)
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        stream: Any = _Inflating(fh, length, what) if gzipped else LimitReader(fh, length)
        try:
            record = next(iter(ArchiveIterator(stream)), None)
        except ArchiveLoadFailed as exc:
            raise StoreError(f"no readable WARC record at offset {offset} of {path}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        if record is None:
            raise StoreError(f"no WARC record at offset {offset} of {path}")
        yield stream, record


def _opened(coll: CollectionDir, path: Path) -> IO[bytes]:
    """``path`` open for reading; StoreError if it cannot be."""
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise StoreError(not_here(coll, path) or f"cannot read {path}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc


def _to_the_end(stream: IO[bytes]) -> None:
    """Read ``stream`` to its end: a gzip member's, whose CRC is the one check of the bytes inflated."""
    while stream.read(_INFLATE_IN):
        pass


class _Inflating(io.RawIOBase):
    """A record's gzip member, inflated as it is read, that raises StoreError where it does
    not inflate or ends before the member does.

    Not left to warcio's reader, which serves what precedes damage found after a member's
    first block (writing zlib's error to stderr) as if it were the whole record.
    """

    def __init__(self, source: IO[bytes], size: int, what: str):
        self._source = source
        self._left = size  # compressed bytes of the member still to be read from ``source``
        self._inflater = zlib.decompressobj(31)
        self._what = what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer = memoryview(buffer).cast("B")
        if not buffer:
            return 0
        inflater, out = self._inflater, b""
        while not out and not inflater.eof:
            if inflater.unconsumed_tail:
                given = inflater.unconsumed_tail
            else:
                given = self._source.read(min(self._left, _INFLATE_IN)) if self._left > 0 else b""
                if not given:
                    raise StoreError(f"{self._what} is cut short: run `archive verify`")
                self._left -= len(given)
            try:
                out = inflater.decompress(given, len(buffer))
            except zlib.error as exc:
                raise StoreError(f"{self._what} is damaged ({exc}): run `archive verify`") from None
        buffer[: len(out)] = out
        return len(out)


def _archived(record, filename: str, offset: int, length: int, head_only: bool = False) -> ArchivedRecord:
    out = ArchivedRecord(record.rec_type, list(record.rec_headers.headers), filename=filename,
                         offset=offset, length=length)
    http = record.http_headers
    chunked = False
    if http is not None and record.rec_type in ("response", "revisit", "request"):
        code, _, reason = (http.statusline or "").partition(" ")
        out.status = int(code) if code.isascii() and code.isdigit() else None
        out.reason = reason
        out.http_headers = list(http.headers)
        # Another tool's WARC may keep chunk framing; the payload is what it frames.
        chunked = "chunked" in (out.header("Transfer-Encoding") or "").lower()
    if head_only:
        # (what the record's Content-Length leaves after the HTTP headers just read)
        known = isinstance(record.raw_stream, LimitReader) and not chunked
        out.payload_size, out.complete = record.raw_stream.limit if known else None, False
        return out
    raw = record.raw_stream.read()
    if chunked:
        raw = ChunkedDataReader(io.BytesIO(raw), decomp_type=None).read()
    out.payload, out.payload_size = raw, len(raw)
    return out


def find_metadata(coll: CollectionDir, filename: str, offset: int, record_id: str) -> ArchivedRecord | None:
    """The metadata record written with the response ``record_id`` (it follows it closely);
    None if there is none, or it is damaged (logged)."""
    path = warc_path(coll, filename)
    for seen, found in enumerate(_records_from(path, offset)):
        if seen > 8:
            break
        if found.type == "metadata" and found.fields.get("warc-concurrent-to") == record_id:
            try:
                return read_record(coll, filename, found.offset, found.length)
            except StoreError as exc:
                log.warning("metadata record of %s unreadable: %s", record_id, exc)
                return None
    return None


def _records_from(path: Path, offset: int) -> Iterator[CheckedRecord]:
    """The records from ``offset`` on, where each begins and what its header says: the
    checking reader's for a gzipped WARC (warcio's reads past a damaged member)."""
    if path.name.endswith(".gz"):
        yield from check_records(path, start=offset)
        return
    with open(path, "rb") as fh:
        fh.seek(offset)
        records = ArchiveIterator(fh)
        try:
            for record in records:
                fields = {name.lower(): value for name, value in record.rec_headers.headers}
                records.read_to_end(record)
                yield CheckedRecord(records.get_record_offset(), records.get_record_length(), fields)
        except ArchiveLoadFailed as exc:
            log.warning("%s unreadable after offset %d: %s", path, offset, exc)


def warc_fields(block: bytes) -> dict[str, str | list[str]]:
    """An ``application/warc-fields`` block as a dict; repeated names become lists."""
    out: dict[str, str | list[str]] = {}
    # Lines end in LF (CRLF); not str.splitlines(), which also breaks at U+2028, U+0085 and
    # others that a value may hold.
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        if name in out:
            prev = out[name]
            out[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[name] = value
    return out
