"""``archive push``: copy a store's closed files to ``s3://bucket/prefix`` with the same layout.

Order matters for the chain of custody: every other file goes up first, and a job's manifest
only after each file it names has been checked in the bucket (size and ``x-amz-meta-sha256``
equal to the manifest's), its ``.sha256`` sidecar (and ``.sig``) just before it. So a manifest
present in the bucket means every file it names is there, or its loss is stated there: a file
gone for good (``archive verify --accept-loss``) is named by its statement, ``lost/<name>.json``,
which goes up with the other files, before the manifests. Pushing is idempotent (an object with
the same size and SHA-256 is not sent again) and resumable (see :mod:`archive.storage.s3`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.digests import recorded_sha256, sha256_bytes, sha256_file
from archive.errors import StorageError, StoreError, UsageError
from archive.index.cdxj import index_name, is_current
from archive.losses import loss_statement, named_for, of_the_listed, read_statement, statements
from archive.manifest import SIDECAR, files_listed, sidecar_names
from archive.storage.ledger import PushLedger
from archive.storage.s3 import (
    DEFAULT_PART_SIZE,
    MAX_ATTEMPTS,
    Bucket,
    ObjectInfo,
    Progress,
    S3Location,
    check_part_size,
    parse_s3_url,
)
from archive.store import (
    CollectionDir,
    collection_dir,
    jobs_without_a_table,
    running_jobs,
    unchanged_key,
    write_atomic,
)
from archive.warc.writer import OPEN_SUFFIX

log = logging.getLogger(__name__)

# What a store holds that goes to the bucket; catalog.sqlite is derived and may be mid-write.
# lost/: statements of loss (archive.losses), so that the bucket's copy says what is gone.
PUSHED_DIRS = ("warcs", "indexes", "logs", "articles", "lost", "manifests")
# Not pushed: the merged index is written again at every job's end (sending it would send
# the whole collection's index each time) and is made again from the per-WARC indexes.
UNPUSHED_DIRS = ("indexes/merged",)
# Never pushed: files still being written, temporary files, locks.
SKIPPED_SUFFIXES = (OPEN_SUFFIX, ".tmp", ".lock", ".part")
MANIFEST_COMPANIONS = (SIDECAR, ".sig")


@dataclass
class PushResult:
    url: str
    uploaded: list[str] = field(default_factory=list)  # keys sent in this run
    unchanged: int = 0  # files already in the bucket, same size and SHA-256
    bytes_sent: int = 0
    parts_reused: int = 0  # parts of interrupted uploads found in the bucket and not sent again
    manifests: list[str] = field(default_factory=list)  # manifest keys confirmed in the bucket
    deleted: list[Path] = field(default_factory=list)  # local WARCs removed (--delete-local)
    aborted: list[str] = field(default_factory=list)  # abandoned multipart uploads aborted
    # Files not sent because they are not as their manifest lists them, or a manifest not as
    # its sidecar or the bucket's copy (damaged here since), each with a sentence saying so.
    # Their copies in the bucket, if any, are left as they were.
    held_back: dict[Path, str] = field(default_factory=dict)
    # Collections whose manifests stopped going up (one is not in the bucket as it should
    # be, so neither is any after it in the chain): why, by collection name.
    stopped: dict[str, str] = field(default_factory=dict)
    # Files stated lost here (``lost/``) whose copy the bucket holds as their statement names
    # them: not lost, ``archive pull`` brings them back; a sentence saying so, by local path.
    not_lost: dict[Path, str] = field(default_factory=dict)
    # Collections checked file by file though not asked to (``recheck``): the bucket no
    # longer holds the newest manifest an earlier push confirmed; a sentence saying so.
    rechecked: dict[str, str] = field(default_factory=dict)


@dataclass
class _File:
    path: Path
    rel: str  # relative to the collection directory: warcs/x.warc.gz
    key: str
    size: int
    sha256: str
    stat: tuple[int, ...]  # archive.store.unchanged_key, taken before it was hashed


def push(
    store: Path,
    to: str,
    *,
    collection: str | None = None,
    endpoint_url: str | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    delete_local: bool = False,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    recheck: bool = False,
    waiting: Callable[[str], None] | None = None,
) -> PushResult:
    """Push one collection (or every collection) of ``store`` to ``to`` (``s3://bucket/prefix``).

    ``total`` is called once with the number of bytes about to be sent, ``progress`` with each
    chunk as it goes; neither prints anything. Files an earlier push confirmed and not
    changed since are not hashed nor asked about again (:mod:`archive.storage.ledger`);
    ``recheck`` checks every one. While a collection's files go up, another push or pull
    of it waits, ``waiting`` told why (:meth:`~archive.store.CollectionDir.transferring`).
    """
    location = parse_s3_url(to)
    check_part_size(part_size)
    colls = _collections(Path(store), collection)
    bucket = Bucket(location, endpoint_url, max_attempts=max_attempts)
    bucket.check()
    result = PushResult(url=location.url())
    if delete_local:
        # A WARC goes only with its index made, and up with it: a job closed by `verify
        # --repair` (or one of an earlier version) may have none, and once the WARC is gone
        # its captures were in no index of the store.
        from archive.index import update_indexes

        for coll in colls:
            with contextlib.suppress(StorageError, StoreError, OSError):  # (said below, WARC by WARC)
                update_indexes(coll, catalog=False)
        # So does a job's article table (a job closed by `verify --repair` has none): once
        # its WARCs are gone it is made only after an `archive pull` brings them back.
        for coll in colls:
            if jobs_without_a_table(coll):
                from archive.extract import extract_newest_without_a_table

                with contextlib.suppress(StorageError, StoreError, OSError):  # (said below, job by job)
                    extract_newest_without_a_table(coll)
    _push_collections(bucket, location, colls, result, part_size=part_size, delete_local=delete_local,
                      progress=progress, total=total, recheck=recheck, waiting=waiting)
    return result


def _push_collections(bucket: Bucket, location: S3Location, colls: list[CollectionDir], result: PushResult, *,
                      part_size: int, delete_local: bool, progress: Progress | None,
                      total: Callable[[int], None] | None, recheck: bool,
                      waiting: Callable[[str], None] | None) -> None:
    ledgers = {coll.name: PushLedger(coll, f"{location.child(coll.name).url()} at {bucket.endpoint or 'AWS'}")
               for coll in colls}
    try:
        again = {coll.name: recheck or _forgotten(bucket, location.child(coll.name), coll, ledgers[coll.name], result)
                 for coll in colls}
        plans = [(coll, *_plan(bucket, location.child(coll.name), coll, result,
                               ledgers[coll.name], again[coll.name])) for coll in colls]
        if total is not None:
            total(sum(f.size for _, todo, _ in plans for f in todo))
        for coll, todo, manifests in plans:
            # Each collection's files go up under its lock alone, held while they do: a
            # crawl job ending meanwhile waits for its own collection's turn, not the store's.
            with coll.transferring(waiting=waiting) as waited:
                if waited:  # (what the other sent meanwhile is not sent again)
                    todo = _still_to_send(bucket, todo, result, ledgers[coll.name])
                _push_planned(bucket, location.child(coll.name), coll, todo, manifests, result, ledgers[coll.name],
                              part_size=part_size, delete_local=delete_local, progress=progress,
                              recheck=again[coll.name])
    finally:
        for ledger in ledgers.values():
            ledger.close()


def _forgotten(bucket: Bucket, where: S3Location, coll: CollectionDir, ledger: PushLedger, result: PushResult) -> bool:
    """Whether the bucket has lost the newest manifest the ledger says an earlier push
    confirmed there (or, none confirmed yet, the newest WARC): the bucket emptied, or made
    anew, or the endpoint another server now. Then nothing the ledger says of it holds, and
    every file of the collection is checked again, as with ``recheck``, said in
    ``result.rechecked``. One ``HEAD`` a collection; a single file deleted from the bucket
    is still for ``archive verify s3://...`` to find."""
    manifests = [m for m in sorted(coll.manifests.glob("*.json")) if ledger.confirmed(_rel(m, coll), m)]
    warcs = [w for w in sorted(coll.warcs.glob("*")) if not w.name.endswith(SKIPPED_SUFFIXES)
             and ledger.confirmed(_rel(w, coll), w)]
    if manifests:
        probe = max(manifests, key=lambda m: (ledger.sequence(_rel(m, coll)) or -1, m.name))
    elif warcs:
        probe = warcs[-1]
    else:
        return False
    key = where.key(_rel(probe, coll))
    if bucket.head(key) is not None:
        return False
    result.rechecked[coll.name] = (f"{where.url(key)}, which an earlier push confirmed, is not in the bucket: "
                                   f"every file of {coll.name} checked again, and sent where it is missing")
    return True


def _still_to_send(bucket: Bucket, todo: list[_File], result: PushResult, ledger: PushLedger) -> list[_File]:
    """Of ``todo``, the files the bucket does not hold as they are here (a push that sent
    the others ran while this one waited)."""
    left = []
    for f in todo:
        if _in_bucket(bucket, f.key, f.size, f.sha256):
            result.unchanged += 1
            ledger.add(f.rel, f.stat, f.sha256)
        else:
            left.append(f)
    return left


def _push_planned(bucket: Bucket, where: S3Location, coll: CollectionDir, todo: list[_File], manifests: list[Path],
                  result: PushResult, ledger: PushLedger, *, part_size: int, delete_local: bool,
                  progress: Progress | None, recheck: bool) -> None:
    fork = _fork(bucket, where, coll, manifests, ledger, recheck)
    if fork is not None:  # (before any of its files goes up)
        result.stopped[coll.name] = fork
        return
    keep = {f.key for f in todo} | {where.key("manifests", m.name + s) for m in manifests
                                    for s in ("", *MANIFEST_COMPANIONS)}
    _abort_abandoned(bucket, where, keep, result)
    for f in todo:
        _send(bucket, f, part_size, progress, result)
        ledger.add(f.rel, f.stat, f.sha256)
    confirmed = []
    for manifest in manifests:
        try:
            _push_manifest(bucket, where, coll, manifest, part_size, progress, result, ledger, recheck)
        except _Stop as stop:  # (the other collections go up all the same)
            result.stopped[coll.name] = str(stop)
            break
        confirmed.append(manifest)
    _not_lost(bucket, where, coll, result)
    if delete_local:
        try:
            _delete_local_warcs(bucket, where, coll, confirmed, result, ledger)
        except _Stop as stop:  # (the other collections go on; a reason said before stays first)
            before = result.stopped.get(coll.name)
            result.stopped[coll.name] = str(stop) if before is None else f"{before}; {stop}"


class _Stop(StorageError):
    """A manifest cannot go up, nor any after it in its collection's chain."""


def _collections(store: Path, name: str | None) -> list[CollectionDir]:
    if not store.is_dir():
        raise UsageError(f"store {store} does not exist")
    if name is not None:
        coll = collection_dir(store, name)
        if not coll.root.is_dir():
            raise UsageError(f"collection {name!r} is not in {store}")
        return [coll]
    found = [CollectionDir(p) for p in sorted(store.iterdir())
             if p.is_dir() and ((p / "warcs").is_dir() or (p / "manifests").is_dir())]
    if not found:
        raise UsageError(f"{store} holds no collection (no */warcs or */manifests directory)")
    return found


def _plan(bucket: Bucket, where: S3Location, coll: CollectionDir, result: PushResult,
          ledger: PushLedger, recheck: bool) -> tuple[list[_File], list[Path]]:
    """Files whose bucket copy is missing or differs, and the manifests, in chain order.

    A file a manifest names goes up only as that manifest lists it: one damaged since (a
    disk's fault) would otherwise replace the good copy in the bucket, which is what a
    pull would restore it from. It is named in ``result.held_back`` instead.
    """
    live = set(running_jobs(coll))
    todo: list[_File] = []
    manifests: list[Path] = []
    files: list[str] = []
    for rel in _pushed_files(coll):
        sub, name = rel.split("/", 1)[0], rel.rsplit("/", 1)[-1]
        if sub == "logs" and name.split(".")[0] in live:
            continue  # a running job's log and crawl log are still growing
        if sub == "manifests" and (name.endswith(".json") or name.endswith(MANIFEST_COMPANIONS)):
            if name.endswith(".json"):
                manifests.append(coll.root / rel)
            continue  # manifests and their companions go up last, one job at a time
        files.append(rel)
    unconfirmed = {m for m in manifests if recheck or not ledger.confirmed(_rel(m, coll), m)}
    known = {m: (seq, m.name) for m in manifests
             if m not in unconfirmed and (seq := ledger.sequence(_rel(m, coll))) is not None}
    root = str(coll.root)
    pending = [rel for rel in files if recheck or not ledger.confirmed(rel, os.path.join(root, rel))]
    result.unchanged += len(files) - len(pending)
    stated = {rel: read_statement(coll.root / rel) for rel in pending if rel.startswith(f"{LOST_DIR}/")}
    wanted = {rel for rel in pending if rel.endswith(_LISTED)} | {str(s.get("path")) for s in stated.values() if s}
    listed, places = _listed(manifests, unconfirmed, known, wanted)
    for manifest, place in places.items():  # (read for its place once; not again while it stays as it is)
        if manifest not in unconfirmed and manifest not in known:
            ledger.remember_sequence(_rel(manifest, coll), place[0])
    for rel in pending:
        path = coll.root / rel
        f = _local(path, coll, where)
        derived = recorded_sha256(path)
        if f.rel in listed and (f.size, f.sha256) != (listed[f.rel][1].get("size"), listed[f.rel][1].get("sha256")):
            manifest, entry = listed[f.rel]
            result.held_back[path] = (
                f"{path} is {f.size} bytes, {f.sha256}; {manifest.name} says {entry.get('size')} bytes, "
                f"{entry.get('sha256')}: not pushed, and its copy in the bucket, if any, left as it was; run "
                f"`archive verify {coll.root}`")
        elif f.rel in stated and (why := _unlike_listed(bucket, f, stated[f.rel], listed, coll)) is not None:
            result.held_back[path] = f"{path} {why}"
        elif f.rel not in listed and (why := _copy_of_a_closed_job(coll, path)) is not None:
            result.held_back[path] = why
        elif derived is not None and derived[1] != f.sha256:
            result.held_back[path] = (
                f"{path} is {f.sha256}; {derived[0].name} says {derived[1]}: not pushed, and its copy in the bucket, "
                f"if any, left as it was; `archive index` or `archive extract` makes it again")
        elif not ledger.damaged(f.rel) and _in_bucket(bucket, f.key, f.size, f.sha256):
            result.unchanged += 1
            ledger.add(f.rel, f.stat, f.sha256)
        else:
            todo.append(f)
    return todo, sorted(manifests, key=lambda m: places[m] if m in places else _sequence(m))


def _pushed_files(coll: CollectionDir) -> list[str]:
    """The files of ``coll`` a push looks at, by path in the collection, in order: those of
    the pushed directories but hidden files, temporary and lock files and the unpushed
    directories. (Listed with ``os.scandir``: a collection of a year's jobs has a hundred
    thousand files, and a ``Path`` made and compared for each cost seconds a push.)"""
    skipped = {f"{d}/" for d in UNPUSHED_DIRS}

    def walk(folder: Path, prefix: str) -> list[str]:
        found = []
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except (FileNotFoundError, NotADirectoryError):
            return found
        except OSError as exc:  # (a directory this user may not read, such as a disk's lost+found)
            log.warning("%s cannot be listed (%s): what it holds is not pushed", folder, exc.strerror or exc)
            return found
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):  # (a link to a directory may lead out, or round)
                if rel + "/" not in skipped:
                    found += walk(Path(entry.path), rel + "/")
            elif entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(SKIPPED_SUFFIXES):
                found.append(rel)
        return sorted(found)

    return [rel for sub in PUSHED_DIRS for rel in walk(coll.root / sub, sub + "/")]


