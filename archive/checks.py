"""The file checks of ``archive verify``, spread over the machine's cores.

Checking a WARC means inflating every record and hashing its block and payload with SHA-1,
then hashing the whole file with SHA-256 against its manifest; checking a capture log means
parsing and validating every line. All of it is independent per file, and per stretch of a
file: a large WARC is cut where a record begins (found the way the reader resynchronises
after damage) and its parts are checked in parallel. A cut that turns out not to fall on a
record boundary (a stored payload can hold bytes that look like one) is noticed when the
part before it does not end exactly there, and the file is then checked again in one piece,
so the result is the same as a sequential check's, only sooner.

Small jobs (under ``PARALLEL_MIN`` bytes), single-core machines and processes that already
run other threads (where ``fork`` is unsafe) check in-process, in the same order. Larger
ones get a lane for every ``LANE_MIN`` bytes, up to the cores the process may run on.
"""

from __future__ import annotations

import atexit
import json
import mmap
import os
import pickle
import re
import signal
import struct
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from archive.digests import sha256_file
from archive.runtime import usable_cores as _cores  # (a name the tests replace)
from archive.validation import first_check, ready
from archive.validation import problems as schema_problems
from archive.warc.reader import _resync, is_plain, record_problems

PARALLEL_MIN = 8 << 20  # bytes of files to check before starting worker processes
LANE_MIN = 4 << 20  # and one lane for every this many bytes, up to the cores allowed
PART = 1 << 20  # a WARC is cut into parts of at least this size, up to eight per lane

Where = str | None


@dataclass
class LogRefs:
    """What a capture log says of records, for checks across the collection's logs: its
    revisits as (line number, the record referred to, payload digest). What they may refer
    to is read only when some log has one (:func:`original_digests`): a first crawl has none,
    and its verify pays nothing for the check."""

    revisits: list[tuple[int, str, str | None]] = field(default_factory=list)
    warcs: dict[str, int] = field(default_factory=dict)  # the WARCs its lines point into: the first line of each


_RECORD_ID = re.compile(rb'"record_id":\s*"([^"]*)"')
_PAYLOAD_DIGEST = re.compile(rb'"payload_digest":\s*"([^"]*)"')
_A_REVISIT = re.compile(rb'"revisit":\s*\{')


def original_digests(logs: list[Path], wanted: set[str]) -> dict[str, str]:
    """The payload digest of each capture named in ``wanted`` (ids of response records) that
    the capture logs ``logs`` record, revisits aside. (Read from the lines' bytes, which the
    check of each line has found valid: a key of a JSON object is never inside a string there.)"""
    found: dict[str, str] = {}
    for path in logs:
        with open(path, "rb") as fh:
            for raw in fh:
                if _A_REVISIT.search(raw) is None:
                    rid, digest = _RECORD_ID.search(raw), _PAYLOAD_DIGEST.search(raw)
                    if rid is not None and digest is not None and (name := rid.group(1).decode()) in wanted:
                        found[name] = digest.group(1).decode()
    return found


@dataclass
class Checked:
    """What checking one file found: problems as (where, message), and its counts."""

    problems: list[tuple[Where, str]] = field(default_factory=list)
    units: int = 0  # records of a WARC, lines of a log
    sha256: str | None = None
    size: int | None = None
    refs: LogRefs | None = None  # (a capture log's)


# -- the checks themselves (run in a worker process or in-process) ---------------------------


def warc_part(path: Path, start: int, stop: int | None) -> tuple[int, list[tuple[Where, str]], int]:
    """Records beginning in ``[start, stop)``: their count, their problems, and where the
    last one ends."""
    count, problems, end = record_problems(path, start, stop)
    return count, [(f"offset {offset}", message) for offset, message in problems], end


