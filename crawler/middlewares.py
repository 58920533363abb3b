"""WarcCaptureMiddleware: every fetch becomes request, response and metadata records.

Order ~950 (see ``crawler.settings``): above HttpCompression (590), Redirect (600),
Cookies (700), HttpProxy (750) and HttpCache (900). ``process_request`` therefore runs
last, when headers are final; ``process_response`` runs first, so every 3xx is seen before
redirects are followed and bodies are still content-encoded as sent.

Settings: ``ARCHIVE_MAX_BODY_BYTES`` (0 = no cap) truncates a body by ``StopDownload``
counted from received bytes and marks the record ``WARC-Truncated: length``.
Per request: ``meta["archive"]`` carries the provenance (see ``archive.capture.Provenance``).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from time import monotonic, time
from typing import Any

from scrapy import exceptions as scrapy_exceptions
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from twisted.internet.error import TimeoutError as TwistedTimeoutError

from archive.capture import NO_BODY_STATUSES, Fetch, Provenance
from archive.errors import CaptureStopped
from archive.job import CaptureJob
from archive.job_worker import WorkerJob, unflat_fetch
from archive.netpolicy import refusal
from archive.urls import host_of
from archive.warc.records import utcnow
from crawler import tap
from crawler.job import capture_failed, failure_text, job_for, record_failure
from crawler.resolver import refusal_reason

log = logging.getLogger(__name__)

_T0 = "_archive_t0"
_HEADERS_AT = "_archive_headers_at"
_RECEIVED = "_archive_received"
_EXPECTED = "_archive_expected"
# The capture a conditional request was made against (Fetch.conditional_on), set by the spider.
CONDITIONAL_ON = "archive_conditional_on"
# On the crawler, once a stop was asked for (archive.crawl): no request is fetched after it.
STOPPING = "_archive_stopping"
# What a download that ran out of time raises: Scrapy's own class where it has one, else Twisted's.
_TIMEOUTS = tuple(c for c in (getattr(scrapy_exceptions, "DownloadTimeoutError", None), TwistedTimeoutError)
                  if c is not None)


@lru_cache(maxsize=256)
def _ip_text(address: Any) -> str:
    """The text of the address a response came from (str() of an ipaddress object costs
    microseconds, and a crawl meets few addresses)."""
    return str(address)


@lru_cache(maxsize=4096)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def provenance_of(request: Request) -> Provenance:
    """Provenance from ``meta["archive"]``, with the redirect hops Scrapy has followed."""
    return Provenance(*provenance_values(request))


def provenance_values(request: Request) -> tuple[Any, ...]:
    """:func:`provenance_of` as a tuple in the order of Provenance's fields (seed, channel,
    source, source_id, via, hops, depth, url_as_linked), the form the capture worker gets."""
    rmeta = request.meta
    meta: dict[str, Any] = rmeta.get("archive") or {}
    if not isinstance(meta, Mapping):
        meta = {}  # (a project's own use of the key, not provenance: inferred as for a request without it)
    channel, hops, via = meta.get("channel", "seed"), meta.get("hops", ""), meta.get("via")
    if meta.get("channel") is None and rmeta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
        channel, hops = "robots", "P"
    elif not meta:
        meta, channel, hops, via = _inferred(request)
    redirects = rmeta.get("redirect_urls")
    if redirects:
        # Redirects add a hop but no depth (CONTRACTS.md, depth).
        channel, via = "redirect", redirects[-1]
        hops += "R" * len(redirects)
    return (meta.get("seed"), channel, meta.get("source"), meta.get("source_id"), via, hops,
            int(rmeta.get("depth", 0)), meta.get("url_as_linked"))


def _inferred(request: Request) -> tuple[dict[str, Any], str, str, str | None]:
    """Provenance of a request that has no ``meta["archive"]`` (a spider of a project's own),
    from what Scrapy keeps: a request at depth 0 is a seed (itself), one deeper a link, as
    many link hops from a seed as its depth, found on the page its ``Referer`` names."""
    depth = int(request.meta.get("depth", 0))
    if depth <= 0:
        redirects = request.meta.get("redirect_urls")
        return {"seed": redirects[0] if redirects else request.url}, "seed", "", None
    referer = request.headers.get(b"Referer")
    return {}, "link", "L" * depth, referer.decode("latin-1") if referer else None


def robots_state(request: Request, obey: bool) -> str:
    """The capture log's ``robots`` for ``request``; ``obey``: the ROBOTSTXT_OBEY setting."""
    meta = request.meta
    if meta.get("dont_obey_robotstxt"):
        return "not-applicable" if request.url.endswith("/robots.txt") else "ignored"
    if not obey:
        return "ignored"
    return meta.get("archive_robots", "allowed")


class WarcCaptureMiddleware:
    def __init__(self, crawler: Crawler, job: CaptureJob | WorkerJob):
        self.crawler = crawler
        self.job = job
        # (ARCHIVE_MAX_BODY_BYTES where it is set: crawler.job made the collection's that)
        self.max_body = int(job.collection.caps["max_body_bytes"])
        self.seed_hosts = {host_of(seed["url"]) for seed in job.collection.seeds}
        self.allow_private = bool(job.collection.scope["allow_private_addresses"])
        self._refused_hosts: set[str] = set()  # (said once each in the crawl log)
        self._said_cached = False
        self.obey_robots = crawler.settings.getbool("ROBOTSTXT_OBEY")
        self.retry_enabled = crawler.settings.getbool("RETRY_ENABLED")
        self.retry_times = crawler.settings.getint("RETRY_TIMES")
        self.retried = tuple(load_object(e) if isinstance(e, str) else e
                             for e in crawler.settings.getlist("RETRY_EXCEPTIONS"))
        crawler.signals.connect(self._headers_received, signal=signals.headers_received)
        if self.max_body:
            crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        return cls(crawler, job_for(crawler))

    # -- timing: the fetch starts when the handler sends the request, not when it queues

    def process_request(self, request: Request, spider: Any = None) -> None:
        if getattr(self.crawler, STOPPING, False):
            raise IgnoreRequest("not fetched: the crawl is stopping")
        host = urlparse_cached(request).hostname or ""
        if _is_ip(host):
            # An address literal never reaches the resolver; apply the same policy here.
            reason = refusal(host, host, seed_hosts=self.seed_hosts, allow_private=self.allow_private)
            if reason is not None:
                self._say_refused(host, reason)
                record_failure(self.crawler, self.job, request.url, error=f"RefusedAddress: {reason}",
                               provenance=provenance_of(request), started=utcnow(), duration_ms=None,
                               method=request.method, robots=robots_state(request, self.obey_robots))
                raise IgnoreRequest(reason)
        request.meta[_T0] = (time(), monotonic())
        request.meta.pop(_HEADERS_AT, None)
        request.meta.pop(_RECEIVED, None)

    def _say_refused(self, host: str, reason: str) -> None:
        """Say in the crawl log, once for each host, that its pages are refused: otherwise
        only the capture log tells why a crawl of a local site captured nothing."""
        if host not in self._refused_hosts:
            self._refused_hosts.add(host)
            log.warning("every URL of %s is refused: %s; the capture log lists each", host, reason)

    def _headers_received(self, headers: Any, body_length: int, request: Request, spider: Any = None,
                          **_: Any) -> None:  # (**_: pydispatch then passes the arguments as they are)
        # (with the head as received, when the tap is in place: crawler.tap)
        meta = request.meta
        meta[_HEADERS_AT] = (time(), monotonic(), tap.current)
        if self.max_body:
            meta[_EXPECTED] = body_length if body_length is not None and body_length >= 0 else None

    def _bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        received = request.meta.get(_RECEIVED, 0) + len(data)
        request.meta[_RECEIVED] = received
        expected = request.meta.get(_EXPECTED)
        # Stop only when more is coming: a body that ends at or just past the cap is whole.
        if received >= self.max_body and (expected is None or received < expected):
            raise StopDownload(fail=False)

    @staticmethod
    def _timing(meta: dict[str, Any], at_headers: tuple[Any, ...] | None) -> tuple[float, float | None]:
        """When the fetch started (a POSIX timestamp) and how long it took (ms, or None);
        ``meta``: the request's, ``at_headers``: its ``_HEADERS_AT``."""
        now = monotonic()
        latency = meta.get("download_latency")
        if at_headers is not None and latency is not None:
            wall, mono = at_headers[0], at_headers[1]
            return wall - latency, (now - mono + latency) * 1000
        t0 = meta.get(_T0)
        if t0 is None:
            return time(), None
        return t0[0], (now - t0[1]) * 1000

    # -- recording -------------------------------------------------------------------

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if "cached" in response.flags:
            if not self._said_cached:
                # Otherwise a crawl served from the cache closes a job of no captures, unexplained.
                self._said_cached = True
                log.warning("%s came from Scrapy's HTTP cache (HTTPCACHE_ENABLED), not from the network, so it is "
                            "not captured; nor is any other cached response of this crawl", request.url)
            return response
        at_headers = request.meta.get(_HEADERS_AT)
        started, duration = self._timing(request.meta, at_headers)  # (the worker takes the timestamp as it is)
        tapped = at_headers[2] if at_headers is not None else None
        values = self._values(request, response, started, duration, tapped)
        if tapped is not None:
            tapped.release()  # the body came whole: let its reader, buffer and request head go
        try:
            self._record(values, response.body)
        except CaptureStopped as exc:
            capture_failed(self.crawler, exc)
            raise IgnoreRequest(str(exc)) from None
        return response

    def _record(self, values: tuple[Any, ...], body: bytes) -> None:
        if isinstance(self.job, WorkerJob):
            self.job.record_flat(values, body)
        else:
            self.job.record_fetch(unflat_fetch(values, body))

    def fetch_of(self, request: Request, response: Response, started: float, duration: float | None) -> Fetch:
        """The :class:`Fetch` of this exchange (as the job gets it)."""
        return unflat_fetch(self.fetch_values(request, response, started, duration), response.body)

    def fetch_values(self, request: Request, response: Response, started: float,
                     duration: float | None) -> tuple[Any, ...]:
        """The :class:`Fetch` of this exchange, flat (``archive.job_worker.flat_fetch``'s
        form, without the body), as the capture worker gets it: built as such, since a
        ``Fetch`` and its ``Provenance`` only to be taken apart again cost the crawl
        process a fifth of the middleware's time."""
        at_headers = request.meta.get(_HEADERS_AT)
        return self._values(request, response, started, duration, at_headers[2] if at_headers is not None else None)

    def _values(self, request: Request, response: Response, started: float, duration: float | None,
                tapped: tap.Head | None) -> tuple[Any, ...]:
        """:meth:`fetch_values`, with the request's tapped head (if any) looked up already."""
        flags = response.flags
        status = response.status
        headers = response.headers
        head = sent = interim = None
        if tapped is not None:
            head, sent, interim = tapped.raw, tapped.sent, tapped.interim
            if head.split(None, 2)[1:2] != [b"%d" % status]:
                head = sent = interim = None  # not this response's head: rebuild both
        has_length = b"Content-Length" in headers
        # (no body by definition: an absent Content-Length says nothing of framing)
        bodiless = status in NO_BODY_STATUSES or request.method == "HEAD"
        framing = None
        if not has_length and "partial" not in flags and "download_stopped" not in flags and status >= 200 \
                and not bodiless:
            # Twisted ends a body of unknown length cleanly only after the last chunk;
            # a close-delimited body is flagged "partial" instead.
            framing = "chunked"
        if head is None:
            # Scrapy's Headers is a dict of normalised names to lists of values; its
            # items() normalises every name again on the way out.
            fields = [(name, value) for name, values in dict.items(headers) for value in values]
            # The client reports a bodiless response's length as 0 whatever was sent.
            reconstructed: tuple[str, ...] = ("content-length",) if has_length and bodiless else ()
        else:
            fields, reconstructed = None, ()  # the worker reads them from the head
        truncated = None
        if "download_stopped" in flags:
            truncated = "length"
        elif "dataloss" in flags:
            truncated = "disconnect"
        return self._flat(request, response.url, status, fields, started, duration, getattr(response, "protocol", None),
                          getattr(response, "ip_address", None), getattr(response, "certificate", None), framing,
                          truncated, reconstructed, head, sent, interim)

    def _flat(self, request: Request, url: str, status: int, fields: list[tuple[bytes, bytes]] | None,
              started: float, duration: float | None, protocol: str | None, ip: Any, cert: Any,
              framing: str | None, truncated: str | None, reconstructed: tuple[str, ...],
              head: bytes | None, sent: bytes | None, interim: str | None) -> tuple[Any, ...]:
        """A fetch in the order of Fetch's fields, the body left out (flat_fetch's form).
        ``sent``: the request head as written, if the tap saw it (the worker then reads the
        request's header fields from it); ``interim``: the codes of 1xx responses before
        this one, as the tap saw them."""
        method = request.method
        if sent is not None and not sent.startswith(method.encode("latin-1") + b" "):
            sent = None  # not this request's head
        return (
            url,
            method,
            None if sent is not None else
            [(name, value) for name, values in dict.items(request.headers) for value in values],
            request.body,
            status,
            fields,
            started,
            duration,
            protocol,
            None,  # reason: Scrapy does not keep the reason phrase (a tapped head has it)
            _ip_text(ip) if ip is not None else None,
            cert.dump() if cert is not None else None,
            framing,
            truncated,
            provenance_values(request),
            robots_state(request, self.obey_robots),
            reconstructed,
            head,
            sent,
            # (not a redirected request's: the validators came along from the URL before)
            None if "redirect_urls" in request.meta else request.meta.get(CONDITIONAL_ON),
            interim,
        )

    def cut_off_values(self, request: Request, started: float,
                       duration: float | None) -> tuple[tuple[Any, ...], bytes] | None:
        """The flat fetch and body of a download whose timeout ran out after its head had
        come (WARC-Truncated: time), or None if the head or the bytes are not to be had."""
        at_headers = request.meta.get(_HEADERS_AT)
        tapped = at_headers[2] if at_headers is not None else None
        received = tap.received_so_far(tapped) if tapped is not None else None
        if tapped is None or received is None:
            return None
        body, ip, cert = received
        version, code = tapped.raw.split(None, 2)[:2]
        # (framing: Transfer-Encoding, if any, is in the head, and so said)
        return self._flat(request, request.url, int(code), None, started, duration, version.decode("latin-1"),
                          ip, cert, None, "time", (), tapped.raw, tapped.sent, tapped.interim), body

    def will_retry(self, request: Request, exception: Exception) -> bool:
        """Whether Scrapy's RetryMiddleware will try ``request`` again after ``exception``."""
        meta = request.meta
        if not self.retry_enabled or meta.get("dont_retry") or not isinstance(exception, self.retried):
            return False
        return meta.get("retry_times", 0) < meta.get("max_retry_times", self.retry_times)

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        if isinstance(exception, IgnoreRequest):
            return  # decided before any fetch; the deciding component logs it
        at_headers = request.meta.get(_HEADERS_AT)
        started, duration = self._timing(request.meta, at_headers)
        # A body cut off by the timeout is kept from the last attempt only: an attempt that
        # will be retried is a failure line, as any other (no partial copy per attempt).
        cut_off = self.cut_off_values(request, started, duration) \
            if isinstance(exception, _TIMEOUTS) and not self.will_retry(request, exception) else None
        if at_headers is not None and at_headers[2] is not None:
            at_headers[2].release()  # (the reader refers to the request: no cycle left)
        if cut_off is not None:
            # The bytes that came are evidence too: a record marked WARC-Truncated: time.
            try:
                self._record(*cut_off)
            except CaptureStopped as exc:
                capture_failed(self.crawler, exc)
            return
        ua = request.headers.get(b"User-Agent")
        error = failure_text(exception)
        refused = refusal_reason(urlparse_cached(request).hostname or "")
        if refused is not None:
            self._say_refused(urlparse_cached(request).hostname or "", refused)
            error = f"RefusedAddress: {refused}"
            request.meta["dont_retry"] = True  # a policy decision, not a transient failure
        record_failure(
            self.crawler,
            self.job,
            request.url,
            error=error,
            provenance=provenance_of(request),
            started=datetime.fromtimestamp(started, UTC),
            duration_ms=duration,
            method=request.method,
            user_agent=ua.decode("latin-1") if ua else None,
            robots=robots_state(request, self.obey_robots),
        )
