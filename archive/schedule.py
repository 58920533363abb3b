"""Running collections when their cron expressions say so.

A collection is due when no job of it has started since its schedule last fired (cron in
UTC unless the collection sets ``timezone``). Each due collection runs as its own
``archive crawl`` process, one at a time per collection: a per-collection lock
(``flock``, released by the kernel when its holder dies, so a dead scheduler's lock is
simply taken over) keeps a second scheduler from starting it again. A job that fails is
reported and the collection runs again at its next fire time. The collections file is read
again whenever it changes, as cron reads a crontab.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

from archive.config import Collection
from archive.runtime import sigterm_on_parent_death
from archive.store import (
    CollectionDir,
    below_floor,
    collection_dir,
    in_the_way,
    job_id_time,
    write_atomic,
)

log = logging.getLogger(__name__)


def _zone(collection: Collection | dict) -> ZoneInfo:
    settings = collection.settings if isinstance(collection, Collection) else collection
    return ZoneInfo(settings.get("timezone") or "UTC")


def previous_fire(expr: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The latest fire time not after ``now``; None when it has never fired (a year to come).

    A local time the autumn's change of clocks repeats (02:30 twice) fires once, at its
    first, for a schedule of fixed hours and minutes, as cron runs it; one whose minute or
    hour is a wildcard fires in both hours, which are two hours of the day."""
    try:
        it = croniter(expr, now.astimezone(zone))
        fire = it.get_prev(datetime)
        fields = expr.split()
        if len(fields) >= 2 and "*" not in fields[0] and "*" not in fields[1]:
            with contextlib.suppress(CroniterBadDateError):  # (none before it: a year's first)
                before = it.get_prev(datetime)
                if before.replace(tzinfo=None) == fire.replace(tzinfo=None):
                    fire = before
        return fire.astimezone(UTC)
    except CroniterBadDateError:
        return None