# What a manifest lists: WARCs, capture logs and job files.
_LISTED = (".warc.gz", ".warc", ".captures.jsonl", ".job.json")
LOST_DIR = "lost"


def _unlike_listed(bucket: Bucket, f: _File, statement: dict[str, Any] | None,
                   listed: dict[str, tuple[Path, dict[str, Any]]], coll: CollectionDir) -> str | None:
    """Why the statement of loss ``f`` (its JSON ``statement``) is not to go up, or None: it
    is not one, it is of bytes no manifest here lists (it excuses nothing, as `archive
    verify` says, and would stand in the bucket for a good one), or the bucket holds another
    (a statement is written once)."""
    kept = "not pushed, and its copy in the bucket, if any, left as it was"
    if statement is None:
        return f"is not a statement of loss (not a JSON object): {kept}; run `archive verify {coll.root}`"
    said = str(statement.get("path"))
    entry = listed.get(said, (None, {}))[1]
    if not of_the_listed(statement, entry) or not named_for(f.path.name, statement):
        return (f"states the loss of {said}, which no manifest here lists with that size and SHA-256: {kept}; run "
                f"`archive verify {coll.root}`")
    info = bucket.head(f.key)
    if info is not None and (info.size, info.sha256) != (f.size, f.sha256):
        return (f"is {f.size} bytes, {f.sha256}; the bucket holds another ({info.size} bytes, {info.sha256}), and a "
                f"statement of loss is written once: {kept}; move this one away and `archive pull` brings the "
                "bucket's")
    return None


