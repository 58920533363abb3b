"""The per-collection index: the per-WARC CDXJ files merged into one sorted file.

``indexes/merged/<collection>.cdxj`` is compacted from the per-WARC files with a streaming
k-way merge (nothing is loaded whole), so a lookup is one binary search however many WARCs
accumulate. Its sidecar lists the per-WARC indexes merged in, with their SHA-256; a file
not yet merged is still searched (:func:`archive.index.lookup_url`), so a lagging merge
is slower, never wrong. It lives in a sub-directory of its own, which is what pywb is
given (``archive replay --pywb-config``): pywb searches every ``*.cdxj`` of its index
directory at each look-up, and ``indexes/`` holds one per WARC. (A per-WARC index not yet
merged, in a store that cannot be written, is found by our replay and not by pywb.)
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from archive.index.cdxj import CDXJ_SUFFIX, DERIVED_SUFFIX, read_derived, tool_info, write_json
from archive.store import CollectionDir, exclusively, replacing

log = logging.getLogger(__name__)

MERGED_DIR = "merged"


def merged_path(coll: CollectionDir) -> Path:
    return coll.indexes / MERGED_DIR / f"{coll.name}{CDXJ_SUFFIX}"


def warc_indexes(coll: CollectionDir) -> list[Path]:
    """The per-WARC CDXJ files of a collection, sorted by name."""
    if not coll.indexes.is_dir():
        return []
    return sorted((p for p in coll.indexes.glob("*" + CDXJ_SUFFIX) if p.is_file()), key=_name)


def _name(path: Path) -> str:
    return path.name  # (a sort key: comparing Paths themselves costs ten times as much)


def merged_sources(coll: CollectionDir) -> dict[str, str]:
    """Names of the per-WARC indexes already in the merged index, with their SHA-256."""
    path = merged_path(coll)
    doc = read_derived(path)
    if doc is None or not path.is_file():
        return {}
    return {src["path"].rsplit("/", 1)[-1]: src.get("sha256", "") for src in doc.get("derived_from", [])}


# Per index directory: what unmerged() found, and the state it found it in.
_UNMERGED: dict[Path, tuple[tuple[int, ...], list[Path]]] = {}


def unmerged(coll: CollectionDir) -> list[Path]:
    """The per-WARC indexes the merged index does not hold, by name: what a look-up searches
    besides it. (Each holds the lines of a closed WARC, which never change, so its name is
    enough here; compaction compares content too, see :func:`pending`.)

    Kept while neither the index directory nor the merged index's sidecar changes: replay
    looks up a URL for every resource of a page, and reading the sidecar of every WARC's
    index each time cost 38 ms a look-up in a collection of 1,500 WARCs."""
    sidecar = merged_path(coll).with_name(merged_path(coll).name + DERIVED_SUFFIX)
    try:
        folder, merged = coll.indexes.stat(), sidecar.stat()
        state: tuple[int, ...] | None = (folder.st_mtime_ns, folder.st_ino, merged.st_mtime_ns, merged.st_size,
                                         merged.st_ino)
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


def _checked(fh: BinaryIO, expected: str) -> Iterator[bytes]:
    """The lines of ``fh``; at its end, _Damaged unless their SHA-256 is ``expected``."""
    digest = hashlib.sha256()
    for line in fh:
        digest.update(line)
        yield line
    if "sha256:" + digest.hexdigest() != expected:
        raise _Damaged


def compact(coll: CollectionDir, *, full: bool = False) -> Path:
    """Merge every per-WARC index into the merged index; return its path.

    Only the new per-WARC files are merged into an existing merged index; when one it
    holds has gone or changed, or it is not what was written (``full`` forces it), it is
    rebuilt from all of them.
    """
    path = merged_path(coll)
    path.parent.mkdir(parents=True, exist_ok=True)
    current = {p.name: p for p in warc_indexes(coll)}
    sources = merged_sources(coll)
    new = pending(coll)
    written = (read_derived(path) or {}).get("sha256")
    incremental = (not full and path.is_file() and isinstance(written, str) and set(sources) <= set(current)
                   and not any(p.name in sources for p in new))
    try:
        lines, digest = _merge(path, new, old=written) if incremental else _merge(path, list(current.values()))
    except _Damaged:
        log.warning("%s is not the index that was written (damaged or edited); rebuilt from the per-WARC "
                    "indexes", path)
        incremental = False
        lines, digest = _merge(path, list(current.values()))
    derived: list[dict[str, Any]] = []
    for name in sorted(current):
        doc = read_derived(current[name]) or {}
        derived.append({"path": f"indexes/{name}", "sha256": doc.get("sha256", "")})
    write_json(path.with_name(path.name + DERIVED_SUFFIX),
               {"derived_from": derived, "tool": tool_info(), "lines": lines, "sha256": "sha256:" + digest})
    log.info("merged index %s: %d lines from %d files (%s)", path, lines, len(current),
             "incremental" if incremental else "full")
    return path


def _merge(path: Path, inputs: list[Path], *, old: str | None = None) -> tuple[int, str]:
    """Write ``inputs`` merged (with ``path`` itself, checked against its SHA-256 ``old``,
    when given) as ``path``; its line count and SHA-256."""
    digest, lines = hashlib.sha256(), 0
    # Data first, then the sidecar: a crash in between leaves files listed as pending,
    # searched twice (lookups drop duplicate lines), never files missing from lookups.
    with replacing(path) as tmp, contextlib.ExitStack() as stack:
        handles: list[Iterator[bytes]] = [stack.enter_context(open(p, "rb")) for p in inputs]
        if old is not None:
            handles.append(_checked(stack.enter_context(open(path, "rb")), old))
        with open(tmp, "wb") as out:
            for line in _dedup(heapq.merge(*handles)):
                out.write(line)
                digest.update(line)
                lines += 1
    return lines, digest.hexdigest()
