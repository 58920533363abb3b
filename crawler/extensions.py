"""ArchiveJobExtension: opens the capture job with the crawl and closes it with the spider.

On ``spider_closed`` (or at exit, for a process that ends without it: ``scrapy shell``) it
closes the WARCs and the capture log and writes the manifest. A
graceful shutdown (SIGINT/SIGTERM) goes the same way: current records are finished, files
closed, the manifest written with outcome ``interrupted``.

Settings: ``ARCHIVE_PROGRESS`` (a callable taking a dict) is called every
``ARCHIVE_PROGRESS_INTERVAL`` seconds (default 1.0) and once at the end. With
``ARCHIVE_MIN_FREE_BYTES`` (the collection's ``caps.min_free_bytes``) the store's free space
is looked at every second, and the crawl closed (reason ``disk-low``) once it is below.
"""

from __future__ import annotations

import atexit
import logging
from time import monotonic
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet import task

from archive.errors import CaptureStopped
from archive.job import CaptureJob
from archive.job_worker import BATCH_SECONDS, WorkerJob
from archive.runtime import cpu_seconds
from archive.store import below_floor
from crawler.job import capture_failed, floor_lowered_by, job_for

log = logging.getLogger(__name__)

ROOM_CHECK_SECONDS = 1.0  # how often a running crawl looks at the free space of its store


class ArchiveJobExtension:
    def __init__(self, crawler: Crawler, job: CaptureJob | WorkerJob):
        self.crawler = crawler
        self.job = job
        self.progress = crawler.settings.get("ARCHIVE_PROGRESS")
        self.interval = crawler.settings.getfloat("ARCHIVE_PROGRESS_INTERVAL", 1.0)
        # (ARCHIVE_MIN_FREE_BYTES where it is set: crawler.job made the collection's that)
        self.min_free = int(job.collection.caps["min_free_bytes"])
        self.lowered_by = floor_lowered_by(crawler)
        self._loop: task.LoopingCall | None = None
        self._flusher: task.LoopingCall | None = None
        self._room: task.LoopingCall | None = None
        self._t0 = monotonic()
        self._cpu0 = cpu_seconds()
        self._closed = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        # `scrapy shell` (and a script) may end without closing the spider: the job is closed
        # then, with what was fetched, instead of its last captures lost with the process.
        atexit.register(self._close_at_exit)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveJobExtension:
        return cls(crawler, job_for(crawler))

    def spider_opened(self, spider: Any = None) -> None:
        self._t0 = monotonic()
        self._cpu0 = cpu_seconds()
        if isinstance(self.job, WorkerJob):
            # Batched captures reach the worker at least this often when the crawl is slow.
            self._flusher = task.LoopingCall(self._flush)
            self._flusher.start(BATCH_SECONDS, now=False)
        if self.progress is not None:
            self._loop = task.LoopingCall(self._report)
            self._loop.start(self.interval, now=False)
        if self.min_free > 0:
            self._room = task.LoopingCall(self._check_room)
            self._room.start(ROOM_CHECK_SECONDS, now=False)

    def _check_room(self) -> None:
        """Stop the crawl, closing its files whole, before the disk fills up."""
        low = below_floor(self.job.coll.root, self.min_free, self.lowered_by)
        if low is not None:
            self._room.stop()  # type: ignore[union-attr]
            capture_failed(self.crawler, low, reason="disk-low")

    def snapshot(self, final: bool = False) -> dict[str, Any]:
        tally = self.job.tally
        return {
            "job_id": self.job.job_id,
            "pages": tally.outcomes["captured"],
            "errors": tally.errors,
            "robots_disallowed": tally.outcomes["robots-disallowed"],
            "bytes": tally.bytes,
            "elapsed": monotonic() - self._t0,
            # CPU seconds of this process since the spider opened, and, once the job is
            # closed, its capture worker's CPU and peak RSS: for benchmarks/run.py.
            "cpu": cpu_seconds() - self._cpu0,
            "worker_cpu": getattr(self.job, "worker_cpu", None),
            "worker_peak_rss_kb": getattr(self.job, "worker_peak_rss_kb", None),
            "final": final,
        }

    def _flush(self) -> None:
        try:
            self.job.flush()  # type: ignore[union-attr]
        except CaptureStopped as exc:
            self._flusher.stop()  # type: ignore[union-attr]
            capture_failed(self.crawler, exc)

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.snapshot())

    def _close_at_exit(self) -> None:
        if not self._closed:
            self.spider_closed(reason="shutdown")

    def spider_closed(self, spider: Any = None, reason: str = "finished") -> None:
        self._closed = True
        for loop in (self._loop, self._flusher, self._room):
            if loop is not None and loop.running:
                loop.stop()
        manifest = self.job.close(reason)
        log.info("job %s closed (%s); manifest %s", self.job.job_id, reason, manifest)
        if self.progress is not None:
            last = self.snapshot(final=True)
            last["out_of_scope"] = self.crawler.stats.get_value("archive/out_of_scope", 0)
            last["html_sitemaps"] = self.crawler.stats.get_value("archive/html_sitemaps", 0)
            self.progress(last)