def _stated_in_bucket(bucket: Bucket, where: S3Location, coll: CollectionDir, entry: dict[str, Any]) -> str | None:
    """Of a file ``entry`` lists that the bucket has not: None if it is gone here, its loss is
    stated here, and the bucket holds that statement (of the bytes listed), so that the
    manifest may go up; otherwise why it may not."""
    target = coll.root / entry["path"]
    if target.exists() or target.is_symlink() or loss_statement(coll, entry) is None:
        if target.exists() or target.is_symlink():  # (not sent: an earlier push confirmed it there)
            return (f"{entry['path']} is not in {where.url()}, though an earlier push confirmed it there: "
                    f"`archive push --recheck` sends it again")
        return f"{entry['path']} is not in {where.url()} (and not pushed from {coll.root})"
    rel = _rel(coll.loss_statement(target.name), coll)
    found = None
    info = bucket.head(where.key(rel))  # (the bucket's, this store's or not: its bytes as it says, of those listed)
    if info is not None:
        raw = bucket.read(where.key(rel))
        if sha256_bytes(raw) == info.sha256:
            with contextlib.suppress(ValueError):
                found = json.loads(raw)
    if not isinstance(found, dict) or not of_the_listed(found, entry):
        return (f"{entry['path']} is not in {where.url()}; its loss is stated here, but its statement {rel} is not "
                "there as here")
    return None


