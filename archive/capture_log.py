"""The capture log: ``logs/<job-id>.captures.jsonl``, one validated JSON line per fetch attempt.

Written as ``.open`` and renamed when the job ends, like the WARCs. Lines are flushed as
they are written, so a killed job loses at most the line being written.

Every line is validated against ``schemas/capture-log.schema.json`` before it is written
(a compiled validator keeps that to a few microseconds, see ``archive.validation``), and
again by ``archive verify``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from archive.errors import CaptureWriteError
from archive.runtime import write_parts
from archive.store import create_locked
from archive.validation import validate
from archive.warc.writer import OPEN_SUFFIX

log = logging.getLogger(__name__)


class CaptureLog:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.open_path = path.with_name(path.name + OPEN_SUFFIX)
        # Unbuffered, each line one write: a failed write is undone exactly (see write).
        # Locked before its name appears, held while the job runs: verify and repair leave a
        # locked log alone. (Closed in close().)
        self._fh = create_locked(self.open_path)
        self._sha = hashlib.sha256()
        self.size = 0
        self.lines = 0
        self.tally = Tally()
        self.broken: CaptureWriteError | None = None
        # Its end could not be cut back to a whole line: closed under its .open name, for
        # `archive verify --repair`.
        self.left_open = False

    def write(self, line: dict[str, Any]) -> None:
        """Validate and append one line. If the write fails (a full disk), the log is cut
        back to its last whole line, :class:`CaptureWriteError` is raised, and nothing
        more is written."""
        if self.broken is not None:
            raise self.broken
        validate("capture-log", line)
        data = orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)  # compact UTF-8, as json.dumps wrote it
        try:
            write_parts(self._fh.fileno(), [data])
        except OSError as exc:
            self.broken = CaptureWriteError.writing(self._fh.name, exc)
            try:
                os.ftruncate(self._fh.fileno(), self.size)
            except OSError:
                self.left_open = True  # (close leaves it for archive verify --repair to cut)
            raise self.broken from exc
        self.tally.add(line)
        self._sha.update(data)
        self.size += len(data)
        self.lines += 1

    def close(self) -> tuple[str, int, int]:
        """Close and rename; return (sha256 label, size, lines)."""
        if self.left_open:
            self._fh.close()
            log.info("left %s open, for archive verify --repair to close", self._fh.name)
            return "sha256:" + self._sha.hexdigest(), self.size, self.lines
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.rename(self.open_path, self.path)
        return "sha256:" + self._sha.hexdigest(), self.size, self.lines


# Outcomes whose error counts in ``by_error``: failures, and captures whose body the download
# timeout cut off (captured, with the timeout as their error).
ERRED_OUTCOMES = ("failed", "captured")
# Outcomes of requests that went out (or were about to): a robots.txt refusal or a URL out of
# scope sent nothing, so its user agent is in no count.
SENT_OUTCOMES = ("captured", "failed")


def robots_txt_absent(status: int | None, robots: str | None) -> bool:
    """Whether a capture is a robots.txt that answered as a site without one does: a 4xx but
    429 (which, like a 5xx, leaves the rules unknown and the site refused). ``robots``: its
    log line's ``robots``, ``not-applicable`` for a robots.txt and the hops it redirected to."""
    return robots == "not-applicable" and status is not None and 400 <= status < 500 and status != 429


def favicon_absent(url: str, status: int | None) -> bool:
    """Whether a capture is a host's ``/favicon.ico`` that answered 4xx: a browser asks for
    it of every host whose pages name no icon, and so does the crawl, and a site without one
    has nothing wrong with it."""
    return (status is not None and 400 <= status < 500 and url.endswith("/favicon.ico")
            and urlsplit(url).path == "/favicon.ico")


def error_count(counts: dict[str, Any]) -> int:
    """A manifest's ``counts`` (or :meth:`Tally.as_dict`) as the errors a job reports: failed
    attempts and 4xx/5xx responses, but for the robots.txt files that answered 4xx and the
    ``/favicon.ico`` files that did. Such an answer is how a site says it has none (RFC 9309
    2.3.1.3: everything is allowed), not something gone wrong; manifests written before
    ``robots_txt_absent`` and ``favicon_absent`` count them."""
    statuses = sum(n for s, n in counts["by_status"].items() if int(s) >= 400)
    return counts["failed"] + statuses - counts.get("robots_txt_absent", 0) - counts.get("favicon_absent", 0)


SEED_CHANNELS = ("seed", "feed", "sitemap")


