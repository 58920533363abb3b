"""The capture log: ``logs/<job-id>.captures.jsonl``, one validated JSON line per fetch attempt.

Written as ``.open`` and renamed when the job ends, like the WARCs. Lines are flushed as
they are written, so a killed job loses at most the line being written.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from archive.validation import validate
from archive.warc.writer import OPEN_SUFFIX


class CaptureLog:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path.with_name(path.name + OPEN_SUFFIX), "xb")
        self._sha = hashlib.sha256()
        self.size = 0
        self.lines = 0

    def write(self, line: dict[str, Any]) -> None:
        validate("capture-log", line)
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        self._fh.write(data)
        self._fh.flush()
        self._sha.update(data)
        self.size += len(data)
        self.lines += 1

    def close(self) -> tuple[str, int, int]:
        """Close and rename; return (sha256 label, size, lines)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.rename(self.path.with_name(self.path.name + OPEN_SUFFIX), self.path)
        return "sha256:" + self._sha.hexdigest(), self.size, self.lines
