"""CDXJ lines for one WARC, written by webrecorder's ``cdxj-indexer`` (the pywb format).

A line is ``<SURT key> <14-digit timestamp> <JSON>``, the JSON holding ``url``, ``mime``,
``status``, ``digest``, ``length``, ``offset`` and ``filename``; a response to a request
that was no GET has its method in its key and a ``method`` field (pywb's ``__wb_method``),
so that a look-up of the page never finds it, and a POST's or PUT's its body too, read as
pywb reads it (``requestBody``: a form's fields, a JSON body's, else ``__wb_post_data=`` and
the body in base64), so that replay finds the answer to the same form. Revisit records get mime
``warc/revisit`` (as pywb expects); our provenance metadata records
(``application/warc-fields``) and request records are left out, as pywb's own indexer does.
Each index gets a sidecar ``<name>.cdxj.derived.json`` naming the WARC it came from (name,
size, SHA-256), the indexer's version and the form of its keys (``keys``), so it can be
checked and rebuilt.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import surt
from cdxj_indexer.main import CDXJIndexer
from cdxj_indexer.postquery import MAX_QUERY_LENGTH, append_method_query, json_parse
from warcio.exceptions import ArchiveLoadFailed

from archive import __version__
from archive.digests import DERIVED_SUFFIX, sha256_file
from archive.errors import StoreError
from archive.store import replacing, unchanged_key, write_atomic
from archive.warc.reader import first_damage

log = logging.getLogger(__name__)

CDXJ_SUFFIX = ".cdxj"
REVISIT_MIME = "warc/revisit"
# The bytes of a request's body that its key is made of (the key keeps 4,096 characters of
# what is read from them), the same in the index and in replay.
MAX_KEYED_BODY = 1 << 20
_WITH_BODY = ("POST", "PUT")  # (the methods whose body pywb's keys hold)
_TIMESTAMP = re.compile(r"[0-9]{14}")
# The form of an index's keys, in its sidecar: 2, a POST's or PUT's with its body, as pywb
# keys them, and another method's than GET with its method. An index whose sidecar has none
# was made before either (:mod:`archive.index.keys` tells which of those to make again).
KEYS = 2


def tool_info() -> dict[str, str]:
    return {"name": "archive-index", "version": __version__,
            "indexer": f"cdxj-indexer {metadata.version('cdxj-indexer')}"}


def url_key(url: str) -> str:
    """The SURT sort key pywb uses (same library, same defaults)."""
    try:
        return surt.surt(url)
    except ValueError:  # an unparsable URL keys as itself, as cdxj-indexer does
        return url


@dataclass(frozen=True)
class CdxjEntry:
    """One parsed CDXJ line."""

    urlkey: str
    timestamp: str
    fields: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.fields.get("url", ""))

    @property
    def mime(self) -> str:
        return str(self.fields.get("mime", ""))

    @property
    def status(self) -> int | None:
        value = self.fields.get("status")
        return int(value) if value not in (None, "", "-") and str(value).isdigit() else None

    @property
    def digest(self) -> str:
        return str(self.fields.get("digest", ""))

    @property
    def filename(self) -> str:
        return str(self.fields["filename"])

    @property
    def offset(self) -> int:
        return int(self.fields["offset"])

    @property
    def length(self) -> int:
        return int(self.fields["length"])

    @property
    def is_revisit(self) -> bool:
        return self.mime == REVISIT_MIME


def parse_line(line: str | bytes) -> CdxjEntry:
    """One CDXJ line; a ValueError saying what is wrong when it is not one."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 (byte {exc.start})") from None
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) != 3 or not _TIMESTAMP.fullmatch(parts[1]):
        raise ValueError("not `SURT-key 14-digit-timestamp {JSON}`")
    try:
        fields = json.loads(parts[2])
    except ValueError as exc:
        raise ValueError(f"its JSON is invalid ({exc})") from None
    # (every line the indexer writes has these; replay and the catalog need them)
    if not isinstance(fields, dict) or "url" not in fields or "filename" not in fields \
            or not all(str(fields.get(k, "")).isdigit() for k in ("offset", "length")):
        raise ValueError("its JSON is not an object with url, filename, offset and length")
    return CdxjEntry(parts[0], parts[1], fields)


def entry_or_none(line: bytes, where: str) -> CdxjEntry | None:
    """``line`` parsed, or None with a warning naming ``where`` it is when it is damaged."""
    try:
        return parse_line(line)
    except ValueError as exc:
        log.warning("%s: not a CDXJ line, skipped: %s; `archive index` rebuilds the index", where, exc)
        return None