def log_lines(path: Path) -> tuple[int, list[tuple[Where, str]], LogRefs]:
    """Every line of a capture log parsed and validated against its schema; what its lines
    say of records (:class:`LogRefs`): its revisits, and the WARCs it points into."""
    lines, problems, refs = 0, [], LogRefs()
    taken = first_check("capture-log")
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            lines += 1
            if not raw.endswith(b"\n"):
                problems.append((f"line {number}", "last line is not terminated (cut off)"))
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                # orjson is stricter than the json module (NaN, huge integers, lone
                # surrogates): the json module decides, and words what is wrong.
                try:
                    doc = json.loads(raw.rstrip(b"\n"))  # (its end, a place in the line as shown)
                except (ValueError, RecursionError) as exc:
                    if isinstance(exc, json.JSONDecodeError):  # (its msg is worded to take a place)
                        # (one line: the column is the character's place in it)
                        why = f"{exc.msg}{'' if exc.msg.endswith(' at') else ' at'} column {exc.pos + 1}"
                    elif isinstance(exc, RecursionError):
                        why = "nested too deeply"
                    else:  # a line that is not UTF-8 fails before parsing
                        why = f"not UTF-8: {exc}"
                    problems.append((f"line {number}", f"not valid JSON ({why})"))
                    continue
            try:
                clean = taken(doc)
            except (ValueError, TypeError):  # (a value it cannot read as JSON: the reference decides)
                clean = False
            if not clean:
                found = schema_problems("capture-log", doc)
                problems.extend((f"line {number}", message) for message in found)
                if found:
                    continue
            warc = doc.get("warc")
            if warc and warc["filename"] not in refs.warcs:
                refs.warcs[warc["filename"]] = number
            revisit = doc.get("revisit")
            if revisit:
                refs.revisits.append((number, revisit["refers_to"], doc.get("payload_digest")))
    return lines, problems, refs


