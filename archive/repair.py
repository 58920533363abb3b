"""``archive verify --repair``: close what a killed job left open.

A dead job's ``.warc.gz.open`` is cut at the end of its last complete, valid record and
renamed; its ``.captures.jsonl.open`` is cut after its last complete line and renamed; then
the job gets a manifest with outcome ``interrupted`` (counts re-derived from its log), so
the chain of custody covers the salvaged files too. Files of a live job (lock held) are
left alone.

Only a damaged tail is cut, as a crash leaves one: a record torn by the kill, or bytes that
never reached the disk. Damage with good records or lines after it is not what a crash
leaves (a fault of the storage, an edit), and cutting there would lose the good ones: it is
kept in place, said (``RepairReport.damage``), and reported by every verify from then on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.capture_log import Tally
from archive.digests import sha256_file
from archive.errors import StoreError
from archive.jsonl import numbered_rows, row_of
from archive.manifest import (
    HEAD,
    REPAIRED_AT,
    SIDECAR,
    iter_manifests,
    noted_newest_job,
    write_manifest,
)
from archive.store import CollectionDir, collections_in, is_locked, jobs_without_manifest
from archive.verify import open_of_a_closed_job, warcinfo_job_id
from archive.warc.reader import check_records
from archive.warc.records import utcnow, warc_date
from archive.warc.writer import OPEN_SUFFIX

log = logging.getLogger(__name__)


@dataclass
class RepairReport:
    closed: list[str] = field(default_factory=list)
    dropped_bytes: int = 0
    manifests: list[Path] = field(default_factory=list)
    skipped_live: list[str] = field(default_factory=list)
    not_files: list[str] = field(default_factory=list)  # named like an open file, but a directory or the like
    # Open WARCs of a job that has a manifest not listing them: "FILE: why", left as they are.
    not_the_jobs: list[str] = field(default_factory=list)
    # Damage kept because good records or lines follow it: "FILE: offset N: what" / "FILE: line N: what".
    damage: list[str] = field(default_factory=list)


def repair(path: Path) -> RepairReport:
    """Repair every collection under ``path`` (a store or one collection)."""
    path = Path(path)
    report = RepairReport()
    collections = collections_in(path)
    for coll in collections:  # (before any change: a repair is done whole or not begun)
        for sub in coll.not_directories():
            raise StoreError(f"{sub} is not a directory: move it aside, and repair again; nothing was repaired")
        pulled_from = coll.unfinished_pull()
        if pulled_from is not None:
            # Its jobs did not die: their files and manifests are in the bucket, still to come.
            raise StoreError(f"{coll.root}: an `archive pull` from {pulled_from} into it did not finish; run it "
                             "again rather than a repair, which would take its jobs for killed ones; nothing was "
                             "repaired")
        lost = _lost_manifests(coll)
        if lost is not None:
            raise StoreError(lost)
    for coll in collections:
        _repair_collection(coll, report)
    return report


def _repair_collection(coll: CollectionDir, report: RepairReport) -> None:
    for open_warc in sorted(coll.warcs.glob("*" + OPEN_SUFFIX)) if coll.warcs.is_dir() else []:
        if not open_warc.is_file():  # nothing to cut, and not ours to delete or rename
            report.not_files.append(str(open_warc))
            continue
        if is_locked(open_warc):
            report.skipped_live.append(str(open_warc))
            continue
        closed = open_of_a_closed_job(coll, open_warc)
        if closed is not None:
            report.not_the_jobs.append(f"{open_warc}: {closed}; move it out of the collection")
            continue
        end, kept_damage, torn = _warc_end(open_warc)
        size = open_warc.stat().st_size
        final = open_warc.with_name(open_warc.name[: -len(OPEN_SUFFIX)])
        if end == 0 and torn:
            # Not even a warcinfo record survived, and what is there is the start of one cut
            # short (or nothing): there is nothing to keep.
            open_warc.unlink()
            report.dropped_bytes += size
            continue
        if end == 0:
            # No record reads whole, but these bytes are not a write cut short: not ours to
            # throw away. Kept, under the closed name, for verify to report.
            end = size
            kept_damage.append(f"offset 0: no record reads whole, and these {size} bytes are not a write cut "
                               "short: kept as they are")
        report.damage += [f"{open_warc.name[: -len(OPEN_SUFFIX)]}: {what}" for what in kept_damage]
        with open(open_warc, "r+b") as fh:
            fh.truncate(end)
            os.fsync(fh.fileno())
        os.rename(open_warc, final)
        report.closed.append(str(final))
        report.dropped_bytes += size - end
    for open_log in sorted(coll.logs.glob("*.captures.jsonl" + OPEN_SUFFIX)) if coll.logs.is_dir() else []:
        if not open_log.is_file():
            report.not_files.append(str(open_log))
            continue
        if is_locked(open_log):
            report.skipped_live.append(str(open_log))
            continue
        kept, kept_damage = _cut_log(open_log, _record_ends(coll))
        report.damage += [f"{open_log.name[: -len(OPEN_SUFFIX)]}: {what}" for what in kept_damage]
        report.dropped_bytes += open_log.stat().st_size - kept
        with open(open_log, "r+b") as fh:
            fh.truncate(kept)
            os.fsync(fh.fileno())
        final = open_log.with_name(open_log.name[: -len(OPEN_SUFFIX)])
        os.rename(open_log, final)
        report.closed.append(str(final))
    _write_missing_manifests(coll, report)


def _record_ends(coll: CollectionDir) -> dict[str, int]:
    """How far each closed WARC of the collection reaches, after repair."""
    return {p.name: p.stat().st_size for p in coll.warcs.glob("*.warc.gz")} if coll.warcs.is_dir() else {}


def _warc_end(path: Path) -> tuple[int, list[str], bool]:
    """Where an open WARC is to be cut: just past its last complete, valid record. Damage
    before that record is kept, and comes back described ("offset N: what"); and whether
    the file holds no more than a first gzip member cut short (or nothing), as a crash
    during its first write leaves it."""
    with open(path, "rb") as fh:
        start = fh.read(3)
    if len(start) < 3:
        return 0, [], b"\x1f\x8b\x08".startswith(start)  # (the start of a gzip header, or nothing)
    end, damage, pending = 0, [], []
    torn = True
    for number, record in enumerate(check_records(path), 1):
        if record.complete and not record.problems:
            end = record.offset + record.length
            damage += pending
            pending = []
        else:
            pending.append(f"offset {record.offset}: {'; '.join(record.problems)}")
            # (a member the file ends inside, not one that is not gzip or does not inflate)
            torn = torn and number == 1 and (record.cut or "incomplete" in " ".join(record.problems))
    return end, damage, torn


def _cut_log(path: Path, ends: dict[str, int]) -> tuple[int, list[str]]:
    """Bytes of the log to keep: up to its last complete line that is a capture-log line
    whose record survived, and the damage kept before it ("line N: what").

    A line pointing at a record past the end of its (cut) WARC describes a capture that was
    lost with the crash: it and everything after it are dropped, as is a torn last line.
    """
    kept = size = 0
    damage: list[str] = []
    pending: list[str] = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            size += len(raw)
            if not raw.endswith(b"\n"):
                break
            row = row_of(raw, "capture-log")
            if isinstance(row, str):
                pending.append(f"line {number}: {row}")
                continue
            warc = row.get("warc")
            if warc and warc["offset"] + warc["length"] > ends.get(warc["filename"], 0):
                break
            kept = size
            damage += pending
            pending = []
    return kept, damage


def _lost_manifests(coll: CollectionDir) -> str | None:
    """Why the collection is not to be repaired, or None: a job there has no manifest, and
    the chain misses one or the sidecar of the job's is there. That job may well have
    finished, its manifest the one lost (a file deleted, a copy pulled without it); an
    "interrupted" manifest written for it would say what did not happen, and stand in the
    way of the real one coming back."""
    orphans = jobs_without_manifest(coll)
    if not orphans:
        return None
    advice = ("Restore it from a copy (`archive pull`); with none left, move logs/{job}.job.json aside to have the "
              "job's files left unlisted; nothing was repaired")
    # The newest manifest written here, as the collection noted it (.chain-head): a job of
    # it that has no manifest now had one.
    noted = noted_newest_job(coll)
    if noted in orphans:
        return (f"{coll.root}: job {noted} has no manifest, but one was written for it (the collection's "
                f"{HEAD} names it): it finished, its manifest lost since. " + advice.format(job=noted))
    missing = _chain_gaps(coll)
    if missing:
        which = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        return (f"{coll.root}: the manifest chain misses number {which}, and job {orphans[0]}"
                f"{f' (and {len(orphans) - 1} more)' if len(orphans) > 1 else ''} has no manifest: it may have "
                "finished, its manifest the one missing. " + advice.format(job=orphans[0]))
    # A manifest's sidecar is written just before it: one there for a job without a
    # manifest says it was written, where the note is gone or damaged and the newest lost.
    for job in orphans:
        sidecar = coll.manifest(job).with_name(coll.manifest(job).name + SIDECAR)
        if sidecar.exists():
            return (f"{coll.root}: job {job} has no manifest, but the sidecar of one is there ({sidecar.name}): "
                    "it finished, its manifest lost since (unless a kill cut the manifest's write short: then "
                    f"move {sidecar.name} aside, and a repair writes the job an `interrupted` one). "
                    + advice.format(job=job))
    return None


def _chain_gaps(coll: CollectionDir) -> list[int]:
    """The sequence numbers the chain misses below its highest; none where a manifest is
    damaged, as it may be any number (verify names it; no gap is sure)."""
    sequences = set()
    for _, doc, _ in iter_manifests(coll):
        if not (isinstance(doc, dict) and isinstance(doc.get("sequence"), int)):
            return []
        sequences.add(doc["sequence"])
    return sorted(set(range(1, max(sequences, default=0))) - sequences)


def _write_missing_manifests(coll: CollectionDir, report: RepairReport) -> None:
    """Give every dead job that has a job file but no manifest an ``interrupted`` manifest."""
    for job_id in jobs_without_manifest(coll):
        log_path = coll.capture_log(job_id)
        if not log_path.exists():
            continue  # still running (its log is .open and locked) or never started
        report.manifests.append(_interrupted_manifest(coll, job_id, coll.job_file(job_id), log_path,
                                                      set(report.closed)))


def _interrupted_manifest(
    coll: CollectionDir, job_id: str, job_file: Path, log_path: Path, repaired: set[str]
) -> Path:
    try:
        job: dict[str, Any] = json.loads(job_file.read_text("utf-8"))
        started = datetime.fromisoformat(job["started"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{job_file}: not a readable job file ({type(exc).__name__}: {exc}); the job's WARCs and "
                         "log are closed, but it gets no manifest until the file is restored") from None
    files = []
    for warc in sorted(coll.warcs.glob("*.warc.gz")):
        if warcinfo_job_id(warc) != job_id:
            continue
        sha, size = sha256_file(warc)
        files.append({"path": f"warcs/{warc.name}", "kind": "warc", "size": size, "sha256": sha,
                      "records": sum(1 for _ in check_records(warc)), "repaired": str(warc) in repaired})
    tally = Tally()
    lines = 0
    last = started
    for lines, row in numbered_rows(log_path, "capture-log"):  # (lines: the count, once done)
        if not isinstance(row, str):  # (a damaged line kept in place is said, and verify reports it)
            tally.add(row)
            with contextlib.suppress(ValueError, TypeError):  # (a line's time unreadable, or without a zone)
                last = max(last, datetime.fromisoformat(row["started"]))
    sha, size = sha256_file(log_path)
    files.append({"path": f"logs/{log_path.name}", "kind": "capture-log", "size": size, "sha256": sha, "records": lines})
    sha, size = sha256_file(job_file)
    files.append({"path": f"logs/{job_file.name}", "kind": "job", "size": size, "sha256": sha})
    doc = dict(job)
    doc.update(
        manifest_version=1,
        started=warc_date(started),
        # (when its last fetch began, as near to its end as the files tell: not the repair's
        # time, which put it after jobs that ran after it)
        finished=warc_date(last),
        outcome="interrupted",
        finish_reason=f"{REPAIRED_AT}{warc_date(utcnow())} after the job died; files cut at their last complete record",
        counts=tally.as_dict(),
        files=files,
    )
    with coll.locked():
        path = write_manifest(coll, doc)
    log.info("wrote %s for interrupted job %s", path, job_id)
    return path
