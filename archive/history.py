"""What a collection captured before: the state an incremental job starts from.

Derived from the capture logs (closed ones, in job order), which hold for every capture its
URL, status, payload digest, validators (ETag, Last-Modified) and record pointer. From them:
the original record of every payload digest (for identical-payload revisits, across URLs),
and the latest capture of every URL (for conditional requests and server-not-modified
revisits).

A collection run every half hour for a year has hundreds of thousands of payloads in its
logs, and a job needs only the few it meets. So :meth:`CollectionHistory.load` keeps the
state in ``<collection>/history.sqlite``, a derived file like the catalog: each closed log
is folded into it once, and a job looks up what it needs there. What the job itself
captures is kept in memory on top. The file is rebuilt from the logs when a log it holds
has gone or changed, in size or modification time (an edit by hand that kept its size), or
when it cannot be read; where it cannot be written, the logs
are read into memory, as before it existed.

The fold does not depend on the order the logs come in: of a URL's captures the latest
(by its start) is kept, of a payload's the earliest, and a log that comes after a later one
(two jobs that overlapped, a repaired job, a clock that ran ahead for one job) is folded in
like any other, rather than making the whole file again (which a job stamped in the future
would have made happen at every job after it).

A URL is looked up whatever the spelling of its escapes (:func:`~archive.urls.same_escapes`):
a site's links write "/%7Eed/a" one week and "/~ed/a" the next, one URL whose latest
capture, with its validators, the later job finds. The file keys URLs so spelt; one made
by a version that keyed them as written is made again, once.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar

from archive.jsonl import numbered_rows
from archive.store import CollectionDir, listed_states, remade_if_not_a_database
from archive.urls import same_escapes

log = logging.getLogger(__name__)

# Truncations that mean the response did not come whole (a size cap is a choice, not these).
_CUT_OFF = ("time", "disconnect")
HISTORY = "history.sqlite"
_VERSION = 3  # of the file's tables (PRAGMA user_version); another is rebuilt (3: URLs keyed by same_escapes, logs' times kept)
LOOKUP_WAIT_MS = 2000
LOCKED_PAUSE = 60  # seconds
_SCHEMA = """
CREATE TABLE logs (name TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
CREATE TABLE urls (url TEXT PRIMARY KEY, status INTEGER, started TEXT, first_started TEXT, record_id TEXT,
                   uri TEXT, date TEXT, digest TEXT, etag TEXT, last_modified TEXT);
CREATE TABLE originals (digest TEXT PRIMARY KEY, record_id TEXT, uri TEXT, date TEXT, warc TEXT, warc_offset INTEGER);
"""


def unfolded_logs(coll: CollectionDir) -> list[str]:
    """The closed capture logs of ``coll`` (names, in job order) that its history file has
    not taken in as they are now: the job before's, not yet folded, and any changed since
    it was (a line cut or edited by hand; the next load folds them all again). With no
    history file to say, the newest log alone. What a job's start looks at of the logs of
    the collection's past, which a collection of a year's jobs has thousands of."""
    states = listed_states(coll.logs, ".captures.jsonl")
    path = coll.root / HISTORY
    folded = None
    if path.is_file():
        try:
            with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                                    timeout=LOOKUP_WAIT_MS / 1000)) as db:
                if db.execute("PRAGMA user_version").fetchone()[0] == _VERSION:
                    folded = _folded(db)
        except sqlite3.Error:  # (damaged, or held by a fold of another process: made again, or read, by the load)
            folded = None
    if folded is None:
        return list(states)[-1:]
    return [name for name, state in states.items() if folded.get(name) != state]


def _folded(db: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """The logs the history file ``db`` holds, with the size and modification time each had
    when taken in."""
    return {name: (size, mtime) for name, size, mtime in db.execute("SELECT name, size, mtime_ns FROM logs")}


# slots: a job keeps one of these per URL and per payload of the collection's history.
@dataclass(frozen=True, slots=True)
class Original:
    record_id: str
    uri: str
    date: str  # WARC-Date of the original record, verbatim
    payload_digest: str
    # Where the record is (WARC file name, offset), for a full response the history read
    # from a log line: a revisit is written only once it reads whole (CaptureJob).
    warc: str | None = None
    offset: int | None = None


def unreferable(coll: CollectionDir, original: Original) -> str | None:
    """Why a revisit must not refer to ``original`` (a full response with its place), or
    None: its record reads whole and holds that payload, or its WARC went to a bucket (the
    receipt ``archive push --delete-local`` leaves). A revisit of a damaged or lost record
    would leave no copy of the payload anywhere."""
    from archive.warc.reader import record_sound

    if original.warc is None or original.offset is None:
        return None  # (nothing to look at: taken as it is)
    path = coll.warcs / original.warc
    if path.exists():
        if record_sound(path, original.offset, original.payload_digest):
            return None
        return f"{path} at offset {original.offset} cannot be read whole, or is not the payload the capture log says"
    if coll.receipt(original.warc).is_file():
        return None
    if coll.loss_statement(original.warc).is_file():
        return f"{path} is stated lost ({coll.loss_statement(original.warc)})"
    return f"{path} is not in the store (nor pushed by `archive push --delete-local`)"


def lost_warcs(coll: CollectionDir) -> frozenset[str]:
    """The names of the WARCs gone from ``coll`` whose loss is stated (:mod:`archive.losses`;
    a listing of ``lost/`` alone where there is none): a record in one is no payload's
    original while a capture of the same bytes is in a WARC that is there (else every later
    job would store those bytes whole again, and say so), nor a source extraction can read."""
    from archive.index import stated_lost

    return frozenset(stated_lost(coll))


class Referability:
    """:func:`unreferable`, looked at once for each original (by record id), and said once
    (to ``logger``) of one found wanting, with ``instead``: what is done instead."""

    def __init__(self, coll: CollectionDir, instead: str, logger: logging.Logger):
        self.coll, self.instead, self.log = coll, instead, logger
        self._seen: dict[str, bool] = {}
        self._said_lost = False
        self._lost: frozenset[str] | None = None  # (WARCs stated lost, read at the first original wanting)

    def referable(self, original: Original) -> bool:
        known = self._seen.get(original.record_id)
        if known is None:
            why = unreferable(self.coll, original)
            if why is not None and self._lost is None:
                self._lost = lost_warcs(self.coll)
            if why is not None and original.warc in (self._lost or ()):
                # (expected of a loss stated: said once a job, of what it means, not once an original)
                if not self._said_lost:
                    self.log.info("originals of earlier captures are in WARCs stated lost (the first: %s): what "
                                  "would refer to them is captured whole again", why)
                self._said_lost = True
            elif why is not None:
                self.log.warning("%s (%s, %s): %s", why, original.record_id, original.uri, self.instead)
            known = self._seen[original.record_id] = why is None
        return known


@dataclass(slots=True)
class UrlState:
    status: int
    started: str
    first_started: str
    original: Original | None  # the full response this URL's content lives in
    etag: str | None = None
    last_modified: str | None = None


V = TypeVar("V")


class _Layered(MutableMapping[str, V]):
    """A table of the history file, with the running job's additions on top in memory."""

    def __init__(self, db: sqlite3.Connection, table: str, key: str, columns: tuple[str, ...],
                 to_row: Callable[[V], tuple[Any, ...]], from_row: Callable[[str, tuple[Any, ...]], V],
                 fold: Callable[[str], str] | None = None):
        self.db = db
        self.fold = fold  # (what a key is looked up and kept as: another spelling of it is the same key)
        self.added: dict[str, V] = {}
        names = ", ".join(columns)
        self._get = f"SELECT {names} FROM {table} WHERE {key} = ?"
        self._get_many = f"SELECT {key}, {names} FROM {table} WHERE {key} IN "
        self._put = f"INSERT OR REPLACE INTO {table} ({key}, {names}) VALUES (?{', ?' * len(columns)})"
        self._keys = f"SELECT {key} FROM {table}"
        self._any = f"SELECT 1 FROM {table} LIMIT 1"
        self._to_row, self._from_row = to_row, from_row
        self.folding = False  # while closed logs are folded in: into the file, not into memory
        self.empty = False  # nothing in the file (a first job), or a damaged one: no need to look there
        self.held_until = 0.0  # (monotonic) the file is held locked by another process: not looked at till then

    def done_folding(self) -> None:
        self.folding = False
        self.empty = self.db.execute(self._any).fetchone() is None

    def _stored(self, key: str) -> V | None:
        if self.empty or (self.held_until and monotonic() < self.held_until):
            return None
        try:
            row = self.db.execute(self._get, (key,)).fetchone()
        except sqlite3.Error as exc:
            self._failed(exc)
            return None
        return None if row is None else self._from_row(key, row)

    def _failed(self, exc: sqlite3.Error) -> None:
        """A look-up failed: while folding, an error; else the file is let be for a while,
        or for the rest of the job (:func:`_unusable`)."""
        if self.folding:
            raise exc
        if _unusable(self.db, exc):
            self.held_until = monotonic() + LOCKED_PAUSE  # (not a page held up for each look-up)
        else:
            self.empty = True  # (looked up no more: the job goes on as one without a history)

    def many(self, keys: Iterable[str]) -> dict[str, V]:
        """Those of ``keys`` there are, looked up a few hundred to a query (a crawl's start
        asks for every known article: one query each cost a second at 90,000)."""
        asked = {key: key if self.fold is None else self.fold(key) for key in keys}  # (as asked: as kept)
        found = {key: self.added[kept] for key, kept in asked.items() if kept in self.added}
        rest: dict[str, list[str]] = {}
        for key, kept in asked.items():
            if key not in found:
                rest.setdefault(kept, []).append(key)
        if self.empty or (self.held_until and monotonic() < self.held_until):
            return found
        kept_keys = list(rest)
        for at in range(0, len(kept_keys), _MANY):
            chunk = kept_keys[at:at + _MANY]
            try:
                rows = self.db.execute(self._get_many + f"({', '.join('?' * len(chunk))})", chunk).fetchall()
            except sqlite3.Error as exc:
                self._failed(exc)
                return found
            for kept, *row in rows:
                for key in rest[kept]:
                    found[key] = self._from_row(kept, tuple(row))
        return found

    def __getitem__(self, key: str) -> V:
        if self.fold is not None:
            key = self.fold(key)
        found = self.added.get(key)
        if found is None:
            found = self._stored(key)
            if found is None:
                raise KeyError(key)
        return found

    def __setitem__(self, key: str, value: V) -> None:
        if self.fold is not None:
            key = self.fold(key)
        if self.folding:
            self.db.execute(self._put, (key, *self._to_row(value)))
        else:
            self.added[key] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError("a collection's history is only added to")

    def __iter__(self) -> Iterator[str]:
        yield from self.added
        for (key,) in [] if self.empty else self.db.execute(self._keys).fetchall():
            if key not in self.added:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


_MANY = 500  # keys a query of many() asks for (SQLite takes 999 parameters at the least)


class UrlStates(MutableMapping[str, UrlState]):
    """The latest capture of each URL, in memory, looked up and kept whatever the spelling
    of the URL's escapes (:func:`~archive.urls.same_escapes`), as the history file keys them."""

    def __init__(self) -> None:
        self._states: dict[str, UrlState] = {}

    def __getitem__(self, url: str) -> UrlState:
        return self._states[same_escapes(url)]

    def __setitem__(self, url: str, state: UrlState) -> None:
        self._states[same_escapes(url)] = state

    def __delitem__(self, url: str) -> None:
        del self._states[same_escapes(url)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)


def _unusable(db: sqlite3.Connection, exc: sqlite3.Error) -> bool:
    """The history file failed a look-up during a job: the job goes on without what it would
    have found, capturing in full what it would have recorded as a revisit. Held locked by
    another process's rebuild: for LOCKED_PAUSE seconds (True). Damaged: for the rest of
    the job, and the file is marked to be made again by the next one (False).

    (The crawl process and its capture worker look up apart, and one may find what the
    other did not: a 304 is nonetheless a revisit of the capture whose validators the
    crawl process sent, which travels with the request (``Fetch.conditional_on``).)"""
    locked = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
    if locked:
        log.warning("the collection's history file is held by another process (%s): not looked at for %d s", exc,
                    LOCKED_PAUSE)
        return True
    log.warning("the collection's history file failed a look-up (%s): this job goes on without it, and the next "
                "one makes it again", exc)
    with contextlib.suppress(sqlite3.Error):
        db.execute("PRAGMA user_version = 0")
    return False


def _url_row(state: UrlState) -> tuple[Any, ...]:
    o = state.original
    return (state.status, state.started, state.first_started, *(
        (None, None, None, None) if o is None else (o.record_id, o.uri, o.date, o.payload_digest)),
        state.etag, state.last_modified)


def _url_state(_url: str, row: tuple[Any, ...]) -> UrlState:
    status, started, first, record_id, uri, date, digest, etag, last_modified = row
    return UrlState(status, started, first, None if record_id is None else Original(record_id, uri, date, digest),
                    etag, last_modified)


def _before(one: str, other: str | None) -> bool:
    """Whether the capture started at ``one`` started before ``other`` (the logs' times,
    ``YYYY-mm-ddTHH:MM:SS.ffffffZ``, compare as text)."""
    if not isinstance(one, str):
        raise TypeError(f"started is not a text: {one!r}")  # (the line is passed over, and said so)
    return other is not None and one < other


@dataclass
class CollectionHistory:
    originals: MutableMapping[str, Original] = field(default_factory=dict)
    urls: MutableMapping[str, UrlState] = field(default_factory=UrlStates)
    lost: frozenset[str] = frozenset()  # WARCs stated lost (lost_warcs), by name

    @classmethod
    def load(cls, coll: CollectionDir) -> CollectionHistory:
        """The history of ``coll``'s closed logs: looked up in its history file, brought up
        to date first; where that cannot be, read into memory."""
        states = listed_states(coll.logs, ".captures.jsonl")
        path = coll.root / HISTORY
        if not states and not path.exists():
            return cls()  # a first job: nothing to look up, no file to make
        lost = lost_warcs(coll)
        try:
            return remade_if_not_a_database(path, lambda: cls._from_file(path, coll.logs, states, lost),
                                            made_from="the logs")
        except (sqlite3.Error, OSError) as exc:
            log.warning("%s: %s; the history is read from the logs into memory instead", path, exc)
        history = cls(lost=lost)
        for name in states:
            history.add_log(coll.logs / name)
        return history

    @classmethod
    def _from_file(cls, path: Path, folder: Path, states: dict[str, tuple[int, int]],
                   lost: frozenset[str] = frozenset()) -> CollectionHistory:
        db = sqlite3.connect(path, timeout=600, isolation_level=None, check_same_thread=False)
        try:
            history = cls(
                _Layered(db, "originals", "digest", ("record_id", "uri", "date", "warc", "warc_offset"),
                         lambda o: (o.record_id, o.uri, o.date, o.warc, o.offset),
                         lambda digest, row: Original(*row[:3], digest, *row[3:])),
                _Layered(db, "urls", "url", ("status", "started", "first_started", "record_id", "uri", "date",
                                             "digest", "etag", "last_modified"), _url_row, _url_state, same_escapes),
                lost)
            # One process folds the new logs in; another (the crawl process and its capture
            # worker load at once) waits for it, then finds nothing left to do.
            db.execute("BEGIN IMMEDIATE")
            try:
                history._fold(db, path, folder, states)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            # Look-ups during the crawl wait for another process's commit this long at most:
            # the crawl is not held up by a rebuild (it goes on without the file, see _unusable).
            db.execute(f"PRAGMA busy_timeout = {LOOKUP_WAIT_MS}")
        except BaseException:
            db.close()
            raise
        return history

    def _fold(self, db: sqlite3.Connection, path: Path, folder: Path, states: dict[str, tuple[int, int]]) -> None:
        """Bring the history file up to date with the closed logs in ``folder`` (``states``:
        their names, in job order, sizes and modification times)."""
        folded: dict[str, tuple[int, int]] = {}
        if db.execute("PRAGMA user_version").fetchone()[0] == _VERSION:
            folded = _folded(db)
        new = [folder / name for name in states if name not in folded]
        if any(states.get(name) != was for name, was in folded.items()):
            log.info("%s: a log it holds has changed or gone: made again", path)
            folded, new = {}, [folder / name for name in states]
        if not folded:
            for table in ("logs", "urls", "originals"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {_VERSION}")
        self.urls.folding = self.originals.folding = True  # type: ignore[attr-defined]
        try:
            for log_path in new:
                self.add_log(log_path)
                db.execute("INSERT INTO logs (name, size, mtime_ns) VALUES (?, ?, ?)",
                           (log_path.name, *states[log_path.name]))
        finally:
            self.urls.done_folding()  # type: ignore[attr-defined]
            self.originals.done_folding()  # type: ignore[attr-defined]

    def add_log(self, path: Path) -> None:
        folding = getattr(self.urls, "db", None) if getattr(self.urls, "folding", False) else None
        for number, line in numbered_rows(path):
            problem: object = line
            if not isinstance(line, str):
                # A line is taken in whole or not at all (only a capture writes anything).
                db = folding if line.get("outcome") == "captured" and line.get("warc") else None
                if db is not None:
                    db.execute("SAVEPOINT line")
                try:
                    self.add(line)
                    if db is not None:
                        db.execute("RELEASE line")
                    continue
                # (a field missing or of another type; a value the history file cannot hold)
                except (ValueError, KeyError, TypeError, OverflowError, sqlite3.InterfaceError,
                        sqlite3.ProgrammingError) as exc:
                    problem = repr(exc)
                    if db is not None:
                        db.execute("ROLLBACK TO line")
                        db.execute("RELEASE line")
            log.warning("%s line %d skipped for history: %s", path, number, problem)

    def add(self, line: dict[str, Any], *, own: bool = False) -> None:
        """Take one capture-log line into account. ``own``: a capture of the job that loaded
        this history, made after everything it holds whatever its time says (a clock set
        back), rather than a line of a log folded in."""
        if line.get("outcome") != "captured" or not line.get("warc"):
            return
        if line.get("truncated") in _CUT_OFF:
            # Part of a response that did not come whole: for recrawls the URL stays as its
            # last whole capture left it (still due, its validators and original kept).
            return
        url, digest, status, started = line["url"], line.get("payload_digest"), line["status"], line["started"]
        revisit = line.get("revisit")
        original = None
        if revisit:
            original = Original(revisit["refers_to"], revisit["refers_to_uri"], revisit["refers_to_date"], digest)
        elif digest and 200 <= status < 300 and not line.get("truncated"):
            first = self.originals.get(digest)
            # (the earliest capture of the bytes, but one in a WARC stated lost only if no other is)
            mine_lost, first_lost = line["warc"]["filename"] in self.lost, first is not None and first.warc in self.lost
            if first is None or (first_lost and not mine_lost) or (first_lost == mine_lost
                                                                   and _before(started, first.date)):
                first = self.originals[digest] = Original(line["warc"]["record_id"], url, started, digest,
                                                          line["warc"]["filename"], line["warc"]["offset"])
            if first.uri == url:
                original = Original(first.record_id, url, first.date, digest)  # (a URL's state keeps no place)
            else:
                # Same bytes under another URL: this URL's own record is the one to refer to.
                original = Original(line["warc"]["record_id"], url, started, digest)
        previous = self.urls.get(url)
        if not own and previous is not None and _before(started, previous.started):
            # Older than the capture the history holds (from a log that came late): it can
            # only tell when the URL was first captured.
            if _before(started, previous.first_started):
                previous.first_started = started
                self.urls[url] = previous
            return
        if status == 304 and previous is not None and not (
                revisit and (previous.original is None or previous.original.record_id != original.record_id)):
            # (the capture it was made conditional on: its original and status hold)
            previous.started = started
            previous.etag = line.get("etag") or previous.etag
            previous.last_modified = line.get("last_modified") or previous.last_modified
            self.urls[url] = previous  # (a copy, where the history is in its file)
            return
        if status == 304 and revisit:
            # Not modified since a capture the history does not hold as this URL's latest (its
            # log has not come yet): that capture, as the revisit names it, with this one's time.
            self.urls[url] = UrlState(200, started, previous.first_started if previous else started, original,
                                      line.get("etag"), line.get("last_modified"))
            return
        self.urls[url] = UrlState(
            status=status,
            started=started,
            first_started=previous.first_started if previous else started,
            original=original,
            etag=line.get("etag"),
            last_modified=line.get("last_modified"),
        )
