"""Indexes of a collection: a pywb-compatible CDXJ per WARC, a merged sorted index, lookups.

``update_indexes`` (run at the end of every crawl job and by ``archive index``) indexes each
closed WARC that has no current index, compacts the merged index and rebuilds the catalog.
``lookup_url`` finds every capture of a URL by binary search.
"""

from __future__ import annotations

import calendar
import contextlib
import functools
import json
import logging
import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.errors import StoreError
from archive.index.cdxj import (
    DERIVED_SUFFIX,
    KEYS,
    CdxjEntry,
    entry_or_none,
    index_name,
    index_warc,
    is_current,
    keyed_as_now,
    mark_keyed,
    read_derived,
    url_key,
    warc_names_of,
)
from archive.index.keys import keyed_otherwise
from archive.index.lookup import iter_prefix, lines_for_key
from archive.index.merged import (
    MERGED_DIR,
    compact,
    index_lock,
    merged_files,
    merged_lines,
    merged_path,
    pending,
    unmerged,
    untidy,
)
from archive.losses import entry_of, gone_for_good, read_statement, statements
from archive.manifest import iter_manifests, parsed, problem_of
from archive.store import UNWRITABLE, CollectionDir, directory_state, listed_sizes, write_atomic
from archive.urls import canonical_or_none
from archive.warc.writer import OPEN_SUFFIX

if TYPE_CHECKING:
    from archive.index.records import ArchivedRecord

log = logging.getLogger(__name__)

__all__ = ["CdxjEntry", "IndexResult", "closest", "lookup_url", "pad_timestamp", "stated_lost", "update_indexes",
           "update_indexes_if_writable", "url_key"]


@dataclass
class IndexResult:
    collection: str
    indexed: list[Path] = field(default_factory=list)  # per-WARC indexes (re)written
    unindexed: list[str] = field(default_factory=list)  # why a WARC could not be indexed, one each
    warcs: int = 0
    merged: Path | None = None
    merged_lines: int = 0
    catalog: Path | None = None
    lost: dict[str, dict[str, Any]] = field(default_factory=dict)  # WARCs stated lost, left out (archive.losses)


