"""A capture job in a process of its own, so that capture costs the crawl almost nothing.

Building records, hashing, compressing and writing WARCs, validating and writing
capture-log lines took about a fifth of a crawl process's time. :class:`WorkerJob` has the
calls the crawler makes on a :class:`~archive.job.CaptureJob` (``record_fetch``,
``record_failure``, ``close``) and sends each one down a pipe to ``python -m
archive.job_worker``, where a real ``CaptureJob`` does the work on another core.

What stays as it was:

- Order. Calls are carried out one by one, in the order they were made, by one
  ``CaptureJob``: a log line still follows its records to disk, and deduplication sees
  every earlier capture of the job.
- Locks. The worker holds the job's lock and the open files, so ``verify --repair`` leaves
  a job alone while its worker is still writing.
- Back-pressure. The pipe holds up to a MB; if the disk falls behind, a send waits.
- Crashes. If the crawl process dies without closing the job, the worker writes what it
  received, closes the files and writes the manifest with outcome ``interrupted`` (finish
  reason ``crawler-lost``). Captures are sent in batches (``BATCH_BYTES``,
  ``BATCH_SECONDS``), so such a death loses the last quarter second of fetches, unlogged
  as well as unwritten, as if they had been in flight. If both die (a SIGKILL of the
  process group), the job is left as a killed in-process job is: ``verify --repair``
  closes it.

Messages are pickled tuples, each framed with its length and the length of the body that
follows it; a body is written from the response's buffer, without another copy.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic
from typing import Any, BinaryIO

from archive.capture import Fetch, Provenance
from archive.capture_log import Tally
from archive.config import Collection
from archive.errors import ArchiveError, CaptureStopped
from archive.history import CollectionHistory
from archive.runtime import (
    cpu_seconds,
    freeze_heap,
    peak_rss_kb,
    sigint_ignored_by_children,
    sigint_unblocked,
    widen_pipe,
    write_parts,
)
from archive.store import CollectionDir, collection_dir

log = logging.getLogger("archive.job_worker")  # (its name as well when run as __main__)
# The crawl log's own line format, Scrapy's, so the worker's lines read as the crawl's do.
_LOG_FORMAT, _LOG_DATES = "%(asctime)s [%(name)s] %(levelname)s: %(message)s", "%Y-%m-%d %H:%M:%S"

PIPE_BYTES = 4 << 20  # how much the crawl may run ahead of the disk
WORKER_NICE = 10
LOST = "crawler-lost"


# Frames are sent in batches: one system call, and one wake-up of the worker, for many
# responses. A batch goes when it holds this much, or is this old when the next call
# comes, or when the extension's timer or close() flushes it.
BATCH_BYTES = 256 << 10
BATCH_SECONDS = 0.25
_MESSAGE_BYTES = 600  # about what a fetch's message adds to its body, pickled and framed
_FRAME = struct.Struct("!II")  # lengths of the pickled message and of the body after it
# A fetch travels as a flat tuple of plain values in the order of these fields (its body
# apart, its provenance as a tuple, its start as a POSIX timestamp): pickling dataclasses
# and a datetime cost the crawl process several times as much.
_FETCH_FIELDS = tuple(f.name for f in dataclasses.fields(Fetch) if f.name != "body")
_PROVENANCE_FIELDS = tuple(f.name for f in dataclasses.fields(Provenance))
_PROVENANCE_AT = _FETCH_FIELDS.index("provenance")
_STARTED_AT = _FETCH_FIELDS.index("started")
_STATUS_AT = _FETCH_FIELDS.index("status")
_ROBOTS_AT = _FETCH_FIELDS.index("robots")
_URL_AT = _FETCH_FIELDS.index("url")


def frame(message: tuple[Any, ...], body: bytes = b"") -> list[bytes]:
    """The parts of one frame: lengths, the pickled message, the body (not copied)."""
    meta = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    parts = [_FRAME.pack(len(meta), len(body)), meta]
    if body:
        parts.append(body)
    return parts


def write_frame(fd: int, message: tuple[Any, ...], body: bytes = b"") -> None:
    """One message and an optional body, in one system call when the pipe has room."""
    write_parts(fd, frame(message, body))


def read_frame(stream: BinaryIO) -> tuple[tuple[Any, ...], bytes]:
    """The next message and its body; EOFError at the end of input, or within a frame."""
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    meta_len, body_len = _FRAME.unpack(head)
    meta = stream.read(meta_len)
    body = stream.read(body_len) if body_len else b""
    if len(meta) < meta_len or len(body) < body_len:
        raise EOFError
    return pickle.loads(meta), body


def flat_fetch(fetch: Fetch) -> tuple[Any, ...]:
    """``fetch`` without its body, as a tuple of plain values (see ``_FETCH_FIELDS``)."""
    fields = fetch.__dict__
    values = [fields[name] for name in _FETCH_FIELDS]
    provenance = fields["provenance"].__dict__
    values[_PROVENANCE_AT] = tuple([provenance[name] for name in _PROVENANCE_FIELDS])
    values[_STARTED_AT] = flat_time(fields["started"])
    return tuple(values)


def flat_time(moment: datetime) -> datetime | float:
    """A fetch's start as it travels: a POSIX timestamp if it is in UTC (exact: a float
    holds today's POSIX time to a quarter of a microsecond), else as it is."""
    return moment.timestamp() if moment.tzinfo is UTC else moment