def _not_lost(bucket: Bucket, where: S3Location, coll: CollectionDir, result: PushResult) -> None:
    """Say of each file stated lost here whose copy the bucket holds, with the size and
    SHA-256 its statement names, that it is not lost (nothing is changed: the statement
    stays as history, and ``archive pull`` brings the file back)."""
    for path in statements(coll):
        statement = read_statement(path)
        if statement is None or path in result.held_back:
            continue
        rel = str(statement.get("path"))
        target = coll.root / rel
        if (not named_for(path.name, statement) or ".." in rel.split("/")
                or target.exists() or target.is_symlink()):
            continue
        size, sha256 = statement.get("size"), statement.get("sha256")
        if isinstance(size, int) and isinstance(sha256, str) and _in_bucket(bucket, where.key(rel), size, sha256):
            result.not_lost[target] = (f"{target} is stated lost ({_rel(path, coll)}), but {where.url()} holds "
                                       f"{rel} as listed: it is not lost; `archive pull` brings it back")


def _listed(manifests: list[Path], unconfirmed: set[Path], known: dict[Path, tuple[int, str]],
            wanted: set[str]) -> tuple[dict[str, tuple[Path, dict[str, Any]]], dict[Path, tuple[int, str]]]:
    """The entries of the files ``wanted`` (paths in the collection) in the manifests that
    name them, with the manifest; and the place in the chain of every manifest
    (:func:`_place`), as the ledger recorded it (``known``) or as read. A manifest that
    cannot be read names none here; pushing it says why. Only those not confirmed by an
    earlier push (``unconfirmed``) are checked against their sidecar: the others were, when
    they went up, and have not changed since. The manifests whose place is known are read
    newest first and only until every file wanted is found: a push after a job looks for
    that job's files, in the newest manifest, not in every manifest of a year's jobs."""
    listed: dict[str, tuple[Path, dict[str, Any]]] = {}
    places = dict(known)

    def read(manifest: Path) -> None:
        if manifest in unconfirmed and _unlike_its_sidecar(manifest) is not None:
            return
        try:
            doc = _read_manifest(manifest)
            entries = _entries_of(manifest, doc)
        except StorageError:
            return
        places[manifest] = _place(manifest, doc)
        for entry in entries:
            # (a file two manifests name: the one of the later name, as when all were read in order)
            if entry["path"] not in listed or manifest.name > listed[entry["path"]][0].name:
                listed[entry["path"]] = (manifest, entry)

    for manifest in manifests:
        if manifest not in known:
            read(manifest)
    for manifest in sorted(known, key=known.__getitem__, reverse=True):
        if wanted <= listed.keys():
            break
        read(manifest)
    return listed, places


