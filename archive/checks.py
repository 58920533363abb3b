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
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
                doc = json.loads(raw)
            except ValueError as exc:
                problems.append((f"line {number}", f"not valid JSON ({exc.msg})"))
                continue
            problems.extend((f"line {number}", message) for message in schema_problems("capture-log", doc))
    return lines, problems


def cut_points(path: Path, parts: int) -> list[int]:
    """Offsets where records begin, splitting ``path`` into about ``parts`` stretches."""
    size = path.stat().st_size
    points = [0]
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
        self._warcs: list[Path] = []

    def warc(self, path: Path, *, hashed: bool) -> Callable[[], Checked]:
        size = path.stat().st_size
        self._bytes += size
        first = len(self._tasks)
        self._tasks.append((_warc_parts, (path,)))  # cut into parts when run
        digest = self._add(sha256_file, path) if hashed else None

        def result() -> Checked:
            count, problems = self._results[first]
            checked = Checked(problems, count)
            if digest is not None:
                checked.sha256, checked.size = self._results[digest]
            return checked

        return result

    def log(self, path: Path, *, hashed: bool) -> Callable[[], Checked]:
        self._bytes += path.stat().st_size
        lines = self._add(log_lines, path)
        digest = self._add(sha256_file, path) if hashed else None

        def result() -> Checked:
            count, problems = self._results[lines]
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
            self._results = [_run_inline(fn, args) for fn, args in self._tasks]
            return
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures: list[Any] = []
            for fn, args in self._tasks:
                if fn is _warc_parts:
                    futures.append(_submit_parts(pool, args[0], workers))
                else:
                    futures.append(pool.submit(fn, *args))
            self._results = [f() if callable(f) else f.result() for f in futures]


def _default_workers(total: int) -> int:
    cores = os.cpu_count() or 1
    if cores <= 1 or total < PARALLEL_MIN or threading.active_count() > 1:
        return 1
    return cores


def _warc_parts(path: Path) -> tuple[int, list[tuple[Where, str]]]:
    """The whole file in one piece (the in-process path, and the fallback)."""
    count, problems, _ = warc_part(path, 0, None)
    return count, problems


def _run_inline(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    return fn(*args)


def _submit_parts(pool: ProcessPoolExecutor, path: Path, workers: int) -> Callable[[], tuple[int, list[Any]]]:
    size = path.stat().st_size
    parts = max(1, min(workers * 2, size // PART))
    points = cut_points(path, parts) if parts > 1 else [0]
    bounds = [*points, None]
    futures: list[Future[Any]] = [pool.submit(warc_part, path, bounds[i], bounds[i + 1]) for i in range(len(points))]

    def gather() -> tuple[int, list[Any]]:
        count, problems = 0, []
        for i, future in enumerate(futures):
            part_count, part_problems, end = future.result()
            if i + 1 < len(points) and end != points[i + 1]:
                # That cut was not where a record begins: check the file in one piece.
                return _warc_parts(path)
            count += part_count
            problems.extend(part_problems)
        return count, problems

    return gather
