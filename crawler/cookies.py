"""Scrapy's cookies middleware, with a browser's limits on what a site may store.

``http.cookiejar`` keeps every cookie a site sets and sends all that match with each
request: a site setting thousands a page made every request head megabytes long (and every
request record in the WARC), and the crawl slower with each page. As browsers do (RFC 6265
§6.1 gives the least a client must allow), a cookie is kept only if name and value are at
most 4096 bytes, its domain holds fewer than 180 cookies and the jar fewer than 3000; one
replacing a cookie of the same domain, path and name is always kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from http.cookiejar import Cookie
from typing import Any

from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.http import Request
from scrapy.http.cookies import CookieJar

log = logging.getLogger(__name__)

MAX_COOKIE_BYTES = 4096
MAX_PER_DOMAIN = 180
MAX_COOKIES = 3000


class BoundedCookiesMiddleware(CookiesMiddleware):
    crawler: Any

    def _process_cookies(self, cookies: Iterable[Cookie], *, jar: CookieJar, request: Request) -> None:
        super()._process_cookies(self._within_limits(cookies, jar, request), jar=jar, request=request)

    def _within_limits(self, cookies: Iterable[Cookie], jar: CookieJar, request: Request) -> Iterator[Cookie]:
        # domain -> path -> name -> Cookie: http.cookiejar's own store, read to count.
        store: dict[str, dict[str, dict[str, Cookie]]] = jar.jar._cookies  # type: ignore[attr-defined]
        total = sum(len(names) for paths in store.values() for names in paths.values())
        refused = 0
        for cookie in cookies:  # (each is set before the next is drawn: the counts hold)
            paths = store.get(cookie.domain, {})
            if len(cookie.name) + len(cookie.value or "") > MAX_COOKIE_BYTES:
                refused += 1
            elif cookie.name in paths.get(cookie.path, {}):
                yield cookie
            elif total >= MAX_COOKIES or sum(len(names) for names in paths.values()) >= MAX_PER_DOMAIN:
                refused += 1
            else:
                total += 1
                yield cookie
        if refused:
            self.crawler.stats.inc_value("archive/cookies_refused", refused)
            log.warning("%s: %d cookies not kept (at most %d a domain, %d in all, %d bytes each)",
                        request.url, refused, MAX_PER_DOMAIN, MAX_COOKIES, MAX_COOKIE_BYTES)
