"""The latest version of every article a collection's jobs extracted: what a job's
extraction compares its pages against (a new version, or the same article again).

Until it was kept, the extraction at each job's end read every earlier article table of
the collection, bodies and all, and held them in memory: a collection crawled every hour
for a year holds a few hundred thousand rows, a GB of tables, read again at each job's end.
``<collection>/article_versions.sqlite`` (derived, like ``history.sqlite``) keeps, for
each article, its latest version's number, record, row without its body, a digest of its
headline and body, and two of its body alone (:func:`story_digests`), by which a story
retitled and moved to a new slug is known (:mod:`archive.moves`); each job's table is
folded in once, in chain order. It is made
again when a table it holds has gone or changed (``archive extract`` writes them all
again), when a folded job's manifest has changed or gone, or when a table of a job earlier
than the latest it holds turns up; "changed" is told by size, times and inode
(:func:`~archive.store.unchanged_key`), so damage that leaves those as they were is for
`archive verify` to find. A job whose versions it cannot give (one before the latest it
holds, a file that cannot be written) reads the tables as before. The file is written
ahead (WAL): a job's extraction reads it as it was before the job, while another folds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import unicodedata
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.errors import StoreError
from archive.jsonl import rows_refusing_bad
from archive.manifest import parsed, problem_of
from archive.store import CollectionDir, unchanged_key

log = logging.getLogger(__name__)

VERSIONS = "article_versions.sqlite"
_VERSION = 3  # of the file's tables (PRAGMA user_version); another is made again
_SCHEMA = """
CREATE TABLE tables (job_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, table_key TEXT NOT NULL,
                     manifest_key TEXT NOT NULL);
CREATE TABLE latest (article_id TEXT PRIMARY KEY, ord INTEGER NOT NULL, url TEXT NOT NULL, number INTEGER NOT NULL,
                     record_id TEXT NOT NULL, text TEXT NOT NULL, row TEXT NOT NULL, body_digest TEXT,
                     lead_digest TEXT);
CREATE INDEX latest_url ON latest (url, ord);
"""


LEAD = 200  # normalised characters of a body's opening that its lead digest covers

# (what a CMS moving a story retypesets: curly quotes and dashes back to plain ones)
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                             "\u2013": "-", "\u2014": "-", "\u2212": "-"})


@dataclass
class Version:
    """The latest distinct version of an article, as the next job compares against it:
    its number, its record, its row (the body left out where it was kept in the file),
    :func:`text_digest` of its headline and body, and :func:`story_digests` of its body."""

    number: int
    record_id: str
    row: dict[str, Any]
    text: str
    body_digest: str | None = None
    lead_digest: str | None = None


def text_digest(row: dict[str, Any]) -> str:
    """What makes two captures of an article the same version: its headline and body."""
    return hashlib.sha256(json.dumps([row.get("headline"), row.get("body")], ensure_ascii=False).encode()).hexdigest()


def normalised(text: str) -> str:
    """``text`` as a CMS's retypesetting leaves it: Unicode forms, case, spacing (paragraph
    breaks too) and typographic quotes and dashes aside."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY).casefold().split())


def story_digests(row: dict[str, Any]) -> tuple[str | None, str | None]:
    """SHA-256 of ``row``'s body alone, :func:`normalised`, and of the first :data:`LEAD`
    characters of that: what a story retitled keeps (the body), and one edited a little on
    the way too (an update paragraph added below, a typo fixed further on). None for a body
    shorter than that: a short body (a paywall's notice, a withdrawn page's nothing) is no
    story's own."""
    body = normalised(row.get("body") or "")
    if len(body) < LEAD:
        return None, None
    return hashlib.sha256(body.encode()).hexdigest(), lead_digest(body)


def lead_digest(body: str) -> str | None:
    """SHA-256 of the first :data:`LEAD` characters of ``body``, already :func:`normalised`,
    or None for a shorter one."""
    return hashlib.sha256(body[:LEAD].encode()).hexdigest() if len(body) >= LEAD else None


def version_of(row: dict[str, Any]) -> Version:
    """The version an article table's row records."""
    return Version(row.get("version", 1), row["source"]["record_id"], row, text_digest(row), *story_digests(row))


def fold_table(path: Path, versions: MutableMapping[str, Version], doing: str) -> None:
    """Take a job's article table into ``versions``: each row is its article's latest
    version. ``doing``: what is not done if a row is damaged (a :class:`StoreError`)."""
    for row in rows_refusing_bad(path, "article", doing):
        versions[row["article_id"]] = version_of(row)


