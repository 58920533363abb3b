"""Job manifests: the chain of custody.

A manifest lists every file a job wrote with size, SHA-256 and record count, and holds the
SHA-256 of the collection's previous manifest, so the manifests form a hash chain in write
order (``sequence`` 1, 2, ...). Each is validated before it is written, written atomically,
and given a ``<job-id>.json.sha256`` sidecar in ``sha256sum`` format.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from archive.errors import StoreError
from archive.store import CollectionDir, directory_state, write_atomic
from archive.validation import problems, validate

SIDECAR = ".sha256"
# At the collection's root: the newest manifest of the chain, as the last write left it (not
# pushed, as no dot file is).
HEAD = ".chain-head"
# How the ``finish_reason`` of a manifest that `archive verify --repair` wrote begins (the
# job died; no crawl of it extracts or ends it now).
REPAIRED_AT = "repaired at "


def iter_manifests(coll: CollectionDir, *, newest_first: bool = False) -> Iterator[tuple[Path, dict[str, Any] | None,
                                                                                      bytes]]:
    """Every manifest file of a collection, in the order of their names (the reverse with
    ``newest_first``): path, parsed JSON (None if unparsable), raw bytes. One at a time, so
    that a reader keeps only what it needs, or stops (a year of half-hourly jobs is 17,500
    manifests). What is named like one but is no file is passed over."""
    try:
        names = sorted((name for name in os.listdir(coll.manifests) if name.endswith(".json")), reverse=newest_first)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        path = coll.manifests / name
        if not path.is_file():  # (a folder or a broken link named like one: verify says so)
            continue
        raw = path.read_bytes()
        yield path, parsed(raw), raw


def parsed(raw: bytes) -> dict[str, Any] | None:
    """A manifest file's JSON object, or None if it holds none."""
    # (the json module: orjson reads an integer past 64 bits as a float, which would change
    # what a configuration with one hashes to)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def files_listed(coll: CollectionDir, job_id: str) -> dict[str, dict[str, Any]] | None:
    """The files the manifest of ``job_id`` lists, by path (``warcs/x.warc.gz``); None where
    there is no such manifest, or it cannot be read as one (verify names it)."""
    try:
        doc = parsed(coll.manifest(job_id).read_bytes())
    except (OSError, ValueError):  # (ValueError: an id of a NUL, as another tool's WARC may name)
        return None
    files = doc.get("files") if doc is not None else None
    if not isinstance(files, list):
        return None
    return {f["path"]: f for f in files if isinstance(f, dict) and isinstance(f.get("path"), str)}


def problem_of(doc: dict[str, Any] | None, raw: bytes | None = None) -> str | None:
    """Why a manifest read by :func:`iter_manifests` is not one a reader can build on (its
    first schema problem, and how many more), or None. ``raw``: its bytes, to tell JSON
    that is no object from no JSON at all."""
    if doc is None:
        return _unparsed(raw)
    found = problems("manifest", doc)
    if not found:
        return None
    return found[0] + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")


def _unparsed(raw: bytes | None) -> str:
    """What is wrong with a manifest file :func:`parsed` found no object in."""
    if raw is not None:
        try:
            json.loads(raw)
        except RecursionError:
            return "(top level): nested too deeply to be read"
        except ValueError:
            return "not valid JSON"
    return "(top level): not a JSON object"


def jobs_in_order(coll: CollectionDir, *, doing: str) -> list[tuple[Path, dict[str, Any]]]:
    """Every manifest of ``coll``, parsed and valid against the manifest schema, in chain
    order. The first that is not raises :class:`StoreError` naming it, its problem and
    ``doing`` (what was therefore not done): what is built on all of a collection's jobs
    (article versions, datasets) would otherwise stop on a value of the wrong type halfway,
    or leave a job out without a word."""
    jobs = []
    for path, doc, raw in iter_manifests(coll):
        problem = problem_of(doc, raw)
        if problem is not None:
            raise StoreError(f"{path} is not a readable manifest: {problem}; run `archive verify`; {doing}")
        jobs.append((path, doc))
    return sorted(jobs, key=lambda item: item[1]["sequence"])


