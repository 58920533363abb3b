"""``archive pull``: restore a store (or one collection) from ``s3://bucket/prefix``.

Each object is streamed to ``<name>.part`` beside its place, its SHA-256 compared with the
object's ``x-amz-meta-sha256``, and only then renamed into place; manifests come last (their
sidecars just before them), the mirror of ``push``, so a pulled manifest's files are already
there. Files that are already present with the same hash are not downloaded again. An
existing WARC, manifest or statement of loss (``lost/``) that differs from the bucket's copy is
never overwritten: files in those directories are evidence and immutable. A file stated lost
here whose copy the bucket holds comes back like any other missing file (its statement stays).
The merged index is not pulled: push never sends it, and a copy an earlier version pushed
is stale (the store makes its own from the per-WARC indexes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.digests import sha256_file
from archive.errors import StorageError, UsageError
from archive.storage.push import PUSHED_DIRS, UNPUSHED_DIRS
from archive.storage.s3 import MAX_ATTEMPTS, Bucket, ObjectInfo, Progress, S3Location, parse_s3_url
from archive.store import CollectionDir, write_atomic
from archive.warc.records import utcnow, warc_date

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".part"
IMMUTABLE_DIRS = ("warcs", "manifests", "lost")  # (lost/: statements of loss, written once)


@dataclass
class PullResult:
    url: str
    downloaded: list[Path] = field(default_factory=list)
    unchanged: int = 0
    bytes_received: int = 0
    collections: list[str] = field(default_factory=list)
    # Collections not restored whole, and why (the first fault met in each).
    failed: dict[str, str] = field(default_factory=dict)


class PullFailed(StorageError):
    """Some collections could not be restored whole; ``result`` says what was, and why not
    the others (the message is the first of those reasons)."""

    def __init__(self, result: PullResult):
        super().__init__(next(iter(result.failed.values())))
        self.result = result


@dataclass
class _Object:
    info: ObjectInfo
    collection: str
    rel: str  # path inside the collection directory

    @property
    def order(self) -> tuple[int, int, str]:
        # Manifests last, each sidecar before its manifest.
        is_manifest = self.rel.startswith("manifests/")
        return (int(is_manifest), int(is_manifest and self.rel.endswith(".json")), self.rel)


def pull(
    source: str,
    store: Path,
    *,
    collection: str | None = None,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    waiting: Callable[[str], None] | None = None,
) -> PullResult:
    """Restore ``store``'s collections (or one) from ``source``; raise :class:`PullFailed` if
    some could not come whole. A collection another push or pull is transferring is waited
    for, ``waiting`` told why."""
    location = parse_s3_url(source)
    store = Path(store)
    bucket = Bucket(location, endpoint_url, max_attempts=max_attempts)
    bucket.check()
    base = location.key("")
    objects: list[_Object] = []
    for info in bucket.list(base + "/" if base else ""):
        parts = info.key[len(base) + 1 if base else 0:].split("/")
        if len(parts) < 3 or parts[1] not in PUSHED_DIRS or any(p in ("", ".", "..") for p in parts):
            continue  # not part of a store's layout
        if any("/".join(parts[1:]).startswith(f"{d}/") for d in UNPUSHED_DIRS):
            continue  # (the merged index an earlier version pushed: of the jobs of then)
        if collection is not None and parts[0] != collection:
            continue
        objects.append(_Object(info, parts[0], "/".join(parts[1:])))
    if not objects:
        what = f"collection {collection!r}" if collection is not None else "store"
        raise UsageError(f"no {what} under {location.url()} (expected <collection>/warcs/... objects)")
    result = PullResult(url=location.url(), collections=sorted({o.collection for o in objects}))
    with contextlib.ExitStack() as held:
        for name in result.collections:  # (in the order of their names, as every push takes them)
            held.enter_context(CollectionDir(store / name).transferring(waiting=waiting))
        _pull_collections(bucket, location, store, objects, result, progress, total)
    if result.failed:
        raise PullFailed(result)
    return result


def _pull_collections(bucket: Bucket, location: S3Location, store: Path, objects: list[_Object],
                      result: PullResult, progress: Progress | None, total: Callable[[int], None] | None) -> None:
    # Each collection is restored, or not, on its own: a fault in one (an object that cannot
    # be verified, a local file in the way) leaves the others to come whole.
    for name in result.collections:  # (before anything is downloaded)
        try:
            _same_chain(CollectionDir(store / name), location.url(),
                        {o.rel.removeprefix("manifests/") for o in objects
                         if o.collection == name and o.rel.startswith("manifests/") and o.rel.endswith(".json")})
        except StorageError as exc:
            result.failed[name] = str(exc)
    todo: list[tuple[_Object, str, Path]] = []
    for obj in sorted(objects, key=lambda o: (o.collection, o.order)):
        if obj.collection in result.failed:
            continue
        try:
            planned = _planned(bucket, location, store, obj, result)
        except StorageError as exc:
            result.failed[obj.collection] = str(exc)
            continue
        if planned is not None:
            todo.append(planned)
    todo = [item for item in todo if item[0].collection not in result.failed]
    if total is not None:
        total(sum(o.info.size for o, _, _ in todo))
    # Until its last file (a manifest) is in place, a collection says that a pull into it
    # has not finished: verify then asks for the pull again, and neither a repair nor a
    # crawl takes the files there for a job that died.
    pending: dict[str, int] = {}
    for obj, _, _ in todo:
        pending[obj.collection] = pending.get(obj.collection, 0) + 1
    for name in pending:
        coll = CollectionDir(store / name)
        write_atomic(coll.pull_marker, json.dumps({"from": location.url(), "started": warc_date(utcnow())}).encode())
    for obj, url, target in todo:
        if obj.collection in result.failed:
            continue
        coll = CollectionDir(store / obj.collection)
        try:
            _download(bucket, obj, url, coll, progress)
        except StorageError as exc:  # (its manifests, last, stay out: the marker says so)
            result.failed[obj.collection] = str(exc)
            continue
        result.downloaded.append(target)
        result.bytes_received += obj.info.size
        pending[obj.collection] -= 1
        if not pending[obj.collection]:
            coll.pull_marker.unlink(missing_ok=True)
    for name in result.collections:  # (one a pull killed after its last file left behind)
        if name not in pending and name not in result.failed:
            CollectionDir(store / name).pull_marker.unlink(missing_ok=True)


def _planned(bucket: Bucket, location: Any, store: Path, obj: _Object,
             result: PullResult) -> tuple[_Object, str, Path] | None:
    """The download of ``obj``, or None if the store holds it already as the bucket does."""
    info = bucket.head(obj.info.key)
    url = location.url(obj.info.key)
    if info is None:
        raise StorageError(f"{url} disappeared while pulling; pull again")
    if info.sha256 is None:
        raise StorageError(f"{url} has no x-amz-meta-sha256, so it cannot be verified; "
                           "was it uploaded by `archive push`?")
    target = store / obj.collection / obj.rel
    if target.is_file():
        sha, size = sha256_file(target)
        if sha == info.sha256 and size == info.size:
            result.unchanged += 1
            return None
        if obj.rel.split("/")[0] in IMMUTABLE_DIRS:
            raise StorageError(f"{target} differs from {url} ({sha} vs {info.sha256}); not overwriting "
                               "a WARC, manifest or statement of loss, move it away first")
    obj.info = info
    return obj, url, target


def _same_chain(coll: CollectionDir, url: str, remote: set[str]) -> None:
    """Refuse to pull a collection's manifests beside a local chain they have no manifest in
    common with: another store's collection of the same name, whose chain would fork here."""
    try:
        local = {name for name in os.listdir(coll.manifests) if name.endswith(".json")}
    except OSError:
        return
    if local and remote and not local & remote:
        raise StorageError(f"{coll.root} has manifests, and those of {url}/{coll.name} are none of them: another "
                           "chain of a collection of the same name, which would fork this one; pull into another "
                           "store")


