"""RobotsTxtMiddleware that records its decision for every URL.

Scrapy's middleware fetches and obeys robots.txt (the fetch passes through the capture
middleware, so robots.txt itself is archived). This subclass adds the decision to the
request's provenance and logs each refused URL in the capture log. Only the first 500 KiB
of a robots.txt are parsed (the whole of it is archived).
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

from archive.warc.records import utcnow
from crawler.job import job_for, record_failure
from crawler.middlewares import provenance_of

log = logging.getLogger(__name__)

# RFC 9309 §2.5: crawlers must parse at least 500 KiB of a robots.txt, and may stop there.
# Parsing all of a hostile one of hundreds of megabytes takes minutes and gigabytes.
MAX_ROBOTS_BYTES = 500 * 1024


class RecordingRobotsTxtMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.job = job_for(crawler)

    async def _parse_robots(self, response, netloc, request) -> None:  # type: ignore[no-untyped-def]
        if len(response.body) > MAX_ROBOTS_BYTES:
            # Whole lines only: a rule cut in half could disallow less than it says.
            cut = response.body.rfind(b"\n", 0, MAX_ROBOTS_BYTES) + 1
            log.warning("%s: robots.txt of %d bytes, only its first %d are obeyed", response.url,
                        len(response.body), cut)
            response = response.replace(body=response.body[:cut])
        await super()._parse_robots(response, netloc, request)

    def process_request_2(self, rp, request: Request) -> None:  # type: ignore[no-untyped-def]
        if rp is None:
            request.meta["archive_robots"] = "no-robots"
            return
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            request.meta["archive_robots"] = "disallowed"
            # UserAgentMiddleware (500) has not run yet; the default agent is the one used.
            ua = request.headers.get(b"User-Agent") or self.crawler.settings.get("USER_AGENT")
            if isinstance(ua, bytes):
                ua = ua.decode("latin-1")
            record_failure(
                self.crawler,
                self.job,
                request.url,
                error="robots.txt disallows this URL",
                provenance=provenance_of(request),
                started=utcnow(),
                duration_ms=None,
                method=request.method,
                user_agent=ua,
                robots="disallowed",
                outcome="robots-disallowed",
            )
            raise
        request.meta["archive_robots"] = "allowed"
