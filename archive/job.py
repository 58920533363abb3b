"""One capture job: its WARC files, its capture log, its counts, and its manifest.

Scrapy-free: the crawler's middleware and extension call into a :class:`CaptureJob`, and so
can any other fetcher. A job writes ``logs/<job-id>.job.json`` when it starts (what it was
asked to do), WARCs and the capture log while it runs, and the manifest when it ends.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import platform
import socket
from collections.abc import Callable
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from archive import __version__
from archive.capture import Fetch, Provenance, Revisit, build_capture, header_value, tls_fingerprint
from archive.capture_log import CaptureLog, Tally
from archive.config import Collection, config_hash
from archive.digests import sha1_of, sha256_file
from archive.errors import CaptureWriteError
from archive.history import CollectionHistory, Original, Referability
from archive.manifest import write_manifest
from archive.store import collection_dir, unused_job_id, write_atomic
from archive.warc.records import (
    PROFILE_IDENTICAL,
    PROFILE_NOT_MODIFIED,
    make_record,
    utcnow,
    warc_date,
    warc_fields,
)
from archive.warc.writer import RotatingWarcFiles

log = logging.getLogger(__name__)

WARC_1_1 = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
# Bad documents a manifest names (URL and why), the first met; its counts have them all.
# (A hostile index may list as many broken sitemaps as max_pages lets a crawl follow.)
MAX_LISTED_BAD_DOCUMENTS = 1000


def software_versions() -> dict[str, str]:
    versions = {"archive": __version__, "python": platform.python_version()}
    for dist in ("scrapy", "twisted", "lxml", "jsonschema"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def crawler_hostname() -> str:
    """The host part of WARC names: letters, digits and dashes only."""
    name = socket.gethostname().split(".")[0] or "localhost"
    return "".join(ch if ch.isalnum() else "-" for ch in name)


class CaptureJob:
    def __init__(
        self,
        store: Path,
        collection: Collection,
        *,
        job_id: str | None = None,
        spider: str = "news",
        clock: Callable[[], datetime] = utcnow,
        operator: str | None = None,
        worker: str | None = None,
        dedup: bool = True,
    ):
        self.collection = collection
        self.coll = collection_dir(store, collection.name)
        self.coll.create()
        self.clock = clock
        self.started = clock()
        self.job_id = job_id or unused_job_id(self.coll, self.started)
        self.spider = spider
        self.operator = operator
        self.host = crawler_hostname()
        self.config = collection.effective()
        self.config_sha256 = config_hash(self.config)
        self.software = software_versions()
        self.closed_manifest: Path | None = None
        self.bad_documents: list[dict[str, str]] = []
        self.dedup = dedup
        # What earlier jobs captured: for revisits and conditional requests.
        self.history = CollectionHistory.load(self.coll)
        self._referability = Referability(self.coll, "captures of the same payload are stored whole, not as "
                                          "revisits of it; run `archive verify`", log)
        self._write_job_file()
        # The job file stays locked until the manifest is written, so a concurrent
        # `verify --repair` never mistakes a finishing job for a dead one.
        self._job_lock = open(self.coll.job_file(self.job_id), "rb")
        fcntl.flock(self._job_lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.warcs = RotatingWarcFiles(
            self.coll.warcs,
            collection=collection.name,
            host=self.host,
            worker=worker,
            warcinfo=self._warcinfo,
            clock=clock,
            max_size=int(collection.caps["warc_max_bytes"]),
        )
        self.log = CaptureLog(self.coll.capture_log(self.job_id))

    @property
    def tally(self) -> Tally:
        """Counts of the capture-log lines written so far."""
        return self.log.tally

    # -- start ------------------------------------------------------------------------

    def _job_doc(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "collection": self.collection.name,
            "started": self.started.isoformat(),
            "software": self.software,
            "host": self.host,
            "operator": self.operator,
            "config": self.config,
            "config_sha256": self.config_sha256,
            "seeds": self.collection.seeds,
        }

    def _write_job_file(self) -> None:
        raw = (json.dumps(self._job_doc(), indent=2, sort_keys=True) + "\n").encode()
        write_atomic(self.coll.job_file(self.job_id), raw)

    def _warcinfo(self, filename: str):
        fields = warc_fields(
            [
                ("software", f"archive-corpus/{__version__} " + " ".join(f"{k}/{v}" for k, v in self.software.items() if k != "archive")),
                ("format", "WARC File Format 1.1"),
                ("conformsTo", WARC_1_1),
                ("hostname", self.host),
                ("operator", self.operator),
                ("isPartOf", self.collection.name),
                ("jobId", self.job_id),
                ("configSha256", self.config_sha256),
                ("robots", "obey" if self.config.get("obey_robots") else "ignore"),
                ("http-header-user-agent", self.config["politeness"]["user_agent"]),
                ("description", f"Capture job {self.job_id} of collection {self.collection.name}"),
            ]
        )
        return make_record(
            "warcinfo", date=self.clock(), content_type="application/warc-fields", chunks=(fields,),
            extra=[("WARC-Filename", filename)],
        )

    # -- while running ----------------------------------------------------------------

    def revisit_for(self, fetch: Fetch, payload_digest: str | None = None) -> Revisit | None:
        """The record an unchanged capture refers to, if it is unchanged (WARC 1.1 §6.7).

        ``payload_digest``: ``sha1_of(fetch.body)``, if already computed.
        """
        if fetch.status == 304 and _conditional(fetch):
            if fetch.conditional_on is not None:
                return Revisit(PROFILE_NOT_MODIFIED, *fetch.conditional_on)
            state = self.history.urls.get(fetch.url)
            if state is not None and state.original is not None:
                o = state.original
                return Revisit(PROFILE_NOT_MODIFIED, o.record_id, o.uri, o.date, o.payload_digest)
            return None
        if 200 <= fetch.status < 300 and fetch.body and fetch.truncated is None:
            digest = payload_digest if payload_digest is not None else sha1_of(fetch.body)
            original = self.history.originals.get(digest)
            if original is not None and self._referable(original):
                return Revisit(PROFILE_IDENTICAL, original.record_id, original.uri, original.date,
                               original.payload_digest)
        return None

    def _referable(self, original: Original) -> bool:
        """Whether an identical payload may be written as a revisit of ``original``
        (:func:`archive.history.unreferable`); if not, it is stored whole again. Checked once
        a job for each original; this job's own records are taken as written."""
        name = original.warc
        if name is None or name == self.warcs.current_name or any(c.path.name == name for c in self.warcs.closed):
            return True
        return self._referability.referable(original)

    def record_fetch(self, fetch: Fetch) -> dict[str, Any]:
        """Write the records of one response and its capture-log line; return the line."""
        built = None
        # One SHA-1 pass over the body serves deduplication and the response record.
        payload = sha1_of(fetch.body)
        revisit = self.revisit_for(fetch, payload) if self.dedup else None

        def build(warcinfo_id: str):
            nonlocal built
            built = build_capture(fetch, job_id=self.job_id, spider=self.spider, warcinfo_id=warcinfo_id,
                                  revisit=revisit, payload_digest=payload)
            return built.records

        # The records reach the file (write_group writes them before it returns) before the
        # log line that points at them, so a killed job never leaves a log claiming records
        # that are not there.
        if self.log.broken is not None:  # (no records that no line could describe)
            raise self.log.broken
        where = self.warcs.write_group(build)[0]
        assert built is not None
        line = self._line(fetch.url, fetch.provenance, fetch.robots, fetch.started, fetch.duration_ms,
                          user_agent=built.metadata_fields["userAgent"])
        line.update(
            method=fetch.method,
            outcome="captured",
            status=fetch.status,
            remote_ip=fetch.remote_ip,
            protocol=fetch.protocol,
            tls_cert_sha256=tls_fingerprint(fetch.tls_cert_der),
            request_bytes=built.records[1].block_length,
            response_bytes=len(fetch.body),
            mime=_content_type(fetch),
            payload_digest=revisit.payload_digest if revisit else payload,
            truncated=fetch.truncated,
            warc={"filename": where.filename, "offset": where.offset, "length": where.length,
                  "record_id": built.response.record_id},
            etag=header_value(fetch.response_headers, b"etag"),
            last_modified=header_value(fetch.response_headers, b"last-modified"),
            revisit=None if revisit is None else {
                "profile": revisit.profile, "refers_to": revisit.refers_to,
                "refers_to_uri": revisit.refers_to_uri, "refers_to_date": revisit.refers_to_date},
        )
        if fetch.truncated == "time":
            line["error"] = "DownloadTimeoutError: the download timeout ran out while the body was arriving"
        self.log.write(line)
        self.history.add(line, own=True)
        return line

    def record_failure(
        self,
        url: str,
        *,
        error: str,
        provenance: Provenance,
        started: datetime,
        duration_ms: float | None,
        method: str = "GET",
        user_agent: str | None = None,
        robots: str = "allowed",
        outcome: str = "failed",
    ) -> dict[str, Any]:
        """Log a fetch attempt that produced no response (DNS, refused, timeout, robots...)."""
        line = self._line(url, provenance, robots, started, duration_ms, user_agent=user_agent)
        line.update(method=method, outcome=outcome, status=None, error=error)
        self.log.write(line)
        return line

    def _line(self, url: str, prov: Provenance, robots: str, started: datetime, duration_ms: float | None,
              *, user_agent: str | None) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "spider": self.spider,
            "url": url,
            "url_as_linked": prov.url_as_linked,
            "seed": prov.seed,
            "channel": prov.channel,
            "source": prov.source,
            "source_id": prov.source_id,
            "via": prov.via,
            "hops": prov.hops,
            "depth": prov.depth,
            "robots": robots,
            "user_agent": user_agent,
            "started": warc_date(started),
            "duration_ms": None if duration_ms is None else round(duration_ms, 3),
        }

    # -- end --------------------------------------------------------------------------

    def close(self, reason: str = "finished") -> Path:
        """Close WARCs and log, then write the manifest (once)."""
        if self.closed_manifest is not None:
            return self.closed_manifest
        why = ""
        try:
            closed = self.warcs.close()
        except OSError as exc:  # (a WARC that could not be closed is left open, see below)
            log.error("job %s: closing its WARC: %s", self.job_id, exc)
            closed = self.warcs.closed
            why = f" ({_could_not_close(exc)})"
        log_sha, log_size, _ = self.log.close()
        if self.warcs.left_open or self.log.left_open:
            # No manifest without them: repair cuts them at their last whole record or line,
            # renames them, and writes the manifest.
            self._job_lock.close()
            left = [*self.warcs.left_open, *([self.log.open_path] if self.log.left_open else [])]
            raise CaptureWriteError(f"job {self.job_id}: left open {', '.join(map(str, left))}{why}; run `archive "
                                    f"verify --repair {self.coll.root}` once the store can be written again (room on "
                                    "its disk, its permissions)")
        files = [
            {"path": f"warcs/{w.path.name}", "kind": "warc", "size": w.size, "sha256": w.sha256, "records": w.records}
            for w in closed
        ]
        files.append({"path": f"logs/{self.log.path.name}", "kind": "capture-log", "size": log_size, "sha256": log_sha,
                      "records": self.log.lines})
        job_sha, job_size = sha256_file(self.coll.job_file(self.job_id))
        files.append({"path": f"logs/{self.coll.job_file(self.job_id).name}", "kind": "job", "size": job_size,
                      "sha256": job_sha})
        doc = self._job_doc()
        doc.update(
            manifest_version=1,
            started=warc_date(self.started),
            finished=warc_date(self.clock()),
            outcome="finished" if reason in ("finished", "closespider_pagecount", "closespider_itemcount") else "interrupted",
            finish_reason=reason,
            counts={**self.log.tally.as_dict(), "bad_documents": len(self.bad_documents)},
            # Which, and why: the crawl log, which said so, is no part of what a manifest covers.
            bad_documents=self.bad_documents[:MAX_LISTED_BAD_DOCUMENTS],
            files=files,
        )
        with self.coll.locked():
            self.closed_manifest = write_manifest(self.coll, doc)
        self._job_lock.close()
        log.info("wrote %s", self.closed_manifest)
        return self.closed_manifest


def _content_type(fetch: Fetch) -> str | None:
    value = header_value(fetch.response_headers, b"content-type")
    return value.split(";", 1)[0].strip().lower() or None if value else None


def _conditional(fetch: Fetch) -> bool:
    return any(k.lower() in (b"if-none-match", b"if-modified-since") for k, _ in fetch.request_headers)


def _could_not_close(exc: OSError) -> str:
    """What went wrong closing a WARC, as the system said it: its rename from ``.open``
    refused (a directory made read-only, a folder in the way), or its flush to disk."""
    said = exc.strerror or str(exc)
    if exc.filename2 is not None:
        return f"could not rename it to {os.path.basename(exc.filename2)}: {said}"
    return f"could not close it: {said}"
