"""What a collection's earlier pushes confirmed in a bucket, so that the next push need not
hash every file again nor ask the bucket about each one.

A collection crawled every hour for months holds tens of thousands of files and hundreds
of GB; without this, each crawl's push read all of them and sent a ``HEAD`` for each. A
line is added once the bucket has shown a file with the size and SHA-256 pushed (``path``
in the collection, its size, modification time, inode and change time, and ``sha256``),
one ledger per destination (bucket, prefix and the endpoint as resolved, from the option,
the collection's config or the environment), in ``<collection>/.pushed/``, which is not
pushed. A file whose size and times are those of its last line is taken as in the bucket;
one changed since (a log appended to, an article table written again, a file copied back
with its times kept) is hashed and checked as usual.

What this cannot see is a change made in the bucket (an object deleted or replaced there)
or damage here that leaves size and time as they were: ``archive verify s3://...`` finds
the first, ``archive verify`` the second, and ``archive push --recheck`` checks every file
again. A bucket emptied or replaced is seen by each push, which asks for the newest file
of each collection a ledger confirms (``push._forgotten``). A ledger lost or damaged costs
one push that checks everything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from typing import IO, Any

from archive.store import CollectionDir, unchanged_key

log = logging.getLogger(__name__)

LEDGER_DIR = ".pushed"
_STAT = ("size", "mtime_ns", "ino", "ctime_ns")  # (archive.store.unchanged_key, in its order)


class PushLedger:
    """Best effort: a ledger that cannot be read is empty (every file is checked), and one
    that cannot be written (a read-only store, a full disk) is said once and left alone."""

    def __init__(self, coll: CollectionDir, destination: str):
        self.path = coll.root / LEDGER_DIR / (hashlib.sha256(destination.encode()).hexdigest()[:16] + ".jsonl")
        self.destination = destination
        self._known: dict[str, tuple[int, ...]] = {}
        self._sequences: dict[str, int] = {}  # a manifest's place in its chain, as confirmed
        # Files whose copy in the bucket read back as other bytes than its size and
        # x-amz-meta-sha256 say: sent again whatever a HEAD of it shows.
        self._damaged: set[str] = set()
        self._out: IO[str] | None = None
        self._unwritable = False
        try:
            lines = self.path.read_text("utf-8", errors="replace").splitlines()
        except OSError:  # (none yet, or not readable: every file is checked)
            return
        try:  # (all lines at once, as one JSON array: a ledger of a year's files has a hundred thousand)
            rows = json.loads("[" + ",".join(lines) + "]")
        except ValueError:  # (a line cut short, by a push killed as it wrote: each line on its own)
            rows = []
            for line in lines:
                with contextlib.suppress(ValueError):
                    rows.append(json.loads(line))
        for row in rows:
            if isinstance(row, dict) and row.get("unconfirmed") is True:  # (see forget())
                self._known.pop(row.get("path"), None)
                self._sequences.pop(row.get("path"), None)
                if row.get("damaged") is True:
                    self._damaged.add(row.get("path"))
                continue
            try:
                self._known[row["path"]] = (*(int(row[k]) for k in _STAT), str(row["sha256"]))
            except (KeyError, TypeError, ValueError):  # (the header, or a line not of this form: checked again)
                continue
            self._damaged.discard(row["path"])
            if isinstance(row.get("sequence"), int):
                self._sequences[row["path"]] = row["sequence"]
            else:
                self._sequences.pop(row["path"], None)

    def confirmed(self, rel: str, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` (``rel`` in the collection) is as it was when last confirmed."""
        known = self._known.get(rel)
        return known is not None and known[:-1] == unchanged_key(path)

    def sequence(self, rel: str) -> int | None:
        """The place in its chain recorded for the manifest ``rel`` (good while
        :meth:`confirmed` says it is unchanged), so that a push need not read it to order it."""
        return self._sequences.get(rel)

    def remember_sequence(self, rel: str, sequence: int) -> None:
        """Record the place in its chain of the confirmed manifest ``rel``."""
        known = self._known.get(rel)
        if known is not None and self._sequences.get(rel) != sequence:
            self.add(rel, known[:-1], str(known[-1]), sequence=sequence)

    def add(self, rel: str, stat: tuple[int, ...], sha256: str, *, sequence: int | None = None) -> None:
        """``rel`` is in the bucket as it was here when :func:`~archive.store.unchanged_key` gave ``stat``;
        ``sequence``: a manifest's place in its chain."""
        if (self._known.get(rel) == (*stat, sha256) and self._sequences.get(rel) == sequence) or self._unwritable:
            return
        self._known[rel] = (*stat, sha256)
        self._damaged.discard(rel)
        if sequence is None:
            self._sequences.pop(rel, None)
        else:
            self._sequences[rel] = sequence
        row = {"path": rel, **dict(zip(_STAT, stat, strict=True)), "sha256": sha256}
        if sequence is not None:
            row["sequence"] = sequence
        self._write(row)

    def _write(self, row: dict[str, Any]) -> None:
        try:
            if self._out is None:
                self.path.parent.mkdir(exist_ok=True)
                new = not self.path.exists()
                self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
                if new:
                    self._out.write(json.dumps({"destination": self.destination}) + "\n")
            self._out.write(json.dumps(row) + "\n")
            self._out.flush()  # (a push killed after this keeps what it confirmed)
        except OSError as exc:
            self._gave_up(exc)

    def forget(self, rel: str, *, damaged: bool = False) -> None:
        """``rel`` turned out not to be in the bucket as confirmed: gone, or (``damaged``)
        read back as other bytes than its size and ``x-amz-meta-sha256`` say. The next push
        checks it, and sends it again; a damaged copy whatever a HEAD of it shows."""
        if (self._known.pop(rel, None) is None and not damaged) or self._unwritable:
            return
        self._sequences.pop(rel, None)
        row: dict[str, Any] = {"path": rel, "unconfirmed": True}
        if damaged:
            self._damaged.add(rel)
            row["damaged"] = True
        self._write(row)

    def damaged(self, rel: str) -> bool:
        """Whether the bucket's copy of ``rel`` was read back as other bytes than it claims."""
        return rel in self._damaged

    def close(self) -> None:
        if self._out is not None:
            try:
                os.fsync(self._out.fileno())
                self._out.close()
            except OSError as exc:
                self._gave_up(exc)
            self._out = None

    def _gave_up(self, exc: OSError) -> None:
        log.warning("%s cannot be written (%s): the next push checks every file again", self.path,
                    exc.strerror or exc)
        self._unwritable = True
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
            self._out = None