def seeds_not_fetched(path: Path) -> dict[str, str]:
    """The seeds (pages, feeds, sitemaps) of a job that got no response, by URL, with why
    (the last attempt's error or outcome), from its capture log ``path``; empty if any seed
    got one: for a job that fetched none of its seeds (robots.txt aside), what to tell the
    operator instead of "0 responses" or "1 response captured"."""
    from archive.jsonl import rows_skipping_bad

    why: dict[str, str] = {}
    fetched: set[str] = set()
    for line in rows_skipping_bad(path):
        if line.get("depth") != 0 or line.get("channel") not in SEED_CHANNELS:
            continue
        url = str(line.get("url"))
        if line.get("outcome") == "captured":
            fetched.add(url)
        else:
            why[url] = str(line.get("error") or line.get("outcome"))
    return {} if fetched else why


class Tally:
    """Counts by outcome, status and error, built from capture-log lines.

    The same counting serves a running job and a repaired one, whose counts are re-derived
    from the log it left.
    """

    def __init__(self) -> None:
        self.attempts = 0
        self.outcomes: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.by_error: Counter[str] = Counter()
        # The User-Agent each request carried, as sent: a middleware of a project's own may
        # change it from request to request, which the configured one in the manifest's
        # ``config`` does not say.
        self.by_user_agent: Counter[str] = Counter()
        self.bytes = 0
        self.robots_txt_absent = 0
        self.favicon_absent = 0

    def add(self, line: dict[str, Any]) -> None:
        self._count(line["outcome"], line.get("status"), line.get("error"), line.get("response_bytes") or 0,
                    line.get("robots"), line.get("url") or "")
        agent = line.get("user_agent")
        if agent is not None and line["outcome"] in SENT_OUTCOMES:
            self.by_user_agent[agent] += 1

    def add_captured(self, status: int, size: int, robots: str | None = None, url: str = "") -> None:
        """:meth:`add` of a captured response's line, without the line (the crawl process
        counts what it sends to the capture worker, once a page), but for its user agent,
        which only the line says (the progress reports have no use for it)."""
        self._count("captured", status, None, size, robots, url)

    def _count(self, outcome: str, status: int | None, error: str | None, size: int,
               robots: str | None = None, url: str = "") -> None:
        self.attempts += 1
        self.outcomes[outcome] += 1
        if status is not None:
            self.by_status[str(status)] += 1
            if robots_txt_absent(status, robots):
                self.robots_txt_absent += 1
            elif favicon_absent(url, status):
                self.favicon_absent += 1
        if error and outcome in ERRED_OUTCOMES:
            self.by_error[error.split(":", 1)[0]] += 1
        self.bytes += size

    @property
    def errors(self) -> int:
        """Failed attempts plus responses with a 4xx/5xx status (see :func:`error_count`)."""
        return error_count(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "captured": self.outcomes["captured"],
            "failed": self.outcomes["failed"],
            "robots_disallowed": self.outcomes["robots-disallowed"],
            "out_of_scope": self.outcomes["out-of-scope"],
            "bytes": self.bytes,
            "by_status": dict(sorted(self.by_status.items())),
            "by_error": dict(sorted(self.by_error.items())),
            "robots_txt_absent": self.robots_txt_absent,
            "favicon_absent": self.favicon_absent,
            "by_user_agent": dict(sorted(self.by_user_agent.items())),
        }


def unlike_its_manifest(coll: Any, name: str) -> str | None:
    """What is wrong with the closed capture log ``name`` of ``coll`` (a CollectionDir) when
    it is not the log its job's manifest lists (size and SHA-256): its first bad line as
    ``archive verify`` words it, or its digest. None when it is as listed, or no manifest
    lists it (a job running, or one that died: verify and repair see to those)."""
    from archive.checks import log_lines
    from archive.digests import unlike_its_listing
    from archive.manifest import files_listed

    path = coll.logs / name
    listed = files_listed(coll, name.split(".")[0])  # (None: no manifest, or one verify names)
    entry = listed.get(f"logs/{name}") if listed is not None else None
    if entry is None or not isinstance(entry.get("sha256"), str):
        return None
    unlike = unlike_its_listing(path, entry)
    if unlike is None:
        return None
    try:
        bad = log_lines(path)[1]
    except OSError:
        bad = []
    what = f"{path}: {bad[0][0]}: {bad[0][1]}" if bad else unlike
    return (f"{what}: changed since its job ended (a line cut or edited), and its lines that cannot be read are left "
            f"out of the history this crawl looks back on; `archive verify {coll.root}` says more")
