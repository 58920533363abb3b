"""``archive verify``: every record digest, every file against its manifest, the manifest
chain, and the schemas. Problems are collected, never raised, each naming the file and the
offset, line or field, so one run tells the whole story.

Accepts a store, a collection directory, a manifest, or a single WARC.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.digests import sha256_file
from archive.errors import UsageError
from archive.manifest import SIDECAR, read_manifests
from archive.store import CollectionDir, is_locked
from archive.validation import problems as schema_problems
from archive.warc.reader import check_records
from archive.warc.writer import OPEN_SUFFIX


@dataclass
class Problem:
    path: Path
    where: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.message}" if self.where else f"{self.path}: {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0
    manifests: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, path: Path, where: str | None, message: str) -> None:
        self.problems.append(Problem(path, where, message))


def verify(path: Path) -> Report:
    """Check whatever ``path`` is; raise :class:`UsageError` only if it is none of the kinds."""
    path = Path(path)
    report = Report()
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if path.is_file():
        if path.name.endswith(".warc.gz"):
            coll = _collection_of(path)
            listed = _listed_files(coll) if coll else {}
            _check_warc(path, report, listed.get(f"warcs/{path.name}"))
        elif path.name.endswith(".warc.gz" + OPEN_SUFFIX):
            _check_open(path, report)
        elif path.suffix == ".json" and path.parent.name == "manifests":
            _check_collection(CollectionDir(path.parent.parent), report, only=path)
        else:
            raise UsageError(f"{path} is not a WARC (.warc.gz), a manifest, or a directory to verify")
        return report
    if _is_collection(path):
        _check_collection(CollectionDir(path), report)
        return report
    collections = sorted(p for p in path.iterdir() if p.is_dir() and _is_collection(p))
    if not collections:
        raise UsageError(f"{path} is neither a store nor a collection (no warcs/ or manifests/ inside)")
    for coll in collections:
        _check_collection(CollectionDir(coll), report)
    return report


def _is_collection(path: Path) -> bool:
    return (path / "manifests").is_dir() or (path / "warcs").is_dir()


def _collection_of(warc: Path) -> CollectionDir | None:
    root = warc.parent.parent
    return CollectionDir(root) if warc.parent.name == "warcs" and (root / "manifests").is_dir() else None


def _listed_files(coll: CollectionDir) -> dict[str, dict[str, Any]]:
    listed: dict[str, dict[str, Any]] = {}
    for _, doc, _ in read_manifests(coll):
        for entry in (doc or {}).get("files", []) if isinstance(doc, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                listed[entry["path"]] = entry
    return listed


# -- WARC files -----------------------------------------------------------------------------


def _check_warc(path: Path, report: Report, entry: dict[str, Any] | None) -> int:
    """Check every record; compare with the manifest entry when there is one."""
    report.files += 1
    count = 0
    for record in check_records(path):
        count += 1
        for message in record.problems:
            report.add(path, f"offset {record.offset}", message)
    report.records += count
    if count == 0:
        report.add(path, None, "empty file, no records")
    elif entry is not None:
        _compare_entry(path, entry, report, records=count)
    return count


def _compare_entry(path: Path, entry: dict[str, Any], report: Report, *, records: int | None = None) -> None:
    sha, size = sha256_file(path)
    if size != entry.get("size"):
        report.add(path, "size", f"file is {size} bytes, manifest says {entry.get('size')}")
    if sha != entry.get("sha256"):
        report.add(path, "sha256", f"file hashes to {sha}, manifest says {entry.get('sha256')}")
    if records is not None and entry.get("records") is not None and records != entry["records"]:
        report.add(path, "records", f"file has {records} records, manifest says {entry['records']}")


def _check_open(path: Path, report: Report) -> None:
    if is_locked(path):
        report.notes.append(f"{path}: being written by a running job")
    else:
        report.add(path, None, "incomplete file of a job that did not finish; run `archive verify --repair` on its collection")


def warcinfo_job_id(path: Path) -> str | None:
    """The ``jobId`` field of the warcinfo record that opens a WARC, if readable."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    try:
        data = zlib.decompressobj(31).decompress(head, 1 << 16)
    except zlib.error:
        return None
    for line in data.split(b"\r\n"):
        if line.startswith(b"jobId:"):
            return line[6:].strip().decode("utf-8", "replace")
    return None


# -- capture logs -----------------------------------------------------------------------------


def _check_log(path: Path, report: Report) -> int:
    report.files += 1
    lines = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            lines += 1
            if not raw.endswith(b"\n"):
                report.add(path, f"line {number}", "last line is not terminated (cut off)")
            try:
                doc = json.loads(raw)
            except ValueError as exc:
                report.add(path, f"line {number}", f"not valid JSON ({exc.msg})")
                continue
            for message in schema_problems("capture-log", doc):
                report.add(path, f"line {number}", message)
    return lines


# -- collections, manifests, chain ----------------------------------------------------------