def _copy_of_a_closed_job(coll: CollectionDir, path: Path) -> str | None:
    """Why the WARC at ``path``, which no manifest read lists, is not to go up, or None: its
    warcinfo names a job whose manifest (read now: one written since the others were read
    may list it) does not list it, a copy (a ``gunzip`` of one, a ``cp``) or a file put there
    after the job ended. Pushed, it went into every store pulled from the bucket, uncompressed
    one several times its size, while `archive verify` and `archive index` refuse it. A
    killed job's WARCs, listed only once `archive verify --repair` writes its manifest, go up."""
    if not path.name.endswith((".warc.gz", ".warc")) or path.parent != coll.warcs:
        return None
    from archive.verify import warcinfo_job_id

    try:
        job = warcinfo_job_id(path)
    except OSError:
        return None
    # (None: an id that names no file, no manifest, or one that does not parse)
    listed = files_listed(coll, job) if job is not None else None
    if listed is None or _rel(path, coll) in listed:
        return None
    return (f"{path} is listed in no manifest, though its job {job} has one (a copy, or a file put there after the "
            f"job ended): not pushed; move it out of the store (`archive verify {coll.root}` says the same)")


def _rel(path: Path, coll: CollectionDir) -> str:
    """``path`` as named in the collection (and its ledger): warcs/x.warc.gz."""
    text, root = str(path), str(coll.root) + os.sep
    if text.startswith(root):  # (as relative_to would, without its cost: a push asks this of every manifest)
        return text[len(root):].replace(os.sep, "/")
    return path.relative_to(coll.root).as_posix()


def _local(path: Path, coll: CollectionDir, where: S3Location) -> _File:
    rel = _rel(path, coll)
    stat = unchanged_key(path)
    sha, size = sha256_file(path)
    return _File(path, rel, where.key(rel), size, sha, stat)


def _sequence(path: Path) -> tuple[int, str]:
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        doc = None
    return _place(path, doc)


def _place(path: Path, doc: Any) -> tuple[int, str]:
    """Where the manifest at ``path`` (its JSON ``doc``) comes in the chain, as a sort key."""
    seq = doc.get("sequence") if isinstance(doc, dict) else None
    return (seq if isinstance(seq, int) else 0, path.name)


