"""The store layout: where a collection's files live, job ids, and the collection lock.

```
<store>/<collection>/warcs/  indexes/  logs/  manifests/  articles/  remote/  .pushed/
                     catalog.sqlite  history.sqlite  article_versions.sqlite  .chain-head  .indexes-state
```
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

from archive.errors import StoreError, UsageError
from archive.runtime import fsync_dir

log = logging.getLogger(__name__)
T = TypeVar("T")

ENV_STORE = "ARCHIVE_STORE"
DEFAULT_STORE = "archive-store"
# A store that cannot be written (read-only media, or files and directories without write
# permission): what a reader such as replay can get past, serving what is there.
UNWRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def resolve_store(store: str | os.PathLike[str] | None, *, collection_ok: bool = False) -> Path:
    """``--store``, else ``$ARCHIVE_STORE``, else ``./archive-store``; a UsageError if that is
    a collection's folder, not a store's (a crawl would make a store within it, which no
    command given the real store would see), unless ``collection_ok`` (a command that reads
    one collection given its folder as well, as ``archive status`` does)."""
    path = Path(store) if store is not None else Path(os.environ.get(ENV_STORE) or DEFAULT_STORE)
    if not collection_ok and is_collection_folder(path):
        given = "--store" if store is not None else f"${ENV_STORE}" if os.environ.get(ENV_STORE) else "the default store"
        raise UsageError(f"{given} {str(path)!r} is a collection's folder (it holds warcs/, manifests/ and logs/), "
                         f"not a store's; give the folder above it: --store {str(path.parent)!r}")
    return path


# A collection's name, as the collections file's schema has it: a folder's name on every
# file system, and a URL path segment.
COLLECTION_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def is_collection_folder(path: Path) -> bool:
    """Whether ``path`` holds a collection's own folders (and is no store that has collections
    named ``warcs``, ``manifests`` and ``logs``, whose folders would hold folders of their own)."""
    return all((path / part).is_dir() for part in ("warcs", "manifests", "logs")) \
        and not (path / "warcs" / "warcs").is_dir()


# A job id as new_job_id makes it, and as manifests and capture-log lines must have it.
JOB_ID = re.compile(r"[a-z0-9-]+-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}")
JOB_SUFFIX = len("-20260101T000000Z-0000")  # what a job id adds to its collection's name
_JOB_STAMP = "%Y%m%dT%H%M%SZ"  # the UTC time in a job id


def new_job_id(collection: str, now: datetime, token: str | None = None) -> str:
    stamp = now.astimezone(UTC).strftime(_JOB_STAMP)
    return f"{collection}-{stamp}-{token if token is not None else secrets.token_hex(2)}"


def job_collection(job_id: str) -> str | None:
    """The collection a job id names, None for a name that is no job id."""
    return job_id[:-JOB_SUFFIX] if JOB_ID.fullmatch(job_id) else None


def job_id_time(job_id: str) -> datetime | None:
    """The time a job id holds (its job's start, in UTC), None for a name that is no job id
    or whose time is none (``20261399T...``)."""
    if not JOB_ID.fullmatch(job_id):
        return None
    try:
        return datetime.strptime(job_id[-JOB_SUFFIX + 1:-5], _JOB_STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def unused_job_id(coll: CollectionDir, now: datetime) -> str:
    """A new job id that no job of ``coll`` whose files are here has: two jobs started in
    one second differ only by their random token, and one of 65,536 pairs would share it
    (the second job's file would then be written over the first's)."""
    while True:
        job_id = new_job_id(coll.name, now)
        if not (coll.job_file(job_id).exists() or coll.capture_log(job_id).exists()):
            return job_id


@dataclass(frozen=True)
class CollectionDir:
    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    def command(self, name: str) -> str:
        """The command line that runs ``archive <name>`` on this collection, as it can be
        pasted (its store named: not the default one)."""
        return f"archive {name} --collection {shlex.quote(self.name)} --store {shlex.quote(str(self.root.parent))}"

    @property
    def warcs(self) -> Path:
        return self.root / "warcs"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def indexes(self) -> Path:
        return self.root / "indexes"

    @property
    def articles(self) -> Path:
        return self.root / "articles"

    def capture_log(self, job_id: str) -> Path:
        return self.logs / f"{job_id}.captures.jsonl"

    def crawl_log(self, job_id: str) -> Path:
        """Scrapy's log of the job's crawl (``archive crawl``'s LOG_FILE)."""
        return self.logs / f"{job_id}.crawl.log"

    def job_file(self, job_id: str) -> Path:
        return self.logs / f"{job_id}.job.json"

    def manifest(self, job_id: str) -> Path:
        return self.manifests / f"{job_id}.json"

    def receipt(self, warc_name: str) -> Path:
        """Where ``archive push --delete-local`` leaves the receipt of a WARC it removed
        (its copy in the bucket checked first)."""
        return self.root / "remote" / f"{warc_name}.json"

    @property
    def lost(self) -> Path:
        """Where ``archive verify --accept-loss`` writes statements of loss (see archive.losses)."""
        return self.root / "lost"

    def loss_statement(self, file_name: str) -> Path:
        """The statement of loss of a listed file that is gone for good, by its file name."""
        return self.lost / f"{file_name}.json"

    @property
    def extract_lock(self) -> Path:
        """Held by each extraction of the collection's article tables (shared by readers of them all)."""
        return self.root / ".extract.lock"

    @property
    def pull_marker(self) -> Path:
        """Left by an ``archive pull`` into the collection until its last file is in place."""
        return self.root / ".pull-unfinished.json"

    def unfinished_pull(self) -> str | None:
        """Where an ``archive pull`` into the collection that has not finished came from
        (its files, and the manifests that come last, are not all here), or None."""
        try:
            raw = self.pull_marker.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            return "a bucket"
        try:
            source = json.loads(raw).get("from")
        except (ValueError, AttributeError):
            source = None
        return source if isinstance(source, str) else "a bucket"

    def renamed_from(self) -> str | None:
        """Why this folder seems renamed by hand, or None: its manifests, named by job id
        (``<collection>-<time>-<token>``), are of another collection. Its records, manifests
        and logs keep the name they were written under."""
        try:
            names = os.listdir(self.manifests)
        except OSError:
            return None
        named = {job_collection(name[: -len(".json")]) for name in names if name.endswith(".json")}
        others = sorted(named - {self.name, None})
        if not others:
            return None
        them = " and ".join(repr(other) for other in others)
        return (f"holds the manifests of collection {them}, whose records name it too, not of {self.name!r}, whose "
                f"folder this is: a folder renamed by hand? Name it {others[0]!r} again (and the collection in its "
                "collections file), or keep each collection's jobs in a folder of their own")

    def not_directories(self) -> list[Path]:
        """The collection's folders (warcs/, logs/, manifests/) that are there but are not
        directories: a file in their place, which nothing can be read from or written in."""
        return [sub for sub in (self.warcs, self.logs, self.manifests) if sub.exists() and not sub.is_dir()]

    def create(self) -> None:
        for sub in (self.warcs, self.logs, self.manifests):
            try:
                sub.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # (a part of the path is a file, or cannot be made here)
                raise StoreError(f"cannot create {sub}: {in_the_way(sub) or exc.strerror or exc}") from None

    def check_writable(self) -> None:
        """Raise :class:`StoreError` naming the first of the folders a job writes in that
        cannot be written (a read-only store, say), before any job starts there."""
        for sub in (self.warcs, self.logs, self.manifests):
            try:
                fd, probe = tempfile.mkstemp(prefix=".probe-", dir=sub)
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                raise StoreError(f"cannot write in {sub}: {exc.strerror or exc}") from None

    @contextmanager
    def transferring(self, *, waiting: Callable[[str], None] | None = None) -> Iterator[bool]:
        """One ``archive push`` or ``archive pull`` of the collection at a time.

        Two at once undo each other: one aborts the multipart upload the other is sending
        (it takes it for one a killed push left), a ``--delete-local`` removes the WARC a pull
        is checking. Waits for the other, ``waiting`` told why first; gives whether it
        waited (what was found before may have changed meanwhile). The lock is a file beside
        the collection's folder, ``<store>/.<name>.transfer.lock``: a pull locks a
        collection before making its folder.
        """
        self.root.parent.mkdir(parents=True, exist_ok=True)
        path = self.root.parent / f".{self.name}.transfer.lock"
        try:
            fh = open(path, "a+b")  # noqa: SIM115 (closed below, after the lock is let go)
        except OSError as exc:
            raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from None
        with fh:
            waited = False
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waited = True
                if waiting is not None:
                    waiting(f"another `archive push` or `archive pull` of collection {self.name!r} is under way; "
                            "waiting for it to end")
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                except OSError as exc:
                    raise StoreError(f"cannot lock {path}: {exc}") from exc
            except OSError as exc:
                raise StoreError(f"cannot lock {path}: {exc}") from exc
            try:
                yield waited
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise manifest writes of one collection (the chain must not fork)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".manifest.lock", "a+b") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except OSError as exc:
                raise StoreError(f"cannot lock {self.root}: {exc}") from exc
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextmanager
def exclusively(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (made if missing) while the block runs, waiting
    for any other holder, in this process or another."""
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextmanager
def no_extraction(coll: CollectionDir, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """While the block runs, no extraction writes the article tables of ``coll``: a shared
    hold of the lock each takes (``.extract.lock``, held by ``archive extract`` and by a
    crawl's extraction at its job's end), so that a reader of every table (an export) reads
    them as one extraction left them, not some made anew and the others as they were. Waits
    for an extraction under way, ``waiting`` told why first. A lock that cannot be made (a
    store this user cannot write, such as a read-only mount) is one no extraction holds."""
    path = coll.extract_lock
    try:
        fh = open(path, "a+b")  # noqa: SIM115 (closed below, after the lock is let go)
    except OSError:
        try:
            fh = open(path, "rb")  # noqa: SIM115 (as above)
        except OSError:
            yield
            return
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting(f"an extraction of collection {coll.name!r} is under way; waiting for it to end")
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def jobs_without_a_table(coll: CollectionDir) -> set[str]:
    """The jobs of ``coll`` that have a manifest and no article table (a job closed by
    ``archive verify --repair``, a crawl killed before its extraction), by id: two listings,
    no file read."""
    try:
        named = {n[: -len(".json")] for n in os.listdir(coll.manifests) if n.endswith(".json")}
        tables = ({n[: -len(".jsonl")] for n in os.listdir(coll.articles) if n.endswith(".jsonl")}
                  if coll.articles.is_dir() else set())
    except OSError:
        return set()
    return named - tables


def no_store(store: Path) -> str:
    """Why ``store``, not a directory, is no store to read: it does not exist, or what stands
    in its way."""
    return f"{in_the_way(store) or f'{store} does not exist'}: it is no store"


def no_collection(store: Path, collection: str) -> str:
    """Why ``collection`` is not there to be read in ``store``: no store, or no such collection
    in it (the ones it has named, a few)."""
    if not store.is_dir():
        return no_store(store)
    have = collections_in(store)
    listed = ", ".join(c.name for c in have[:5]) + (f" and {len(have) - 5} more" if len(have) > 5 else "")
    return (f"{store / collection} has no manifests: {collection!r} is no collection of {store}"
            + (f" (it has {listed})" if have else " (it has none)"))


def in_the_way(folder: Path) -> str | None:
    """What stands where ``folder`` or a folder above it should be, said for a user ("x is a
    file, not a folder"; "x is a link to y, which does not exist"), or None: mkdir's own
    "File exists" does not say that the name is taken by a file or a broken link."""
    for part in (folder, *folder.parents):
        if part.is_symlink() and not part.exists():
            return f"{part} is a link to {os.readlink(part)}, which does not exist"
        if part.exists():
            return None if part.is_dir() else f"{part} is a file, not a folder"
    return None


def collection_dir(store: Path, collection: str) -> CollectionDir:
    return CollectionDir(store / collection)


def create_locked(path: Path) -> BinaryIO:
    """``path`` made new (FileExistsError if it is there) and opened for unbuffered writing,
    locked (``flock``, exclusive) before its name appears: a file made and then locked was,
    for a moment, an unlocked empty file a job had left open, which a `verify --repair` run
    just then removed (the job then wrote into a file no name reached)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    tmp.unlink(missing_ok=True)  # (left by a process of this number killed between link and unlink: not opened)
    fh = open(tmp, "xb", buffering=0)  # noqa: SIM115 (the caller's to close)
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            os.link(tmp, path)  # (fails where the name is taken: the test-and-create)
        except FileExistsError:
            raise
        except OSError:  # (a file system without hard links: made, then locked, as before)
            fh.close()
            fh = open(path, "xb", buffering=0)  # noqa: SIM115
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        fh.close()
        tmp.unlink(missing_ok=True)
        raise
    tmp.unlink(missing_ok=True)
    fh.name = str(path)  # (what it is now: the callers name it in messages, and remove it by it)
    return fh


def is_locked(path: Path) -> bool:
    """True while another process holds the write lock of ``path`` (a live job's file)."""
    try:
        fh = open(path, "rb")
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def running_jobs(coll: CollectionDir) -> list[str]:
    """The ids of the collection's jobs running now, sorted: a running job holds its job
    file locked until its manifest is written."""
    try:
        names = os.listdir(coll.logs)
    except OSError:  # (no logs yet, or none that can be listed: none seen running)
        return []
    suffix = ".job.json"
    return sorted(name[: -len(suffix)] for name in names if name.endswith(suffix) and is_locked(coll.logs / name))


def jobs_without_manifest(coll: CollectionDir) -> list[str]:
    """The jobs with a job file but no manifest that are not running (finished ones have a
    manifest; a running one holds its job file locked)."""
    if not coll.logs.is_dir():
        return []
    jobs = []
    for job_file in sorted(coll.logs.glob("*.job.json")):
        job_id = job_file.name[: -len(".job.json")]
        if not coll.manifest(job_id).exists() and not is_locked(job_file):
            jobs.append(job_id)
    return jobs


def is_collection(path: Path) -> bool:
    return (path / "manifests").is_dir() or (path / "warcs").is_dir()


def collections_in(path: Path) -> list[CollectionDir]:
    """``path`` itself when it is a collection, else the collections directly inside it."""
    if is_collection(path):
        return [CollectionDir(path)]
    if not path.is_dir():
        return []
    return [CollectionDir(p) for p in sorted(path.iterdir()) if p.is_dir() and is_collection(p)]


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on the file system holding ``path``
    (or its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


FLOOR_OF_ARCHIVE_CRAWL = "`archive crawl --min-free-bytes`, or caps.min_free_bytes in the collections file"
FLOOR_OF_A_PROJECT = "the ARCHIVE_MIN_FREE_BYTES setting, or caps.min_free_bytes in ARCHIVE_COLLECTION"
# A crawl whose floor its user cannot lower (`archive demo`'s): the setting that says so.
FLOOR_FIXED = ""


def below_floor(path: Path, floor: int, lowered_by: str = FLOOR_OF_ARCHIVE_CRAWL) -> str | None:
    """Why a job must not write to ``path`` (less than ``floor`` bytes free), or None;
    ``lowered_by``: what sets the floor, for the advice."""
    if floor <= 0:
        return None
    free = free_bytes(path)
    if free >= floor:
        return None
    advice = f"or lower the floor ({lowered_by})" if lowered_by else "or use a store on a disk with room"
    return (f"only {free:,} bytes free on the file system of {path}, below caps.min_free_bytes "
            f"({floor:,}); free some space, {advice}")


def unchanged_key(path: str | os.PathLike[str]) -> tuple[int, int, int, int]:
    """What must be as it was for a file to be taken as unchanged without reading it: its
    size and modification time, and its inode and change time, which no copy that keeps
    times (``cp -p``, ``rsync -t``, a restore) keeps."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def remade_if_not_a_database(path: Path, open_it: Callable[[], T], *, made_from: str) -> T:
    """``open_it()`` of the derived SQLite file ``path``; if the file is not a database any
    more (a torn copy, a disk fault), it is removed with its journals and opened again, to
    be made again ``made_from`` its sources. Other errors (locked, read-only, disk full: not
    the file's fault) are the caller's."""
    try:
        return open_it()
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise
        log.warning("%s: %s; made again from %s", path, exc, made_from)
        for stale in [path, *(path.with_name(path.name + end) for end in ("-journal", "-wal", "-shm"))]:
            stale.unlink(missing_ok=True)
        return open_it()


@contextmanager
def replacing(path: Path, tmp_name: str | None = None) -> Iterator[Path]:
    """A name beside ``path`` to write the new file under (``tmp_name``, default
    ``<name>.tmp``); it replaces ``path`` when the block ends, and is removed if the block
    fails: a full disk leaves the old file, not half a new one taking the room that is left."""
    tmp = path.with_name(tmp_name or path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # (a failed write names no file; say which)
        raise


def listed_sizes(folder: Path, suffixes: str | tuple[str, ...], *, files_only: bool = True) -> dict[str, int]:
    """The files of ``folder`` whose names end with ``suffixes`` (hidden ones left out), by
    name in order, with their sizes (-1 for one whose size cannot be read, such as a link to
    a disk not mounted, or for one that is not a file, a directory in its place); with
    ``files_only``, entries that are not files are left out.
    Listed by ``os.scandir``, which costs a collection of a year's jobs (tens of thousands of
    files) a few milliseconds where a ``Path`` and a ``stat`` call for each cost tenths of a
    second, at every job's start and end."""
    return {name: size for name, (size, _) in listed_states(folder, suffixes, files_only=files_only).items()}


def listed_states(folder: Path, suffixes: str | tuple[str, ...], *,
                  files_only: bool = True) -> dict[str, tuple[int, int]]:
    """:func:`listed_sizes` with each file's modification time (ns) beside its size: what
    tells a file edited in place to the same size (-1 where it cannot be read), at no cost
    beyond the listing's."""
    found = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if not name.endswith(suffixes) or name.startswith("."):
                    continue
                try:
                    is_file = entry.is_file()
                    if not is_file and files_only:
                        continue
                    if is_file:
                        st = entry.stat()
                        found[name] = (st.st_size, st.st_mtime_ns)
                    else:
                        found[name] = (-1, -1)
                except OSError:
                    found[name] = (-1, -1)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return dict(sorted(found.items()))


def directory_state(folder: Path) -> list[int] | None:
    """What changes whenever a file is added to ``folder``, renamed into it or removed: its
    modification time and inode, and its number of entries (two changes within one tick of
    a coarse file-system clock leave the time as it was); None if it cannot be read. Files
    changed in place do not change it: ours are written beside and renamed."""
    try:
        st = os.stat(folder)
        return [st.st_mtime_ns, st.st_ino, len(os.listdir(folder))]
    except OSError:
        return None


def write_atomic(path: Path, data: bytes, *, tmp_name: str | None = None) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new, never half;
    ``tmp_name``: the new file's name until then (default ``<name>.tmp``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, tmp_name) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(path.parent)
