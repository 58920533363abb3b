"""RobotsTxtMiddleware that records its decision for every URL.

Scrapy's middleware fetches and obeys robots.txt (the fetch passes through the capture
middleware, so robots.txt itself is archived). This subclass adds the decision to the
request's provenance and logs each refused URL in the capture log. Only the first 500 KiB
of a robots.txt are parsed (the whole of it is archived).

It also keeps to RFC 9309 where Scrapy does not, which parses whatever body came and takes
a failed fetch as allowing all:

- a robots.txt that answers 5xx (or 429, as search engines read it), or cannot be fetched
  at all (refused, reset, timed out, unknown host), leaves the rules undefined, and the
  crawler must take all of the site as disallowed (§2.3.1.4): its URLs are logged as
  ``robots-disallowed``, the error saying why; the next crawl asks again;
- one that answers 4xx is unavailable and allows all (§2.3.1.3), whatever its error page says.

A ``Crawl-delay`` for our user agent (or ``*``), which RFC 9309 leaves out but many sites
write and Heritrix keeps to, slows the host down to one request every that many seconds,
if that is slower than the collection's own delay; up to ``ARCHIVE_MAX_CRAWL_DELAY``
seconds (default 30), so that a robots.txt cannot stop a crawl while seeming to let it run.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from archive.warc.records import utcnow
from crawler.job import failure_text, job_for, record_failure
from crawler.middlewares import provenance_of
from crawler.resolver import refusal_reason

log = logging.getLogger(__name__)

# RFC 9309 §2.5: crawlers must parse at least 500 KiB of a robots.txt, and may stop there.
# Parsing all of a hostile one of hundreds of megabytes takes minutes and gigabytes.
MAX_ROBOTS_BYTES = 500 * 1024
MAX_CRAWL_DELAY = 30.0  # seconds; the ARCHIVE_MAX_CRAWL_DELAY setting
_DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


class RecordingRobotsTxtMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)  # (NotConfigured if ROBOTSTXT_OBEY is off)
        try:
            self.job: Any = job_for(crawler)
        except NotConfigured:
            # Capture is off: robots.txt is still obeyed, as by Scrapy's own middleware, which
            # this one stands in for; only the record of its refusals goes.
            self.job = None
        # Hosts (netlocs) whose robots.txt could not be had, and why: all of each is disallowed.
        self.undefined: dict[str, str] = {}
        self._disallow_all = build_from_crawler(self._parserimpl, crawler, _DISALLOW_ALL)
        self.max_crawl_delay = crawler.settings.getfloat("ARCHIVE_MAX_CRAWL_DELAY", MAX_CRAWL_DELAY)
        self.crawl_delays: dict[str, float] = {}  # download slots kept to a robots.txt's Crawl-delay: the delay

    async def robot_parser(self, request: Request) -> Any:
        # While a host's robots.txt comes, Scrapy has every request for the host wait on one
        # Deferred, and Twisted hands its result to the first waiter only (asFuture's callback
        # returns None to the ones after it): they took None for "no robots.txt", and URLs it
        # disallows were fetched. Each waiter here has a Deferred of its own, passed the result
        # unchanged.
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        own: Deferred[Any] = Deferred()

        def hand_on(result: Any) -> Any:
            (own.errback if isinstance(result, Failure) else own.callback)(result)
            return result

        pending.addBoth(hand_on)
        return await maybe_deferred_to_future(own)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        # Not for a request refused before any fetch (IgnoreRequest), or an address the
        # crawl's own policy refuses: those refuse the site's pages as well, and say why.
        if isinstance(exc, IgnoreRequest) or refusal_reason(urlsplit("//" + netloc).hostname or "") is not None:
            super()._robots_error(exc, netloc)  # (no rules: Scrapy's None, all allowed)
            return
        detail = failure_text(exc)
        self.undefined[netloc] = f"robots.txt could not be fetched ({detail})"
        self.crawler.stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        # As Scrapy's own does with None: the parser for this host from now on, and for the
        # requests that were waiting for it. (Set here rather than looked up at every
        # request: robot_parser() is on every request's path.)
        waiting = self._parsers[netloc]
        if not isinstance(waiting, Deferred):
            return  # (a failure after the rules were in place: they stand)
        self._parsers[netloc] = self._disallow_all
        waiting.callback(self._disallow_all)

    async def _parse_robots(self, response, netloc, request) -> None:  # type: ignore[no-untyped-def]
        if response.status >= 500 or response.status == 429:
            self.undefined[netloc] = f"robots.txt answered {response.status}"
            log.warning("%s answered %d: all of %s is taken as disallowed in this crawl (RFC 9309)", response.url,
                        response.status, netloc)
            response = response.replace(body=_DISALLOW_ALL)
        elif response.status >= 300:  # 4xx (or a redirect with nowhere to go): no rules at all
            response = response.replace(body=b"")
        elif len(response.body) > MAX_ROBOTS_BYTES:
            # Whole lines only: a rule cut in half could disallow less than it says.
            cut = response.body.rfind(b"\n", 0, MAX_ROBOTS_BYTES) + 1
            log.warning("%s: robots.txt of %d bytes, only its first %d are obeyed", response.url,
                        len(response.body), cut)
            response = response.replace(body=response.body[:cut])
        await super()._parse_robots(response, netloc, request)
        try:
            self._keep_crawl_delay(self._parsers.get(netloc), response)
        except Exception:  # (Scrapy's slots are not ours: the rules stand, whatever becomes of the delay)
            log.exception("%s: its Crawl-delay could not be kept to", response.url)

    def _keep_crawl_delay(self, parser, response) -> None:  # type: ignore[no-untyped-def]
        """Slow the host of ``response`` (its robots.txt) down to the Crawl-delay ``parser`` holds."""
        rules = getattr(parser, "rp", None)  # (Scrapy's Protego parser; others say nothing of delays)
        agent = self._robotstxt_useragent or self.crawler.settings.get("USER_AGENT") or "*"
        try:
            asked = float(rules.crawl_delay(agent)) if rules is not None else None
        except (AttributeError, TypeError, ValueError):
            asked = None
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(response.request)
        own = max(self.crawler.settings.getfloat("DOWNLOAD_DELAY"),
                  float(downloader.per_slot_settings.get(key, {}).get("delay", 0)))
        # (nan, negative, or no slower than the collection's own delay for the host: nothing to do)
        if asked is None or not asked > own:
            return
        slot = downloader.slots.get(key)
        delay = min(asked, self.max_crawl_delay)
        if delay < asked:
            log.warning("%s asks for a Crawl-delay of %g s; %g s is kept to (ARCHIVE_MAX_CRAWL_DELAY)", response.url,
                        asked, delay)
        else:
            log.info("%s asks for a Crawl-delay of %g s: kept to", response.url, delay)
        # For the slot there is, and for one made again after it went idle. AutoThrottle, if
        # on, may make the delay longer, not shorter (_at_least_crawl_delay).
        downloader.per_slot_settings[key] = {**downloader.per_slot_settings.get(key, {}), "delay": delay, "jitter": 0}
        if slot is not None:
            slot.delay, slot.jitter = max(slot.delay, delay), 0.0
        if not self.crawl_delays:
            # Connected now, after AutoThrottle's receiver (connected as the crawl began), so
            # that it runs after AutoThrottle has set the delay for the next request.
            self.crawler.signals.connect(self._at_least_crawl_delay, signal=signals.response_downloaded)
        self.crawl_delays[key] = delay

    def _at_least_crawl_delay(self, request: Request, **_: Any) -> None:
        key = request.meta.get("download_slot")
        floor = self.crawl_delays.get(key) if key is not None else None
        slot = self.crawler.engine.downloader.slots.get(key) if floor is not None else None
        if slot is not None and slot.delay < floor:
            slot.delay = floor

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
            why = self.undefined.get(urlparse_cached(request).netloc)
            if self.job is None:
                raise
            record_failure(
                self.crawler,
                self.job,
                request.url,
                error="robots.txt disallows this URL" if why is None else
                f"{why}, so all of the site is taken as disallowed (RFC 9309)",
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
