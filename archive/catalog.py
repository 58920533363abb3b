"""``<collection>/catalog.sqlite``: captures, pages with titles, and capture-log lines.

Derived and disposable: built from the CDXJ index of each WARC, the capture logs and the
article files (titles of other HTML pages are read from their ``<title>`` in the WARCs),
with a sidecar ``catalog.sqlite.derived.json`` naming every source (path, size, SHA-256)
and the tool version. Delete it and ``archive index`` (or the replay server) builds it
again. It is never the only copy of a fact.

Every job adds sources (a WARC's index, a log, an article file) and changes none, so the
catalog takes in only what is new, in one transaction that also records the new sources
in the catalog itself: a collection run for months does not read all it ever captured
after each job. It is built again from scratch, in a file beside it that then replaces
it, when a source it holds has changed size or gone, or when it cannot be read. Of the
headlines of one page, the one from the article file of the latest job (by name) is kept,
whatever order the files come in: an article file that comes after a later one (jobs that
overlapped, a clock that ran ahead for one job) is taken in like any other.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from archive.errors import StoreError
from archive.index.cdxj import (
    DERIVED_SUFFIX,
    entry_or_none,
    read_derived,
    sha256_of,
    tool_info,
    write_json,
)
from archive.index.records import html_text, read_record
from archive.jsonl import placed_rows_skipping_bad, row_of, rows_skipping_bad
from archive.store import UNWRITABLE, CollectionDir, exclusively, listed_sizes, replacing

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
                  offset INTEGER, record_id TEXT, log TEXT, line_offset INTEGER);
CREATE INDEX log_place ON log (filename, offset);
CREATE TABLE headlines (url TEXT PRIMARY KEY, headline TEXT, source TEXT);
CREATE INDEX pages_url ON pages (url);
CREATE TABLE sources (path TEXT PRIMARY KEY, size INTEGER, sha256 TEXT);
"""
_VERSION = 4  # of the tables (PRAGMA user_version): a catalog of another is built again


def catalog_path(coll: CollectionDir) -> Path:
    return coll.root / CATALOG


def sources(coll: CollectionDir) -> list[Path]:
    """The files the catalog is derived from: the index of each WARC, the capture logs, the
    article files."""
    return [coll.root / rel for rel in _present(coll)]


def _present(coll: CollectionDir) -> dict[str, int]:
    """:func:`sources` by path within the collection, with their sizes (listed with
    ``os.scandir``: a collection of a year's jobs has tens of thousands, listed at every
    job's end)."""
    found: dict[str, int] = {}
    for folder, suffix in ((coll.indexes, ".cdxj"), (coll.logs, ".captures.jsonl"), (coll.articles, ".jsonl")):
        # (a source gone since it was listed is not one)
        found.update((f"{folder.name}/{name}", size) for name, size in listed_sizes(folder, suffix).items()
                     if size >= 0)
    return found


def is_current(coll: CollectionDir, present: dict[str, int] | None = None) -> bool:
    """True when the catalog exists and was built from the sources present now (name, size);
    ``present``: :func:`_present`, if listed already."""
    path = catalog_path(coll)
    doc = read_derived(path)
    if doc is None or not path.is_file():
        return False
    recorded = {(s["path"], s["size"]) for s in doc.get("derived_from", [])}
    return recorded == set((_present(coll) if present is None else present).items()) and _of_this_version(path)


# The catalogs whose tables were found of this version, by file identity: a reader asks at
# every query, and a catalog is only ever replaced, never altered in its version.
_VERSIONED: set[tuple[str, int, int, int]] = set()


def _of_this_version(path: Path) -> bool:
    """False for a catalog whose tables are of another version (an earlier one's, its sources
    unchanged since): its queries would fail, or answer as that version did. One that cannot
    be read is left to the reader, which builds it again."""
    try:
        st = path.stat()
        key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
        if key in _VERSIONED:
            return True
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
    except (OSError, sqlite3.DatabaseError):
        return True
    if version != _VERSION:
        return False
    _VERSIONED.add(key)
    return True


