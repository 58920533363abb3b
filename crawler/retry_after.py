"""RetryAfterMiddleware: a 429 or 503 with ``Retry-After`` is retried after that delay.

Order 560, so its ``process_response`` runs before RetryMiddleware (550), which would retry
at once. The wait is honoured up to ``ARCHIVE_RETRY_AFTER_CAP`` seconds (default the collection's
``politeness.retry_after_cap``, else 120);
a longer one is not waited for in this job: the response stays recorded and the URL is
left for the next run. At most ``ARCHIVE_RETRY_AFTER_TIMES`` (default 2) such retries per
URL. The 429/503 response itself is captured like any other (the capture middleware sits
closer to the downloader).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from archive.retry_after import retry_after_seconds
from archive.warc.records import utcnow
from crawler.job import job_for

log = logging.getLogger(__name__)
_COUNT = "archive_retry_after_count"


def _collections_cap(crawler: Crawler) -> float:
    """The capture job's collection's ``politeness.retry_after_cap``, or 120 s without one."""
    try:
        return float(job_for(crawler).collection.politeness["retry_after_cap"])
    except NotConfigured:
        return 120.0


class RetryAfterMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.cap = crawler.settings.getfloat("ARCHIVE_RETRY_AFTER_CAP", _collections_cap(crawler))
        self.times = crawler.settings.getint("ARCHIVE_RETRY_AFTER_TIMES", 2)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        if response.status not in (429, 503):
            return response
        delay = retry_after_seconds(response.headers.get(b"Retry-After"), utcnow())
        count = request.meta.get(_COUNT, 0)
        if delay is None:
            return response
        if count >= self.times:
            request.meta["dont_retry"] = True  # an immediate retry would ignore what the server asked
            return response
        if delay > self.cap:
            log.warning("%s asks to wait %.0f s (cap %.0f s); left for the next run", request.url, delay, self.cap)
            self.crawler.stats.inc_value("archive/retry_after/too_long")
            request.meta["dont_retry"] = True  # retrying at once would ignore what the server asked
            return response
        log.info("%s: %d, retrying after %.1f s", request.url, response.status, delay)
        self.crawler.stats.inc_value("archive/retry_after/retried")
        from twisted.internet import reactor  # the one Scrapy installed

        await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        retry = request.replace(dont_filter=True)
        retry.meta[_COUNT] = count + 1
        return retry
