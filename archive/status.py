"""``archive status``: per collection, the last job, the next due run, and the last verify.

Read from the store alone: manifests (last job), job files (running jobs hold theirs
locked), the schedule in the newest job's configuration (its manifest's, or its job file's
while it has none), and ``verify-state.json``,
which ``archive verify`` writes for every collection it checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError

from archive.capture_log import error_count
from archive.errors import UsageError
from archive.losses import still_lost
from archive.manifest import iter_manifests, noted_newest_job, problem_of
from archive.schedule import (
    SCHEDULE_LOCK,
    beating,
    last_attempt,
    newest_job,
    next_fire,
    output_path,
    previous_fire,
    schedulers_of,
)
from archive.store import (
    COLLECTION_NAME,
    CollectionDir,
    collections_in,
    is_collection,
    is_locked,
    jobs_without_manifest,
    no_store,
    running_jobs,
    write_atomic,
)
from archive.warc.writer import OPEN_SUFFIX

VERIFY_STATE = "verify-state.json"


def record_verify(collections: list[CollectionDir], problem_paths: list[Path], when: datetime) -> list[str]:
    """Remember, per collection, whether the verify that just ran found problems in it.

    Returns why it could not for some (a full disk, a read-only store): the verify itself
    stands, only ``archive status`` will not know of it."""
    unwritten = []
    for coll in collections:
        root = coll.root.resolve()
        # (a link is where it lies, not where it points: one pointing nowhere is the collection's;
        # the collection's own folder, a link itself, is the collection however it is spelt)
        where = [p.parent.resolve() / p.name for p in problem_paths]
        mine = [p for p in where if root in p.parents or p in (root, coll.root.parent.resolve() / coll.root.name)]
        state = {"time": when.isoformat(), "ok": not mine, "problems": len(mine)}
        try:
            # (two verifies ending at once each write their own, and the later stands: with one
            # name for both the new file, one renamed the other's away, and said it could not)
            write_atomic(coll.root / VERIFY_STATE, (json.dumps(state, sort_keys=True) + "\n").encode(),
                         tmp_name=f".{VERIFY_STATE}.{os.getpid()}.{threading.get_ident()}.tmp")
        except OSError as exc:
            unwritten.append(f"{coll.root / VERIFY_STATE}: {exc.strerror or exc}")
    return unwritten


def collection_status(coll: CollectionDir, now: datetime, scheduler: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``archive status`` shows of ``coll``. ``scheduler``: what the scheduler that
    runs it last said (:func:`archive.schedule.schedulers_of`), if one does; only then is a
    run long due and not started said to be missed."""
    # The last job is the one started last of the manifests a reader can build on (not the
    # last in the chain: a killed job's manifest written by a later `verify --repair` comes
    # after the jobs that ran meanwhile); the damaged ones are named. (Read one at a time,
    # and only the newest kept.)
    jobs, damaged = 0, []
    last_path: Path | None = None
    last: dict[str, Any] | None = None
    for path, doc, raw in iter_manifests(coll):
        jobs += 1
        problem = problem_of(doc, raw)
        if problem is not None:
            damaged.append(f"{path}: {problem}")
        elif last is None or _started_after(doc, last):
            last_path, last = path, doc
    noted = noted_newest_job(coll)
    if noted is not None and not (coll.manifests / f"{noted}.json").exists():
        # (lost since it was written: the job is no DIED one, and the last job shown is older)
        damaged.append(f"{coll.manifests / (noted + '.json')}: the newest manifest written here (.chain-head names it) "
                       "is missing; restore it with `archive pull`")
    out: dict[str, Any] = {"collection": coll.name, "path": str(coll.root), "jobs": jobs,
                           "running": running_jobs(coll), "died": died_jobs(coll),
                           "last_job": None, "next_run": None, "missed": None,
                           "scheduled_by": None if scheduler is None else scheduler["file"], "verify": None,
                           "failed_start": None, "damaged": damaged}
    # A scheduled run newer than every job: it failed before its job began (a full disk, an
    # unwritable store), and left only the scheduler's output file to say why.
    newest = newest_job(coll, now)
    tried, started = last_attempt(coll, now), None if newest is None else newest[2]
    # (not while the scheduler holds the collection's lock: the run is starting, its job file
    # a second or so away, or running)
    if tried is not None and (started is None or started < tried) and not is_locked(coll.root / SCHEDULE_LOCK):
        out["failed_start"] = {"at": tried.isoformat(),
                               "output": str(output_path(coll, tried))}
    if last is not None:
        counts = last["counts"]
        out["last_job"] = {
            "job_id": last["job_id"], "started": last["started"], "finished": last["finished"],
            "outcome": last["outcome"], "pages": counts["captured"], "bytes": counts["bytes"],
            "failures": counts["failed"],
            "errors": error_count(counts),
        }
    # The schedule of the newest job: its manifest's, or (a first job still running, or one
    # newer than the last manifest) its job file's.
    config, where = (last["config"], last_path) if last is not None else (None, None)
    if newest is not None and (last is None or str(newest[1].get("job_id")) > str(last["job_id"])):
        config, where = newest[1].get("config"), newest[0]
    if isinstance(config, dict) and config.get("schedule"):
        schedule, timezone = config.get("schedule"), config.get("timezone")
        try:
            out["next_run"] = next_fire(schedule, ZoneInfo(timezone or "UTC"), now).isoformat()
        except CroniterBadDateError:
            pass  # (no date to come: a year's schedule, run out)
        except (ValueError, KeyError):  # (croniter's errors are ValueErrors, ZoneInfo's a KeyError)
            # The manifest's schema takes any string; a job never runs with one of these.
            damaged.append(f"{where}: config: schedule {schedule!r} in time zone {timezone or 'UTC'!r} "
                           "cannot be read")
    if scheduler is not None:
        # As the scheduler that runs it runs it now (its schedule may have changed since its
        # last job; a one-off crawl into it may have had none).
        # (the last job's manifest says when it began too, its job file moved aside)
        latest = max((t for t in (tried, started, _time_of(last, "started")) if t is not None), default=None)
        try:
            zone = ZoneInfo(scheduler["timezone"] or "UTC")
            with contextlib.suppress(CroniterBadDateError):
                out["next_run"] = next_fire(scheduler["schedule"], zone, now).isoformat()
            if not out["running"]:
                out["missed"] = _missed(coll, scheduler["schedule"], zone, latest, last, now, scheduler)
        except (ValueError, KeyError, OverflowError):  # (files edited by hand: a schedule no scheduler runs, a
            pass                                        # job started in year 1)
    out["lost"] = still_lost(coll)  # (files gone for good, their loss stated: said, not a failure)
    state = coll.root / VERIFY_STATE
    if state.exists() or state.is_symlink():  # (a folder or a broken link there is no record: unreadable)
        out["verify"] = _verify_state(state)
    return out


