"""The per-collection index: the per-WARC CDXJ files merged into a few sorted files.

``indexes/merged/<collection>.cdxj`` and, beside it, smaller ``<collection>.1.cdxj``,
``<collection>.2.cdxj``, ... (each at most an eighth of the one before, in lines) are
compacted from the per-WARC files with a streaming k-way merge (nothing is loaded whole),
so a lookup is a binary search in each, however many WARCs accumulate. A job's end merges
its new per-WARC files into the smallest of them, and that one into the next larger once it
holds an eighth as many lines (``FANOUT``), so a line is rewritten a few times in the life of
a collection, not at every job's end. Each file's sidecar lists the per-WARC indexes merged
in, with their SHA-256; a file not yet merged is still searched
(:func:`archive.index.lookup_url`), so a lagging merge is slower, never wrong. They live in
a sub-directory of their own, which is what pywb is given (``archive replay
--pywb-config``): pywb searches every ``*.cdxj`` of its index directory at each look-up,
and ``indexes/`` holds one per WARC. (A per-WARC index not yet merged, in a store that
cannot be written, is found by our replay and not by pywb.)
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from archive.index.cdxj import CDXJ_SUFFIX, DERIVED_SUFFIX, read_derived, tool_info, write_json
from archive.store import CollectionDir, exclusively, replacing

log = logging.getLogger(__name__)

MERGED_DIR = "merged"


FANOUT = 8  # a merged file is merged into the next larger one once it holds this fraction of its lines


def merged_path(coll: CollectionDir) -> Path:
    """The largest merged file (the only one of a young collection)."""
    return coll.indexes / MERGED_DIR / f"{coll.name}{CDXJ_SUFFIX}"


def _level_path(coll: CollectionDir, level: int) -> Path:
    return merged_path(coll) if level == 0 else coll.indexes / MERGED_DIR / f"{coll.name}.{level}{CDXJ_SUFFIX}"


def merged_files(coll: CollectionDir) -> list[Path]:
    """The merged files there are, largest first (up to the first missing one)."""
    found = []
    while (path := _level_path(coll, len(found))).is_file():
        found.append(path)
    return found


def merged_lines(coll: CollectionDir) -> int:
    """Lines in all the merged files, as their sidecars record them."""
    return sum(int((read_derived(path) or {}).get("lines", 0)) for path in merged_files(coll))


def warc_indexes(coll: CollectionDir) -> list[Path]:
    """The per-WARC CDXJ files of a collection, sorted by name."""
    return [coll.indexes / name for name in _warc_index_names(coll)]


def _warc_index_names(coll: CollectionDir) -> list[str]:
    try:
        with os.scandir(coll.indexes) as entries:
            return sorted(e.name for e in entries
                          if e.name.endswith(CDXJ_SUFFIX) and not e.name.startswith(".") and e.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _sources(path: Path) -> dict[str, str] | None:
    """The per-WARC indexes merged into ``path``, with their SHA-256; None without a sidecar."""
    doc = read_derived(path)
    if doc is None:
        return None
    return {src["path"].rsplit("/", 1)[-1]: src.get("sha256", "") for src in doc.get("derived_from", [])}


def merged_sources(coll: CollectionDir) -> dict[str, str]:
    """Names of the per-WARC indexes already in the merged files, with their SHA-256."""
    held: dict[str, str] = {}
    for path in merged_files(coll):
        held.update(_sources(path) or {})
    return held


# Per index directory: what unmerged() found, and the state it found it in.
_UNMERGED: dict[Path, tuple[tuple[int, ...], list[Path]]] = {}


def unmerged(coll: CollectionDir) -> list[Path]:
    """The per-WARC indexes the merged index does not hold, by name: what a look-up searches
    besides it. (Each holds the lines of a closed WARC, which never change, so its name is
    enough here; compaction compares content too, see :func:`pending`.)

    Kept while neither the index directory nor the merged files' directory changes: replay
    looks up a URL for every resource of a page, and reading the sidecar of every WARC's
    index each time cost 38 ms a look-up in a collection of 1,500 WARCs."""
    try:  # (a merged file or sidecar written is renamed into its directory: the directory changes)
        folder, merged = coll.indexes.stat(), (coll.indexes / MERGED_DIR).stat()
        state: tuple[int, ...] | None = (folder.st_mtime_ns, folder.st_ino, merged.st_mtime_ns, merged.st_ino)
    except OSError:
        state = None
    known = _UNMERGED.get(coll.indexes)
    if state is not None and known is not None and known[0] == state:
        return known[1]
    held = merged_sources(coll)
    found = [p for p in warc_indexes(coll) if p.name not in held]
    if state is not None:
        _UNMERGED[coll.indexes] = (state, found)
    return found


def pending(coll: CollectionDir) -> list[Path]:
    """Per-WARC indexes not (or no longer identically) in the merged index."""
    merged = merged_sources(coll)
    out = []
    for index in warc_indexes(coll):
        doc = read_derived(index)
        if index.name not in merged or doc is None or doc.get("sha256") != merged[index.name]:
            out.append(index)
    return out


@contextlib.contextmanager
def index_lock(coll: CollectionDir) -> Iterator[None]:
    """Two jobs ending at once must not compact over each other."""
    coll.indexes.mkdir(parents=True, exist_ok=True)
    with exclusively(coll.indexes / ".lock"):
        yield


def _dedup(lines: Iterator[bytes]) -> Iterator[bytes]:
    last = None
    for line in lines:
        if line != last:
            yield line
        last = line


class _Damaged(Exception):
    """The merged index differs from what its sidecar says was written."""


def _checked(fh: BinaryIO, expected: str, path: Path) -> Iterator[bytes]:
    """The lines of ``fh``; at its end, _Damaged(path) unless their SHA-256 is ``expected``."""
    digest = hashlib.sha256()
    for line in fh:
        digest.update(line)
        yield line
    if "sha256:" + digest.hexdigest() != expected:
        raise _Damaged(path)


def _held(files: list[Path]) -> dict[str, str] | None:
    """The per-WARC indexes the merged ``files`` hold, with their SHA-256; None when they are
    not as written: a file without its sidecar, or of another size than it records (damaged,
    or replaced by a crash before its sidecar was), or two holding the same index (a crash
    before those merged into a larger one were removed)."""
    union: dict[str, str] = {}
    for path in files:
        doc, sources, size = read_derived(path), _sources(path), path.stat().st_size
        # (a sidecar written before sizes were recorded is believed)
        if doc is None or sources is None or doc.get("size", size) != size or union.keys() & sources.keys():
            return None
        union.update(sources)
    return union


def untidy(coll: CollectionDir) -> bool:
    """Whether the merged files need making again though no per-WARC index is new: see
    :func:`_held`, and a merged file beyond the first missing level (pywb would search it)."""
    files = merged_files(coll)
    return bool(files) and (_held(files) is None or bool(_orphans(coll, keep=len(files))))


def compact(coll: CollectionDir, *, full: bool = False, changed: set[str] | None = None) -> Path:
    """Merge the per-WARC indexes not yet merged into the merged files; return the largest.

    The new ones are merged into the smallest merged file, with it and each next larger one
    that holds no more than ``FANOUT`` times the lines merged so far (a new smallest file
    when there is none such). When a merged file holds a per-WARC index that has gone or
    changed, two hold the same one, one is not what was written, or ``full`` asks for it,
    all are made again as one file from every per-WARC index. ``changed``: the names of
    the only per-WARC indexes that may differ from what the merged files hold of them (the
    caller knows the rest are as they were merged); None, any of them.
    """
    base = merged_path(coll)
    base.parent.mkdir(parents=True, exist_ok=True)
    current = _warc_index_names(coll)
    files = merged_files(coll)
    union = _held(files)
    new = [coll.indexes / name for name in current if union is not None and name not in union]
    consistent = (not full and bool(files) and union is not None and union.keys() <= set(current)
                  and all((read_derived(coll.indexes / name) or {}).get("sha256") == sha for name, sha in union.items()
                          if changed is None or name in changed))
    if consistent:
        try:
            _merge_in(coll, files, new)
            return base
        except _Damaged as exc:
            log.warning("%s is not the index that was written (damaged or edited); all are made again from the "
                        "per-WARC indexes", exc.args[0])
    _write_level(coll, 0, [coll.indexes / name for name in current], [])
    for stale in _orphans(coll, keep=1):
        stale.unlink(missing_ok=True)
    log.info("merged index %s: made again from %d files", base, len(current))
    return base


def _merge_in(coll: CollectionDir, files: list[Path], new: list[Path]) -> None:
    """Merge ``new`` per-WARC indexes into the smallest of ``files`` (largest first), and
    on up while each next larger one holds no more than FANOUT times the lines so far."""
    if not new:
        return
    lines = sum(int((read_derived(p) or {}).get("lines", 0)) for p in new)
    absorbed: list[Path] = []
    while len(absorbed) < len(files):
        bigger = files[len(files) - 1 - len(absorbed)]
        size = int((read_derived(bigger) or {}).get("lines", 0))
        if size > FANOUT * lines:
            break
        absorbed.append(bigger)
        lines += size
    level = len(files) - len(absorbed)
    _write_level(coll, level, new, absorbed)
    # Last, after the new file and its sidecar: a crash before this leaves lines in two
    # files (looked up once: duplicates are dropped), which the next compaction sees and
    # mends by making all again.
    for stale in _orphans(coll, keep=level + 1):
        stale.unlink(missing_ok=True)


def _write_level(coll: CollectionDir, level: int, inputs: list[Path], merged: list[Path]) -> None:
    """Write the merged file of ``level`` from per-WARC indexes and merged files (each
    checked against the SHA-256 its sidecar records as it is read), and its sidecar."""
    path = _level_path(coll, level)
    checked = [(p, (read_derived(p) or {}).get("sha256", "")) for p in merged]
    lines, digest = _merge(path, inputs, checked)
    derived: list[dict[str, Any]] = [
        {"path": f"indexes/{p.name}", "sha256": (read_derived(p) or {}).get("sha256", "")} for p in inputs]
    for p in merged:
        derived += [{"path": f"indexes/{name}", "sha256": sha} for name, sha in (_sources(p) or {}).items()]
    write_json(path.with_name(path.name + DERIVED_SUFFIX),
               {"derived_from": sorted(derived, key=lambda d: d["path"]), "tool": tool_info(), "lines": lines,
                "size": path.stat().st_size, "sha256": "sha256:" + digest})
    log.info("merged index %s: %d lines from %d per-WARC indexes and %d merged files", path, lines, len(inputs),
             len(merged))


def _orphans(coll: CollectionDir, *, keep: int) -> list[Path]:
    """Merged files (and sidecars) of levels ``keep`` and up: merged into a larger one, or
    left behind by a crash."""
    folder = coll.indexes / MERGED_DIR
    found = []
    for path in folder.glob(f"{coll.name}.*{CDXJ_SUFFIX}*") if folder.is_dir() else []:
        level = path.name[len(coll.name) + 1:].split(".", 1)[0]
        if level.isdigit() and int(level) >= keep:
            found.append(path)
    return found


def _merge(path: Path, inputs: list[Path], checked: list[tuple[Path, str]]) -> tuple[int, str]:
    """Write ``inputs`` and ``checked`` (files each with the SHA-256 it must have) merged as
    ``path``, which may be one of them; its line count and SHA-256."""
    digest, lines = hashlib.sha256(), 0
    # Data first, then the sidecar: a crash in between leaves files listed as pending,
    # searched twice (lookups drop duplicate lines), never files missing from lookups.
    with replacing(path) as tmp, contextlib.ExitStack() as stack:
        handles: list[Iterator[bytes]] = [stack.enter_context(open(p, "rb")) for p in inputs]
        handles += [_checked(stack.enter_context(open(p, "rb")), expected, p) for p, expected in checked]
        with open(tmp, "wb") as out:
            for line in _dedup(heapq.merge(*handles)):
                out.write(line)
                digest.update(line)
                lines += 1
    return lines, digest.hexdigest()
