"""The latest version of every article a collection's jobs extracted: what a job's
extraction compares its pages against (a new version, or the same article again).

Until it was kept, the extraction at each job's end read every earlier article table of
the collection, bodies and all, and held them in memory: a collection crawled every hour
for a year holds a few hundred thousand rows, a GB of tables, read again at each job's end.
``<collection>/article_versions.sqlite`` (derived, like ``history.sqlite``) keeps, for
each article, its latest version's number, record, row without its body, and a digest of
its headline and body; each job's table is folded in once, in chain order. It is made
again when a table it holds has gone or changed (``archive extract`` writes them all
again), or when a table of a job earlier than the latest it holds turns up. A job whose
versions it cannot give (one before the latest it holds, a file that cannot be written)
reads the tables as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from archive.errors import StoreError
from archive.jsonl import rows_refusing_bad
from archive.manifest import parsed, problem_of
from archive.store import CollectionDir

log = logging.getLogger(__name__)

VERSIONS = "article_versions.sqlite"
_VERSION = 1  # of the file's tables (PRAGMA user_version); another is made again
_SCHEMA = """
CREATE TABLE tables (job_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, size INTEGER NOT NULL,
                     mtime_ns INTEGER NOT NULL);
CREATE TABLE latest (article_id TEXT PRIMARY KEY, ord INTEGER NOT NULL, url TEXT NOT NULL, number INTEGER NOT NULL,
                     record_id TEXT NOT NULL, text TEXT NOT NULL, row TEXT NOT NULL);
CREATE INDEX latest_url ON latest (url, ord);
"""


@dataclass
class Version:
    """The latest distinct version of an article, as the next job compares against it:
    its number, its record, its row (the body left out where it was kept in the file), and
    :func:`text_digest` of its headline and body."""

    number: int
    record_id: str
    row: dict[str, Any]
    text: str


def text_digest(row: dict[str, Any]) -> str:
    """What makes two captures of an article the same version: its headline and body."""
    return hashlib.sha256(json.dumps([row.get("headline"), row.get("body")], ensure_ascii=False).encode()).hexdigest()


def version_of(row: dict[str, Any]) -> Version:
    """The version an article table's row records."""
    return Version(row.get("version", 1), row["source"]["record_id"], row, text_digest(row))