def index_name(warc: Path) -> str:
    """The name of ``warc``'s own index: ``x.cdxj`` for ``x.warc.gz``, as every store has
    named them, and the WARC's whole name and ``.cdxj`` for any other (``x.warc.cdxj`` for
    ``x.warc``), so that ``x.warc`` beside ``x.warc.gz`` does not write over its index. (A
    ``.warc.gz`` whose stem ends in ``.warc`` or ``.warc.gz`` takes its whole name too: no
    two WARCs have one name.)"""
    name = warc.name
    stem = name.removesuffix(".warc.gz")
    if stem != name and not stem.endswith((".warc", ".warc.gz")):
        return stem + CDXJ_SUFFIX
    return name + CDXJ_SUFFIX


def warc_names_of(index: str) -> list[str]:
    """The WARCs whose index ``index`` (a file name) may be: the one :func:`index_name` names
    so, and the ``x.warc`` an earlier version indexed as ``x.cdxj``."""
    stem = index.removesuffix(CDXJ_SUFFIX)
    if stem.endswith((".warc", ".warc.gz")):
        return [stem]
    return [stem + ".warc.gz", stem + ".warc"]


def sha256_of(path: Path) -> str:
    return sha256_file(path)[0]


# Sidecars read, with the state they were read in: a job's end asks for each WARC's index's
# sidecar three times (whether it is current, whether it is merged), and a collection of a
# year's jobs has tens of thousands.
_READ: dict[Path, tuple[tuple[int, ...], dict[str, Any] | None]] = {}