def _check_collection(coll: CollectionDir, report: Report, only: Path | None = None) -> None:
    manifests = read_manifests(coll)
    docs: list[tuple[Path, dict[str, Any], bytes]] = []
    for path, doc, raw in manifests:
        if only is not None and path != only:
            continue
        report.manifests += 1
        _check_sidecar(path, raw, report)
        if doc is None:
            report.add(path, None, "not valid JSON")
            continue
        for message in schema_problems("manifest", doc):
            report.add(path, message.split(": ", 1)[0], message.split(": ", 1)[1])
        docs.append((path, doc, raw))
    _check_chain(manifests, report, only)

    listed: dict[str, tuple[Path, dict[str, Any]]] = {}
    for mpath, doc, _ in docs:
        for index, entry in enumerate(doc.get("files", [])):
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                continue
            listed[entry["path"]] = (mpath, entry)
            target = coll.root / entry["path"]
            if not target.is_file():
                report.add(mpath, f"files[{index}]", f"{entry['path']} is missing")
                continue
            if entry.get("kind") == "warc":
                _check_warc(target, report, entry)
            elif entry.get("kind") == "capture-log":
                lines = _check_log(target, report)
                _compare_entry(target, entry, report, records=lines)
            else:
                report.files += 1
                _compare_entry(target, entry, report)
    if only is not None:
        return
    live = _live_jobs(coll)
    for warc in sorted(coll.warcs.glob("*.warc.gz")) if coll.warcs.is_dir() else []:
        if f"warcs/{warc.name}" not in listed:
            job = warcinfo_job_id(warc)
            if job in live:
                report.notes.append(f"{warc}: written by running job {job}")
            else:
                _check_warc(warc, report, None)
                report.add(warc, None, "not listed in any manifest; run `archive verify --repair` if its job was killed")
    for open_file in sorted(coll.warcs.glob("*" + OPEN_SUFFIX)) if coll.warcs.is_dir() else []:
        _check_open(open_file, report)
    for log in sorted(coll.logs.glob("*.captures.jsonl")) if coll.logs.is_dir() else []:
        if f"logs/{log.name}" not in listed and log.name.split(".")[0] not in live:
            _check_log(log, report)
            report.add(log, None, "not listed in any manifest; run `archive verify --repair` if its job was killed")
    for open_log in sorted(coll.logs.glob("*.captures.jsonl" + OPEN_SUFFIX)) if coll.logs.is_dir() else []:
        if open_log.name.split(".")[0] in live:
            report.notes.append(f"{open_log}: being written by a running job")
        else:
            report.add(open_log, None, "incomplete log of a job that did not finish; run `archive verify --repair`")


def _live_jobs(coll: CollectionDir) -> set[str]:
    """Jobs whose capture log is still open and locked by a running process."""
    if not coll.logs.is_dir():
        return set()
    return {p.name.split(".")[0] for p in coll.logs.glob("*.captures.jsonl" + OPEN_SUFFIX) if is_locked(p)}


def _check_sidecar(path: Path, raw: bytes, report: Report) -> None:
    sidecar = path.with_name(path.name + SIDECAR)
    if not sidecar.is_file():
        report.add(path, None, f"sidecar {sidecar.name} is missing")
        return
    declared = sidecar.read_text("utf-8", "replace").split()
    actual = hashlib.sha256(raw).hexdigest()
    if not declared or declared[0] != actual:
        report.add(path, None, f"does not match its sidecar {sidecar.name} (file hashes to {actual})")


def _check_chain(manifests: list[tuple[Path, dict[str, Any] | None, bytes]], report: Report, only: Path | None) -> None:
    by_seq: dict[int, tuple[Path, dict[str, Any], bytes]] = {}
    for path, doc, raw in manifests:
        seq = doc.get("sequence") if doc else None
        if not isinstance(seq, int):
            continue
        if seq in by_seq:
            report.add(path, "sequence", f"sequence {seq} also used by {by_seq[seq][0].name} (the chain forks)")
            continue
        by_seq[seq] = (path, doc, raw)  # type: ignore[assignment]
    for seq in sorted(by_seq):
        path, doc, _ = by_seq[seq]
        if only is not None and path != only:
            continue
        previous = doc.get("previous")
        if seq == 1:
            if previous is not None:
                report.add(path, "previous", "the first manifest of a collection must have previous = null")
            continue
        before = by_seq.get(seq - 1)
        if before is None:
            report.add(path, "sequence", f"manifest {seq - 1} of the chain is missing")
            continue
        if not isinstance(previous, dict):
            report.add(path, "previous", "missing link to the previous manifest")
            continue
        expected = "sha256:" + hashlib.sha256(before[2]).hexdigest()
        if previous.get("sha256") != expected:
            report.add(path, "previous.sha256", f"says {previous.get('sha256')}, but {before[0].name} hashes to {expected}")
        if previous.get("job_id") != before[0].stem:
            report.add(path, "previous.job_id", f"says {previous.get('job_id')}, but manifest {seq - 1} is {before[0].stem}")