def chain_head(coll: CollectionDir) -> tuple[int, dict[str, str] | None]:
    """The next sequence number and the ``previous`` pointer for a new manifest.

    The newest manifest is the one of the highest sequence. The last write recorded it
    (:data:`HEAD`), with the state of the manifests' directory then; while that state holds,
    the record stands, so that a job's end does not read every manifest of the collection
    (a year of half-hourly jobs is 17,500 of them). Anything else (a manifest restored by
    ``archive pull``, one removed, a write that stopped before its record) changes the
    directory, and every manifest is read, as without a record."""
    note = _noted_head(coll)
    if note is not None and note[2] is not None and note[2] == directory_state(coll.manifests):
        return note[0] + 1, note[1]
    best: tuple[int, Path, bytes] | None = None
    for path, doc, raw in iter_manifests(coll):
        seq = doc.get("sequence") if doc else None
        if isinstance(seq, int) and (best is None or seq > best[0]):
            best = (seq, path, raw)
    lost = _lost(coll, note, best[0] if best is not None else 0)
    if lost is not None:
        # The newest manifest written here is gone: the new one chains to it all the same,
        # so that the gap stays in the chain for verify to find, not closed over by a
        # manifest that takes its place.
        return lost[0] + 1, lost[1]
    if best is None:
        return 1, None
    seq, path, raw = best
    return seq + 1, {"job_id": path.stem, "sha256": "sha256:" + hashlib.sha256(raw).hexdigest()}


def lost_newest(coll: CollectionDir, highest: int) -> tuple[int, dict[str, str]] | None:
    """The sequence and pointer of the newest manifest the collection noted writing
    (:data:`HEAD`), where that manifest is gone: its sequence is past ``highest``, the
    highest of the manifests there, and no manifest of its job is there. None otherwise."""
    return _lost(coll, _noted_head(coll), highest)


def _lost(coll: CollectionDir, note: tuple[int, dict[str, str], Any] | None,
          highest: int) -> tuple[int, dict[str, str]] | None:
    if note is None or note[0] <= highest or coll.manifest(note[1]["job_id"]).exists():
        return None
    return note[0], note[1]


def _noted_head(coll: CollectionDir) -> tuple[int, dict[str, str], Any] | None:
    """The note of :data:`HEAD` (:func:`noted_head`); None where there is no readable one."""
    try:
        return noted_head(coll)
    except ValueError:
        return None


def noted_head(coll: CollectionDir) -> tuple[int, dict[str, str], Any] | None:
    """The note of :data:`HEAD`: the newest manifest's sequence, its pointer, and the state
    of the manifests' directory when it was written. None where there is none (no manifest
    written yet; a store restored by ``archive pull``, which pushes no dot file and lets the
    note go as it puts a manifest in place); :class:`ValueError` saying why where there is
    one that cannot be read."""
    try:
        raw = (coll.root / HEAD).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("not valid JSON") from None
    noted = (isinstance(doc, dict) and isinstance(doc.get("sequence"), int) and isinstance(doc.get("job_id"), str)
             and isinstance(doc.get("sha256"), str))
    if not noted:
        raise ValueError("no sequence, job id and SHA-256 of a manifest in it")
    return doc["sequence"], {"job_id": doc["job_id"], "sha256": doc["sha256"]}, doc.get("manifests")


def sidecar_names(text: str, sha256_hex: str) -> bool:
    """Whether a ``.sha256`` sidecar's ``text`` (``<hex>  <name>``) gives ``sha256_hex``."""
    return text.split()[:1] == [sha256_hex]


def noted_newest_job(coll: CollectionDir) -> str | None:
    """The job whose manifest the collection noted as its newest when it was written
    (:data:`HEAD`), whether or not the manifests' directory has changed since; None if there
    is no readable note."""
    try:
        job = json.loads((coll.root / HEAD).read_bytes()).get("job_id")
    except (OSError, ValueError, AttributeError):
        return None
    return job if isinstance(job, str) else None


def _record_head(coll: CollectionDir, sequence: int, job_id: str, sha256: str) -> None:
    """Note the manifest just written as the chain's newest (:func:`chain_head`). Best
    effort: without the note the next write reads every manifest."""
    state = directory_state(coll.manifests)
    if state is None:
        return
    with contextlib.suppress(OSError):  # (a note left from before cannot match: the directory has changed)
        write_atomic(coll.root / HEAD, json.dumps({"sequence": sequence, "job_id": job_id, "sha256": sha256,
                                                   "manifests": state}).encode())


def encode(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_manifest(coll: CollectionDir, doc: dict[str, Any]) -> Path:
    """Chain, validate and write ``doc``; the caller holds ``coll.locked()``."""
    sequence, previous = chain_head(coll)
    doc = dict(doc, sequence=sequence, previous=previous)
    validate("manifest", doc)
    raw = encode(doc)
    path = coll.manifest(doc["job_id"])
    sidecar = path.with_name(path.name + SIDECAR)
    for there in (path, sidecar):  # (a sidecar alone is the trace of a manifest lost: not to be written over)
        if there.exists():
            raise FileExistsError(f"{there} exists; manifests are written once")
    digest = hashlib.sha256(raw).hexdigest()
    write_atomic(sidecar, f"{digest}  {path.name}\n".encode())
    try:
        write_atomic(path, raw)
    except BaseException:
        if not path.exists():
            sidecar.unlink(missing_ok=True)  # (a full disk: no sidecar of a manifest that is not there)
        raise
    _record_head(coll, sequence, doc["job_id"], "sha256:" + digest)
    return path