# How long after its fire time (or the end of the job before it, which held it back) a
# scheduled run that has not started is said to be missed: the scheduler looks every few
# seconds, and its job's files appear within a second or two of its start.
MISSED_AFTER = timedelta(minutes=10)


def _missed(coll: CollectionDir, schedule: str, zone: ZoneInfo, latest: datetime | None,
            last: dict[str, Any] | None, now: datetime, scheduler: dict[str, Any]) -> dict[str, Any] | None:
    """The first fire time of ``schedule`` whose run has not started though it is long due
    (``latest``: when a job of the collection last started, or the scheduler last tried to
    start one), and what its scheduler last said: it stopped or died, or it cannot read its
    collections file. (Not asked while a job of the collection runs; None while the
    scheduler holds it.)"""
    took_on = scheduler["since"]
    if took_on is not None:
        # The runs due before its scheduler took the collection on were not its to start,
        # but for the last of them, which it starts at once (a new collection's first).
        due_then = previous_fire(schedule, zone, took_on)
        if due_then is not None and (latest is None or latest < due_then):
            latest = due_then - timedelta(microseconds=1)
    fire = previous_fire(schedule, zone, now)
    if fire is None or (latest is not None and latest >= fire):
        return None
    if latest is not None:
        # The first run missed, not the latest: a schedule of every few minutes has always
        # fired a moment ago, and its scheduler may have been dead for hours. (A local time
        # the autumn's change of clocks repeats is one the scheduler fires at once, for a
        # schedule of fixed hours: its repeat is passed over, by next_fire as by previous_fire.)
        fire = min(fire, next_fire(schedule, zone, latest))
    since = max(fire, _time_of(last, "finished") or fire, took_on or fire)
    if now - since < MISSED_AFTER or is_locked(coll.root / SCHEDULE_LOCK):
        return None
    said = {key: scheduler[key] for key in ("config", "pid", "host", "stopped", "once", "file")}
    said["seen"] = scheduler["seen"].isoformat()
    # (one run by a timer looks once and ends: whether it looked since the run was due)
    said["running"] = beating(said["stopped"], said["once"], now - scheduler["seen"])
    said["looked_since"] = scheduler["seen"] >= fire
    return {"due": fire.isoformat(), "scheduler": said}