def _in_bucket(bucket: Bucket, key: str, size: int, sha256: str) -> bool:
    info = bucket.head(key)
    return info is not None and info.size == size and info.sha256 == sha256


def _send(bucket: Bucket, f: _File, part_size: int, progress: Progress | None, result: PushResult) -> None:
    log.info("uploading %s (%d bytes)", f.key, f.size)
    stats = bucket.upload(f.path, f.key, f.sha256, f.size, part_size=part_size, progress=progress)
    if not _in_bucket(bucket, f.key, f.size, f.sha256) and stats.resumed:
        # The interrupted upload we finished was begun for an older version of a mutable
        # file (a crawl log), so its metadata is stale: send it afresh.
        stats = bucket.upload(f.path, f.key, f.sha256, f.size, part_size=part_size, progress=progress,
                              resume=False)
    if not _in_bucket(bucket, f.key, f.size, f.sha256):
        raise StorageError(f"uploaded {f.path} to {bucket.location.url(f.key)}, but the bucket does not "
                           "report the same size and x-amz-meta-sha256")
    result.uploaded.append(f.key)
    result.bytes_sent += stats.sent
    result.parts_reused += stats.parts_reused


def _abort_abandoned(bucket: Bucket, where: S3Location, sending: set[str], result: PushResult) -> None:
    """Abort unfinished uploads that no run will resume: their file is gone or already up."""
    prefix = where.key("")
    for key, upload_id in bucket.uploads(prefix + "/"):
        if key in sending:
            continue
        log.info("aborting abandoned upload of %s", key)
        bucket.abort(key, upload_id)
        result.aborted.append(key)


def _entries(manifest: Path) -> list[dict[str, Any]]:
    return _entries_of(manifest, _read_manifest(manifest))


def _read_manifest(manifest: Path, raw: bytes | None = None) -> Any:
    """The JSON of ``manifest`` (of ``raw``, its bytes, if read already)."""
    try:
        return json.loads(manifest.read_bytes() if raw is None else raw)
    except ValueError:
        raise StorageError(f"{manifest} is not valid JSON; run `archive verify` on the store") from None


def _entries_of(manifest: Path, doc: Any) -> list[dict[str, Any]]:
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        raise StorageError(f"{manifest} lists no files; run `archive verify` on the store")
    return [e for e in files if isinstance(e, dict) and isinstance(e.get("path"), str)]


def _push_manifest(bucket: Bucket, where: S3Location, coll: CollectionDir, manifest: Path, part_size: int,
                   progress: Progress | None, result: PushResult, ledger: PushLedger, recheck: bool) -> None:
    companions = [p for p in (manifest.with_name(manifest.name + s) for s in MANIFEST_COMPANIONS) if p.is_file()]
    if not recheck and all(ledger.confirmed(_rel(p, coll), p) for p in [*companions, manifest]):
        # Confirmed by an earlier push, each file it names with it, and not changed since.
        result.unchanged += len(companions) + 1
        result.manifests.append(where.key("manifests", manifest.name))
        return
    # A manifest is written once: one not as its sidecar says, or not as the bucket already
    # holds it, is damaged here and must not replace the good copy; what it lists is not to be
    # believed either (the bucket's copy, if there is one, was checked when it went up).
    damaged = _unlike_its_sidecar(manifest)
    raw = None if damaged is not None else manifest.read_bytes()
    try:
        doc = None if raw is None else _read_manifest(manifest, raw)
        entries = [] if doc is None else _entries_of(manifest, doc)
    except StorageError as exc:  # (not JSON, no files: this collection's chain stops here)
        raise _Stop(str(exc)) from None
    for entry in entries:
        info = bucket.head(where.key(entry["path"]))
        held = result.held_back.get(coll.root / entry["path"])
        if held is not None and (info is None or (info.size, info.sha256) != (entry.get("size"), entry.get("sha256"))):
            raise _Stop(f"not pushing {manifest.name}, nor a manifest after it: {held}")
        if info is None:
            why = _stated_in_bucket(bucket, where, coll, entry)
            if why is None:
                continue  # (gone for good, and the bucket's copy says so)
            raise _Stop(f"not pushing {manifest.name}: {why}")
        if info.size != entry.get("size") or info.sha256 != entry.get("sha256"):
            raise _Stop(f"not pushing {manifest.name}: the bucket's {entry['path']} is {info.size} bytes, "
                        f"{info.sha256}; the manifest says {entry.get('size')} bytes, {entry.get('sha256')}; "
                        f"run `archive verify {coll.root}`")
    sent = []
    for path in [*companions, manifest]:
        f = _local(path, coll, where)
        info = bucket.head(f.key)
        if info is not None and (info.size, info.sha256) == (f.size, f.sha256):
            result.unchanged += 1
            sent.append(f)
            continue
        why = damaged
        if info is not None and why is None and _damaged_in_bucket(bucket, f.key, info):
            # Not another manifest but a broken copy of this one (its bytes are not what its
            # sidecar or metadata say): the copy here, sound, takes its place.
            log.warning("%s is damaged (not as its sidecar says): replaced by %s", where.url(f.key), path)
            info = None
        if info is not None and why is None:
            why = f"the bucket holds another ({info.size} bytes, {info.sha256}), and a manifest is written once"
        if why is None:
            _send(bucket, f, part_size, progress, result)
            sent.append(f)
        else:
            result.held_back[path] = (f"{path} is {f.size} bytes, {f.sha256}; {why}: not pushed, and its copy in "
                                      f"the bucket, if any, left as it was; run `archive verify {coll.root}`")
    if manifest in result.held_back and bucket.head(where.key("manifests", manifest.name)) is None:
        raise _Stop(f"not pushing {manifest.name}, nor a manifest after it: {result.held_back[manifest]}")
    result.manifests.append(where.key("manifests", manifest.name))
    if len(sent) == len(companions) + 1:  # (all of it as here: the next push need not look again)
        sequence = doc.get("sequence") if isinstance(doc, dict) and isinstance(doc.get("sequence"), int) else None
        if raw is None or sha256_bytes(raw) != next(f.sha256 for f in sent if f.path == manifest):
            sequence = None  # (its place as read is not that of the bytes confirmed: read again next time)
        for f in sent:
            ledger.add(f.rel, f.stat, f.sha256, sequence=sequence if f.path == manifest else None)


