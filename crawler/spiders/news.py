"""The news spider: follows links from the seeds within scope, capturing as it goes.

Provenance travels in ``meta["archive"]`` (seed, channel, via, hop path, the URL as
linked); Scrapy's DepthMiddleware keeps ``meta["depth"]``. Links are followed up to the
collection's ``max_depth`` and ``max_pages``; page requisites (stylesheets, scripts,
images) of a captured page are fetched one hop beyond, from any host, and not parsed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Request, Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from archive.config import collection_from_dict
from archive.urls import canonicalize, host_in_scope, host_of

_REQUISITES = (
    "link[rel~=stylesheet]::attr(href), link[rel~=icon]::attr(href), script::attr(src), "
    "img::attr(src), source::attr(src), video::attr(poster), input[type=image]::attr(src)"
)
_SRCSET_URL = re.compile(r"(?:^|,)\s*(\S+)")


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, collection: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.collection = collection_from_dict(collection or {}, where="ARCHIVE_COLLECTION")
        scope = self.collection.scope
        self.allow_hosts: list[str] = list(scope["allow_hosts"])
        self.max_depth: int = int(scope["max_depth"])
        self.max_pages: int = int(scope["max_pages"])
        self.requisites: bool = bool(scope["page_requisites"])
        self.allow = [re.compile(p) for p in scope["allow_patterns"]]
        self.deny = [re.compile(p) for p in scope["deny_patterns"]]
        self.scheduled = 0
        self.seen: set[str] = set()
        self.links = LinkExtractor(tags=("a", "area"), attrs=("href",), unique=True, deny_extensions=[])

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        kwargs.setdefault("collection", crawler.settings.getdict("ARCHIVE_COLLECTION"))
        return super().from_crawler(crawler, *args, **kwargs)

    async def start(self) -> AsyncIterator[Request]:
        for url in self.collection.urls:
            request = self._page(url, seed=url, channel="seed", via=None, hops="", linked=None)
            if request is not None:
                yield request

    # -- scope -----------------------------------------------------------------------

    def in_scope(self, url: str) -> bool:
        if not url.startswith(("http://", "https://")):
            return False
        if not host_in_scope(host_of(url), self.allow_hosts):
            return False
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)

    def _page(self, url: str, *, seed: str | None, channel: str, via: str | None, hops: str,
              linked: str | None, depth: int | None = None) -> Request | None:
        """A request for a page to parse, or None when seen, out of scope or over the cap."""
        canonical = canonicalize(url)
        if canonical in self.seen or self.scheduled >= self.max_pages:
            return None
        if channel != "seed" and not self.in_scope(canonical):
            return None
        self.seen.add(canonical)
        self.scheduled += 1
        meta: dict[str, Any] = {
            "archive": {"seed": seed, "channel": channel, "via": via, "hops": hops,
                        "url_as_linked": linked if linked != canonical else None},
        }
        if depth is not None:
            meta["depth"] = depth
        return Request(canonical, callback=self.parse, meta=meta)

    # -- parsing ---------------------------------------------------------------------

    def parse(self, response: Response) -> Iterator[Request]:
        if not isinstance(response, TextResponse) or b"html" not in (response.headers.get(b"Content-Type") or b"html"):
            return
        prov = response.meta.get("archive") or {}
        depth = int(response.meta.get("depth", 0))
        hops = prov.get("hops", "") + "R" * len(response.meta.get("redirect_urls") or [])
        seed = prov.get("seed")
        if self.requisites:
            yield from self._requisites(response, seed, hops)
        if depth >= self.max_depth:
            return
        for link in self.links.extract_links(response):
            request = self._page(link.url, seed=seed, channel="link", via=response.url, hops=hops + "L",
                                 linked=link.url)
            if request is not None:
                yield request

    def _requisites(self, response: TextResponse, seed: str | None, hops: str) -> Iterator[Request]:
        urls = response.css(_REQUISITES).getall()
        for srcset in response.css("img::attr(srcset), source::attr(srcset)").getall():
            urls.extend(_SRCSET_URL.findall(srcset))
        for raw in urls:
            url = response.urljoin(raw.strip())
            if not url.startswith(("http://", "https://")):
                continue
            canonical = canonicalize(url)
            if canonical in self.seen:
                continue
            self.seen.add(canonical)
            yield Request(
                canonical,
                callback=self.parse_requisite,
                meta={"archive": {"seed": seed, "channel": "embed", "via": response.url, "hops": hops + "E",
                                  "url_as_linked": url if url != canonical else None}},
                priority=1,
            )

    def parse_requisite(self, response: Response) -> None:
        """Captured by the middleware; nothing to follow (one hop beyond scope only)."""
        return