def read_derived(index: Path) -> dict[str, Any] | None:
    sidecar = index.with_name(index.name + DERIVED_SUFFIX)
    try:
        state = unchanged_key(sidecar)
        known = _READ.get(sidecar)
        if known is not None and known[0] == state:
            return known[1]
        doc = json.loads(sidecar.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    found = doc if isinstance(doc, dict) else None
    _READ[sidecar] = (state, found)
    return found


def is_current(index: Path, warc: Path) -> bool:
    """True when ``index`` exists and its sidecar names ``warc`` at its present size.

    Closed WARCs never change, so name and size identify them without re-hashing.
    """
    doc = read_derived(index)
    if doc is None or not index.is_file():
        return False
    sources = doc.get("derived_from") or [{}]
    return sources[0].get("path") == f"warcs/{warc.name}" and sources[0].get("size") == warc.stat().st_size


def keyed_as_now(index: Path) -> bool:
    """Whether the sidecar of ``index`` says its keys are of the form they are made in now."""
    doc = read_derived(index)
    return doc is not None and doc.get("keys") == KEYS


def mark_keyed(index: Path) -> None:
    """Record in the sidecar of ``index``, made by an earlier version, that its keys are
    as they are made now (it holds no capture they key otherwise)."""
    doc = read_derived(index)
    if doc is not None and doc.get("keys") != KEYS:
        write_json(index.with_name(index.name + DERIVED_SUFFIX), {**doc, "keys": KEYS})


def index_warc(warc: Path, out_dir: Path, *, warc_sha256: str | None = None) -> Path:
    """Write the sorted CDXJ of one closed WARC into ``out_dir`` with its sidecar.

    The index is built beside the old one, which it replaces only once whole: a WARC that
    cannot be read (a :class:`StoreError`) leaves its old index as it was.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / index_name(warc)
    with replacing(target) as tmp:
        lines, digest = _build(warc, tmp)
    derived = {
        "derived_from": [{"path": f"warcs/{warc.name}", "size": warc.stat().st_size,
                          "sha256": warc_sha256 if warc_sha256 is not None else sha256_of(warc)}],
        "tool": tool_info(),
        "keys": KEYS,
        "lines": lines,
        "sha256": "sha256:" + digest,
    }
    write_json(target.with_name(target.name + DERIVED_SUFFIX), derived)  # last: marks it current
    log.info("indexed %s: %d lines", warc.name, lines)
    return target


def _build(warc: Path, out: Path) -> tuple[int, str]:
    """Write the CDXJ of ``warc`` to ``out``; its line count and SHA-256.

    The checking reader reads it first (see :func:`first_damage`): the indexer's reader
    would index what precedes a damaged member as if it were all there is.
    """
    try:
        damaged = first_damage(warc)
    except OSError as exc:  # (a disk that cannot read it back: this WARC, not the others)
        raise _unindexable(warc, f" (it cannot be read: {exc.strerror or exc})") from None
    if damaged is not None:
        raise _unindexable(warc, f" at offset {damaged}")
    try:
        _Indexer(str(out), [str(warc)], sort=True).process_all()
    except (ArchiveLoadFailed, zlib.error, EOFError, ValueError) as exc:
        raise _unindexable(warc, "") from exc
    lines = 0
    digest = hashlib.sha256()
    with open(out, "rb") as fh:
        for line in fh:
            lines += 1
            digest.update(line)
    return lines, digest.hexdigest()


class _Indexer(CDXJIndexer):
    """cdxj-indexer whose lines for a response to any method but GET (a HEAD's, whose body is
    empty by definition, a POST's) carry the method in their key, as pywb keys them
    (``?__wb_method=head``), and in a ``method`` field; a POST's or PUT's the request's body
    as well (:func:`method_query`). Keyed as a GET, a HEAD taken after a page was that
    page's newest capture: replay showed it empty.

    The request record comes after its response in our WARCs, so a file's lines are held
    until it has been read. (cdxj-indexer's own ``post_append`` pairs them too, but reads
    every record's content through its Content-Encoding to do it: a body that is not the
    brotli it claims stopped the index.)"""

    def process_one(self, input_: Any, output: Any, filename: str) -> None:
        self._held: list[tuple[Any, dict[str, Any], Any, str]] = []
        # record id of a response -> its request's method, if not GET, and what its key adds
        self._methods: dict[str, tuple[str, str, str]] = {}
        super().process_one(input_, output, filename)
        for record, index, out, name in self._held:
            method = self._methods.get(record.rec_headers.get_header("WARC-Record-ID") or "")
            if method is not None:
                url = index.get("url") or record.rec_headers.get_header("WARC-Target-URI") or ""
                record.method, body, added = method
                record.urlkey = self.get_url_key(url + added)
                if body:
                    record.requestBody = body
            super()._write_line(out, index, record, name)
        self._held = []

    def filter_record(self, record: Any) -> bool:
        if record.rec_type == "request" and record.http_headers is not None:
            method = (record.http_headers.protocol or "").upper()
            answered = record.rec_headers.get_header("WARC-Concurrent-To")
            if method not in ("", "GET") and answered:
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                body = record.raw_stream.read(MAX_KEYED_BODY) if method in _WITH_BODY else b""
                self._methods[answered] = (method, *method_query(
                    method, record.http_headers.get_header("Content-Type"), body, url))
        return bool(super().filter_record(record))

    def _write_line(self, out: Any, index: dict[str, Any], record: Any, filename: str) -> None:
        self._held.append((record, index, out, filename))


def method_query(method: str, content_type: str | None, body: bytes, url: str) -> tuple[str, str]:
    """What the key of ``url`` asked for by ``method`` adds to it, as pywb's
    (cdxj-indexer's) keys add it: the method, and for a POST or PUT its ``body`` (its first
    ``MAX_KEYED_BODY`` bytes) as a query: a form's fields, a multipart form's or a JSON
    body's by name (so that another boundary makes the same key), anything else as
    ``__wb_post_data=`` and its base64. Returns that query (empty if there is none) and what
    the URL gets: ``?__wb_method=POST&q=news``."""
    body = body[:MAX_KEYED_BODY]
    if method in _WITH_BODY and (content_type or "").startswith("application/json") and not _json_keyed(body):
        # cdxj-indexer keys a JSON body it cannot read by the method alone, as here, but writes
        # "Error parsing: <body>" to stderr first: a line in every index run and at every
        # replay look-up of it, with the body in it.
        return "", f"{'&' if '?' in url else '?'}__wb_method={method}"
    try:
        query, added = append_method_query(method, content_type, str(len(body)), io.BytesIO(body), url)
    except Exception:  # noqa: BLE001 -- a body its reader cannot read (a multipart form cut short): as bytes
        query = "__wb_post_data=" + base64.b64encode(body).decode("ascii")[:MAX_QUERY_LENGTH]
        added = f"{'&' if '?' in url else '?'}__wb_method={method}&{query}"
    return query or "", added


def _json_keyed(body: bytes) -> bool:
    """Whether cdxj-indexer reads ``body`` as JSON, to key it by its members."""
    try:
        json_parse(body)
    except Exception:  # noqa: BLE001 -- (what its reading of the body may raise: ValueErrors, a RecursionError)
        return False
    return True


def _unindexable(warc: Path, where: str) -> StoreError:
    return StoreError(f"{warc} is damaged{where} and cannot be indexed: run `archive verify`")


def write_json(path: Path, doc: dict[str, Any], *, indent: int | None = 2) -> None:
    write_atomic(path, (json.dumps(doc, indent=indent, sort_keys=True) + "\n").encode("utf-8"))