def _started_after(doc: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether the job of manifest ``doc`` started after ``other``'s (at the same time, or
    either time unreadable, whether it comes after it in the chain)."""
    started, before = _time_of(doc, "started"), _time_of(other, "started")
    if started is None or before is None or started == before:
        return doc["sequence"] > other["sequence"]
    try:
        return started > before
    except TypeError:  # (a time without its zone, in a manifest edited by hand)
        return doc["sequence"] > other["sequence"]


def _time_of(manifest: dict[str, Any] | None, key: str) -> datetime | None:
    """The time a manifest's ``key`` (``started``, ``finished``) gives, if it gives one."""
    try:
        return datetime.fromisoformat(manifest[key]) if manifest is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def needs_attention(row: dict[str, Any]) -> bool:
    """Whether a collection's status (:func:`collection_status`) says something is wrong: a
    manifest it cannot read, a job that died, a scheduled run that did not start, or a
    verify that last failed (`archive status` then exits 1, for cron and monitors)."""
    verify = row["verify"]
    failed = verify is not None and verify["ok"] is False and not verify.get("unreadable")
    return bool(row["damaged"] or row["died"] or row["failed_start"] or row["missed"] or failed)


def died_jobs(coll: CollectionDir) -> list[str]:
    """The jobs that began and left a capture log, and neither run now nor have a manifest
    (:func:`~archive.store.jobs_without_manifest`, as repair finds them): killed, or the
    machine lost, before they could write one (`archive verify --repair` closes them). The
    last job status shows is the one before them, its verify from before too. Not the job
    whose manifest the collection noted writing (lost since: verify says so)."""
    noted = noted_newest_job(coll)
    died = []
    for job in jobs_without_manifest(coll):
        log = coll.capture_log(job)
        if job != noted and (log.exists() or log.with_name(log.name + OPEN_SUFFIX).exists()):
            died.append(job)
    return died


def _verify_state(path: Path) -> dict[str, Any]:
    """What the last verify found, or, if the file is not what ``record_verify`` writes, a
    state that says so (status must still report on the rest)."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("time"), str) and isinstance(doc.get("ok"), bool) \
            and isinstance(doc.get("problems"), int):
        return doc
    return {"time": None, "ok": False, "problems": None, "unreadable": str(path)}


def store_status(store: Path, now: datetime | None = None) -> list[dict[str, Any]]:
    store = Path(store)
    if not store.is_dir():
        raise UsageError(no_store(store))
    now = now or datetime.now(UTC)
    # (a collection's folder given as the store: its store's schedulers)
    alone = is_collection(store)
    schedulers = schedulers_of(store.parent if alone else store)
    colls = collections_in(store)
    if not alone:
        # A collection a scheduler runs whose first job has not made its folder (none due
        # yet, or its scheduler died first) is shown too: its runs can be missed.
        known = {coll.name for coll in colls}
        colls += [CollectionDir(store / name) for name in schedulers
                  if name not in known and COLLECTION_NAME.fullmatch(name)]
        colls.sort(key=lambda coll: coll.name)
    return [collection_status(coll, now, schedulers.get(coll.name)) for coll in colls]
