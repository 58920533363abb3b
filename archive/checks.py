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
run other threads (where ``fork`` is unsafe) check in-process, in the same order.
"""

from __future__ import annotations

import json
import mmap
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from archive.digests import sha256_file
from archive.validation import problems as schema_problems
from archive.warc.reader import _resync, check_records

PARALLEL_MIN = 8 << 20  # bytes of files to check before starting worker processes
PART = 4 << 20  # a WARC is cut into parts of about this size, at most one per worker and more

Where = str | None


@dataclass
class Checked:
    """What checking one file found: problems as (where, message), and its counts."""

    problems: list[tuple[Where, str]] = field(default_factory=list)
    units: int = 0  # records of a WARC, lines of a log
    sha256: str | None = None
    size: int | None = None


# -- the checks themselves (run in a worker process or in-process) ---------------------------


def warc_part(path: Path, start: int, stop: int | None) -> tuple[int, list[tuple[Where, str]], int]:
    """Records beginning in ``[start, stop)``: their count, their problems, and where the
    last one ends."""
    count, problems, end = 0, [], start
    for record in check_records(path, start, stop):
        count += 1
        problems.extend((f"offset {record.offset}", message) for message in record.problems)
        end = record.offset + record.length
    return count, problems, end


def log_lines(path: Path) -> tuple[int, list[tuple[Where, str]]]:
    """Every line of a capture log parsed and validated against its schema."""
    lines, problems = 0, []
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
                    doc = json.loads(raw)
                except (ValueError, RecursionError) as exc:
                    if isinstance(exc, json.JSONDecodeError):
                        why = exc.msg
                    elif isinstance(exc, RecursionError):
                        why = "nested too deeply"
                    else:  # a line that is not UTF-8 fails before parsing
                        why = f"not UTF-8: {exc}"
                    problems.append((f"line {number}", f"not valid JSON ({why})"))
                    continue
            problems.extend((f"line {number}", message) for message in schema_problems("capture-log", doc))
    return lines, problems


def cut_points(path: Path, parts: int) -> list[int]:
    """Offsets where records begin, splitting ``path`` into about ``parts`` stretches."""
    size = path.stat().st_size
    points = [0]
    if size == 0 or parts <= 1:
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
        return self._checked(log_lines, path, hashed)

    def _checked(self, check: Callable[..., Any], path: Path, hashed: bool) -> Callable[[], Checked]:
        self._bytes += path.stat().st_size
        units = self._add(check, path)
        digest = self._add(sha256_file, path) if hashed else None

        def result() -> Checked:
            count, problems = self._results[units]
            checked = Checked(problems, count)
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
        # Units of work with a rough cost each; a WARC becomes several parts. The units are
        # dealt out, largest first, to the least loaded of the lanes: this process is one
        # lane (it would only wait otherwise), worker processes are the others.
        units: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        parts: dict[int, list[int]] = {}
        for index, (fn, args) in enumerate(self._tasks):
            path = args[0]
            size = path.stat().st_size
            if fn is _warc_parts:
                points = parts[index] = cut_points(path, max(1, min(workers * 2, size // PART)))
                for start, stop in zip(points, [*points[1:], None]):
                    end = size if stop is None else stop
                    units.append(((end - start) * _COST[warc_part], index, warc_part, (path, start, stop)))
            else:
                units.append((size * _COST[fn], index, fn, args))
        lanes: list[list[int]] = [[] for _ in range(workers)]
        loads = [0.0] * workers
        for u in sorted(range(len(units)), key=lambda u: -units[u][0]):
            lane = loads.index(min(loads))
            lanes[lane].append(u)
            loads[lane] += units[u][0]
        done: dict[int, Any] = {}
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
            futures = {u: pool.submit(units[u][2], *units[u][3]) for lane in lanes[1:] for u in lane}
            for u in lanes[0]:
                done[u] = units[u][2](*units[u][3])
            for u, future in futures.items():
                done[u] = future.result()
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
    cores = os.cpu_count() or 1
    if cores <= 1 or total < PARALLEL_MIN or threading.active_count() > 1:
        return 1
    return cores


def _warc_parts(path: Path) -> tuple[int, list[tuple[Where, str]]]:
    """The whole file in one piece (the in-process path, and the fallback)."""
    count, problems, _ = warc_part(path, 0, None)
    return count, problems