def next_fire(expr: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The first fire time after ``now``: of a local time the autumn's change of clocks
    repeats, the first only, for a schedule of fixed hours and minutes, as
    :func:`previous_fire` has it (its repeat, an hour on, is no run)."""
    it = croniter(expr, now.astimezone(zone))
    fire = it.get_next(datetime).astimezone(UTC)
    for _ in range(4):  # (a repeat is followed by a time of another day, or hour)
        if previous_fire(expr, zone, fire + timedelta(microseconds=1)) == fire:
            break
        fire = it.get_next(datetime).astimezone(UTC)
    return fire


def _newest_first(coll: CollectionDir, pattern: str) -> list[Path]:
    """The collection's log files matching ``pattern``, newest first: their names start
    with the collection's name and then a UTC time stamp, so they sort by time."""
    return sorted(coll.logs.glob(pattern), reverse=True) if coll.logs.is_dir() else []


# A job or a start stamped more than this after now was stamped by a clock that ran ahead:
# it does not say when it ran, and counting it would keep a collection from being due again
# until the date it wrote.
AHEAD = timedelta(minutes=5)


def newest_job(coll: CollectionDir, now: datetime | None = None) -> tuple[Path, dict[str, Any], datetime] | None:
    """The newest job of the collection: its job file, what the file holds, and when the job
    started (job files are written at start and named by the job id, which holds its start
    time: only the newest readable one is read, not every job file a long-running
    collection has gathered); with ``now``, passing over jobs stamped more than
    :data:`AHEAD` after it, and taking those whose ids hold a time more than that after it
    (an ``ARCHIVE_JOB_ID`` given by hand) by when they started, not by their names."""
    ahead: list[tuple[Path, dict[str, Any], datetime]] = []  # (those ids, read as they come)
    for path in _newest_first(coll, "*.job.json"):
        try:
            doc = json.loads(path.read_text("utf-8"))
            started = datetime.fromisoformat(doc["started"])
        except (ValueError, KeyError, TypeError, OSError):
            log.warning("unreadable job file %s ignored", path)
            continue
        if now is None:
            return path, doc, started
        if started > now + AHEAD:
            continue
        named = job_id_time(path.name.removesuffix(".job.json"))
        if named is not None and named > now + AHEAD:
            ahead.append((path, doc, started))
            continue
        return max([*ahead, (path, doc, started)], key=lambda found: found[2])
    return max(ahead, key=lambda found: found[2], default=None)


def last_start(coll: CollectionDir, now: datetime | None = None) -> datetime | None:
    """When the newest job of the collection started (see :func:`newest_job`)."""
    found = newest_job(coll, now)
    return None if found is None else found[2]


_OUTPUT = ("schedule-", "%Y%m%dT%H%M%SZ", ".out")  # a scheduled job's output: logs/schedule-<UTC>.out


def output_path(coll: CollectionDir, started: datetime) -> Path:
    """Where the scheduler puts the output of the job it starts at ``started``."""
    prefix, stamp, suffix = _OUTPUT
    return coll.logs / f"{prefix}{started.astimezone(UTC).strftime(stamp)}{suffix}"


def last_attempt(coll: CollectionDir, now: datetime | None = None) -> datetime | None:
    """When the scheduler last started a job of the collection, from the name of the output
    file it gave that job (kept even when the job failed before writing its job file); with
    ``now``, passing over starts stamped more than :data:`AHEAD` after it."""
    prefix, stamp, suffix = _OUTPUT
    for path in _newest_first(coll, f"{prefix}*{suffix}"):
        try:
            tried = datetime.strptime(path.name[len(prefix):-len(suffix)], stamp).replace(tzinfo=UTC)
        except ValueError:
            continue
        if now is None or tried <= now + AHEAD:
            return tried
    return None


MEMO_SECONDS = 60.0


def is_due(collection: Collection, store: Path, now: datetime,
           memo: dict[str, tuple[Any, datetime | None, float]] | None = None) -> bool:
    """Whether the collection's latest fire time has passed since its newest job started
    or the scheduler last tried to start one (a job that failed at once is not retried
    before its next fire time). ``memo``: what an earlier call found, kept by the caller
    and read again only once the collection's ``logs/`` has changed (a collection run every
    few minutes for months has a hundred thousand files there, a second to list and sort)."""
    expr = collection.settings.get("schedule")
    if not expr:
        return False
    coll = collection_dir(store, collection.name)
    fire = previous_fire(expr, _zone(collection), now)
    if fire is None:
        return False
    try:
        st = os.stat(coll.logs)
        state: Any = (st.st_mtime_ns, st.st_ino, st.st_size)
    except OSError:
        state = None
    known = memo.get(collection.name) if memo is not None else None
    # (read again a minute on in any case: a file system whose times are coarse may show a
    # file added within the same tick as no change)
    if known is not None and state is not None and known[0] == state and time.monotonic() - known[2] < MEMO_SECONDS:
        latest = known[1]
    else:
        tried = [t for t in (last_start(coll, now), last_attempt(coll, now)) if t is not None]
        latest = max(tried) if tried else None
        if memo is not None:
            memo[collection.name] = (state, latest, time.monotonic())
    return latest is None or latest < fire


def _contents(path: Path) -> bytes | None:
    """The bytes of ``path``, None if it cannot be read (gone, or another error)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


@dataclass
class Run:
    collection: str
    process: subprocess.Popen[bytes]
    lock: IO[bytes]
    output: Path


SCHEDULE_LOCK = ".schedule.lock"  # at a collection's root, held by the scheduler for a job's start and run


class CollectionLock:
    """``<store>/<collection>/.schedule.lock``, held for the duration of a job."""

    @staticmethod
    def take(store: Path, name: str) -> IO[bytes] | None:
        path = collection_dir(store, name).root / SCHEDULE_LOCK
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+b")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n".encode())
            fh.flush()
        except BaseException:
            fh.close()
            raise
        return fh


def still_scheduled(config: Path, collections: list[Collection]) -> tuple[list[Collection], list[str]]:
    """The collections with a schedule that fires again, and why each other scheduled one
    is left out (a schedule that names no date to come, or whose year has passed)."""
    from archive.config import check_schedule
    from archive.errors import ConfigError

    kept, left = [], []
    for c in collections:
        if not c.settings.get("schedule"):
            continue
        try:
            check_schedule(c.settings, f"{config}: collection {c.name!r}", to_come=True)
        except ConfigError as exc:
            left.append(str(exc))
            continue
        kept.append(c)
    return kept, left


def _scheduled(config: Path, collections: list[Collection], report: Callable[[str], None]) -> list[Collection]:
    kept, left = still_scheduled(config, collections)
    for why in left:
        report(f"{why}; not scheduled")
    return kept


SCHEDULERS = ".schedulers"  # at the store's root: a file for each scheduler that ran on it
BEAT_SECONDS = 60.0


def beating(stopped: Any, once: Any, age: timedelta) -> bool:
    """Whether a scheduler's file says it runs: not stopped, no timer's one look, and last
    seen ``age`` ago, within three beats (it says so once a minute while it runs)."""
    return not (stopped or once) and age < timedelta(seconds=3 * BEAT_SECONDS)


def scheduler_file(store: Path, config: Path) -> Path:
    """The file in which the scheduler of the collections file ``config`` says, as it runs,
    which collections of ``store`` it runs (one per collections file: two schedulers of
    two files may share a store). Named by the file's path as given, made absolute but not
    resolved: a link swapped to a new version of the file is the same scheduler's."""
    key = hashlib.sha256(os.path.abspath(config).encode("utf-8")).hexdigest()[:16]
    return store / SCHEDULERS / f"{key}.json"


def schedulers_of(store: Path) -> dict[str, dict[str, Any]]:
    """What the schedulers that ran on ``store`` last said (their files,
    :func:`scheduler_file`), by the collection each runs: the scheduler's file, with the
    collection's ``schedule`` and ``timezone`` as it runs them, and ``since`` when (the newest
    file's, when two list a collection). A file that cannot be read, or says what no scheduler writes, is
    passed over: it says nothing."""
    found: dict[str, dict[str, Any]] = {}
    folder = store / SCHEDULERS
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text("utf-8"))
            seen = datetime.fromisoformat(doc["seen"])
            stopped = doc.get("stopped")
            if seen.tzinfo is None or (stopped is not None and datetime.fromisoformat(stopped).tzinfo is None):
                continue  # (a time of no zone, as no scheduler writes one)
            ran = {}
            for name, entry in doc["collections"].items():
                if not isinstance(entry["schedule"], str):
                    raise TypeError(name)
                ran[name] = (entry["schedule"], entry.get("timezone"), _aware(entry.get("since")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        said = {key: doc.get(key) for key in ("config", "pid", "host", "stopped")}
        said.update(seen=seen, once=doc.get("once") is True, file=str(path))
        for name, (schedule, timezone, since) in ran.items():
            if name not in found or found[name]["seen"] < seen:
                found[name] = dict(said, schedule=schedule, timezone=timezone if isinstance(timezone, str) else None,
                                   since=since)
    return found


def _aware(value: Any) -> datetime | None:
    """The time ``value`` gives, if it is one with its zone (a scheduler's file written
    before it said ``since``, or edited by hand, gives none)."""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else None


class Scheduler:
    """Starts due collections as ``archive crawl`` processes and waits for them."""

    def __init__(self, config: Path, collections: list[Collection], store: Path,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 report: Callable[[str], None] = log.info):
        self.config = config
        self.clock = clock
        self.report = report
        self.collections = _scheduled(config, collections, report)
        self.store = store
        self.running: list[Run] = []
        self.stopping = False
        self.failures = 0
        # The fire time each collection was last started for. A job that fails before it
        # writes its job file (a full disk, an unwritable store) leaves the collection due
        # by the store; it is tried once a fire time all the same, not every few seconds.
        self._started_for: dict[str, datetime] = {}
        self._skipped_for: dict[str, datetime] = {}
        self._tried: dict[str, tuple[Any, datetime | None, float]] = {}  # is_due's memo
        # The collections file as last read, and what is wrong with it if it cannot be used.
        self._config_seen = _contents(config)
        self._config_problem: str | None = None
        self._beat: tuple[dict[str, Any], datetime] | None = None  # (what its file last said, and when)
        self._since: dict[str, tuple[tuple[str, str | None], str]] = {}  # (a collection's schedule, since when)
        self.once = False  # (run by a timer, cron's or systemd's, which looks once and ends)

    def reload(self) -> bool:
        """Read the collections file again if it has changed, as cron reads a crontab (each
        job reads it too): collections added, removed or rescheduled take effect at once.
        A file that cannot be used (gone, invalid) is said once and no job is started
        until it is fixed, since each would fail reading it. True when jobs may start."""
        from archive.config import load_collections
        from archive.errors import ConfigError

        seen = _contents(self.config)
        if seen == self._config_seen:
            return self._config_problem is None
        self._config_seen = seen
        try:
            collections = load_collections(self.config)
        except ConfigError as exc:
            self._config_problem = str(exc)
            self.report(f"{exc}; no job is started until the file is fixed")
            return False
        self._config_problem = None
        self.collections = _scheduled(self.config, collections, self.report)
        self.report(f"{self.config} read again: {', '.join(c.name for c in self.collections) or 'no'} "
                    "scheduled collection(s)")
        return True

    def start_due(self) -> list[str]:
        ready = self.reload()
        self.beat()
        if not ready:
            return []
        now = self.clock()
        started = []
        for collection in self.collections:
            if self.stopping:
                break  # (a stop asked for while due jobs were being started)
            running = any(r.collection == collection.name for r in self.running)
            if not running and not is_due(collection, self.store, now, self._tried):
                continue
            fire = previous_fire(collection.settings["schedule"], _zone(collection), now)
            if fire is None or self._started_for.get(collection.name) == fire:
                continue
            if running:  # (a fire time its own job, still running, lets pass: said once)
                if self._skipped_for.get(collection.name) != fire:
                    self._skipped_for[collection.name] = fire
                    self.report(f"{collection.name}: due, but its job started for an earlier time is still running; "
                                "the next starts once it ends")
                continue
            # (said here: the job would say it in its output file, on the disk that is full)
            low = below_floor(self.store, int(collection.caps["min_free_bytes"]))
            if low is not None:
                self._started_for[collection.name] = fire
                self.failures += 1
                self.report(f"{collection.name}: job not started: {low}; it runs again at its next scheduled time")
                continue
            try:
                run = self._start(collection, now)
            except OSError as exc:  # the scheduler goes on: other collections, later fire times
                self._started_for[collection.name] = fire
                self.failures += 1
                why = in_the_way(Path(exc.filename)) if isinstance(exc.filename, str) else None
                self.report(f"{collection.name}: could not start a job: {why or exc}; it runs again at its next "
                            "scheduled time")
                continue
            if run is None:  # (started as soon as the other job lets go; said once)
                if self._skipped_for.get(collection.name) != fire:
                    self._skipped_for[collection.name] = fire
                    self.report(f"{collection.name}: due, but a job of it is already running; skipped")
                continue
            self._started_for[collection.name] = fire
            self.running.append(run)
            if self.stopping:  # (asked for as this one started: terminate() did not see it)
                run.process.send_signal(signal.SIGTERM)
            self.report(f"{collection.name}: started job (pid {run.process.pid}), output in {run.output}")
            started.append(collection.name)
        return started

    def _start(self, collection: Collection, now: datetime) -> Run | None:
        lock = CollectionLock.take(self.store, collection.name)
        if lock is None:
            return None
        try:
            coll = collection_dir(self.store, collection.name)
            coll.logs.mkdir(parents=True, exist_ok=True)
            output = output_path(coll, now)
            # The job holds the collection's lock too (it lasts while either lives), and is
            # stopped, as the scheduler stops it, should the scheduler die: killed, or by a
            # signal it does not handle, it would otherwise leave a job crawling on unseen
            # and let a scheduler started after it run a second job of the collection.
            with open(output, "wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "archive", "crawl", str(self.config), "--collection", collection.name,
                     "--store", str(self.store)],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    pass_fds=(lock.fileno(),), start_new_session=True,  # (a terminal's signals are the scheduler's)
                    preexec_fn=partial(sigterm_on_parent_death, os.getpid()),  # noqa: PLW1509 (no threads run here)
                )
        except BaseException:
            lock.close()
            raise
        return Run(collection.name, process, lock, output)

    def reap(self, block: bool) -> None:
        for run in list(self.running):
            code = run.process.wait() if block else run.process.poll()
            if code is None:
                continue
            self.running.remove(run)
            run.lock.close()
            if code == 0:
                self.report(f"{run.collection}: job finished")
            elif self.stopping:
                # Interrupted as asked (its files closed, its manifest saying so): no failure,
                # so that stopping a scheduler service leaves it stopped, not failed.
                self.report(f"{run.collection}: job stopped with the scheduler (exit {code}); see {run.output}")
            else:
                self.failures += 1
                self.report(f"{run.collection}: job FAILED (exit {code}); see {run.output}; "
                            "it runs again at its next scheduled time")

    def beat(self, stopped: bool = False) -> None:
        """Say in the store which collections this scheduler runs, on which schedules, and
        that it is alive (:func:`scheduler_file`), when that changes and once a minute:
        ``archive status`` reads it to tell a scheduled run missed (a scheduler killed, its
        machine lost) from a collection crawled by hand. ``stopped``: it stops, as asked. A
        store that cannot be written is said by the jobs; the file is not worth a failure
        of its own."""
        now = self.clock()
        runs = {}
        for c in self.collections:
            runs[c.name] = run = {"schedule": c.settings["schedule"], "timezone": c.settings.get("timezone")}
            # Since when it runs the collection on that schedule: the runs due before were
            # not this scheduler's to start (a collection no job has run has no other start).
            began = self._since.get(c.name)
            if began is None or began[0] != (run["schedule"], run["timezone"]):
                began = self._since[c.name] = ((run["schedule"], run["timezone"]), now.isoformat())
            run["since"] = began[1]
        # (by its clock, which says when it was seen; a clock set back is no reason to wait)
        if not stopped and self._beat is not None and self._beat[0] == runs and \
                abs(now - self._beat[1]) < timedelta(seconds=BEAT_SECONDS):
            return
        doc = {"config": os.path.abspath(self.config), "pid": os.getpid(), "host": socket.gethostname(),
               "collections": runs, "seen": now.isoformat(), "stopped": now.isoformat() if stopped else None,
               "once": self.once}
        path = scheduler_file(self.store, self.config)
        if self._beat is None:
            self._another(path, now)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # (a name of its own until renamed: two schedulers of one file must not take
            # each other's half-written file away)
            write_atomic(path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"),
                         tmp_name=f".{path.name}.{os.getpid()}.tmp")
        except OSError as exc:
            if self._beat is None or self._beat[0] != runs:
                self.report(f"could not write {path}: {exc.strerror or exc} (`archive status` will not know of "
                            "this scheduler)")
        self._beat = (runs, now)

    def _another(self, path: Path, now: datetime) -> None:
        """Say so if the file says that another scheduler of this collections file runs on
        this store (seen within the last beats, not stopped; on this host, its process
        alive): the two race to start each run (a collection's lock lets one job run at a
        time), and status hears of one only."""
        try:
            doc = json.loads(path.read_text("utf-8"))
            pid, host, seen = doc["pid"], doc["host"], datetime.fromisoformat(doc["seen"])
            alive = beating(doc.get("stopped"), doc.get("once"), abs(now - seen))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return
        if not alive or not isinstance(pid, int) or (pid == os.getpid() and host == socket.gethostname()):
            return
        if host == socket.gethostname():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            except OSError:
                pass  # (another user's: alive)
        self.report(f"warning: another scheduler of {os.path.abspath(self.config)} seems to run on this store "
                    f"(pid {pid} on {host}, last seen at {seen.isoformat()}); stop one of them: the collections "
                    "are crawled one job at a time all the same, but `archive status` can speak of one only")

    def terminate(self) -> None:
        """SIGTERM every running job: each finishes its records, closes files, writes its manifest."""
        self.stopping = True
        for run in self.running:
            if run.process.poll() is None:
                run.process.send_signal(signal.SIGTERM)

    def next_wakeup(self) -> datetime | None:
        now = self.clock()
        times = []
        for c in list(self.collections):
            try:
                times.append(next_fire(c.settings["schedule"], _zone(c), now))
            except CroniterBadDateError:  # (its last date, a year's, has passed: it is done)
                self.collections.remove(c)
                self.report(f"{c.name}: schedule {c.settings['schedule']!r} has no date to come; no longer scheduled")
        return min(times) if times else None

    def run_once(self) -> int:
        self.once = True
        self.start_due()
        self.reap(block=True)
        return self.failures

    def run_forever(self, sleep: Callable[[float], None] = time.sleep) -> int:
        while not self.stopping:
            self.start_due()
            self.reap(block=False)
            # Wake at the next fire time, and now and then to reap finished jobs and to look
            # at the collections file (a file left with no schedule, or none yet, is waited on).
            wake = self.next_wakeup()
            sleep(5.0 if wake is None else max(0.2, min(5.0, (wake - self.clock()).total_seconds())))
        self.reap(block=True)
        return self.failures