def _download(bucket: Bucket, obj: _Object, url: str, coll: CollectionDir, progress: Progress | None) -> None:
    target = coll.root / obj.rel
    log.info("downloading %s to %s", url, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + TEMP_SUFFIX)
    try:
        with open(tmp, "wb") as fh:
            sha, size = bucket.stream(obj.info.key, fh, progress)
            fh.flush()
            os.fsync(fh.fileno())
        if sha != obj.info.sha256 or size != obj.info.size:
            raise StorageError(f"{url}: downloaded {size} bytes hashing to {sha}, but the object says "
                               f"{obj.info.size} bytes, {obj.info.sha256}; not written to {target}")
        with _placing(coll, obj.rel):
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _placing(coll: CollectionDir, rel: str) -> Iterator[None]:
    """Put a pulled file in place as a job's end would: a manifest under the collection's
    lock, an index under the index lock; and let go the note that lets a job's end skip
    reading every manifest or index (``.chain-head``, ``.indexes-state``), which cannot
    know of a file put there by another hand."""
    from archive.index import NOTE
    from archive.index.merged import index_lock
    from archive.manifest import HEAD

    top = rel.split("/", 1)[0]
    if top == "manifests":
        held, note = coll.locked(), HEAD
    elif top == "indexes":
        held, note = index_lock(coll), NOTE
    else:
        yield
        return
    with held:
        yield
        (coll.root / note).unlink(missing_ok=True)