def cut_points(path: Path, parts: int) -> list[int]:
    """Offsets where records begin, splitting ``path`` into about ``parts`` stretches. An
    uncompressed WARC is one: where its records begin is known only by reading each one's
    Content-Length from the first (a gzip member inside a payload, a WARC archived from the
    web, is no record of the file's)."""
    size = path.stat().st_size
    points = [0]
    if size == 0 or parts <= 1 or is_plain(path):
        return points  # (an empty file cannot be mapped)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for k in range(1, parts):
            point = _resync(mm, max(points[-1], size * k // parts), size)
            if point >= size:
                break
            if point > points[-1]:
                points.append(point)
    return points


# -- planning and running -----------------------------------------------------------------------


class FileChecks:
    """Collects checks, runs them all (in parallel when worth it), hands out results.

    ``warc``, ``log`` and ``hash`` return a callable that gives the :class:`Checked` once
    :meth:`run` has returned.
    """

    def __init__(self, workers: int | None = None):
        self.workers = workers
        self._tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._results: list[Any] = []
        self._bytes = 0

    def warc(self, path: Path, *, hashed: bool) -> Callable[[], Checked]:
        return self._checked(_warc_parts, path, hashed)  # cut into parts when run

    def log(self, path: Path, *, hashed: bool) -> Callable[[], Checked]:
        ready("capture-log")  # (here, before the lanes are forked: each would build its own)
        return self._checked(log_lines, path, hashed)

    def _checked(self, check: Callable[..., Any], path: Path, hashed: bool) -> Callable[[], Checked]:
        self._bytes += path.stat().st_size
        units = self._add(check, path)
        digest = self._add(sha256_file, path) if hashed else None

        def result() -> Checked:
            count, problems, *refs = self._results[units]
            checked = Checked(problems, count, refs=refs[0] if refs else None)
            if digest is not None:
                checked.sha256, checked.size = self._results[digest]
            return checked

        return result

    def hash(self, path: Path) -> Callable[[], Checked]:
        self._bytes += path.stat().st_size
        digest = self._add(sha256_file, path)

        def result() -> Checked:
            sha, size = self._results[digest]
            return Checked(sha256=sha, size=size)

        return result

    def _add(self, fn: Callable[..., Any], *args: Any) -> int:
        self._tasks.append((fn, args))
        return len(self._tasks) - 1

    def run(self) -> None:
        workers = self.workers if self.workers is not None else _default_workers(self._bytes)
        if workers <= 1:
            self._results = [fn(*args) for fn, args in self._tasks]
            return
        # Units of work with a rough cost each; a WARC becomes several parts. Every lane (this
        # process, which would only wait otherwise, and forked children) takes the next unit,
        # largest first, until none is left: the lanes finish together even where the cost
        # per byte varies (a stretch of many small records costs more than one of few).
        units: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        parts: dict[int, list[int]] = {}
        for index, (fn, args) in enumerate(self._tasks):
            path = args[0]
            size = path.stat().st_size
            if fn is _warc_parts:
                points = parts[index] = cut_points(path, max(1, min(workers * 8, size // PART)))
                for start, stop in zip(points, [*points[1:], None]):
                    end = size if stop is None else stop
                    units.append(((end - start) * _COST[warc_part], index, warc_part, (path, start, stop)))
            else:
                units.append((size * _COST[fn], index, fn, args))
        order = sorted(range(len(units)), key=lambda u: -units[u][0])
        done = _all_in_lanes([unit[2:] for unit in units], order, workers)
        self._results = [None] * len(self._tasks)
        by_task: dict[int, list[Any]] = {}
        for u in range(len(units)):
            by_task.setdefault(units[u][1], []).append(done[u])
        for index, (fn, args) in enumerate(self._tasks):
            results = by_task[index]
            if fn is _warc_parts:
                self._results[index] = _joined(args[0], parts[index], results)
            else:
                self._results[index] = results[0]


def each_in_lanes(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]], costs: list[int]) -> list[Any]:
    """The results of ``calls`` (a function and its arguments each), in their order, made in
    lanes as the checks are when their ``costs`` (bytes) together are worth it (see the
    module's text), the costliest first."""
    workers = _default_workers(sum(costs))
    if workers <= 1 or len(calls) < 2:
        return [fn(*args) for fn, args in calls]
    done = _all_in_lanes(calls, sorted(range(len(calls)), key=lambda u: -costs[u]), workers)
    return [done[u] for u in range(len(calls))]


def _all_in_lanes(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]], order: list[int],
                  workers: int) -> dict[int, Any]:
    """The results of the calls numbered in ``order``, made in lanes ``_BATCH`` at a time."""
    done: dict[int, Any] = {}
    for at in range(0, len(order), _BATCH):
        done.update(_in_lanes(calls, order[at : at + _BATCH], workers))
    return done


_TOKEN = struct.Struct("<I")
# Units whose numbers (4 bytes each) are written to the queue in one write before any lane
# reads: 4 KiB, one page, which every pipe holds and which Linux writes atomically.
_BATCH = 1024


def _in_lanes(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]], order: list[int],
              workers: int) -> dict[int, Any]:
    """Make the calls numbered in ``order`` in this process and ``workers - 1`` children."""
    _reap_exiting()
    done: dict[int, Any] = {}
    read, write = os.pipe()  # the queue: the units' numbers, all written before anyone reads
    try:
        tokens = b"".join(_TOKEN.pack(u) for u in order)
        os.set_blocking(write, False)
        try:
            written = os.write(write, tokens)
        except BlockingIOError:
            written = 0
        finally:
            os.close(write)
        if written < len(tokens):  # a pipe smaller than a page: no queue, all of it here
            done.update((u, calls[u][0](*calls[u][1])) for u in order)
            return done
        children: list[_Child] = []
        try:
            for _ in range(min(workers, len(order)) - 1):  # no lane without work
                _Child.start(partial(_take, read, calls), children)
            done.update(_take(read, calls))
            for child in children:
                done.update(child.results())
        finally:
            for child in children:
                child.reap()
    finally:
        os.close(read)
    if len(done) != len(order):
        raise RuntimeError(f"checking stopped after {len(done)} of {len(order)} units of work")
    return done


def _take(queue: int, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[int, Any]]:
    """Make the calls whose numbers this process reads from ``queue`` until it is empty.

    Every number is written before any lane reads, and a read of a few bytes from a pipe is
    atomic, so each unit goes to exactly one lane."""
    results = []
    while token := os.read(queue, _TOKEN.size):
        (u,) = _TOKEN.unpack(token)
        fn, args = calls[u]
        results.append((u, fn(*args)))
    return results


_STOPPING = {signal.SIGINT, signal.SIGTERM}


