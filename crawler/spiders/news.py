"""The news spider: discovers articles through feeds, sitemaps and links, within scope.

Provenance travels in ``meta["archive"]`` (seed, channel, source, via, hop path, the URL
as linked) and depth in ``meta["depth"]``, set here by the contract's rules rather than by
Scrapy's DepthMiddleware: seeds, feeds and sitemaps are depth 0 (so are the sitemaps an
index or robots.txt points to), their items depth 1, each followed link +1, redirects +0.
Links are followed up to the collection's ``max_depth``; ``max_pages`` caps the pages
scheduled. Page requisites (stylesheets, scripts, images) of a captured page are fetched
one hop beyond, from any host, and not parsed.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.referer import RefererMiddleware
from scrapy.utils.response import get_base_url

from archive.capture import Provenance
from archive.config import collection_from_dict, seeds_outside_scope
from archive.discovery import (
    BadDocument,
    FeedItem,
    document_kind,
    is_html,
    parse_feed,
    parse_sitemap,
)
from archive.history import CollectionHistory, Referability
from archive.links import Resolver, css_urls, html_bytes, page_feeds, parse_html_bytes
from archive.recrawl import conditional_headers, known_articles, recrawl_urls
from archive.urls import (
    canonical_or_none,
    canonicalize,
    host_in_scope,
    host_of,
    host_pattern,
    join_url,
    port_of,
    same_escapes,
    same_site,
)
from archive.warc.records import utcnow
from crawler.job import job_for, record_failure
from crawler.middlewares import CONDITIONAL_ON
from crawler.page_parser import Hrefs, PageParser, ParserGone, hrefs, worth_it
from crawler.redirect import REFRESH_META

log = logging.getLogger(__name__)

MAX_CSS_EMBED_HOPS = 3  # page -> stylesheet -> @import -> font: enough for real pages
MAX_ADVERTISED_FEEDS = 10  # feeds read of those a seed page advertises (a site's main one and its sections')
MAX_LISTED_DOCUMENTS = 10_000  # sitemaps an index listed while they were on their way as pages, remembered
_REQUISITE_HOPS = "archive_requisite_hops"  # a requisite's embed hops from its page (meta)
# Requisites fetched for one page or stylesheet (setting ARCHIVE_MAX_REQUISITES). They come
# on top of max_pages; a real page has tens to a few hundred, a hostile one any number.
MAX_REQUISITES = 1000
FEED_ITEM_PRIORITY = 10  # new feed items first: they are what changes
RECRAWL_PRIORITY = 5
MAX_DEAD_ENDS = 200_000
# Feed items, sitemap entries and robots.txt Sitemap: lines on hosts out of the scope, not
# fetched (a job's final progress report carries the count to `archive crawl`'s summary).
OUT_OF_SCOPE_STAT = "archive/out_of_scope"
# The collection's sitemaps that answered an HTML page, read as pages (for the summary too).
HTML_SITEMAPS_STAT = "archive/html_sitemaps"
# Held sitemap pages are scheduled while fewer requests than this wait in the scheduler
# (setting ARCHIVE_SITEMAP_BACKLOG_LOW).
BACKLOG_LOW = 1000
_UNKNOWN = object()  # a sitemap's referrer policy, not looked up yet


class NewsSpider(scrapy.Spider):
    name = "news"
    keeps_collection_scope = True  # (its scope is the collection's: crawler.job says nothing of it)

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        """Depth is set by this spider (CONTRACTS.md), so Scrapy's DepthMiddleware is turned
        off: added to the project's spider middlewares, not put in their place (a class
        ``custom_settings`` would replace the whole dict)."""
        super().update_settings(settings)
        middlewares = settings.getdict("SPIDER_MIDDLEWARES")
        middlewares["scrapy.spidermiddlewares.depth.DepthMiddleware"] = None
        settings.set("SPIDER_MIDDLEWARES", middlewares, priority="spider")

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
        # Sitemaps followed from indexes and robots.txt: at most max_pages of them, since
        # each one worth fetching lists a page at least (an index may list 50,000, or point
        # at more indexes; a hostile one lists as many empty ones as it likes).
        self.sitemaps = 0
        self.seen: set[str] = set()
        self.escapes_seen: set[str] = set()  # URLs admitted with percent-escapes, in one spelling (same_escapes)
        # Absolute URLs, as resolved from a page, that led nowhere (out of scope, over the
        # cap, or another spelling of a URL already seen): skipped without canonicalising.
        # Bounded: cleared when full, which only costs canonicalising them again.
        self.dead_ends: set[str] = set()
        # Hrefs taken from pages of an origin, by origin, with the smallest depth of a page
        # they were taken from: met again on a page as deep or deeper, skipped.
        self.done_hrefs: dict[str, dict[str, int]] = {}
        # The requests for pages not yet answered, by URL (gone with the request): a page met
        # first by a longer path and then by a shorter one before its answer is fetched at
        # the shorter path's depth, so that what max_depth reaches does not hang on which
        # path the crawl happened to take first.
        self.waiting: weakref.WeakValueDictionary[str, Request] = weakref.WeakValueDictionary()
        self.history: CollectionHistory | None = None
        self.referability: Referability | None = None  # (of the originals conditional requests are made against)
        self.recrawl: list[str] = []
        self.articles: set[str] = set()
        # The URLs of known articles that have percent-escapes, by their same_escapes spelling.
        self.escaped_articles: dict[str, str] = {}
        self.job: Any = None
        self.url_limit = 2083
        # Pages a sitemap listed (news entries apart), admitted (seen, counted) but not yet
        # handed to Scrapy: a tuple of shared strings each instead of a Request with its meta
        # and headers, so a sitemap of 50,000 URLs does not put 50,000 Requests in memory.
        self.backlog: deque[tuple[Any, ...]] = deque()
        self.unread_documents: set[str] = set()  # feeds and sitemaps reached as pages past the depth
        # Sitemaps an index listed while they were on their way as pages: where it listed them.
        self.listed_documents: dict[str, dict[str, Any]] = {}
        self.documents: set[str] = set()  # URLs asked for as feeds or sitemaps
        self.backlog_low = BACKLOG_LOW
        self.max_requisites = MAX_REQUISITES
        self.parser: PageParser | None = None
        self.parsed_here = 0  # pages parsed in this process while there is a page parser

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NewsSpider:
        kwargs.setdefault("collection", crawler.settings.getdict("ARCHIVE_COLLECTION"))
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._robots_parsed, signal=signals.robots_parsed)
        spider.backlog_low = max(1, crawler.settings.getint("ARCHIVE_SITEMAP_BACKLOG_LOW", BACKLOG_LOW))
        spider.max_requisites = crawler.settings.getint("ARCHIVE_MAX_REQUISITES", MAX_REQUISITES)
        crawler.signals.connect(spider._on_response, signal=signals.response_received)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        if crawler.settings.getbool("ARCHIVE_PARSE_PROCESS", True) and worth_it():
            spider.parser = PageParser()
            crawler.signals.connect(spider._start_parser, signal=signals.spider_opened)
            crawler.signals.connect(spider._close_parser, signal=signals.spider_closed)
        try:
            job = job_for(crawler)
        except NotConfigured:
            return spider  # not archiving: no history to build on
        spider.job = job
        spider.url_limit = crawler.settings.getint("URLLENGTH_LIMIT", 2083)
        spider.history = job.history
        spider.referability = Referability(job.coll, "it is fetched whole, not conditionally", log)
        spider.articles = known_articles(job.coll)
        spider.escaped_articles = {same_escapes(url): url for url in spider.articles if "%" in url}
        spider.recrawl = recrawl_urls(spider.articles, job.history, job.started, spider.collection.recrawl)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for said in seeds_outside_scope(self.collection):
            log.warning("%s", said)
        pages = {_canonical(url) for url in self.collection.urls}
        sitemaps = {_canonical(url) for url in self.collection.sitemaps}
        for url in self.collection.feeds:
            # A feed the collection gives as a page too is fetched once, and read both ways; one
            # it gives as a sitemap too, once, and read as the one it is.
            canonical = canonical_or_none(url)
            callback = self.parse_feed_or_sitemap if canonical in sitemaps else \
                self.parse_feed_or_page if canonical in pages else self.parse_feed
            yield self._document(url, callback, seed=url, channel="seed", via=None, hops="")
        for url in self.collection.sitemaps:
            yield self._document(url, self.parse_given_sitemap, seed=url, channel="seed", via=None, hops="")
        for url in self.collection.urls:
            request = self._page(url, seed=url, channel="seed", via=None, hops="", linked=None, depth=0)
            if request is not None:
                yield request
        for url in self.recrawl:
            # Known articles due for a re-fetch (archive.recrawl), after new feed items.
            request = self._page(url, seed=None, channel="recrawl", via=None, hops="", linked=None, depth=1,
                                 priority=RECRAWL_PRIORITY)
            if request is not None:
                yield request

    # -- scope -----------------------------------------------------------------------

    def in_scope(self, url: str) -> bool:
        if not url.startswith(("http://", "https://")):
            return False
        if not host_in_scope(host_of(url), self.allow_hosts, port_of(url)):
            return False
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)

    def _seed_moved(self, response: Response) -> None:
        """A seed that redirects to another host of its site (``example.com`` to
        ``www.example.com``, ``news.example.com``) is a seed on that host: the host (and
        port) is taken into the scope, as Heritrix's ``seedsRedirectNewSeeds`` does;
        otherwise the landing page alone was captured and none of its links followed. A
        redirect to another site (a consent page, a blog platform) is said and not taken,
        lest an unattended crawl wander there. (The address policy is not widened: a seed
        host's leave to resolve to a private address stays the seed's own.)"""
        prov = response.meta.get("archive")
        if not prov or prov.get("channel") != "seed" or not response.meta.get("redirect_urls"):
            return
        host, port = host_of(response.url), port_of(response.url)
        if not host or host_in_scope(host, self.allow_hosts, port):
            return
        if not same_site(host_of(response.meta["redirect_urls"][0]), host):
            log.warning("seed %s redirects to %s, another site: it is not taken into the scope (add %s to the "
                        "collection's allow_hosts to crawl it)", prov.get("seed"), response.url, host)
            return
        self.allow_hosts.append(host_pattern(response.url))
        # (the memos of URLs that led nowhere took the scope for one that only narrows)
        self.dead_ends.clear()
        self.done_hrefs.clear()
        log.info("seed %s redirects to %s: %s is taken into the scope", prov.get("seed"), response.url,
                 self.allow_hosts[-1])

    def _page(self, url: str, *, seed: str | None, channel: str, via: str | None, hops: str,
              linked: str | None, depth: int, source: str | None = None, source_id: str | None = None,
              priority: int = 0) -> Request | None:
        """A request for a page to parse, or None when seen, out of scope or over the cap."""
        canonical = self._admit(url, seed=seed, channel=channel, via=via, hops=hops, linked=linked, depth=depth,
                                source=source, source_id=source_id)
        if canonical is None:
            return None
        return self._page_request(canonical, seed, channel, via, hops, linked, depth, source, source_id, priority)

    def _admit(self, url: str, *, seed: str | None, channel: str, via: str | None, hops: str,
               linked: str | None, depth: int, source: str | None, source_id: str | None) -> str | None:
        """The canonical URL of a page to fetch, now counted and marked seen; or None."""
        canonical = _canonical(url)
        if canonical is None:
            return None
        canonical = self._as_known(canonical)
        if canonical in self.seen or self.scheduled >= self.max_pages:
            return None
        if channel != "seed" and not self.in_scope(canonical):
            return None
        if self._spelt_otherwise(canonical):
            self.seen.add(canonical)
            return None
        if len(canonical) > self.url_limit:
            # Scrapy would drop it silently (UrlLengthMiddleware); say so in the log instead.
            self.seen.add(canonical)
            if self.job is not None:
                record_failure(
                    self.crawler, self.job, canonical,
                    error=f"URL longer than URLLENGTH_LIMIT ({self.url_limit} characters)",
                    provenance=Provenance(seed=seed, channel=channel, via=via, hops=hops, depth=depth,
                                          source=source, source_id=source_id, url_as_linked=linked),
                    started=utcnow(), duration_ms=None, robots="not-applicable", outcome="out-of-scope")
            return None
        self.seen.add(canonical)
        self.scheduled += 1
        return canonical

    def _spelt_otherwise(self, canonical: str) -> bool:
        """Whether ``canonical`` is a URL admitted already in another spelling of its escapes
        (:func:`same_escapes`); if not, its spelling is remembered. The same page in the
        other case of its escapes ("caf%c3%a9", "caf%C3%A9": a site's links in one, its
        feed's written as "café" in the other), or with an unreserved character escaped
        ("%7Eed", "~ed"), is fetched once, under the spelling met first: two captures of it
        were two articles."""
        if "%" not in canonical:
            return canonical in self.escapes_seen  # (met before escaped: "%7Eed" for "~ed")
        folded = same_escapes(canonical)
        if folded in self.escapes_seen or folded in self.seen:  # (the latter: met before unescaped)
            return True
        self.escapes_seen.add(folded)
        return False

    def _page_request(self, canonical: str, seed: str | None, channel: str, via: str | None, hops: str,
                      linked: str | None, depth: int, source: str | None, source_id: str | None,
                      priority: int) -> Request:
        meta: dict[str, Any] = {
            "depth": depth,
            "archive": {"seed": seed, "channel": channel, "via": via, "hops": hops, "source": source,
                        "source_id": source_id, "url_as_linked": linked if linked != canonical else None},
        }
        # Conditional requests for known articles only: a hub page answered 304 would hide
        # the new links on it.
        state = self.history.urls.get(canonical) if self.history and self._known_article(canonical) else None
        headers = conditional_headers(state)
        if headers and state is not None and state.original is not None:
            o = state.original
            if self._unreferable(o.record_id, o.payload_digest):
                headers = {}  # (a 304 would be a revisit of a record that cannot be read: ask for the page)
            else:
                # What a 304 will be a revisit of: the capture whose validators went, as found
                # here (the capture worker need not look it up again, and could find otherwise).
                meta[CONDITIONAL_ON] = (o.record_id, o.uri, o.date, o.payload_digest)
        request = Request(canonical, callback=self.parse, meta=meta, priority=priority, headers=headers)
        self.waiting[canonical] = request
        return request

    def _nearer(self, url: str, via: str, hops: str, depth: int, seed: str | None) -> None:
        """``url``, seen already, met again at ``depth`` by a link on ``via`` (as the request
        spells it, so no other spelling to record): if its request waits for its answer at a
        greater depth, it takes this path's depth and provenance.
        (Once its answer's head has come, ``download_latency`` set, it is recorded as it was.)"""
        request = self.waiting.get(url)
        if request is None:
            return
        meta = request.meta
        prov = meta.get("archive")
        if meta.get("depth", 0) <= depth or "download_latency" in meta or not isinstance(prov, dict) \
                or prov.get("channel") != "link":
            return
        meta["depth"] = depth
        prov.update(seed=seed, via=via, hops=hops, url_as_linked=None)

    def _as_known(self, canonical: str) -> str:
        """``canonical`` as a known article's URL spells it, where it is one in another
        spelling of its escapes (:func:`same_escapes`): an earlier job's "/%7Eed/a" linked
        as "/~ed/a" now is fetched as "/%7Eed/a", the spelling the collection met first
        (two spellings made two articles of one page, as they did in one job)."""
        if canonical in self.articles:
            return canonical
        folded = same_escapes(canonical)
        if folded is not canonical and folded in self.articles:
            return folded
        return self.escaped_articles.get(folded, canonical)

    def _known_article(self, canonical: str) -> bool:
        """Whether ``canonical`` is a known article's URL, in whatever spelling of its escapes."""
        return self._as_known(canonical) in self.articles

    def _unreferable(self, record_id: str, digest: str) -> bool:
        """Whether the full response ``record_id`` (of payload ``digest``) is one a revisit
        must not refer to (:func:`archive.history.unreferable`); looked at once a crawl.
        (One the history holds no place of, as the same bytes under another URL, is taken
        as it is.)"""
        first = self.history.originals.get(digest) if self.history is not None else None
        return (first is not None and first.record_id == record_id and self.referability is not None
                and not self.referability.referable(first))

    # -- the sitemap backlog ---------------------------------------------------------

    def _release(self) -> int:
        """Schedule held sitemap pages, in the order listed, while fewer than
        ``backlog_low`` requests wait in the scheduler. Returns how many were scheduled."""
        if not self.backlog:
            return 0
        stats = self.crawler.stats
        waiting = (stats.get_value("scheduler/enqueued", 0) or 0) - (stats.get_value("scheduler/dequeued", 0) or 0)
        room = max(0, min(self.backlog_low - waiting, len(self.backlog)))
        crawl = self.crawler.engine.crawl
        for _ in range(room):
            canonical, seed, via, hops, linked, policy, depth = self.backlog.popleft()
            request = self._page_request(canonical, seed, "sitemap", via, hops, linked, depth, via, None, 0)
            if policy is not None:
                # What RefererMiddleware does for a request yielded from the sitemap.
                referrer = policy.referrer(via, request.url)
                if referrer is not None:
                    request.headers.setdefault("Referer", referrer)
            crawl(request)
        return room

    def _referrer_policy(self, response: Response) -> Any:
        """The referrer policy RefererMiddleware would apply to a page linked from
        ``response`` (its settings, the response's Referrer-Policy header), or None when
        that middleware is not in use."""
        engine = getattr(self.crawler, "engine", None)
        manager = getattr(getattr(engine, "scraper", None), "spidermw", None)
        for middleware in getattr(manager, "middlewares", ()):
            if isinstance(middleware, RefererMiddleware):
                return middleware.policy(response, Request(response.url))
        return None

    def _on_response(self, **_: Any) -> None:
        self._release()

    def _on_idle(self, **_: Any) -> None:
        if self._release():
            raise DontCloseSpider("sitemap pages still held")

    def _document(self, url: str, callback: Any, *, seed: str | None, channel: str, via: str | None,
                  hops: str, depth: int = 0, again: bool = False) -> Request:
        """A feed or sitemap: depth 0 (or the depth of the index that lists it), not counted
        against max_pages. ``again``: fetched already, as a page, and to be fetched again."""
        canonical = canonicalize(url)
        self.seen.add(canonical)
        _bounded_add(self.documents, canonical)
        return Request(canonical, callback=callback, priority=FEED_ITEM_PRIORITY + 1, dont_filter=again, meta={
            "depth": depth,
            "archive": {"seed": seed, "channel": channel, "via": via, "hops": hops,
                        "url_as_linked": url if url != canonical else None},
        })

    # -- feeds and sitemaps ----------------------------------------------------------

    def _bad(self, response: Response, reason: str) -> None:
        moved = response.meta.get("redirect_urls")
        if moved:  # (a feed gone to the home page: the URL given is the one to look at)
            reason = f"{reason} (redirected from {moved[0]})"
        log.warning("bad document %s: %s", response.url, reason)
        self.crawler.stats.inc_value("archive/bad_documents")
        job = getattr(self.crawler, "_archive_capture_job", None)
        if job is not None:
            job.bad_documents.append({"url": response.url, "reason": reason})

    def parse_feed(self, response: Response) -> Iterator[Request]:
        self._seed_moved(response)
        try:
            items = parse_feed(response.body, response.url)
        except BadDocument as exc:
            self._bad(response, str(exc))
            yield from self._feeds_instead(response)
            return
        yield from self._feed_items(response, items)

    def _feed_items(self, response: Response, items: list[FeedItem]) -> Iterator[Request]:
        """Requests for the pages of a feed's ``items``, parsed from ``response``."""
        prov = response.meta.get("archive") or {}
        depth = _depth(response) + 1  # (1 but for a feed reached as a page)
        elsewhere: dict[str, int] = {}  # hosts out of the scope its items are on, and how many
        for item in items:
            url = _joined(partial(join_url, response.url), item.link)
            if url is None:
                continue
            request = self._page(
                url, seed=prov.get("seed"), channel="feed", via=response.url,
                hops=_hops(response) + "L", linked=url, depth=depth, source=response.url,
                source_id=item.guid, priority=FEED_ITEM_PRIORITY,
            )
            if request is not None:
                yield request
            else:
                self._count_elsewhere(url, elsewhere)
        # (items on other hosts went without a word: a feed of a site's other domain)
        self._say_elsewhere(f"feed {response.url}", "item", elsewhere)

    async def parse_feed_or_sitemap(self, response: Response) -> AsyncIterator[Request]:
        """A URL the collection gives both as a feed and as a sitemap, fetched once (Scrapy
        drops the second request): read as a sitemap unless it is a feed. (Read as a feed
        alone, a sitemap given in both was a bad document, none of its pages had.)"""
        try:
            items = parse_feed(response.body, response.url)  # (once: a feed of 200 items takes ms to parse)
        except BadDocument:
            async for request in self.parse_given_sitemap(response):
                yield request
            return
        self._seed_moved(response)
        for request in self._feed_items(response, items):
            yield request

    async def parse_feed_or_page(self, response: Response) -> AsyncIterator[Request]:
        """A URL the collection gives both as a feed and as a page, fetched once: a feed is
        read as one (its items a link further, as a page's feed would be); an HTML page is
        the page it was also asked for: its links followed, the feeds it advertises read.
        (Read as a feed alone, a home page given in both had no link followed.)"""
        if not _html_page(response):
            for request in self.parse_feed(response):
                yield request
            return
        log.warning("feed %s is an HTML page: read as a page, as the collection's urls give it too", response.url)
        async for request in self.parse(response):
            yield request

    def _feeds_instead(self, response: Response) -> Iterator[Request]:
        """The feeds an HTML page given as a feed advertises, read as a seed page's are (as a
        feed reader given a site's page reads them): a section's page given for its feed, a
        feed gone to the home page. Only for a collection's own feeds, within the depth."""
        prov = response.meta.get("archive") or {}
        if prov.get("channel") != "seed" or self.max_depth < 1 or not isinstance(response, TextResponse) \
                or not is_html(response.body):
            return
        read = []
        for request in self._advertised_feeds(response, Resolver(get_base_url(response), response.encoding),
                                              prov.get("seed"), _hops(response)):
            read.append(request.url)
            yield request
        if read:
            log.warning("feed %s is an HTML page: the feed%s it advertises read instead: %s (the collection's feeds "
                        "can name %s)", prov.get("seed"), "s" if len(read) > 1 else "", ", ".join(read),
                        "them" if len(read) > 1 else "it")

    async def parse_given_sitemap(self, response: Response) -> AsyncIterator[Request]:
        """One of the collection's sitemaps: read as one, unless it answers an HTML page (a
        site's /sitemap.html, which lists its sections and articles as links for readers):
        that is read as a page the collection's urls give, its links followed within the
        scope and the depth, and said. (It was a bad document, and the job got none of its
        pages.)"""
        if not _html_page(response):
            for request in self.parse_sitemap(response):
                yield request
            return
        moved = response.meta.get("redirect_urls")
        log.warning("sitemap %s is an HTML page%s: read as a page, %s", response.url,
                    f" (redirected from {moved[0]})" if moved else "",
                    "its links followed" if _depth(response) < self.max_depth
                    else f"whose links max_depth {self.max_depth} leaves unfollowed")
        self.crawler.stats.inc_value(HTML_SITEMAPS_STAT)
        async for request in self.parse(response):
            yield request

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        self._seed_moved(response)
        try:
            sitemap = parse_sitemap(response.body, response.url)
        except BadDocument as exc:
            self._bad(response, str(exc))
            return
        prov = response.meta.get("archive") or {}
        hops = _hops(response) + "L"
        seed, via = prov.get("seed"), response.url
        # (0 for the collection's sitemaps and those they and robots.txt list; a link's for one
        # reached as a page)
        depth = _depth(response)
        policy: Any = _UNKNOWN
        unfollowed = 0
        elsewhere: dict[str, int] = {}  # hosts out of the scope its entries are on, and how many
        for entry in sitemap.entries:
            url = _joined(partial(join_url, response.url), entry.loc)
            if url is None:
                continue
            if sitemap.kind == "index":
                canonical = _canonical(url)
                if canonical is None or not self.in_scope(canonical):
                    self._count_elsewhere(url, elsewhere)
                    continue
                listed = {"seed": seed, "channel": "sitemap", "via": via, "hops": hops, "depth": depth}
                if canonical in self.seen:
                    again = self._sitemap_again(canonical, listed)
                    if again is not None:
                        yield again
                elif self._sitemap_allowed():
                    yield self._document(url, self.parse_sitemap, **listed)
                else:
                    unfollowed += 1
                continue
            canonical = self._admit(url, seed=seed, channel="sitemap", via=via, hops=hops, linked=url,
                                    depth=depth + 1, source=via, source_id=None)
            if canonical is None:
                self._count_elsewhere(url, elsewhere)
                continue
            if entry.news_publication_date:
                # News first, as feed items: never held behind a full scheduler.
                yield self._page_request(canonical, seed, "sitemap", via, hops, url, depth + 1, via, None,
                                         FEED_ITEM_PRIORITY)
            else:
                if policy is _UNKNOWN:
                    policy = self._referrer_policy(response)
                # Released on the next response, or when the crawl goes idle: after the news
                # entries above are scheduled.
                self.backlog.append((canonical, seed, via, hops, None if url == canonical else url, policy,
                                     depth + 1))
        # (a sitemap of example.com listing its pages on www.example.com had none fetched, unsaid)
        self._say_elsewhere(f"sitemap {'index ' if sitemap.kind == 'index' else ''}{response.url}",
                            "sitemap" if sitemap.kind == "index" else "page", elsewhere)
        if unfollowed:
            log.warning("sitemap index %s: %d sitemap%s not followed (at most max_pages, %d, are followed in a "
                        "crawl, and none once max_pages pages are scheduled)", response.url, unfollowed,
                        "" if unfollowed == 1 else "s", self.max_pages)

    def _say_elsewhere(self, what: str, noun: str, hosts: dict[str, int]) -> None:
        """A warning in the crawl log that ``what``'s ``noun``s on ``hosts`` (a count of each)
        are out of the scope, none when there are none; counted for the job's summary (a
        feed on feeds.example.com whose articles are on www.example.com gave a job of no
        articles, said in the crawl log alone)."""
        if not hosts:
            return
        counted = ", ".join(f"{n} {noun}{'s' if n > 1 else ''} on {host}" for host, n in sorted(hosts.items()))
        log.warning("%s: %s out of the scope, not fetched (allow_hosts takes a host in)", what, counted)
        self.crawler.stats.inc_value(OUT_OF_SCOPE_STAT, sum(hosts.values()))

    def _count_elsewhere(self, url: str, hosts: dict[str, int]) -> None:
        """Count ``url`` in ``hosts`` under its host if that host is out of the scope (not
        for a URL left for another reason: seen, over the cap, or a deny pattern's)."""
        try:
            if host_in_scope(host_of(url), self.allow_hosts, port_of(url)):
                return  # (most of a sitemap's: no need to make it canonical)
        except ValueError:
            pass
        canonical = canonical_or_none(url)
        if canonical is None or not canonical.startswith(("http://", "https://")):
            return
        host = host_of(canonical)
        if not host_in_scope(host, self.allow_hosts, port_of(canonical)):
            hosts[host] = hosts.get(host, 0) + 1

    def _sitemap_again(self, canonical: str, listed: dict[str, Any]) -> Request | None:
        """A sitemap an index lists that was met as a page first (a site's footer links it):
        fetched again as a sitemap if it went unread, past the depth (``unread_documents``);
        if it is still on its way, once it has come (``listed_documents``). It was read or
        not as the two happened to come in."""
        if canonical in self.documents:
            return None  # (asked for as a feed or sitemap already: read as one)
        if canonical in self.unread_documents:
            self.unread_documents.discard(canonical)
            return self._document(canonical, self.parse_sitemap, again=True, **listed)
        if len(self.listed_documents) < MAX_LISTED_DOCUMENTS:
            self.listed_documents.setdefault(canonical, listed)
        return None

    def _sitemap_allowed(self) -> bool:
        """Whether one more sitemap listed by an index or robots.txt may be fetched; counts it."""
        if self.sitemaps >= self.max_pages or self.scheduled >= self.max_pages:
            return False
        self.sitemaps += 1
        return True

    def _robots_parsed(self, robotparser: Any, request: Request | None = None, **_: Any) -> None:
        """Follow ``Sitemap:`` lines of a robots.txt of a host in scope."""
        if request is None:
            return
        parts = urlsplit(request.url)
        robots = f"{parts.scheme}://{parts.netloc}/robots.txt"
        for line in getattr(getattr(robotparser, "rp", None), "sitemaps", None) or []:
            url = _joined(partial(join_url, robots), line)
            if url is None:
                continue
            canonical = _canonical(url)
            if canonical is None or canonical in self.seen or not self.in_scope(canonical):
                if canonical is not None and not host_in_scope(host_of(canonical), self.allow_hosts,
                                                               port_of(canonical)) \
                        and host_in_scope(parts.hostname or "", self.allow_hosts, port_of(robots)):
                    # (of a site crawled: a CDN's robots.txt, read for a requisite, is not)
                    log.warning("%s: sitemap %s is out of the scope, not fetched (allow_hosts takes a host in)",
                                robots, url)
                    self.crawler.stats.inc_value(OUT_OF_SCOPE_STAT)
                continue
            if not self._sitemap_allowed():
                log.warning("%s: sitemap %s not followed (at most max_pages, %d, are followed in a crawl, and "
                            "none once max_pages pages are scheduled)", robots, url, self.max_pages)
                continue
            self.crawler.engine.crawl(self._document(url, self.parse_sitemap, seed=None, channel="sitemap",
                                                     via=canonicalize(robots), hops="P"))

    # -- pages -----------------------------------------------------------------------

    async def parse(self, response: Response) -> AsyncIterator[Request]:
        self._seed_moved(response)
        depth = _depth(response)
        kind = document_kind(response.body) if response.status == 200 else None
        if kind is not None:
            # A feed or sitemap reached as a page (a site's "RSS" link, a feed a seed page
            # advertises but reached by a link first, a seed) is read as one; its items are
            # a link further, within the depth.
            if depth < self.max_depth:
                for request in (self.parse_feed if kind == "feed" else self.parse_sitemap)(response):
                    yield request
            else:
                listed = self.listed_documents.pop(response.url, None)
                if listed is not None and kind == "sitemap":  # (an index listed it meanwhile)
                    yield self._document(response.url, self.parse_sitemap, again=True, **listed)
                else:  # (read again if a seed page advertises it, or an index lists it)
                    _bounded_add(self.unread_documents, response.url)
            return
        if not isinstance(response, TextResponse) or b"html" not in (response.headers.get(b"Content-Type") or b"html"):
            return
        prov = response.meta.get("archive") or {}
        hops = _hops(response)
        seed = prov.get("seed")
        links, requisites, frames, favicon = await self._hrefs(response, depth)
        resolver = Resolver(get_base_url(response), response.encoding)
        if self.requisites:
            for request in self._embeds(response, resolver, requisites, seed, hops, depth):
                yield request
        if favicon:  # (of the page's own URL, whatever its <base>; once a host, as every requisite is once)
            for request in self._embeds(response, resolver, [urljoin(response.url, "/favicon.ico")], seed, hops, depth):
                yield request
        for request in self._frames(response, resolver, frames, seed, hops, depth):
            yield request
        refresh = response.meta.get(REFRESH_META)
        if refresh:  # (a hop like a redirect's: at the page's own depth)
            request = self._page(refresh, seed=seed, channel="link", via=response.url, hops=hops + "R",
                                 linked=refresh, depth=depth)
            if request is not None:
                yield request
        if depth >= self.max_depth or self.scheduled >= self.max_pages:
            return
        if prov.get("channel") == "seed":
            for request in self._advertised_feeds(response, resolver, seed, hops):
                yield request
        seen, dead_ends = self.seen, self.dead_ends
        # Hrefs, as written, already followed or refused from pages of this origin: most of
        # a page's links, skipped without resolving them again.
        done = self.done_hrefs.setdefault(resolver.origin or "", {})
        for href in links:
            if done.get(href, _DEEPER) <= depth:
                continue
            try:
                url = resolver.resolve(href)
            except ValueError as exc:  # (no URL can be made of it: "//[::1")
                _unusable(href, exc)
                continue
            if url not in seen and url not in dead_ends:
                request = self._page(url, seed=seed, channel="link", via=response.url, hops=hops + "L",
                                     linked=url, depth=depth + 1)
                if request is not None:
                    yield request
                else:
                    # Whatever made it a dead end holds for good: scope, the cap and the seen
                    # set only grow. (A URL too long to fetch is in the seen set already.)
                    _bounded_add(dead_ends, url)
            elif url in seen:
                self._nearer(url, response.url, hops + "L", depth + 1, seed)
            if resolver.independent(href):
                _bounded_put(done, href, depth)

    async def _hrefs(self, response: Response, depth: int) -> Hrefs:
        """The page's links (unless none would be followed), requisites (if wanted) and
        frames, as written, and whether a browser would ask for its host's ``/favicon.ico``
        (:func:`crawler.page_parser.hrefs`): found by the page parser process, or here if
        there is none or it fails."""
        links = depth < self.max_depth and self.scheduled < self.max_pages
        if not links and not self.requisites:
            return [], [], [], False  # nothing of the page would be followed: no need to parse it
        data = html_bytes(response.text, response.body, response.encoding)
        if self.parser is not None:
            try:
                return await self.parser.hrefs(data, links=links, requisites=self.requisites)
            except ParserGone:
                self.parsed_here += 1
        return hrefs(data, links, self.requisites)

    def _start_parser(self, **_: Any) -> None:  # (connected only when there is a parser)
        assert self.parser is not None
        self.parser.start()

    async def _close_parser(self, **_: Any) -> None:
        assert self.parser is not None
        await self.parser.close()
        log.info("page parser: %d pages parsed in its process, %d in the crawl process",
                 self.parser.answered, self.parsed_here)

    def _embeds(self, response: Response, resolver: Resolver, urls: list[str], seed: str | None, hops: str,
                depth: int) -> Iterator[Request]:
        fetched = 0
        for url in self._unseen(resolver, urls):
            canonical = _canonical(url)
            if canonical is None or canonical in self.seen:
                continue
            if fetched >= self.max_requisites:
                log.warning("%s lists %d requisites: only the first %d not fetched before are (ARCHIVE_MAX_REQUISITES)",
                            response.url, len(urls), self.max_requisites)
                return
            spelt_otherwise = self._spelt_otherwise(canonical)  # (before it is seen: it looks there too)
            self.seen.add(canonical)
            if spelt_otherwise:
                continue
            fetched += 1
            yield Request(
                canonical,
                callback=self.parse_requisite,
                meta={"depth": depth + 1,
                      # (embed hops from the page, which may itself be a frame, one E on)
                      _REQUISITE_HOPS: response.meta.get(_REQUISITE_HOPS, 0) + 1,
                      "archive": {"seed": seed, "channel": "embed", "via": response.url, "hops": hops + "E",
                                  "url_as_linked": url if url != canonical else None}},
                priority=1,
            )

    def _frames(self, response: Response, resolver: Resolver, urls: list[str], seed: str | None, hops: str,
                depth: int) -> Iterator[Request]:
        """The page's framed documents of its own site (in scope), as pages: a hop further,
        fetched even past ``max_depth`` (they are part of the page, as its images are), their
        links followed only within it. Frames of other sites (players, advertisements,
        widgets) are not fetched: without the scripts a browser runs they show nothing."""
        for url in self._unseen(resolver, urls):
            request = self._page(url, seed=seed, channel="embed", via=response.url, hops=hops + "E",
                                 linked=url, depth=depth + 1)
            if request is not None:
                yield request

    def _advertised_feeds(self, response: Response, resolver: Resolver, seed: str | None,
                          hops: str) -> Iterator[Request]:
        """The RSS and Atom feeds a seed page advertises (``<link rel="alternate">``), of
        hosts in scope, read as the collection's own feeds are: a homepage given alone
        brings its articles with their feed's dates and ids. (Seed pages only: an article's
        own feed is of its comments.)"""
        root = parse_html_bytes(html_bytes(response.text, response.body, response.encoding))
        read = 0
        unread = self.unread_documents  # (reached as pages by a link, past the depth: fetched again)
        for url in self._unseen(resolver, page_feeds(root), also=unread):
            canonical = _canonical(url)
            again = canonical in unread
            if canonical is None or (canonical in self.seen and not again) or not self.in_scope(canonical):
                continue
            if read >= MAX_ADVERTISED_FEEDS:  # (feeds do not count against max_pages; a page may list any number)
                log.warning("%s advertises more feeds than the %d read", response.url, MAX_ADVERTISED_FEEDS)
                return
            read += 1
            unread.discard(canonical)
            yield self._document(url, self.parse_feed, seed=seed, channel="feed", via=response.url, hops=hops + "L",
                                 again=again)

    def _unseen(self, resolver: Resolver, urls: list[str], also: set[str] | frozenset[str] = frozenset()
                ) -> Iterator[str]:
        """The absolute http(s) URLs of ``urls`` (as written) not seen before, or in
        ``also``; those no URL can be made of are logged."""
        for raw in urls:
            try:
                url = resolver.resolve(raw)
            except ValueError as exc:
                _unusable(raw, exc)
                continue
            if (url not in self.seen or url in also) and url.startswith(("http://", "https://")):
                yield url

    def parse_requisite(self, response: Response) -> Iterator[Request]:
        """A stylesheet brings what it needs (``url()``, ``@import``: fonts, backgrounds,
        more CSS), a few embed hops deep; nothing else is followed from a requisite."""
        content_type = (response.headers.get(b"Content-Type") or b"").lower()
        if not isinstance(response, TextResponse) or b"css" not in content_type:
            return
        prov = response.meta.get("archive") or {}
        hops = _hops(response)
        if response.meta.get(_REQUISITE_HOPS, hops.count("E")) >= MAX_CSS_EMBED_HOPS:
            return
        yield from self._embeds(response, Resolver(response.url, response.encoding), css_urls(response.text),
                                prov.get("seed"), hops, _depth(response))


def _bounded_add(memo: set[str], item: str) -> None:
    """Remember ``item``; a full memo is emptied (forgetting costs only work, not results)."""
    if len(memo) >= MAX_DEAD_ENDS:
        memo.clear()
    memo.add(item)


def _bounded_put(memo: dict[str, int], item: str, value: int) -> None:
    """:func:`_bounded_add` for a memo that keeps a value with each item."""
    if len(memo) >= MAX_DEAD_ENDS:
        memo.clear()
    memo[item] = value


_DEEPER = 1 << 30  # (the depth of an href not taken yet: deeper than any page)




def _joined(join: Callable[[str], str], link: str) -> str | None:
    """``join(link)``, the absolute URL of a link; None for one no URL can be made of (a
    broken IPv6 literal: "http://[::1"), which would have ended the document's loop."""
    try:
        return join(link)
    except ValueError as exc:
        _unusable(link, exc)
        return None


def _unusable(link: str, exc: ValueError) -> None:
    log.info("unusable link %r skipped: %s", link[:200], exc)


def _canonical(url: str) -> str | None:
    """The canonical URL, or None for one that cannot be fetched (a bad port, say)."""
    canonical = canonical_or_none(url)
    if canonical is None:
        log.info("unusable URL %r skipped", url)
    return canonical


def _html_page(response: Response) -> bool:
    """Whether ``response`` is an HTML page whose links :meth:`NewsSpider.parse` follows:
    served as HTML, and HTML in its first bytes (a document of another kind is read as one)."""
    return (response.status == 200 and isinstance(response, TextResponse)
            and b"html" in (response.headers.get(b"Content-Type") or b"html") and is_html(response.body))


def _depth(response: Response) -> int:
    """The depth of the request this response answers (``meta["depth"]``)."""
    return int(response.meta.get("depth", 0))


def _hops(response: Response) -> str:
    """The hop path to this response, including redirects Scrapy followed to reach it."""
    prov = response.meta.get("archive") or {}
    return prov.get("hops", "") + "R" * len(response.meta.get("redirect_urls") or [])