def unflat_fetch(values: tuple[Any, ...], body: bytes) -> Fetch:
    """The :class:`Fetch` that :func:`flat_fetch` flattened, with its body."""
    fields = dict(zip(_FETCH_FIELDS, values, strict=True))
    fields["provenance"] = Provenance(**dict(zip(_PROVENANCE_FIELDS, fields["provenance"], strict=True)))
    if isinstance(fields["started"], float):
        fields["started"] = datetime.fromtimestamp(fields["started"], UTC)
    return Fetch(**fields, body=body)


class CaptureWorkerError(CaptureStopped):
    """The capture worker could not start, or stopped: nothing more can be recorded."""


class WorkerJob:
    """A :class:`~archive.job.CaptureJob` run by a worker process; the same calls."""

    def __init__(self, store: Path, collection: Collection, *, job_id: str | None = None, spider: str = "news",
                 operator: str | None = None, log_file: str | None = None, log_level: int | str | None = None,
                 gc_freeze: bool = True):
        self.collection = collection
        self.coll: CollectionDir = collection_dir(store, collection.name)
        self.bad_documents: list[dict[str, str]] = []
        self.closed_manifest: Path | None = None
        # What the crawl process has sent, counted as the job's log would count it: for
        # progress reports. The manifest's counts come from the worker's log.
        self.tally = Tally()
        self._history: CollectionHistory | None = None
        self._failed: str | None = None
        self._closed = False
        self._batch: list[tuple[tuple[Any, ...], bytes]] = []
        self._batched = 0
        self._batch_since = 0.0
        # CPU seconds and peak RSS of the worker, once it has closed the job.
        self.worker_cpu: float | None = None
        self.worker_peak_rss_kb: int | None = None
        to_worker, self._from_main = os.pipe()
        from_worker, to_main = os.pipe()
        widen_pipe(self._from_main, PIPE_BYTES)
        with sigint_ignored_by_children():
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "archive.job_worker", str(to_worker), str(to_main)],
                pass_fds=(to_worker, to_main), close_fds=True,
            )
        os.close(to_worker)
        os.close(to_main)
        self._in = open(from_worker, "rb")  # noqa: SIM115 (closed in close())
        try:
            self._send(("open", {"store": str(store), "collection": collection.effective(), "job_id": job_id,
                                 "spider": spider, "operator": operator, "log_file": log_file,
                                 "log_level": log_level,
                                 "gc_freeze": gc_freeze}), now=True)
            # The spider needs the history too (conditional requests, the recrawl list):
            # read it while the worker reads its own.
            self._history = CollectionHistory.load(self.coll)
            kind, payload = self._reply()
        except CaptureWorkerError as exc:
            kind, payload = "error", str(exc)
        if kind != "ready":
            os.close(self._from_main)
            self._in.close()
            self.proc.wait()
            raise CaptureWorkerError(f"the capture worker did not start: {payload}")
        self.job_id: str = payload["job_id"]
        self.started: datetime = datetime.fromisoformat(payload["started"])

    @property
    def failure(self) -> str | None:
        """Why nothing more can be recorded, once the worker has stopped."""
        return self._failed

    @property
    def history(self) -> CollectionHistory:
        """What earlier jobs captured (read here too; the worker has its own copy)."""
        assert self._history is not None
        return self._history

    # -- the calls ---------------------------------------------------------------------

    def record_fetch(self, fetch: Fetch) -> None:
        """Send one response to be recorded; written in the order of the calls."""
        self.record_flat(flat_fetch(fetch), fetch.body)

    def record_flat(self, values: tuple[Any, ...], body: bytes) -> None:
        """:meth:`record_fetch` of a fetch already flat (:func:`flat_fetch`'s form), as the
        capture middleware builds it, without a :class:`Fetch` in between."""
        self._send(("fetch", values), body)  # the body goes as it is, after it
        self.tally.add_captured(values[_STATUS_AT], len(body), values[_ROBOTS_AT], values[_URL_AT])

    def record_failure(self, url: str, *, error: str, provenance: Provenance, started: datetime,
                       duration_ms: float | None, method: str = "GET", user_agent: str | None = None,
                       robots: str = "allowed", outcome: str = "failed") -> None:
        self._send(("failure", url, {"error": error, "provenance": provenance, "started": started,
                                     "duration_ms": duration_ms, "method": method, "user_agent": user_agent,
                                     "robots": robots, "outcome": outcome}))
        self.tally.add({"outcome": outcome, "status": None, "error": error})

    def close(self, reason: str = "finished") -> Path | None:
        """Have the worker close the files and write the manifest; wait for it (once)."""
        if self.closed_manifest is not None or self._closed:
            return self.closed_manifest
        self._closed = True
        t0 = monotonic()
        try:
            self._send(("close", reason, self.bad_documents), now=True)
            kind, payload = self._reply()
        except CaptureWorkerError as exc:
            log.error("%s", exc)
            kind, payload = "error", str(exc)
            self._failed = str(exc)
        finally:
            os.close(self._from_main)
            self._from_main = -1  # the number may be reused by another file from now on
            self.proc.wait()
            self._in.close()
        if kind != "closed":
            log.error("the capture worker did not write the manifest: %s", payload)
            self._failed = self._failed or f"the capture worker stopped: {payload}"
            return None
        self.closed_manifest = Path(payload)
        log.info("the capture worker finished writing and closed job %s in %.2f s", self.job_id, monotonic() - t0)
        return self.closed_manifest

    # -- the pipe ----------------------------------------------------------------------

    def _send(self, message: tuple[Any, ...], body: bytes = b"", *, now: bool = False) -> None:
        if self._failed is not None:
            raise CaptureWorkerError(self._failed)
        if self._closed and message[0] != "close":
            raise CaptureWorkerError(f"job {self.job_id} is closed")
        if not self._batch:
            self._batch_since = monotonic()
        # Pickled when the batch goes, all in one loop: pickling a fetch between two pages of
        # a crawl, with the CPU's caches full of Scrapy, took four times as long.
        self._batch.append((message, body))
        self._batched += len(body) + _MESSAGE_BYTES
        if now or self._batched >= BATCH_BYTES or monotonic() - self._batch_since >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Send what is batched (called on a timer by the crawl, and before closing)."""
        if not self._batch or self._failed is not None or self._from_main < 0:
            return
        batch, self._batch, self._batched = self._batch, [], 0
        parts = []
        for message, body in batch:
            try:
                parts.extend(frame(message, body))
            except Exception:  # (plain values only, but a close must not fail on one)
                log.exception("capture worker: could not send %r", message[:2])
        try:
            write_parts(self._from_main, parts)
        except OSError:
            self._failed = f"the capture worker stopped: {self._worker_said()}"
            raise CaptureWorkerError(self._failed) from None

    def _reply(self) -> tuple[str, Any]:
        try:
            message, _ = read_frame(self._in)
        except (EOFError, OSError):
            raise CaptureWorkerError(f"the capture worker stopped: {self._worker_said()}") from None
        if message[0] == "closed":
            self.worker_cpu, self.worker_peak_rss_kb = message[2], message[3]
        return message[0], message[1]

    def _worker_said(self) -> str:
        """The worker's last word, if it left one (it does before exiting on an error)."""
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it does not answer"
        try:
            (_, payload), _ = read_frame(self._in)
            return str(payload)
        except (EOFError, OSError, ValueError):
            return f"it exited with status {self.proc.returncode}"