class _Child:
    """A forked process that makes one call and sends its result back through a pipe.

    Cheaper to start than a process pool (half the time, which is several percent of
    verifying a collection of a few tens of MB), and all it needs here: the work is known
    before the fork, and the child inherits the imported modules.
    """

    def __init__(self, pid: int, read: int):
        self.pid = pid
        self._read = read

    @classmethod
    def start(cls, work: Callable[[], Any], children: list[_Child]) -> None:
        """Fork a child that does ``work``, and add it to ``children``.

        Ctrl-C and SIGTERM are held back from the fork until the child is in ``children``
        (whose owner reaps them all, whatever happens) and, in the child, until it is in
        the code that ends it: neither process can be interrupted half-way.
        """
        read, write = os.pipe()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
        try:
            try:
                pid = os.fork()
            except OSError:
                os.close(read)
                os.close(write)
                raise
            if pid == 0:
                _child_main(work, read, write, mask)  # never returns
            os.close(write)
            children.append(cls(pid, read))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def results(self) -> Any:
        with open(self._read, "rb", closefd=True) as fh:
            self._read = -1
            data = fh.read()
        try:
            ok, value = pickle.loads(data)
        except Exception:  # noqa: BLE001 -- cut short or unreadable: say how the child ended
            status = self._wait()
            raise RuntimeError(f"a checking process ended without its results ({_how_it_ended(status)})") from None
        self._let_exit()
        if not ok:
            raise value
        return value

    def reap(self) -> None:
        """Stop the child if it is still running (this process failed first) and wait for it."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait()
        if self._read >= 0:
            os.close(self._read)
            self._read = -1

    def _wait(self) -> int | None:
        pid, self.pid = self.pid, 0
        return _waited(pid) if pid else None

    def _let_exit(self) -> None:
        """Its results are in: reap it if it has ended, or leave it to end without waiting
        (tearing down its copy of this process takes a millisecond or two) and reap it at
        the next run or when this process exits."""
        pid, self.pid = self.pid, 0
        if not pid:
            return
        try:
            ended, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else
            return
        if not ended:
            _EXITING.append(pid)


_EXITING: list[int] = []  # children whose results are in, not reaped yet


def _waited(pid: int) -> int | None:
    """``pid``'s wait status, once it has ended (None if someone else reaped it)."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


@atexit.register
def _reap_exiting() -> None:
    while _EXITING:
        _waited(_EXITING[-1])
        _EXITING.pop()  # (after the wait: a Ctrl-C during it leaves the child listed)


def _child_main(work: Callable[[], Any], read: int, write: int, mask: set[signal.Signals]) -> None:
    code = 1
    try:
        os.close(read)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        try:
            payload = pickle.dumps((True, work()))
        except BaseException as exc:  # noqa: BLE001 -- handed to the parent, which raises it
            payload = _pickled_error(exc)
        with open(write, "wb") as fh:
            fh.write(payload)
        code = 0
    except BaseException:  # noqa: BLE001, S110 -- the parent sees the missing results
        pass
    finally:
        os._exit(code)


def _pickled_error(exc: BaseException) -> bytes:
    """``exc`` pickled for the parent, or, if it would not come back whole (an exception
    whose constructor takes other arguments than it keeps), its traceback as text."""
    try:
        payload = pickle.dumps((False, exc))
        pickle.loads(payload)
        return payload
    except Exception:  # noqa: BLE001 -- one that does not pickle goes as its traceback text
        return pickle.dumps((False, RuntimeError("".join(traceback.format_exception(exc)))))


def _how_it_ended(status: int | None) -> str:
    if status is None:
        return "reaped elsewhere, how it ended is not known"
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


# Relative cost per byte of each kind of unit, for dealing them out evenly.
_COST: dict[Callable[..., Any], float] = {warc_part: 1.0, sha256_file: 0.15, log_lines: 1.4}


def _joined(path: Path, points: list[int], results: list[tuple[int, list[Any], int]]) -> tuple[int, list[Any]]:
    """The parts of one WARC put back together, or the file checked again in one piece if a
    cut was not where a record begins (the part before it did not end exactly there)."""
    count, problems = 0, []
    for k, (part_count, part_problems, end) in enumerate(results):
        if k + 1 < len(points) and end != points[k + 1]:
            return _warc_parts(path)
        count += part_count
        problems.extend(part_problems)
    return count, problems


def _default_workers(total: int) -> int:
    cores = _cores()
    if cores <= 1 or total < PARALLEL_MIN or threading.active_count() > 1:
        return 1
    # Starting a lane costs a fork (1-2 ms): on a machine of many cores, a few MB of files
    # are checked sooner by a few lanes than by one on every core.
    return max(2, min(cores, total // LANE_MIN))


def _warc_parts(path: Path) -> tuple[int, list[tuple[Where, str]]]:
    """The whole file in one piece (the in-process path, and the fallback)."""
    count, problems, _ = warc_part(path, 0, None)
    return count, problems

