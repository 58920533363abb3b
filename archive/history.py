"""What a collection captured before: the state an incremental job starts from.

Derived from the capture logs (closed ones, in job order), which hold for every capture its
URL, status, payload digest, validators (ETag, Last-Modified) and record pointer. From them:
the original record of every payload digest (for identical-payload revisits, across URLs),
and the latest capture of every URL (for conditional requests and server-not-modified
revisits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.jsonl import numbered_rows
from archive.store import CollectionDir

log = logging.getLogger(__name__)

# Truncations that mean the response did not come whole (a size cap is a choice, not these).
_CUT_OFF = ("time", "disconnect")


# slots: a job keeps one of these per URL and per payload of the collection's history.
@dataclass(frozen=True, slots=True)
class Original:
    record_id: str
    uri: str
    date: str  # WARC-Date of the original record, verbatim
    payload_digest: str


@dataclass(slots=True)
class UrlState:
    status: int
    started: str
    first_started: str
    original: Original | None  # the full response this URL's content lives in
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class CollectionHistory:
    originals: dict[str, Original] = field(default_factory=dict)
    urls: dict[str, UrlState] = field(default_factory=dict)

    @classmethod
    def load(cls, coll: CollectionDir) -> CollectionHistory:
        history = cls()
        if not coll.logs.is_dir():
            return history
        for path in sorted(coll.logs.glob("*.captures.jsonl")):
            history.add_log(path)
        return history

    def add_log(self, path: Path) -> None:
        for number, line in numbered_rows(path):
            problem: object = line
            if not isinstance(line, str):
                try:
                    self.add(line)
                    continue
                except (ValueError, KeyError, TypeError) as exc:  # (a field missing or of another type)
                    problem = repr(exc)
            log.warning("%s line %d skipped for history: %s", path, number, problem)

    def add(self, line: dict[str, Any]) -> None:
        """Take one capture-log line into account."""
        if line.get("outcome") != "captured" or not line.get("warc"):
            return
        if line.get("truncated") in _CUT_OFF:
            # Part of a response that did not come whole: for recrawls the URL stays as its
            # last whole capture left it (still due, its validators and original kept).
            return
        url, digest, status = line["url"], line.get("payload_digest"), line["status"]
        revisit = line.get("revisit")
        original = None
        if revisit:
            original = Original(revisit["refers_to"], revisit["refers_to_uri"], revisit["refers_to_date"], digest)
        elif digest and 200 <= status < 300 and not line.get("truncated"):
            original = self.originals.setdefault(
                digest, Original(line["warc"]["record_id"], url, line["started"], digest))
            if original.uri != url:
                # Same bytes under another URL: this URL's own record is the one to refer to.
                original = Original(line["warc"]["record_id"], url, line["started"], digest)
        previous = self.urls.get(url)
        if status == 304 and previous is not None:
            previous.started = line["started"]
            previous.etag = line.get("etag") or previous.etag
            previous.last_modified = line.get("last_modified") or previous.last_modified
            return
        self.urls[url] = UrlState(
            status=status,
            started=line["started"],
            first_started=previous.first_started if previous else line["started"],
            original=original,
            etag=line.get("etag"),
            last_modified=line.get("last_modified"),
        )