def _fork(bucket: Bucket, where: S3Location, coll: CollectionDir, manifests: list[Path], ledger: PushLedger,
          recheck: bool) -> str | None:
    """Why the collection is not to be pushed at all, or None: the first of its manifests
    (in chain order) not yet in the bucket does not continue the chain the bucket holds."""
    for manifest in manifests:
        rel = _rel(manifest, coll)
        if not recheck and ledger.confirmed(rel, manifest):
            continue
        info = bucket.head(where.key(rel))
        if info is not None:
            continue  # (there already: whether it is as here is for _push_manifest to say)
        try:
            doc = _read_manifest(manifest)
        except StorageError:
            return None  # (_push_manifest says what is wrong with it)
        fork = _another_chain(bucket, where, coll, doc) if isinstance(doc, dict) else None
        if fork is None:
            return None
        return (f"not pushing {coll.name}: {fork}; if that is another store's {coll.name}, push this one to another "
                "prefix (if a manifest of this store was deleted from the bucket, `archive push --recheck` sends it "
                "again)")
    return None


def _another_chain(bucket: Bucket, where: S3Location, coll: CollectionDir, doc: dict[str, Any]) -> str | None:
    """Why the bucket's copy of the collection looks like another chain than the one ``doc``
    (a manifest not yet there) continues, or None: another store's collection of the same
    name, whose manifests would then fork in the bucket. Its first manifest must find there
    none but this store's; any other must find the manifest it follows, as it is here."""
    previous = doc.get("previous")
    if not isinstance(previous, dict):
        for obj in bucket.list(where.key("manifests") + "/"):
            name = obj.key.rsplit("/", 1)[-1]
            if name.endswith(".json") and not coll.manifest(name.removesuffix(".json")).is_file():
                return f"{where.url()} holds a manifest this store has not, {name}, of another chain"
        return None
    name = f"{previous.get('job_id')}.json"
    info = bucket.head(where.key("manifests", name))
    if info is not None and info.sha256 == previous.get("sha256"):
        return None
    held = "no" if info is None else f"another ({info.sha256})"
    return f"it follows {name} ({previous.get('sha256')}), of which {where.url()} holds {held}"


def _damaged_in_bucket(bucket: Bucket, key: str, info: ObjectInfo) -> bool:
    """Whether the bucket's manifest (or a companion of it) at ``key`` is not what it says
    it is: its bytes are not its ``x-amz-meta-sha256``, or a manifest's are not what its
    sidecar in the bucket says."""
    actual = sha256_bytes(bucket.read(key))
    if info.sha256 != actual:
        return True
    if not key.endswith(".json"):
        return False
    sidecar = bucket.head(key + SIDECAR)
    if sidecar is None:
        return False
    return not sidecar_names(bucket.read(key + SIDECAR).decode("utf-8", "replace"), actual.removeprefix("sha256:"))


def _unlike_its_sidecar(manifest: Path) -> str | None:
    """Why ``manifest`` is not the one its ``.sha256`` sidecar names (or has none, which
    ``archive verify`` fails too), or None."""
    sidecar = manifest.with_name(manifest.name + SIDECAR)
    try:
        said = sidecar.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return f"{manifest.name} has no sidecar {sidecar.name} to be checked against"
    digest = sha256_file(manifest)[0]
    if not sidecar_names(said, digest.removeprefix("sha256:")):
        return f"{manifest.name} and its sidecar {sidecar.name} do not match"
    return None