def _html_title(coll: CollectionDir, filename: str, offset: int, length: int, unread: set[str]) -> str | None:
    """The ``<title>`` of the page at ``filename``@``offset``, or None. ``unread``: the
    files a record of which could not be read, said once each (a WARC gone or damaged
    would otherwise be a line for each of its pages)."""
    try:
        record = read_record(coll, filename, offset, length)
    except StoreError as exc:
        if filename not in unread:
            # (a WARC not in the store at all, pushed away or missing, is said by the indexes'
            # update, with what to do: a line here too said it twice)
            level = logging.WARNING if os.path.lexists(coll.warcs / filename) else logging.INFO
            log.log(level, "pages of %s whose record cannot be read are listed without a title; the first: %s@%d: %s",
                    filename, filename, offset, exc)
            unread.add(filename)
        return None
    body = record.decoded_payload(65536)  # the title is near the top; a bomb need not inflate
    text = html_text(record.header("Content-Type"), body)
    match = _TITLE.search(text)
    return " ".join(match.group(1).split()) if match else None


@contextlib.contextmanager
def _one_builder(coll: CollectionDir) -> Iterator[None]:
    """One update or build of a collection's catalog at a time, across processes and the
    replay server's threads (they would write the same temporary file). In a store that
    cannot be written there is nothing to guard: no build gets far."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(exclusively(coll.root / ".catalog.lock"))
        except OSError as exc:
            if exc.errno not in UNWRITABLE:
                raise
        yield


def update_catalog(coll: CollectionDir) -> Path:
    """Bring ``catalog.sqlite`` up to date: take in the sources that are new, or, where that
    cannot be, build it again (:func:`build_catalog`)."""
    path = catalog_path(coll)
    with _one_builder(coll):
        present = _present(coll)
        if is_current(coll, present):
            return path  # (brought up to date by another meanwhile)
        if path.is_file():
            try:
                if _take_in_new(coll, path, present):
                    return path
            except sqlite3.DatabaseError as exc:  # (not a database, locked, read-only: built anew, or said why not)
                log.warning("%s cannot be added to (%s): built again", path, exc)
        return _build(coll)


def _take_in_new(coll: CollectionDir, path: Path, present: dict[str, int]) -> bool:
    """Add to the catalog at ``path`` what its new sources hold (``present``: all of them,
    as :func:`_present` lists them); False, with nothing changed, if it must be built again
    instead."""
    with contextlib.closing(sqlite3.connect(path, timeout=60, isolation_level=None)) as db:
        # Room for a large job's rows in memory, so that readers are locked out only while
        # they are written at the commit, not from the moment the cache would spill.
        db.execute("PRAGMA cache_size = -262144")
        db.execute("BEGIN IMMEDIATE")  # (another process adding the same sources waits, then finds them in)
        try:
            held = {}
            if db.execute("PRAGMA user_version").fetchone()[0] == _VERSION:
                held = {p: (size, sha) for p, size, sha in _recorded(db)}
            new = [rel for rel in present if rel not in held]
            usable = bool(held) and all(present.get(rel) == size for rel, (size, _) in held.items())
            if not usable:
                db.execute("ROLLBACK")
                return False
            _add(db, coll, [coll.root / rel for rel in new])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        recorded = _recorded(db)
    _write_sidecar(path, recorded)
    if new:
        log.info("added %d files to %s", len(new), path)
    return True


_SQLITE_MAX_PATH = 512  # (SQLITE_MAX_PATHNAME of its Unix file layer, with the terminating zero)


def build_catalog(coll: CollectionDir) -> Path:
    """(Re)build ``catalog.sqlite`` of a collection from its indexes, logs and articles."""
    with _one_builder(coll):
        return _build(coll)


def _build(coll: CollectionDir) -> Path:
    path = catalog_path(coll)
    if not os.access(path.parent, os.W_OK):  # (SQLite would say only "unable to open database file")
        raise PermissionError(errno.EACCES, "Permission denied", str(path.parent))
    used = sources(coll)
    try:
        with replacing(path) as tmp:
            tmp.unlink(missing_ok=True)  # (left by a build that was killed)
            with contextlib.closing(sqlite3.connect(tmp)) as db:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version = {_VERSION}")
                _add(db, coll, used)
                db.commit()
                recorded = _recorded(db)
    except sqlite3.Error as exc:  # (a full disk, a path longer than SQLite opens: its own words, one line)
        why = (f"{exc}: SQLite opens no path over {_SQLITE_MAX_PATH} bytes; a store at a shorter path has no such "
               "limit" if len(os.fsencode(path.resolve())) + len(".tmp-journal") >= _SQLITE_MAX_PATH else str(exc))
        raise StoreError(f"{path} cannot be built ({why})") from None
    _write_sidecar(path, recorded)
    log.info("built %s from %d files", path, len(used))
    return path


_LEFT_OUT = "left out of the catalog (replay's list of pages and its provenance)"


def _add(db: sqlite3.Connection, coll: CollectionDir, new: list[Path]) -> None:
    """Take the sources ``new`` into the catalog ``db``: article files first (their headlines
    name pages already in, and those to come), then indexes and logs."""
    for src in new:
        if src.parent == coll.articles:
            for row in rows_skipping_bad(src, skipped=_LEFT_OUT):
                # (a headline from a later job's file is not replaced by an earlier one's)
                if row.get("url") and row.get("headline") and db.execute(
                        "INSERT INTO headlines VALUES (?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
                        "headline = excluded.headline, source = excluded.source WHERE excluded.source >= source",
                        (row["url"], row["headline"], src.name)).rowcount:
                    db.execute("UPDATE pages SET title = ?, title_source = 'article' WHERE url = ?",
                               (row["headline"], row["url"]))
    for src in new:
        if src.parent == coll.indexes:
            _add_index(db, coll, src)
        elif src.parent == coll.logs:
            # (where each line is in its log, not the line: the logs stay beside the catalog,
            # and a copy of every line made it larger than a collection of recrawls' WARCs)
            for at, row in placed_rows_skipping_bad(src, skipped=_LEFT_OUT):
                warc = row.get("warc") or {}
                db.execute("INSERT INTO log VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (row.get("job_id"), row.get("url"), row.get("started"), row.get("outcome"),
                            row.get("status"), warc.get("filename"), warc.get("offset"), warc.get("record_id"),
                            src.name, at))
    for src in new:
        db.execute("INSERT INTO sources VALUES (?, ?, ?)",
                   (str(src.relative_to(coll.root)), src.stat().st_size, sha256_of(src)))


def _add_index(db: sqlite3.Connection, coll: CollectionDir, index: Path) -> None:
    unread: set[str] = set()
    with open(index, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            e = entry_or_none(raw, f"{index}:{number}")
            if e is None:
                continue
            db.execute("INSERT INTO captures VALUES (?,?,?,?,?,?,?,?,?)",
                       (e.urlkey, e.timestamp, e.url, e.mime, e.status, e.digest, e.length, e.offset, e.filename))
            if e.status == 200 and e.mime in ("text/html", "application/xhtml+xml") and "method" not in e.fields:
                found = db.execute("SELECT headline FROM headlines WHERE url = ?", (e.url,)).fetchone()
                title, origin = (found[0], "article") if found else (
                    _html_title(coll, e.filename, e.offset, e.length, unread), "html")
                db.execute("INSERT INTO pages VALUES (?,?,?,?,?,?)",
                           (e.url, title, e.timestamp, e.filename, e.offset, origin))


def _recorded(db: sqlite3.Connection) -> list[tuple[str, int, str]]:
    """The sources a catalog holds, as it records them: (path, size, SHA-256)."""
    return db.execute("SELECT path, size, sha256 FROM sources").fetchall()


def _write_sidecar(path: Path, recorded: list[tuple[str, int, str]]) -> None:
    derived = [{"path": p, "size": size, "sha256": sha} for p, size, sha in sorted(recorded)]
    # (not indented: a line each source, tens of thousands of them, is written by json's C encoder)
    write_json(path.with_name(path.name + DERIVED_SUFFIX), {"derived_from": derived, "tool": tool_info()}, indent=None)


def ensure_catalog(coll: CollectionDir) -> Path:
    """The catalog, rebuilt first when out of date; in a store that cannot be written, the
    one there is, as it is."""
    path = catalog_path(coll)
    if not is_current(coll):
        try:
            update_catalog(coll)
        except OSError as exc:
            if exc.errno not in UNWRITABLE:
                raise
            if not path.is_file():
                raise StoreError(f"cannot build {path} ({exc.strerror}): run `archive index` where the store "
                                 "can be written") from None
            log.warning("%s is out of date and cannot be rebuilt (%s); used as it is", path, exc.strerror)
    return path


def _read(coll: CollectionDir, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    """The rows of a query of the catalog. A catalog that cannot be read (damaged, though its
    sidecar says it is current) is built again and asked once more: it is derived."""
    path = ensure_catalog(coll)
    try:
        return _query(path, sql, params)
    except sqlite3.DatabaseError as exc:
        if not _damaged(exc):
            raise StoreError(f"{path}: {exc}") from None  # (locked for long, say: no rebuild mends that)
        with _one_builder(coll):
            try:
                return _query(path, sql, params)  # (built again meanwhile by another reader)
            except sqlite3.DatabaseError:
                pass
            log.warning("%s cannot be read (%s): built again", path, exc)
            try:
                _build(coll)
            except OSError as built:
                if built.errno not in UNWRITABLE:
                    raise
                raise StoreError(f"{path} cannot be read ({exc}), nor built again here ({built.strerror}): run "
                                 "`archive index` where the store can be written") from None
            try:
                return _query(path, sql, params)
            except sqlite3.DatabaseError as again:
                raise StoreError(f"{path} cannot be read even once built again ({again})") from None


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    """Whether a query failed for what the catalog file holds (not a database, a page
    damaged, a table missing), which a rebuild mends."""
    name = getattr(exc, "sqlite_errorname", "")
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "no such table" in str(exc) or "no such column" in str(exc)


def _query(path: Path, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    """The rows of a query of the catalog at ``path``, opened read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, params).fetchall()


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
    return [dict(row) for row in _read(coll, sql, params)]


