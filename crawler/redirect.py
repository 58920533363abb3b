"""Scrapy's redirect middlewares, saying where they stop following a chain.

Past ``REDIRECT_MAX_TIMES`` hops (a loop, or a site sending the crawler round in circles)
Scrapy drops the next hop with a debug message only: every hop before it is archived, but
nothing said that the chain was cut. These log the URL not followed in the capture log, as
a failure, and in the crawl log. A ``Location`` that is no URL at all (a port past 65535)
is said in one line of the crawl log, instead of a traceback.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.response import get_meta_refresh

from archive.urls import canonical_or_none, join_url, refresh_parts, with_authority
from archive.warc.records import utcnow
from crawler.job import job_for, record_failure
from crawler.middlewares import provenance_of

log = logging.getLogger(__name__)


class _SaysWhereItStops:
    crawler: Any

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        redirected, canonical = self._once(redirected, request)
        try:
            followed = super()._redirect(redirected, request, reason)  # type: ignore[misc]
            if _sent_back(followed.url, request):
                # A URL of this chain again, a cookie set on the way (a consent or bot check
                # that sends the reader back, at once or through a consent page): fetched again,
                # as a browser does, where the duplicate filter dropped it and the page was
                # never had. REDIRECT_MAX_TIMES ends a loop; one that sets no cookie is cut at
                # once, as before (its next round would be the same).
                followed.dont_filter = True
            if canonical is not None:  # (seen once it is followed: not if the chain was cut here)
                self.crawler.spider.seen.add(canonical)
            return followed
        except IgnoreRequest:
            hops = [*request.meta.get("redirect_urls", []), request.url]
            # A type-like name first, as other failures have: it is what the job's counts
            # (by_error) group by.
            error = f"RedirectLimit: not followed after {len(hops) - 1} redirects (REDIRECT_MAX_TIMES)"
            log.warning("%s: %s", redirected.url, error)
            try:
                job = job_for(self.crawler)
            except NotConfigured:
                raise IgnoreRequest(error) from None  # not archiving: the crawl log says it
            # Its provenance as if followed: one more redirect hop after ``request``.
            redirected.meta["redirect_urls"] = hops
            record_failure(self.crawler, job, redirected.url, error=error, provenance=provenance_of(redirected),
                           started=utcnow(), duration_ms=None, method=redirected.method, robots="not-applicable")
            raise IgnoreRequest(error) from None


    def _once(self, redirected: Request, request: Request) -> tuple[Request, str | None]:
        """A page's redirect target as the spider fetches a link: canonical, and not again.

        Redirects went round the spider's seen set: a feed item sent through a tracker to
        ``/story?utm_source=feed`` was fetched, archived and extracted beside the
        ``/story`` the front page links. A target that is another page's canonical URL,
        fetched or on its way, is not followed (its 3xx is archived, ``Location`` and all);
        one the server insists on (the same page in another spelling) is. Gives the request
        to follow and the canonical URL to count as seen once it is followed (or None).
        """
        spider = getattr(self.crawler, "spider", None)
        seen = getattr(spider, "seen", None)
        if seen is None or redirected.callback != getattr(spider, "parse", None):
            return redirected, None  # (not archiving's spider, or not a page: a feed, a sitemap, a requisite)
        canonical = canonical_or_none(redirected.url)
        if canonical is None or canonical == canonical_or_none(request.url) or _sent_back(redirected.url, request):
            return redirected, None
        if canonical in seen:
            log.info("%s redirects to %s, fetched already or on its way: not fetched again", request.url,
                     redirected.url)
            raise IgnoreRequest(f"redirect to {canonical}, which is fetched once")
        return (redirected if canonical == redirected.url else redirected.replace(url=canonical)), canonical


# Set in ``request.meta`` when a redirect of its chain set a cookie.
_COOKIE_SET = "archive_redirect_set_cookie"


def _sent_back(url: str, request: Request) -> bool:
    """Whether ``url`` is the URL of ``request`` or of a hop of the redirects that led to it,
    and a redirect of the chain set a cookie."""
    return bool(request.meta.get(_COOKIE_SET)) and url in (request.url, *request.meta.get("redirect_urls", ()))


class RecordingRedirectMiddleware(_SaysWhereItStops, RedirectMiddleware):
    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        if 300 <= response.status < 400 and response.headers.getlist(b"Set-Cookie"):
            request.meta[_COOKIE_SET] = True  # (carried to the request it redirects to)
        location = response.headers.get(b"Location") if 300 <= response.status < 400 else None
        if location and location[:5].lower() in (b"http:", b"https"):
            # An http(s) URL written without its two slashes (a server's rule missing one,
            # "https:/host/x" or "https:host/x" from an http page), read as browsers read it,
            # https://host/x: Scrapy asked for "https:///host/x", of no host, or refused it.
            # (The response is archived as sent already; this copy only says where to go.)
            read = with_authority(location.decode("latin-1"), urlsplit(request.url).scheme).encode("latin-1")
            if read != location:
                headers = response.headers.copy()
                headers[b"Location"] = read
                response = response.replace(headers=headers)
        try:
            return super().process_response(request, response)
        except ValueError as exc:
            # A Location no client can follow (a port past 65535, a broken IPv6 literal):
            # the 3xx is archived as sent; this says why nothing came after it.
            location = (response.headers.get(b"Location") or b"").decode("latin-1")
            message = f"redirect not followed: unusable Location {location[:200]!r} ({exc})"
            log.warning("%s: %s", response.url, message)
            raise IgnoreRequest(message) from None


# Where the spider finds a page's meta refresh, to follow it as a link (``request.meta``).
REFRESH_META = "archive_refresh"


class RecordingMetaRefreshMiddleware(_SaysWhereItStops, MetaRefreshMiddleware):
    """Only an immediate refresh to another page (``content="0; url=..."``, a redirect in
    all but name) is followed as Scrapy follows one, in place of the page. A page that
    reloads itself (a news front page's ``content="60"``) went to no one: Scrapy made it a
    request for itself, which the duplicate filter dropped, and none of its links was
    followed. Such a page, and one that sends the reader on after a delay, now goes to the
    spider as any page does; the other page it names is a link of it (``REFRESH_META``), as
    Heritrix and wget take it. A ``Refresh`` header, which browsers obey as they obey the
    element (a page that sends the reader on, or a login wall), names such a link too,
    whatever its delay: the page itself goes to the spider (the element first, where a
    page has both)."""

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        if (not isinstance(response, HtmlResponse) or request.meta.get("dont_redirect", False)
                or request.method == "HEAD"):
            return super().process_response(request, response)
        interval, url = get_meta_refresh(response, ignore_tags=self._ignore_tags)
        if not url:
            url = refresh_header_target(response)
            if url and canonical_or_none(url) != canonical_or_none(request.url):
                request.meta[REFRESH_META] = url  # (a link of the page, whatever its delay)
            return response
        elsewhere = canonical_or_none(url) != canonical_or_none(request.url)
        if interval == 0 and elsewhere:
            return super().process_response(request, response)
        if elsewhere:
            request.meta[REFRESH_META] = url
        return response


def refresh_header_target(response: Response) -> str | None:
    """The absolute URL a response's ``Refresh`` header sends the reader to, if any (read
    as replay reads it, :func:`archive.urls.refresh_parts`)."""
    raw = response.headers.get(b"Refresh")
    parts = refresh_parts(raw.decode("latin-1")) if raw else None
    target = parts[1].strip() if parts is not None else ""
    if not target:
        return None  # (a page that reloads itself)
    try:
        return join_url(response.url, target)
    except ValueError:
        return None
