"""Writing records as gzip members, and the rotating ``.warc.gz.open`` files of a job.

One gzip member per record (WARC 1.1 Annex D) so any record can be read from its offset
alone. Files are written under a ``.open`` name, locked while written, and renamed only
when complete (the warcprox habit): a reader never mistakes half a file for a whole one.

Deflate is ISA-L's (``isal``), not zlib's: at its level 2 it writes members within a few
per cent of zlib's level 6 on small records and about 17 % larger on a 50 KB HTML page, in a
half to an eighth of the time (docs/performance.md, round 7). Any gzip reader reads them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from isal import isal_zlib

from archive.errors import CaptureWriteError
from archive.runtime import fsync_dir, write_parts
from archive.store import create_locked
from archive.warc.records import CRLF, Record

log = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
DEFAULT_MAX_SIZE = 1_000_000_000
_SLICE = 1 << 20  # compress large bodies in slices so no whole compressed copy exists at once
DEFAULT_LEVEL = 2  # ISA-L's levels are 0 to 3
_ONE_GO = 64 << 10  # a record up to this size is joined and deflated in one call
_END = CRLF + CRLF
_WRITE_THROUGH = 1 << 20  # held bytes of a group written at once beyond this


class _HashingFile:
    """Counts and SHA-256-hashes every byte written, so closing needs no re-read.

    Writes are held until :meth:`commit` (the end of a group of records), then written in
    one call, or earlier once they pass ``_WRITE_THROUGH`` (a large body is not held
    whole). If a write fails, :meth:`roll_back` cuts the file back to the last commit,
    byte count and hash with it: the file then ends with a whole record.
    """

    def __init__(self, raw: BinaryIO, start: int = 0):
        self.raw = raw
        self.position = start  # bytes written, held ones included
        self.sha256 = hashlib.sha256()
        self.committed = start
        self._committed_sha256 = self.sha256.copy()
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes) -> None:
        if data:
            self._held.append(data)
            self._held_bytes += len(data)
            self.position += len(data)
            if self._held_bytes >= _WRITE_THROUGH:
                self._write_held()

    def _write_held(self) -> None:
        held, self._held, self._held_bytes = self._held, [], 0
        if isinstance(self.raw, io.FileIO):  # unbuffered: one system call, partial writes resumed
            write_parts(self.raw.fileno(), held)
        else:
            for data in held:
                self.raw.write(data)
        for data in held:
            self.sha256.update(data)

    def commit(self) -> None:
        """Write what is held; the file is whole up to here."""
        self._write_held()
        self.committed = self.position
        self._committed_sha256 = self.sha256.copy()

    def roll_back(self) -> None:
        """Forget everything since the last commit, in the file too."""
        self._held, self._held_bytes = [], 0
        self.raw.flush()
        self.raw.truncate(self.committed)
        self.raw.seek(self.committed)
        self.position = self.committed
        self.sha256 = self._committed_sha256.copy()


class WarcWriter:
    """Writes records to any binary file object, one gzip member each."""

    def __init__(self, fh: BinaryIO, *, level: int = DEFAULT_LEVEL, start: int = 0):
        if level not in range(isal_zlib.ISAL_BEST_SPEED, isal_zlib.ISAL_BEST_COMPRESSION + 1):
            raise ValueError(f"deflate level {level}: ISA-L's levels are 0 to 3")
        self.out = _HashingFile(fh, start)
        self.level = level
        self.records = 0
        self._committed_records = 0

    def write(self, record: Record, *, commit: bool = True) -> tuple[int, int]:
        """Write ``record``; return its (offset, compressed length) in the file.

        ``commit=False``: one of a group of records, written together by :meth:`commit`."""
        offset = self.out.position
        head = record.header_bytes()
        # wbits=31: a gzip wrapper with mtime 0, so identical records compress identically
        # (with one build of the library: another version may choose other matches).
        if record.compressible and len(head) + record.block_length <= _ONE_GO:
            # Most records (request, metadata, a compressed page): one call, fewer objects.
            self.out.write(isal_zlib.compress(b"".join([head, *record.chunks, _END]), self.level, 31))
        else:
            self._write_streamed(record, head)
        self.records += 1
        if commit:
            self.commit()
        return offset, self.out.position - offset

    def commit(self) -> None:
        """Write the records held so far; the file ends with a whole record."""
        self.out.commit()
        self._committed_records = self.records

    def roll_back(self) -> None:
        """After a failed write: cut the file back to the end of the last commit."""
        self.out.roll_back()
        self.records = self._committed_records

    def _write_streamed(self, record: Record, head: bytes) -> None:
        if record.compressible:
            comp = isal_zlib.compressobj(self.level, isal_zlib.DEFLATED, 31)
        else:  # stored blocks (ISA-L's level 0 still compresses) for payloads compressed already
            comp = zlib.compressobj(0, zlib.DEFLATED, 31)
        parts = [comp.compress(head)]
        for chunk in record.chunks:
            view = memoryview(chunk)
            for start in range(0, len(view), _SLICE):
                parts.append(comp.compress(view[start : start + _SLICE]))
                if len(view) > _SLICE:  # a large body goes out slice by slice, not held twice
                    self.out.write(b"".join(parts))
                    parts.clear()
        parts.append(comp.compress(_END))
        parts.append(comp.flush())
        self.out.write(b"".join(parts))


@dataclass
class ClosedWarc:
    path: Path
    size: int
    sha256: str
    records: int


@dataclass
class Written:
    """Where a record landed."""

    filename: str
    offset: int
    length: int


def warc_name(collection: str, stamp: datetime, serial: int, host: str, worker: str | None) -> str:
    name = f"{collection}-{stamp.strftime('%Y%m%d%H%M%S')}-{serial:05d}-{host}"
    if worker:
        name += f"-{worker}"
    return name + ".warc.gz"


class RotatingWarcFiles:
    """The WARC files of one writer process: named, locked, rotated by size, closed by rename.

    ``warcinfo`` builds the record that opens each new file (given the file name).
    """

    def __init__(
        self,
        directory: Path,
        *,
        collection: str,
        host: str,
        warcinfo: Callable[[str], Record],
        clock: Callable[[], datetime],
        max_size: int = DEFAULT_MAX_SIZE,
        worker: str | None = None,
        level: int = DEFAULT_LEVEL,
    ):
        self.directory = directory
        self.collection = collection
        self.host = host
        self.worker = worker
        self.warcinfo = warcinfo
        self.clock = clock
        self.max_size = max_size
        self.level = level
        self.serial = 0
        self.closed: list[ClosedWarc] = []
        self._fh: BinaryIO | None = None
        self._writer: WarcWriter | None = None
        self._name: str | None = None
        self.warcinfo_id: str | None = None
        # Set by the first failed write: nothing more is written (records after it would
        # sit behind a broken one). ``_torn``: the file could not even be cut back.
        self.broken: CaptureWriteError | None = None
        self._torn = False
        # Files that could not be closed whole: left ``.open`` for ``archive verify --repair``,
        # and the job must not be described by a manifest without them.
        self.left_open: list[Path] = []

    @property
    def current_name(self) -> str | None:
        return self._name

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            self.serial += 1
            name = warc_name(self.collection, self.clock(), self.serial, self.host, self.worker)
            if (self.directory / name).exists():
                continue
            try:
                # "x" is the test-and-create: another writer that took this name makes us
                # move on to the next serial instead of failing.
                # Unbuffered: every byte the writer holds is its own, so a failed write can
                # be undone exactly.
                # Locked before its name appears, held until close: `archive verify` tells
                # a live job's file from a dead one's by it.
                fh = create_locked(self.directory / (name + OPEN_SUFFIX))
            except FileExistsError:
                continue
            break
        self._fh, self._name = fh, name
        self._writer = WarcWriter(fh, level=self.level)
        info = self.warcinfo(name)
        self.warcinfo_id = info.record_id
        try:
            self._writer.write(info)
        except OSError:
            # Not even its warcinfo record fits: no file rather than one without it.
            self._fh = self._writer = self._name = None
            try:
                os.unlink(fh.name)
            except OSError:
                pass  # (an empty .open file: repair removes one without a whole record)
            fh.close()
            raise
        log.info("opened %s", fh.name)

    def _failed(self, path: Path, exc: OSError) -> CaptureWriteError:
        self.broken = CaptureWriteError.writing(path, exc)
        return self.broken

    def write_group(self, build: Callable[[str], list[Record]]) -> list[Written]:
        """Write records that belong together into one file; rotate before, never inside.

        ``build`` gets the current file's warcinfo record id (WARC-Warcinfo-ID) and returns
        the records. They reach the file together, when the last is built, or not at all:
        a failed write cuts the file back to where the group began and raises
        :class:`CaptureWriteError`, after which nothing more is written.
        """
        if self.broken is not None:
            raise self.broken
        try:
            if self._writer is not None and self._writer.out.position >= self.max_size:
                self.close_current()
            if self._writer is None:
                self._open()
        except OSError as exc:  # (rotation: closing the full file, or opening the next)
            raise self._failed(self.directory, exc) from exc
        writer, name = self._writer, self._name
        assert writer is not None and name is not None and self.warcinfo_id is not None
        placed = []
        try:
            for record in build(self.warcinfo_id):
                offset, length = writer.write(record, commit=False)
                placed.append(Written(name, offset, length))
            writer.commit()
        except BaseException as exc:
            path = self.directory / (name + OPEN_SUFFIX)
            try:
                writer.roll_back()
            except OSError as undo:
                self._torn = True
                self.broken = CaptureWriteError.torn(path, exc, undo)
                raise self.broken from exc
            if isinstance(exc, OSError):
                raise self._failed(path, exc) from exc
            raise
        return placed

    def close_current(self) -> None:
        if self._fh is None or self._writer is None or self._name is None:
            return
        fh, writer, name = self._fh, self._writer, self._name
        self._fh = self._writer = self._name = None
        open_path = self.directory / (name + OPEN_SUFFIX)
        final = self.directory / name
        if self._torn:
            # Its end could not be cut back to a whole record: `archive verify --repair`
            # cuts it at its last good record.
            self._leave_open(fh, open_path)
            return
        try:
            os.fsync(fh.fileno())
            os.rename(open_path, final)
        except OSError:
            self._leave_open(fh, open_path)
            raise
        fh.close()  # closing releases the lock, after the rename
        self.closed.append(
            ClosedWarc(final, writer.out.position, "sha256:" + writer.out.sha256.hexdigest(), writer.records)
        )
        log.info("closed %s (%d records, %d bytes)", final, writer.records, writer.out.position)
        fsync_dir(self.directory)  # (if this fails the file is closed, whole and listed all the same)

    def _leave_open(self, fh: BinaryIO, path: Path) -> None:
        fh.close()  # (unlocked: repair takes it)
        self.left_open.append(path)
        log.info("left %s open, for archive verify --repair to close", path)

    def close(self) -> list[ClosedWarc]:
        self.close_current()
        return self.closed