def log_line(coll: CollectionDir, filename: str, offset: int) -> dict[str, Any] | None:
    """The capture-log line of the response record at ``filename``/``offset``, read from its
    log; None where there is none, or it cannot be read as the catalog found it."""
    rows = _read(coll, "SELECT log, line_offset FROM log WHERE filename = ? AND offset = ?", (filename, offset))
    if not rows:
        return None
    try:
        with open(coll.logs / rows[0]["log"], "rb") as fh:
            fh.seek(rows[0]["line_offset"])
            row = row_of(fh.readline())
    except OSError as exc:
        log.warning("the capture-log line of %s@%d cannot be read: %s", filename, offset, exc)
        return None
    if isinstance(row, str):  # (the log changed since the catalog took it in)
        log.warning("the capture-log line of %s@%d in %s is %s", filename, offset, rows[0]["log"], row)
        return None
    warc = row.get("warc") or {}
    return row if (warc.get("filename"), warc.get("offset")) == (filename, offset) else None


def by_digest(coll: CollectionDir, digest: str) -> list[dict[str, Any]]:
    """Non-revisit captures with this payload digest, oldest first."""
    rows = _read(coll, "SELECT * FROM captures WHERE digest = ? AND mime != 'warc/revisit' ORDER BY timestamp",
                 (digest,))
    return [dict(r) for r in rows]