# -- the worker process ---------------------------------------------------------------------


def _quieter(level: int | str | None) -> None:
    """Log no less severe than the crawl's LOG_LEVEL (``scrapy crawl -L WARNING``), nothing
    where its log is off (``--nolog``: ``"OFF"``); never below INFO."""
    if level is None:
        return
    if level == "OFF":
        logging.disable(logging.CRITICAL)
        return
    number = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if isinstance(number, int) and number > logging.INFO:
        logging.getLogger().setLevel(number)


def serve(inbox: BinaryIO, outbox: int) -> int:
    """Carry out the calls from ``inbox`` on one CaptureJob until ``close`` or end of input."""
    from archive.config import collection_from_dict
    from archive.job import CaptureJob

    job: CaptureJob | None = None
    try:
        (_, spec), _ = read_frame(inbox)
        if spec.get("log_file"):
            # The crawl log, appended to as Scrapy does.
            logging.basicConfig(filename=spec["log_file"], level=logging.INFO, force=True, format=_LOG_FORMAT,
                                datefmt=_LOG_DATES)
        _quieter(spec.get("log_level"))
        job = CaptureJob(Path(spec["store"]), collection_from_dict(spec["collection"]), job_id=spec["job_id"],
                         spider=spec["spider"], operator=spec["operator"])
        write_frame(outbox, ("ready", {"job_id": job.job_id, "started": job.started.isoformat()}))
        if spec.get("gc_freeze", True):
            freeze_heap()  # the loaded history lives as long as the job
        while True:
            try:
                message, body = read_frame(inbox)
            except EOFError:
                # The crawl process is gone without closing the job: keep what it sent.
                log.error("capture worker: the crawl process went away; closing job %s", job.job_id)
                job.close(LOST)
                return 1
            kind = message[0]
            if kind == "close":
                job.bad_documents.extend(message[2])
                manifest = job.close(message[1])
                cpu = cpu_seconds()
                log.info("capture worker: job %s closed; %d captures, %.2f s of CPU", job.job_id,
                         job.tally.attempts, cpu)
                write_frame(outbox, ("closed", str(manifest), cpu, peak_rss_kb()))
                return 0
            try:
                if kind == "fetch":
                    job.record_fetch(unflat_fetch(message[1], body))
                elif kind == "failure":
                    job.record_failure(message[1], **message[2])
                else:
                    raise ValueError(f"unknown message {kind!r}")
            except CaptureStopped:
                raise  # its files cannot be written: the job ends
            except Exception:
                # One capture that cannot be recorded (the log schema refuses it, say) is
                # lost, as it would be in the crawl process, where Scrapy logs the error
                # and goes on; so does the job.
                log.exception("capture worker: could not record %s", message[1] if len(message) > 1 else kind)
    except Exception as exc:
        if isinstance(exc, ArchiveError):  # (a store it cannot write in, say: the crawl says it, as an error)
            log.info("capture worker: %s", exc)
        else:
            log.exception("capture worker failed")
        if job is not None and job.closed_manifest is None:
            try:  # keep what was written: close the files, with an interrupted manifest
                job.close("capture-failed")
            except Exception:
                log.exception("capture worker could not close job %s", job.job_id)
        try:
            # (ours are sentences for a user; another's type says what went wrong)
            write_frame(outbox, ("error", str(exc) if isinstance(exc, ArchiveError) else f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
        return 2


def _in_the_background() -> None:
    """Yield the CPU to the crawl: run at nice ``WORKER_NICE``.

    The crawl process and its page parser wait for each other; the worker waits for no one,
    its input is buffered (``PIPE_BYTES``). At normal priority its bursts (a batch of
    fetches at a time) took CPU from them, and the crawl process sat idle or lost its core
    for a few per cent of a crawl on two cores. Not SCHED_IDLE, which did a little better
    on an idle machine: beside other work (collections crawled at once, a verify on every
    core) it would all but stop the worker, and with it, once the pipe is full, the crawl;
    and on some disk schedulers it would put the worker's fsyncs behind all other I/O.
    """
    lower = WORKER_NICE - os.nice(0)
    if lower > 0:  # (never raised above what the crawl was started with)
        try:
            os.nice(lower)
        except OSError:
            pass


def main(argv: list[str]) -> int:
    # A Ctrl-C or SIGTERM reaches the whole process group; the crawl process shuts down
    # gracefully and then closes the job, so the worker waits for that instead of dying.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sigint_unblocked()
    logging.raiseExceptions = False  # a full disk: no traceback a log line (see archive.crawl)
    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT, datefmt=_LOG_DATES)
    _in_the_background()
    with open(int(argv[0]), "rb", buffering=1 << 20) as inbox:
        code = serve(inbox, int(argv[1]))
    # Everything is written, closed and reported. The crawl process waits for this exit
    # before it reports the job done, and the interpreter's teardown (every module, the
    # job's history, the frozen heap) took about 11 ms at the end of each crawl: skip it.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # (a full disk under the scheduler's output file: the result is sent already)
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