class StoredVersions(MutableMapping[str, Version]):
    """Articles' latest versions by article id, looked up in the file, with those the running
    job adds kept in memory on top (the file takes them when the job's table is folded in)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.added: dict[str, Version] = {}
        self._folding = False
        self._top = 0  # the largest ``ord`` in the file, while folding

    def __getitem__(self, key: str) -> Version:
        found = self.added.get(key)
        if found is None:
            row = self.db.execute("SELECT number, record_id, row, text FROM latest WHERE article_id = ?",
                                  (key,)).fetchone()
            if row is None:
                raise KeyError(key)
            found = Version(row[0], row[1], json.loads(row[2]), row[3])
        return found

    def __setitem__(self, key: str, value: Version) -> None:
        if not self._folding:
            self.added[key] = value
            return
        row = {k: v for k, v in value.row.items() if k != "body"}
        self._top += 1  # (its place if it is new: a known article keeps the place it was first met at)
        self.db.execute(
            "INSERT INTO latest (article_id, ord, url, number, record_id, text, row) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (article_id) DO UPDATE SET url = excluded.url, number = excluded.number, "
            "record_id = excluded.record_id, text = excluded.text, row = excluded.row",
            (key, self._top, row["url"], value.number, value.record_id, value.text, json.dumps(row, ensure_ascii=False)))

    def __delitem__(self, key: str) -> None:
        raise TypeError("articles' versions are only added to")

    def __iter__(self) -> Iterator[str]:
        yield from self.added
        for (key,) in self.db.execute("SELECT article_id FROM latest ORDER BY ord"):
            if key not in self.added:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def by_url(self, url: str) -> Version | None:
        """The version of the article last recorded under ``url``, as a dict of the versions
        by URL, filled in the order the articles were first met, holds it."""
        best: tuple[int, str] | None = None
        for key, ord_ in self.db.execute("SELECT article_id, ord FROM latest WHERE url = ?", (url,)):
            if key not in self.added and (best is None or ord_ > best[0]):
                best = (ord_, key)
        top = self.db.execute("SELECT COALESCE(MAX(ord), 0) FROM latest").fetchone()[0]
        for at, (key, version) in enumerate(self.added.items()):
            if version.row["url"] != url:
                continue
            stored = self.db.execute("SELECT ord FROM latest WHERE article_id = ?", (key,)).fetchone()
            ord_ = stored[0] if stored is not None else top + 1 + at
            if best is None or ord_ > best[0]:
                best = (ord_, key)
        return None if best is None else self[best[1]]

    @classmethod
    def before(cls, coll: CollectionDir, sequence: int, *, doing: str, table_doing: str) -> StoredVersions | None:
        """The versions after every job of ``coll`` whose manifest sequence is below
        ``sequence``, the file brought up to date first; None where the file cannot give
        them (it holds a later job's table). What is not done if a manifest (``doing``) or
        a table's row (``table_doing``) is damaged: a :class:`StoreError` says."""
        db = sqlite3.connect(coll.root / VERSIONS, timeout=600, isolation_level=None)
        try:
            versions = cls(db)
            db.execute("BEGIN IMMEDIATE")  # (one process folds; another waits, then finds it done)
            try:
                ready = versions._fold(coll, sequence, doing, table_doing)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except BaseException:
            db.close()
            raise
        if not ready:
            db.close()
            return None
        return versions

    def _fold(self, coll: CollectionDir, sequence: int, doing: str, table_doing: str) -> bool:
        tables = {p.name[: -len(".jsonl")]: p for p in coll.articles.glob("*.jsonl")} if coll.articles.is_dir() else {}
        folded: dict[str, tuple[int, int, int]] = {}
        if self.db.execute("PRAGMA user_version").fetchone()[0] == _VERSION:
            folded = {job: (seq, size, mtime) for job, seq, size, mtime
                      in self.db.execute("SELECT job_id, sequence, size, mtime_ns FROM tables")}
        stats = {job: path.stat() for job, path in tables.items()}
        changed = any(job not in stats or (stats[job].st_size, stats[job].st_mtime_ns) != (size, mtime)
                      for job, (_, size, mtime) in folded.items())
        newest = max((seq for seq, _, _ in folded.values()), default=0)
        new = sorted((seq, job) for job in tables.keys() - folded.keys()
                     if (seq := _sequence(coll, job, doing)) is not None and seq < sequence)
        if changed or (new and new[0][0] < newest):
            log.info("%s: a table it holds has changed or gone, or an earlier one has come: made again",
                     coll.root / VERSIONS)
            folded, newest = {}, 0
            new = sorted((seq, job) for job in tables
                         if (seq := _sequence(coll, job, doing)) is not None and seq < sequence)
        if newest >= sequence:
            return False
        if not folded:
            for table in ("tables", "latest"):
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {_VERSION}")
        self._folding = True
        self._top = self.db.execute("SELECT COALESCE(MAX(ord), 0) FROM latest").fetchone()[0]
        try:
            for seq, job in new:
                for row in rows_refusing_bad(tables[job], "article", table_doing):
                    self[row["article_id"]] = version_of(row)
                self.db.execute("INSERT INTO tables (job_id, sequence, size, mtime_ns) VALUES (?, ?, ?, ?)",
                                (job, seq, stats[job].st_size, stats[job].st_mtime_ns))
        finally:
            self._folding = False
        return True


def _sequence(coll: CollectionDir, job_id: str, doing: str) -> int | None:
    """The manifest sequence of ``job_id``, or None when it has no manifest (a table without
    a job is no job's versions)."""
    path = coll.manifests / f"{job_id}.json"
    try:
        doc = parsed(path.read_bytes())
    except FileNotFoundError:
        return None
    problem = problem_of(doc)
    if problem is not None:
        raise StoreError(f"{path} is not a readable manifest: {problem}; run `archive verify`; {doing}")
    return int(doc["sequence"])  # type: ignore[index]