class StoredVersions(MutableMapping[str, Version]):
    """Articles' latest versions by article id, looked up in the file, with those the running
    job adds kept in memory on top (the file takes them when the job's table is folded in).

    From :meth:`before` to :meth:`close` it reads the file as it was when brought up to
    date, whatever another process folds in meanwhile (a later job's extraction waits)."""

    def __init__(self, db: sqlite3.Connection, path: Path):
        self.db, self.path = db, path
        self.added: dict[str, Version] = {}
        self._added_urls: dict[str, list[str]] = {}  # URL -> article ids the running job added, in order
        self._folding = False
        self._top = 0  # the largest ``ord`` in the file

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            # Damaged where folding did not read: derived, so made again by the next job.
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
                self.db.execute("PRAGMA user_version = 0")
            raise StoreError(f"{self.path} cannot be read ({exc}); the next job makes it again, and "
                             f"`{CollectionDir(self.path.parent).command('extract')}` writes every article table "
                             "again") from None

    def __getitem__(self, key: str) -> Version:
        found = self.added.get(key)
        if found is None:
            rows = self._query("SELECT number, record_id, row, text, body_digest, lead_digest FROM latest "
                               "WHERE article_id = ?", (key,))
            if not rows:
                raise KeyError(key)
            number, record_id, row, text, body_digest, lead = rows[0]
            found = Version(number, record_id, json.loads(row), text, body_digest, lead)
        return found

    def __setitem__(self, key: str, value: Version) -> None:
        if not self._folding:
            if key not in self.added or self.added[key].row["url"] != value.row["url"]:
                self._added_urls.setdefault(value.row["url"], []).append(key)
            self.added[key] = value
            return
        row = {k: v for k, v in value.row.items() if k != "body"}
        self._top += 1  # (its place if it is new: a known article keeps the place it was first met at)
        self.db.execute(
            "INSERT INTO latest (article_id, ord, url, number, record_id, text, row, body_digest, lead_digest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (article_id) DO UPDATE SET url = excluded.url, number = excluded.number, "
            "record_id = excluded.record_id, text = excluded.text, row = excluded.row, "
            "body_digest = excluded.body_digest, lead_digest = excluded.lead_digest",
            (key, self._top, row["url"], value.number, value.record_id, value.text, json.dumps(row, ensure_ascii=False),
             value.body_digest, value.lead_digest))

    def __delitem__(self, key: str) -> None:
        raise TypeError("articles' versions are only added to")

    def __iter__(self) -> Iterator[str]:
        yield from self.added
        for (key,) in self._query("SELECT article_id FROM latest ORDER BY ord", ()):
            if key not in self.added:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def by_url(self, url: str) -> Version | None:
        """The version of the article last recorded under ``url``, as a dict of the versions
        by URL, filled in the order the articles were first met, holds it."""
        best: tuple[int, str] | None = None
        for key, ord_ in self._query("SELECT article_id, ord FROM latest WHERE url = ?", (url,)):
            if key not in self.added and (best is None or ord_ > best[0]):
                best = (ord_, key)
        for key in self._added_urls.get(url, ()):
            if self.added[key].row["url"] != url:
                continue  # (its URL changed since)
            stored = self._query("SELECT ord FROM latest WHERE article_id = ?", (key,))
            ord_ = stored[0][0] if stored else self._top + 1 + list(self.added).index(key)
            if best is None or ord_ > best[0]:
                best = (ord_, key)
        return None if best is None else self[best[1]]

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    @classmethod
    def before(cls, coll: CollectionDir, sequence: int, *, doing: str, table_doing: str) -> StoredVersions | None:
        """The versions after every job of ``coll`` whose manifest sequence is below
        ``sequence``, the file brought up to date first; None where the file cannot give
        them (it holds a later job's table). What is not done if a manifest (``doing``) or
        a table's row (``table_doing``) is damaged: a :class:`StoreError` says."""
        path = coll.root / VERSIONS
        db = sqlite3.connect(path, timeout=600, isolation_level=None)
        versions = cls(db, path)
        try:
            # (write-ahead: a job's read of the file neither waits for nor holds up another's fold)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("BEGIN IMMEDIATE")  # (one process folds; another waits, then finds it done)
            try:
                ready = versions._fold(coll, sequence, doing, table_doing)
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            if ready:
                # A read transaction for the rest of the job's extraction: what it compares
                # against stays what is before it.
                db.execute("BEGIN")
                versions._top = db.execute("SELECT COALESCE(MAX(ord), 0) FROM latest").fetchone()[0]
        except BaseException:
            db.close()
            raise
        if not ready:
            db.close()
            return None
        return versions

    def _fold(self, coll: CollectionDir, sequence: int, doing: str, table_doing: str) -> bool:
        tables = {p.name[: -len(".jsonl")]: p for p in coll.articles.glob("*.jsonl")} if coll.articles.is_dir() else {}
        folded: dict[str, tuple[int, str, str]] = {}
        if self.db.execute("PRAGMA user_version").fetchone()[0] == _VERSION:
            folded = {job: (seq, table_key, manifest_key) for job, seq, table_key, manifest_key
                      in self.db.execute("SELECT job_id, sequence, table_key, manifest_key FROM tables")}
        # A table or manifest changed or gone since it was folded in (a table written again,
        # a manifest mended or removed): the file is made again, as reading them all would see.
        changed = any(job not in tables or _key(tables[job]) != table_key
                      or _key(coll.manifests / f"{job}.json") != manifest_key
                      for job, (_, table_key, manifest_key) in folded.items())
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
                table_key = _key(tables[job])  # (before it is read: a change while reading is seen next time)
                fold_table(tables[job], self, table_doing)
                self.db.execute("INSERT INTO tables (job_id, sequence, table_key, manifest_key) VALUES (?, ?, ?, ?)",
                                (job, seq, table_key, _key(coll.manifests / f"{job}.json")))
        finally:
            self._folding = False
        return True


def _key(path: Path) -> str:
    """``path`` as :func:`~archive.store.unchanged_key` sees it, or "" when it is gone."""
    try:
        return ",".join(map(str, unchanged_key(path)))
    except FileNotFoundError:
        return ""


def _sequence(coll: CollectionDir, job_id: str, doing: str) -> int | None:
    """The manifest sequence of ``job_id``, or None when it has no manifest (a table without
    a job is no job's versions)."""
    path = coll.manifests / f"{job_id}.json"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    doc = parsed(raw)
    problem = problem_of(doc, raw)
    if problem is not None:
        raise StoreError(f"{path} is not a readable manifest: {problem}; run `archive verify`; {doing}")
    return int(doc["sequence"])  # type: ignore[index]
