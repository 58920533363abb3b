"""What a collection's earlier pushes confirmed in a bucket, so that the next push need not
hash every file again nor ask the bucket about each one.

A collection crawled every hour for months holds tens of thousands of files and hundreds
of GB; without this, each crawl's push read all of them and sent a ``HEAD`` for each. A
line is added once the bucket has shown a file with the size and SHA-256 pushed (``path``
in the collection, ``size``, ``mtime_ns``, ``sha256``), one ledger per destination (bucket,
prefix and endpoint), in ``<collection>/.pushed/``, which is not pushed. A file whose size
and modification time are those of its last line is taken as in the bucket; one changed
since (a log appended to, an article table written again) is hashed and checked as usual.

What this cannot see is a change made in the bucket (an object deleted or replaced there)
or damage here that leaves size and time as they were: ``archive verify s3://...`` finds
the first, ``archive verify`` the second, and ``archive push --recheck`` checks every file
again. A ledger lost or damaged costs one push that checks everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import IO

from archive.store import CollectionDir

LEDGER_DIR = ".pushed"


class PushLedger:
    def __init__(self, coll: CollectionDir, destination: str):
        self.path = coll.root / LEDGER_DIR / (hashlib.sha256(destination.encode()).hexdigest()[:16] + ".jsonl")
        self.destination = destination
        self._known: dict[str, tuple[int, int, str]] = {}
        self._out: IO[str] | None = None
        try:
            lines = self.path.read_text("utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                row = json.loads(line)
                self._known[row["path"]] = (int(row["size"]), int(row["mtime_ns"]), str(row["sha256"]))
            except (ValueError, KeyError, TypeError):  # (the header, or a line cut short: checked again)
                continue

    def confirmed(self, rel: str, path: Path) -> bool:
        """Whether ``path`` (``rel`` in the collection) is as it was when last confirmed."""
        known = self._known.get(rel)
        if known is None:
            return False
        st = path.stat()
        return known[:2] == (st.st_size, st.st_mtime_ns)

    def add(self, rel: str, size: int, mtime_ns: int, sha256: str) -> None:
        """``rel`` is in the bucket as it was at ``size`` and ``mtime_ns`` here."""
        if self._known.get(rel) == (size, mtime_ns, sha256):
            return
        self._known[rel] = (size, mtime_ns, sha256)
        if self._out is None:
            self.path.parent.mkdir(exist_ok=True)
            new = not self.path.exists()
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
            if new:
                self._out.write(json.dumps({"destination": self.destination}) + "\n")
        self._out.write(json.dumps({"path": rel, "size": size, "mtime_ns": mtime_ns, "sha256": sha256}) + "\n")
        self._out.flush()  # (a push killed after this keeps what it confirmed)

    def close(self) -> None:
        if self._out is not None:
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