def _manifest_entries(coll: CollectionDir, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """The manifests' entries of the WARCs named ``wanted`` (None: of every WARC), by file
    name: their SHA-256s, so indexing need not hash WARCs again, and their sizes. Newest
    manifest first, and no further than needed: the WARCs to index are nearly always the
    last job's."""
    known: dict[str, dict[str, Any]] = {}
    for path, doc, raw in iter_manifests(coll, newest_first=True):
        problem = problem_of(doc, raw)
        if problem is not None:
            # Its WARCs are indexed all the same, hashed here: the index only finds records.
            log.warning("%s is not a readable manifest (%s): run `archive verify`", path, problem)
            continue
        for entry in doc["files"]:  # type: ignore[index]
            if entry.get("kind") == "warc":
                known.setdefault(entry["path"].rsplit("/", 1)[-1], entry)
        if wanted is not None and wanted <= known.keys():
            break
    return known


def _closed_sizes(coll: CollectionDir) -> dict[str, int]:
    """The closed WARCs of ``coll`` by name, in order, with their sizes (-1 for one whose
    size cannot be read: a link to a disk not mounted, say)."""
    return {name: size for name, size in listed_sizes(coll.warcs, (".warc.gz", ".warc"), files_only=False).items()
            if not name.endswith(OPEN_SUFFIX)}


def stated_lost(coll: CollectionDir, *, indexed: bool = False,
                listed: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The WARCs a manifest lists that are gone from the collection (not pushed away by
    ``archive push --delete-local`` either) and whose loss is stated for exactly the bytes
    listed (:mod:`archive.losses`), by file name, with their statements: the indexes leave
    their captures out. ``indexed``: only those whose per-WARC index is still there (what an
    update has to remove; the manifests are read only for them, so that a loss stated long
    ago costs each job's end the listing of ``lost/`` alone). ``listed``: every manifest's
    WARC entries by name, if read already."""
    names = [p.name.removesuffix(".json") for p in statements(coll)]
    names = [name for name in names if name.endswith((".warc.gz", ".warc")) and not os.path.lexists(coll.warcs / name)
             and (not indexed or os.path.lexists(coll.indexes / index_name(coll.warcs / name)))]
    if not names:
        return {}
    if listed is not None:
        entries = listed
    else:  # (each in the manifest its statement names; all of them read only for one that names none of it)
        entries = {name: entry for name in names
                   if (entry := entry_of(coll, read_statement(coll.loss_statement(name)) or {})) is not None}
        if len(entries) < len(names):
            entries.update(_manifest_entries(coll, set(names) - entries.keys()))
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        entry = entries.get(name)
        if entry is not None and str(entry.get("path", "")).rsplit("/", 1)[-1] != name:
            entry = None  # (the entry its statement names is another file's: a statement copied over)
        statement = gone_for_good(coll, entry) if entry is not None else None
        if statement is not None:
            found[name] = statement
    return found


def _forget(coll: CollectionDir, lost: Iterable[str], why: str = "") -> bool:
    """Remove the per-WARC indexes (and sidecars) of WARCs stated lost (or gone for ``why``,
    said as a warning): what the merged index and the catalog hold is made from those there
    are, so that their captures go from both (the capture logs still say what each held).
    Whether any was removed."""
    removed = False
    for name in lost:
        removed = _remove_index(coll.indexes / index_name(coll.warcs / name), name, why) or removed
    return removed


def _remove_index(index: Path, name: str, why: str | None) -> bool:
    """Remove ``index`` (and its sidecar), the index of the WARC ``name``, gone for ``why``
    (a warning; "": stated lost; None: renamed, its WARC indexed under its name of now).
    Whether there was one."""
    # (the sidecar first: an index left without it is found again by the next update)
    index.with_name(index.name + DERIVED_SUFFIX).unlink(missing_ok=True)
    try:
        index.unlink()
    except FileNotFoundError:
        return False
    if why:
        log.warning("removed index %s of %s: %s", index.name, name, why)
    elif why is None:
        log.info("removed index %s of %s, which an earlier version named so", index.name, name)
    else:
        log.info("removed index %s of %s, stated lost", index.name, name)
    return True


def _source_name(index: Path) -> str | None:
    """The name of the WARC ``index`` was made of, as its sidecar records it, if it does."""
    doc = read_derived(index)
    sources = (doc.get("derived_from") if doc is not None else None) or [{}]
    path = sources[0].get("path") if isinstance(sources[0], dict) else None
    return path.rsplit("/", 1)[-1] if isinstance(path, str) and path.startswith("warcs/") else None


# Said of a WARC that could not be indexed, where an index made of it before stays.
KEPT = "; its index, if it had one, is left as it was"

# At the collection's root: what the last update of the indexes left current (see _known).
NOTE = ".indexes-state"


def _known(coll: CollectionDir) -> dict[str, int] | None:
    """The closed WARCs (name, size) whose indexes the last update left current and merged,
    if neither the per-WARC indexes nor the merged files have been added to, replaced or
    removed since (their directories are as it left them): then each of those WARCs at that
    size has a current index, and every per-WARC index there is merged as it is. A job's end
    thus looks at its new WARCs alone, not at the index and sidecar of every WARC the
    collection has (a year of half-hourly jobs is 17,500). None when that cannot be said.
    Files changed where they lie do not change their directories: the merged files are
    checked against their sidecars all the same (:func:`untidy`, a few files), and a
    per-WARC index or sidecar damaged in place is made again by `archive index`, which
    reads them all. A note of a version that keyed indexes otherwise (no ``keys``) is none:
    the indexes it left may be keyed as they were then."""
    try:
        doc = json.loads((coll.root / NOTE).read_bytes())
        if doc["indexes"] != directory_state(coll.indexes) or doc["merged"] != directory_state(
                coll.indexes / MERGED_DIR) or doc.get("keys") != KEYS:
            return None
        return {str(name): int(size) for name, size in doc["warcs"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _note(coll: CollectionDir, current: dict[str, int]) -> None:
    """Record ``current`` (closed WARCs whose indexes are current and merged) for
    :func:`_known`. Best effort: without it the next update looks at every index."""
    indexes, merged = directory_state(coll.indexes), directory_state(coll.indexes / MERGED_DIR)
    if indexes is None or merged is None:
        return
    with contextlib.suppress(OSError):  # (a note left from before cannot match: the indexes have changed)
        write_atomic(coll.root / NOTE, json.dumps({"indexes": indexes, "merged": merged, "warcs": current,
                                                   "keys": KEYS}).encode())


def update_indexes(coll: CollectionDir, *, rebuild: bool = False, catalog: bool = True) -> IndexResult:
    """Index new WARCs (all with ``rebuild``), compact the merged index, rebuild the catalog.

    When all are current nothing is written, not even the index lock (the catalog's lock
    file is made if missing; where it cannot be, the catalog is read as it is), so that a
    store on read-only media can be replayed. A WARC that cannot be read whole, or is not the size
    its manifest says, keeps the index it had (if any) and is named in ``unindexed``; the
    others are indexed all the same, so that one damaged file does not hide every later
    capture from replay. Each update tries again a WARC without a current index (by name
    and size); one damaged in place after it was indexed is found by a ``rebuild``
    (`archive index`) or by `archive verify`. A WARC gone whose loss is stated
    (:func:`stated_lost`) loses its index, and its captures go from the merged index and the
    catalog; a ``rebuild`` names every such WARC in ``lost``.
    """
    result = IndexResult(coll.name)
    sizes = _closed_sizes(coll)
    result.warcs = len(sizes)
    if rebuild or _stale(coll, sizes):
        with index_lock(coll):
            result.indexed, result.unindexed, result.lost = _index(coll, rebuild)
    result.merged = merged_path(coll)
    result.merged_lines = merged_lines(coll)
    if catalog:
        from archive.catalog import build_catalog, update_catalog

        # (update_catalog writes nothing when the catalog is current)
        result.catalog = build_catalog(coll) if rebuild else update_catalog(coll)
    return result


def update_indexes_if_writable(coll: CollectionDir) -> list[str]:
    """:func:`update_indexes`, for readers (replay) of a store that may not be writable:
    what kept the indexes from being brought up to date, a sentence each (the WARCs that
    could not be indexed, why the store could not be written, or another
    :class:`StoreError`, such as a catalog that cannot be built): none when they are. The
    indexes there, if any, are left as they are, to serve what they hold."""
    try:
        return update_indexes(coll).unindexed
    except StoreError as exc:
        return [str(exc)]
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise
        sizes = _closed_sizes(coll)
        behind = [name for name, size in sizes.items()
                  if size < 0 or not is_current(coll.indexes / index_name(coll.warcs / name), coll.warcs / name)]
        earlier = [name for name in sizes if name not in behind
                   and not keyed_as_now(coll.indexes / index_name(coll.warcs / name))]
        which = "".join(f"; {said}: {', '.join(names[:3])}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                        for said, names in (("not indexed", behind), ("indexed by an earlier version", earlier))
                        if names)
        return [(f"cannot bring the indexes of {coll.root} up to date ({exc.strerror or exc}{which}): "
                 "run `archive index` where the store can be written")]


def _stale(coll: CollectionDir, sizes: dict[str, int]) -> bool:
    if stated_lost(coll, indexed=True):  # (its captures are to leave the merged index)
        return True
    known = _known(coll)
    if known is not None:  # (a merged file changed in place does not change its directory)
        return untidy(coll) or any(known.get(name) != size for name, size in sizes.items())
    return _merged_behind(coll) or not all(
        size >= 0 and is_current(index := coll.indexes / index_name(coll.warcs / name), coll.warcs / name)
        and keyed_as_now(index) for name, size in sizes.items())


def _merged_behind(coll: CollectionDir) -> bool:
    """Whether the merged files need a compaction: none yet, a per-WARC index not in them,
    or left untidy (see :func:`~archive.index.merged.untidy`)."""
    return not merged_path(coll).is_file() or bool(pending(coll)) or untidy(coll)


def _index(coll: CollectionDir, rebuild: bool) -> tuple[list[Path], list[str], dict[str, dict[str, Any]]]:
    """The work of :func:`update_indexes` under the index lock: the indexes written, why
    each WARC left out could not be indexed, and the WARCs stated lost (all of them when
    every manifest is read, else those whose index was still there)."""
    sizes = _closed_sizes(coll)
    known = None if rebuild else _known(coll)
    unindexed = []
    strays: dict[str, str] = {}  # (WARCs no manifest lists whose indexes are to go, and why)
    orphans: list[tuple[Path, str, str]] = []  # (indexes of no WARC here: the index, its WARC, why it goes)
    every: dict[str, dict[str, Any]] | None = None  # (every manifest's entries, once read: a damaged one said once)
    if known is None:
        every = _manifest_entries(coll, None)
        lost = stated_lost(coll, listed=every)
        warcs = [coll.warcs / name for name in sizes]
        wanted = {index_name(w) for w in warcs} | {index_name(coll.warcs / name) for name in lost}
        for stale in coll.indexes.glob("*.cdxj"):
            if stale.name in wanted:
                continue
            made_of = _source_name(stale)
            names = warc_names_of(stale.name) + ([made_of] if made_of is not None else [])
            if any(name in every or coll.receipt(name).is_file() for name in names):
                # its WARC is gone, listed (pushed with --delete-local, or missing: said below)
                log.info("keeping index %s of a WARC not present locally", stale.name)
                continue
            name = names[-1]  # (the WARC its sidecar names, else x.warc: an earlier version's x.cdxj)
            if name in sizes:  # (x.warc's, named x.cdxj by an earlier version: it has its own name now)
                orphans.append((stale, name, ""))
            else:  # (a file no manifest lists, put there and taken away: its captures are no more)
                orphans.append((stale, name, "it is gone, and no manifest lists it"))
        for name in sorted(every.keys() - sizes.keys() - lost.keys()):
            if not coll.receipt(name).is_file():  # (no receipt of push --delete-local)
                unindexed.append(f"{coll.warcs / name} is listed in a manifest but not in the store, nor pushed by "
                                 "`archive push --delete-local`: restore it, or, if it is gone for good, state its "
                                 f"loss (`archive verify {coll.root} --accept-loss {every[name]['path']} --reason "
                                 f"TEXT`){KEPT}")
            elif not (coll.indexes / index_name(coll.warcs / name)).is_file():
                # (pushed away by a version that did not index it first: its captures are in no index)
                unindexed.append(f"{coll.warcs / name} was removed by `archive push --delete-local` before it was "
                                 f"indexed, and its captures are in no index: bring it back with "
                                 f"`{_pull_command(coll, name)}`, then run `archive index`")
        stale = [w for w in warcs if rebuild or sizes[w.name] < 0 or not is_current(coll.indexes / index_name(w), w)]
    else:  # (a WARC the last update did not leave current may have been indexed before)
        lost = stated_lost(coll, indexed=True)
        warcs = [coll.warcs / name for name, size in sizes.items() if known.get(name) != size]
        stale = [w for w in warcs if sizes[w.name] < 0 or not is_current(coll.indexes / index_name(w), w)]
    behind = {w.name for w in stale}
    stale += _keyed_then(coll, [w for w in warcs if w.name not in behind])
    listed = every if every is not None else _manifest_entries(coll, {w.name for w in stale}) if stale else {}
    todo: list[tuple[Path, str | None]] = []
    failed = set()
    for warc in stale:
        # A WARC cut short would give an index of fewer captures that claims the
        # manifest's digest: it is not indexed until it is the size its manifest says.
        entry = listed.get(warc.name, {})
        size = sizes[warc.name]
        if size < 0:
            unindexed.append(f"{warc} cannot be read (not a file, or its size cannot be had): run `archive verify`"
                             f"{KEPT}")
            failed.add(warc.name)
        elif entry.get("size") not in (None, size):
            unindexed.append(f"{warc} is {size} bytes, its manifest says {entry['size']}: run `archive verify`{KEPT}")
            failed.add(warc.name)
        elif not entry and (job := _ended_job_of(coll, warc)) is not None:
            # Not a WARC of a job still running or one that died (their captures are shown
            # before a manifest lists them): a copy, or a file put there since; its captures
            # would be shown twice, or be none of the chain's.
            unindexed.append(f"{warc} is listed in no manifest, though its job {job} has one (a copy, or a file put "
                             "there after the job ended): not indexed, and any index of it removed; move it out of "
                             "the store (`archive verify` says the same)")
            failed.add(warc.name)
            if _made_of(coll.indexes / index_name(warc), warc):
                strays[warc.name] = "no manifest lists it"
        else:
            todo.append((warc, entry.get("sha256")))
    # Each WARC is read whole twice (checked, then indexed): on every core for a rebuild.
    from archive.checks import each_in_lanes

    calls = [(_index_one, (warc, coll.indexes, sha)) for warc, sha in todo]
    try:
        built = each_in_lanes(calls, [sizes[warc.name] for warc, _ in todo])
    except RuntimeError as exc:  # (a lane ended without its results: killed, out of memory)
        log.warning("indexing on every core stopped (%s): indexing in this process instead", exc)
        built = [fn(*args) for fn, args in calls]
    indexed = [target for target, _ in built if target is not None]
    for (warc, _), (_, why) in zip(todo, built, strict=True):
        if why is not None:
            unindexed.append(why + KEPT)
            failed.add(warc.name)
    forgotten = _forget(coll, lost)
    for name, why in strays.items():
        forgotten = _forget(coll, [name], why) or forgotten
    for index, name, why in orphans:
        forgotten = _remove_index(index, name, why or None) or forgotten
    if rebuild or indexed or forgotten or (_merged_behind(coll) if known is None else untidy(coll)):
        # With the note, only the indexes just written can differ from what the merged files hold
        # (an index removed, of a WARC stated lost, has the merged files made again).
        compact(coll, full=rebuild, changed=None if known is None else {p.name for p in indexed})
    _note(coll, {name: size for name, size in sizes.items() if name not in failed})
    return indexed, unindexed, lost


def _keyed_then(coll: CollectionDir, warcs: list[Path]) -> list[Path]:
    """Of ``warcs``, whose indexes are current, those whose index an earlier version made
    with keys of another form than a capture of theirs has now (a POST's without its body:
    replay did not find it), to be made again; the others' sidecars are marked as keyed as
    now, so that they are not looked at again (:mod:`archive.index.keys`)."""
    again = []
    for warc in warcs:
        index = coll.indexes / index_name(warc)
        if keyed_as_now(index):
            continue
        try:
            otherwise = keyed_otherwise(index, warc)
        except StoreError as exc:  # (indexed again, it is named as damaged, its index kept)
            log.warning("%s", exc)
            otherwise = True
        if otherwise:
            log.info("index %s is keyed as an earlier version keyed it: made again", index.name)
            again.append(warc)
        else:
            mark_keyed(index)
    return again


def _pull_command(coll: CollectionDir, name: str) -> str:
    """The `archive pull` of ``coll`` from where its receipt says ``name`` went."""
    try:
        url = str(json.loads(coll.receipt(name).read_bytes())["url"])
    except (OSError, ValueError, KeyError, TypeError):
        url = ""
    tail = f"/{coll.name}/warcs/{name}"
    source = f" --from {shlex.quote(url.removesuffix(tail))}" if url.endswith(tail) else ""
    return f"archive pull{source} --collection {shlex.quote(coll.name)} --store {shlex.quote(str(coll.root.parent))}"


def _ended_job_of(coll: CollectionDir, warc: Path) -> str | None:
    """The job whose warcinfo opens ``warc``, if that job has a manifest a reader can build
    on (which, then, does not list it; one that cannot be read lists nothing, its WARCs
    indexed all the same)."""
    from archive.verify import warcinfo_job_id

    try:
        job = warcinfo_job_id(warc)
        raw = coll.manifest(job).read_bytes() if job is not None else None
    except (OSError, ValueError):  # (an id that names no file, or none at all)
        return None
    if raw is None or problem_of(parsed(raw), raw) is not None:
        return None
    return job


def _made_of(index: Path, warc: Path) -> bool:
    """Whether ``index`` is one made of ``warc`` (or of a WARC its sidecar does not say), not
    of another WARC an earlier version named its index so (``x.cdxj``: ``x.warc.gz``'s and
    ``x.warc``'s both)."""
    made_of = _source_name(index)
    return made_of is None or made_of == warc.name


def _index_one(warc: Path, out_dir: Path, sha256: str | None) -> tuple[Path | None, str | None]:
    """:func:`index_warc`: the index written, or why it could not be (its old one, if any, is
    left as it was)."""
    try:
        return index_warc(warc, out_dir, warc_sha256=sha256), None
    except StoreError as exc:
        return None, str(exc)


def _searched(coll: CollectionDir) -> list[Path]:
    """The index files a look-up searches: the merged files and the per-WARC ones not yet in them."""
    return merged_files(coll) + unmerged(coll)


def _retried(look_up: Callable[[CollectionDir, str], list[CdxjEntry]]) -> Callable[[CollectionDir, str], list[CdxjEntry]]:
    """``look_up``, tried again when a file it was to search went meanwhile: a job's end
    merging smaller merged files into a larger one removes them."""

    @functools.wraps(look_up)
    def again(coll: CollectionDir, url: str) -> list[CdxjEntry]:
        for _ in range(4):
            try:
                return look_up(coll, url)
            except FileNotFoundError:
                continue
        return look_up(coll, url)

    return again


@_retried
def lookup_url(coll: CollectionDir, url: str) -> list[CdxjEntry]:
    """Every indexed capture of ``url``, oldest first: those of this very URL where there
    are any, else those of every URL of its SURT key. The key folds what is another page on
    most sites (the case of a path, a trailing slash, the order of query parameters: ``/trail``
    and ``/trail/``), and what is the same page (``http`` and ``https``, ``www.``)."""
    key = url_key(url)
    lines = {(line, path) for path in _searched(coll) for line in lines_for_key(path, key)}
    entries = {line: entry_or_none(line, f"{path}, a line of {key}") for line, path in lines}
    found = [entry for _, entry in sorted(entries.items()) if entry is not None]
    target = canonical_or_none(url)
    same = [e for e in found if e.url == url or canonical_or_none(e.url) == target] if target is not None else []
    return same or found


def find_original(coll: CollectionDir, uri: str, date: str | None, digest: str | None, *,
                  head_only: bool = False) -> ArchivedRecord | None:
    """The record holding the payload a revisit refers to, or None when it is not in the
    store or cannot be read (said in the log); ``head_only``: its headers alone
    (:func:`archive.index.records.read_record`).

    WARC 1.1 §6.7: ``WARC-Refers-To-Target-URI`` (``uri``) and ``-Date`` (``date``) name
    the original; failing those, any capture with the same payload ``digest`` will do (dedup
    within a collection crosses URLs).
    """
    from warcio.timeutils import iso_date_to_timestamp

    from archive.index.records import read_record

    candidates = [e for e in lookup_url(coll, uri) if not e.is_revisit]
    wanted_ts = iso_date_to_timestamp(date) if date else None
    ranked = sorted(candidates, key=lambda e: (e.timestamp != wanted_ts, e.digest != digest))
    choice = next((e for e in ranked if e.timestamp == wanted_ts or e.digest == digest), None)
    if choice is None and digest:
        from archive.catalog import by_digest

        rows = by_digest(coll, digest)
        if rows:
            row = rows[0]
            choice = CdxjEntry(row["urlkey"], row["timestamp"],
                               {"url": row["url"], "filename": row["filename"], "offset": row["offset"],
                                "length": row["length"], "digest": row["digest"], "mime": row["mime"]})
    if choice is None:
        return None
    try:
        return read_record(coll, choice.filename, choice.offset, choice.length, head_only=head_only)
    except StoreError as exc:
        # (a WARC stated lost, still in indexes not brought up to date since: said by whoever asked)
        lost = not (coll.warcs / choice.filename).exists() and choice.filename in stated_lost(coll)
        log.log(logging.INFO if lost else logging.WARNING, "revisit original unreadable: %s", exc)
        return None


# Query parameters that scripts add to defeat caches (jQuery's "_", and their like), whose
# values a replayed page makes anew every time, so that no capture has them.
_CACHE_BUSTERS = frozenset({"_", "cb", "bust", "cachebust", "cachebuster", "cache_buster", "nocache", "rnd", "rand"})
MAX_NEAR_MISSES = 2000  # index lines of the same path with a query looked at for one URL, at most


def _steady(query: str) -> list[str]:
    """The parameters of a SURT key's query (sorted already, as written) that are not cache-busters."""
    return [part for part in query.split("&") if part and part.partition("=")[0] not in _CACHE_BUSTERS]


@_retried
def lookup_near(coll: CollectionDir, url: str) -> list[CdxjEntry]:
    """Captures of ``url`` but for cache-busting query parameters (``?_=1717171717``, ``&rnd=…``:
    added, left out or with another value), oldest first: what replay finds for a script
    that asks with a value no capture has. Every other parameter must be the same, as
    written."""
    key = url_key(url)
    base, _, query = key.partition("?")
    wanted = _steady(query)
    steady_key = f"{base}?{'&'.join(wanted)}" if wanted else base
    files = _searched(coll)
    lines: dict[bytes, Path] = {}
    if steady_key != key:  # (the URL without its cache-busters, captured as such)
        lines.update((line, path) for path in files for line in lines_for_key(path, steady_key))
    if not lines:  # captures that had cache-busters of their own
        for path in files:
            for line in islice(iter_prefix(path, (base + "?").encode("utf-8")), MAX_NEAR_MISSES):
                other = line.split(b" ", 1)[0].decode("utf-8", "replace")
                if other != key and _steady(other.partition("?")[2]) == wanted:
                    lines[line] = path
    entries = {line: entry_or_none(line, f"{path}, a line near {key}") for line, path in lines.items()}
    return [entry for _, entry in sorted(entries.items()) if entry is not None]


def pad_timestamp(prefix: str) -> str:
    """A timestamp prefix as 14 digits, padded to the end of the period it names (as pywb).

    ``2026`` is the last second of 2026, ``202602`` that of February 2026.
    """
    digits = prefix[:14] + "99991231235959"[len(prefix[:14]):]
    year, month = max(int(digits[:4]), 1), min(max(int(digits[4:6]), 1), 12)
    day = min(max(int(digits[6:8]), 1), _month_days(year, month))
    hour, minute, second = min(int(digits[8:10]), 23), min(int(digits[10:12]), 59), min(int(digits[12:14]), 59)
    return f"{year:04d}{month:02d}{day:02d}{hour:02d}{minute:02d}{second:02d}"


def _month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _seconds(ts: str) -> float:
    return datetime.strptime(ts[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()


def closest(entries: list[CdxjEntry], timestamp: str | None) -> list[CdxjEntry]:
    """``entries`` ordered best first: nearest to ``timestamp``, or newest when it is None."""
    if timestamp is None:
        return sorted(entries, key=lambda e: e.timestamp, reverse=True)
    target = _seconds(pad_timestamp(timestamp))
    return sorted(entries, key=lambda e: (abs(_seconds(e.timestamp) - target), -_seconds(e.timestamp)))