# What follows a WARC kept by --delete-local: one whose copy is not in the bucket as listed
# is sent again; one kept for what is made from it (its job's article table, its index) needs
# nothing sent, only what it lacks made.
_SENT_AGAIN = "the next `archive push` sends what is missing or differs again"
_ONCE_MADE = "nothing needs sending for that: once it is made, the next `archive push --delete-local` deletes the WARCs kept"


def _delete_local_warcs(bucket: Bucket, where: S3Location, coll: CollectionDir, manifests: list[Path],
                        result: PushResult, ledger: PushLedger) -> None:
    """CONTRACTS: --delete-local removes WARCs only, each after its bucket copy checks out.

    Only WARCs named by a manifest that is in the bucket (a running job still hashes its
    closed WARCs when it writes its manifest), as it is here, read back; and each WARC only
    once its copy is read back whole from the bucket and hashes to what the manifest says.
    Not its size and ``x-amz-meta-sha256``: they are what the upload said of it, and stay
    as they were on an object damaged or replaced since. The local copy may be the last one.
    What turns out not to be in the bucket as confirmed is checked, and sent, by the next push.
    """
    kept: list[tuple[str, str]] = []  # why WARCs were not deleted, and what then

    def keep(then: str, why: str) -> None:
        kept.append((why, then))

    untabled = jobs_without_a_table(coll)
    for manifest in manifests:
        if _unlike_its_sidecar(manifest) is not None:
            continue  # (damaged here: what it lists is not to be believed; its bucket copy is)
        here = [(entry, coll.root / entry["path"]) for entry in _entries(manifest)
                if entry.get("kind") == "warc" and entry["path"].startswith("warcs/")
                and (coll.root / entry["path"]).is_file()]
        if not here:
            continue
        job = manifest.name.removesuffix(".json")
        if job in untabled and not any(path in result.held_back for _, path in here):
            # (one damaged here goes all the same: its table is made from the good copy, pulled)
            keep(_ONCE_MADE, f"not deleting the WARCs {manifest.name} lists: job {job} has no article table, which "
                 f"is made from them by `{coll.command('extract')}` (a later job's table was made without it, and "
                 "extract makes every table again, from every WARC: `archive pull` first brings back those pushed "
                 "away)")
            continue
        # (one damaged here goes all the same: its index is made from the good copy, pulled)
        unindexed = [path for _, path in here
                     if path not in result.held_back and not is_current(coll.indexes / index_name(path), path)]
        if unindexed:
            keep(_ONCE_MADE, f"not deleting {unindexed[0]}: it has no index, which is made from it (`archive index`)")
            here = [(entry, path) for entry, path in here if path not in unindexed]
        rel = _rel(manifest, coll)
        as_here = sha256_file(manifest)
        if _read_back(bucket, where.key(rel)) != as_here:
            ledger.forget(rel)
            keep(_SENT_AGAIN, f"not deleting the WARCs {manifest.name} lists: the manifest is not in {where.url()} "
                 "as it is here")
            continue
        for entry, path in here:
            listed = (str(entry["sha256"]), int(entry["size"]))
            found = _read_back(bucket, where.key(entry["path"]))
            if found != listed:
                ledger.forget(entry["path"], damaged=found is not None)
                what = "is not there" if found is None else f"reads back as {found[1]} bytes, {found[0]}"
                keep(_SENT_AGAIN, f"not deleting {path}: its copy in {where.url()} {what}, not as {manifest.name} "
                     f"lists it ({listed[1]} bytes, {listed[0]})")
                continue
            # A receipt, so `archive verify` of the local store knows where the file went:
            # on the disk for good before the file goes.
            receipt = {"path": entry["path"], "size": entry["size"], "sha256": entry["sha256"],
                       "url": f"{where.url().rstrip('/')}/{entry['path']}",
                       "deleted": datetime.now(UTC).isoformat()}
            write_atomic(coll.receipt(path.name), (json.dumps(receipt, sort_keys=True) + "\n").encode())
            path.unlink()
            result.deleted.append(path)
            if path in result.held_back:  # (damaged here: its good copy is the one kept)
                result.held_back[path] = (f"{path} was not as {manifest.name} lists it (damaged here), and is "
                                          f"deleted: its copy in {where.url()} is as listed")
    if kept:
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        then = "; ".join(dict.fromkeys(then for _, then in kept))  # (what to do of each kind kept, once)
        raise _Stop(f"{kept[0][0]}{more}; {then}")


def _read_back(bucket: Bucket, key: str) -> tuple[str, int] | None:
    """The SHA-256 and size of the bytes the bucket holds at ``key``, read whole; None if
    there is no such object."""
    if bucket.head(key) is None:
        return None
    return bucket.stream(key, None)
