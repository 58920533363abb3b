"""``<collection>/catalog.sqlite``: captures, pages with titles, and capture-log lines.

Derived and disposable: built from the merged CDXJ index, the capture logs and the article
files (titles of other HTML pages are read from their ``<title>`` in the WARCs), written to
a temporary file and renamed, with a sidecar ``catalog.sqlite.derived.json`` naming every
source (path, size, SHA-256) and the tool version. Delete it and ``archive index`` (or the
replay server) builds it again. It is never the only copy of a fact.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from w3lib.encoding import html_to_unicode

from archive.errors import StoreError
from archive.index.cdxj import (
    DERIVED_SUFFIX,
    entry_or_none,
    read_derived,
    sha256_of,
    tool_info,
    write_json,
)
from archive.index.merged import merged_path
from archive.index.records import read_record
from archive.jsonl import rows_skipping_bad
from archive.store import UNWRITABLE, CollectionDir, replacing

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_SCHEMA = """
CREATE TABLE captures (urlkey TEXT, timestamp TEXT, url TEXT, mime TEXT, status INTEGER, digest TEXT,
                       length INTEGER, offset INTEGER, filename TEXT);
CREATE INDEX captures_key ON captures (urlkey, timestamp);
CREATE INDEX captures_digest ON captures (digest);
CREATE TABLE pages (url TEXT, title TEXT, timestamp TEXT, filename TEXT, offset INTEGER, title_source TEXT);
CREATE INDEX pages_time ON pages (timestamp);
CREATE TABLE log (job_id TEXT, url TEXT, started TEXT, outcome TEXT, status INTEGER, filename TEXT,
                  offset INTEGER, record_id TEXT, line TEXT);
CREATE INDEX log_place ON log (filename, offset);
"""


def catalog_path(coll: CollectionDir) -> Path:
    return coll.root / CATALOG


def sources(coll: CollectionDir) -> list[Path]:
    """The files the catalog is derived from."""
    found = [merged_path(coll)] if merged_path(coll).is_file() else []
    if coll.logs.is_dir():
        found += sorted(coll.logs.glob("*.captures.jsonl"))
    if coll.articles.is_dir():
        found += sorted(coll.articles.glob("*.jsonl"))
    return found


def is_current(coll: CollectionDir) -> bool:
    """True when the catalog exists and was built from the sources present now (name, size)."""
    path = catalog_path(coll)
    doc = read_derived(path)
    if doc is None or not path.is_file():
        return False
    recorded = {(s["path"], s["size"]) for s in doc.get("derived_from", [])}
    return recorded == {(str(p.relative_to(coll.root)), p.stat().st_size) for p in sources(coll)}


def _html_title(coll: CollectionDir, filename: str, offset: int, length: int) -> str | None:
    try:
        record = read_record(coll, filename, offset, length)
    except StoreError as exc:
        log.warning("no title for %s@%d: %s", filename, offset, exc)
        return None
    body = record.decoded_payload(65536)  # the title is near the top; a bomb need not inflate
    _, text = html_to_unicode(record.header("Content-Type"), body)
    match = _TITLE.search(text)
    return " ".join(match.group(1).split()) if match else None


def build_catalog(coll: CollectionDir) -> Path:
    """(Re)build ``catalog.sqlite`` of a collection from its indexes, logs and articles."""
    path = catalog_path(coll)
    used = sources(coll)
    headlines: dict[str, str] = {}
    for src in used:
        if src.parent == coll.articles:
            for row in rows_skipping_bad(src):
                if row.get("url") and row.get("headline"):
                    headlines[row["url"]] = row["headline"]
    with replacing(path) as tmp:
        tmp.unlink(missing_ok=True)  # (left by a build that was killed)
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.executescript(_SCHEMA)
            merged = merged_path(coll)
            if merged.is_file():
                with open(merged, "rb") as fh:
                    for number, raw in enumerate(fh, 1):
                        e = entry_or_none(raw, f"{merged}:{number}")
                        if e is None:
                            continue
                        db.execute("INSERT INTO captures VALUES (?,?,?,?,?,?,?,?,?)",
                                   (e.urlkey, e.timestamp, e.url, e.mime, e.status, e.digest, e.length,
                                    e.offset, e.filename))
                        if e.status == 200 and e.mime in ("text/html", "application/xhtml+xml"):
                            title, origin = headlines.get(e.url), "article"
                            if title is None:
                                title, origin = _html_title(coll, e.filename, e.offset, e.length), "html"
                            db.execute("INSERT INTO pages VALUES (?,?,?,?,?,?)",
                                       (e.url, title, e.timestamp, e.filename, e.offset, origin))
            for src in used:
                if src.parent != coll.logs:
                    continue
                for row in rows_skipping_bad(src):
                    warc = row.get("warc") or {}
                    db.execute("INSERT INTO log VALUES (?,?,?,?,?,?,?,?,?)",
                               (row.get("job_id"), row.get("url"), row.get("started"), row.get("outcome"),
                                row.get("status"), warc.get("filename"), warc.get("offset"), warc.get("record_id"),
                                json.dumps(row, sort_keys=True, ensure_ascii=False)))
            db.commit()
    derived = [{"path": str(p.relative_to(coll.root)), "size": p.stat().st_size, "sha256": sha256_of(p)}
               for p in used]
    write_json(path.with_name(path.name + DERIVED_SUFFIX), {"derived_from": derived, "tool": tool_info()})
    log.info("built %s from %d files", path, len(used))
    return path


def ensure_catalog(coll: CollectionDir) -> Path:
    """The catalog, rebuilt first when out of date; in a store that cannot be written, the
    one there is, as it is."""
    path = catalog_path(coll)
    if not is_current(coll):
        try:
            build_catalog(coll)
        except OSError as exc:
            if exc.errno not in UNWRITABLE:
                raise
            if not path.is_file():
                raise StoreError(f"cannot build {path} ({exc.strerror}): run `archive index` where the store "
                                 "can be written") from None
            log.warning("%s is out of date and cannot be rebuilt (%s); used as it is", path, exc.strerror)
    return path


@contextlib.contextmanager
def connect(coll: CollectionDir) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the (current) catalog."""
    path = ensure_catalog(coll)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    db.row_factory = sqlite3.Row
    try:
        yield db
    finally:
        db.close()


def search_pages(coll: CollectionDir, query: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Captured HTML pages (title, URL, time), newest first; ``query`` filters title and URL."""
    sql = "SELECT url, title, timestamp FROM pages"
    params: list[Any] = []
    if query:
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql += " WHERE title LIKE ? ESCAPE '\\' OR url LIKE ? ESCAPE '\\'"
        params += [like, like]
    sql += " ORDER BY timestamp DESC, url LIMIT ?"
    params.append(limit)
    with connect(coll) as db:
        return [dict(row) for row in db.execute(sql, params)]


def log_line(coll: CollectionDir, filename: str, offset: int) -> dict[str, Any] | None:
    """The capture-log line of the response record at ``filename``/``offset``."""
    with connect(coll) as db:
        row = db.execute("SELECT line FROM log WHERE filename = ? AND offset = ?", (filename, offset)).fetchone()
    return json.loads(row["line"]) if row else None


def by_digest(coll: CollectionDir, digest: str) -> list[dict[str, Any]]:
    """Non-revisit captures with this payload digest, oldest first."""
    with connect(coll) as db:
        rows = db.execute("SELECT * FROM captures WHERE digest = ? AND mime != 'warc/revisit' "
                          "ORDER BY timestamp", (digest,))
        return [dict(r) for r in rows]
