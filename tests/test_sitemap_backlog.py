"""Pages a sitemap lists are held as small tuples and handed to Scrapy as the scheduler runs
low: every one is still fetched once, news entries first, with the provenance and Referer
they had when they were yielded, within max_pages, and the crawl does not end early."""

from __future__ import annotations

import pytest
from warcs import read_collection
from wire import response, serve_wire

from archive.config import collection_from_dict
from archive.crawl import crawl

HTML = [("Content-Type", "text/html")]
XML = [("Content-Type", "application/xml")]
NEWS_ENTRIES = [f"/news/{i}" for i in range(8)]
PLAIN_ENTRIES = [f"/plain/{i}" for i in range(24)]


def _sitemap() -> bytes:
    urls = []
    # Plain entries first in the file: news entries still go first.
    for path in PLAIN_ENTRIES:
        urls.append(f"<url><loc>{path}</loc></url>")
    for path in NEWS_ENTRIES:
        urls.append(f"<url><loc>{path}</loc><news:news><news:publication><news:name>P</news:name>"
                    "<news:language>en</news:language></news:publication>"
                    "<news:publication_date>2026-03-14T08:30:00+01:00</news:publication_date>"
                    "<news:title>T</news:title></news:news></url>")
    return ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(urls) + "</urlset>").encode()


FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>/</link>
<item><title>F</title><link>/from-feed</link><guid>f-1</guid></item></channel></rss>"""


def _crawl(tmp_path, name: str, overrides=None, sitemap_headers=(), **scope):  # type: ignore[no-untyped-def]
    page = response("200 OK", HTML, b"<html><body><p>story</p></body></html>")
    routes = {path: page for path in NEWS_ENTRIES + PLAIN_ENTRIES + ["/from-feed"]}
    routes["/sitemap.xml"] = response("200 OK", XML + list(sitemap_headers), _sitemap())
    routes["/feed.xml"] = response("200 OK", XML, FEED)
    routes["/robots.txt"] = response("404 Not Found", HTML, b"")
    with serve_wire(routes) as server:
        base = server.base
        doc = {"name": name, "sitemaps": [base + "/sitemap.xml"], "feeds": [base + "/feed.xml"],
               "politeness": {"concurrency_per_host": 1}}
        if scope:
            doc["scope"] = scope
        # Three waiting requests at most: the backlog is released many times over.
        crawl(tmp_path, collection_from_dict(doc), overrides={"ARCHIVE_SITEMAP_BACKLOG_LOW": 3, **(overrides or {})},
              extract=False)
    records, lines = read_collection(tmp_path / name)
    return base, records, lines


@pytest.fixture(scope="module")
def held(tmp_path_factory):  # type: ignore[no-untyped-def]
    return _crawl(tmp_path_factory.mktemp("backlog"), "held")


def test_every_listed_page_is_fetched_once_news_first(held) -> None:  # type: ignore[no-untyped-def]
    base, _, lines = held
    listed = sorted((line for line in lines if line["channel"] == "sitemap"), key=lambda line: line["started"])
    order = [line["url"][len(base):] for line in listed]  # as requested (the log is in order of completion)
    assert sorted(order) == sorted(NEWS_ENTRIES + PLAIN_ENTRIES)  # each once, none lost
    assert all(line["outcome"] == "captured" for line in listed)
    # News entries are yielded at feed-item priority while the others wait in the spider;
    # a held page released while the last news requests are still being handed over may go
    # out among them, so the test is on the average place.
    news = sum(order.index(p) for p in NEWS_ENTRIES) / len(NEWS_ENTRIES)
    plain = sum(order.index(p) for p in PLAIN_ENTRIES) / len(PLAIN_ENTRIES)
    assert news < len(NEWS_ENTRIES) < plain, order


def test_held_pages_keep_their_provenance(held) -> None:  # type: ignore[no-untyped-def]
    base, _, lines = held
    for line in lines:
        if line["channel"] == "sitemap":
            assert line["source"] == line["via"] == base + "/sitemap.xml"
            assert line["seed"] == base + "/sitemap.xml"
            assert line["depth"] == 1 and line["hops"] == "L"
            assert line["url_as_linked"] is None


def test_held_pages_carry_the_referer_the_middleware_gives(held) -> None:  # type: ignore[no-untyped-def]
    base, records, _ = held
    referers = {}
    for rec in records:
        if rec.type == "request":
            referers[rec.h("WARC-Target-URI")] = dict(rec.http_headers or []).get("Referer")
    # A feed item goes through Scrapy's RefererMiddleware; a held sitemap page does not.
    assert referers[base + "/from-feed"] == base + "/feed.xml"
    for path in NEWS_ENTRIES + PLAIN_ENTRIES:
        assert referers[base + path] == base + "/sitemap.xml", path


@pytest.mark.parametrize("how", [
    {"overrides": {"REFERER_ENABLED": False}},
    {"overrides": {"SPIDER_MIDDLEWARES": {"scrapy.spidermiddlewares.referer.RefererMiddleware": None}}},
    {"sitemap_headers": [("Referrer-Policy", "no-referrer")]},
], ids=["setting", "middleware-off", "policy-header"])
def test_no_referer_where_the_middleware_would_send_none(tmp_path, how) -> None:  # type: ignore[no-untyped-def]
    base, records, _ = _crawl(tmp_path, "noref", **how)
    sent = {rec.h("WARC-Target-URI"): dict(rec.http_headers or []) for rec in records if rec.type == "request"}
    for path in NEWS_ENTRIES + PLAIN_ENTRIES:
        assert "Referer" not in sent[base + path], path
    if "sitemap_headers" in how:  # only the sitemap said no: the feed's item still has one
        assert sent[base + "/from-feed"]["Referer"] == base + "/feed.xml"


def test_news_entries_are_never_held(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A news sitemap's entries go straight to Scrapy (at feed-item priority), however many
    requests already wait; only the others are held."""
    from types import SimpleNamespace

    from scrapy import Request
    from scrapy.http import XmlResponse
    from scrapy.utils.test import get_crawler

    from crawler.spiders.news import FEED_ITEM_PRIORITY, NewsSpider

    crawler = get_crawler(NewsSpider, {"ARCHIVE_SITEMAP_BACKLOG_LOW": 0})  # clamped to 1
    scheduled: list[Request] = []
    crawler.engine = SimpleNamespace(crawl=scheduled.append)  # type: ignore[assignment]
    base = "http://127.0.0.1:9"
    spider = NewsSpider.from_crawler(crawler, collection={"name": "n", "sitemaps": [base + "/sitemap.xml"]})
    request = Request(base + "/sitemap.xml", meta={"archive": {"seed": base + "/sitemap.xml", "hops": ""}})
    crawler.stats.set_value("scheduler/enqueued", 5000)  # a full scheduler
    yielded = list(spider.parse_sitemap(XmlResponse(request.url, body=_sitemap(), request=request)))
    assert sorted(r.url for r in yielded) == sorted(base + p for p in NEWS_ENTRIES)
    assert all(r.priority == FEED_ITEM_PRIORITY for r in yielded)
    assert scheduled == [] and len(spider.backlog) == len(PLAIN_ENTRIES)
    crawler.stats.set_value("scheduler/dequeued", 5000)  # drained
    spider._release()
    assert [r.url for r in scheduled] == [base + p for p in PLAIN_ENTRIES[:1]]  # one at a time: the minimum


def test_max_pages_counts_held_pages_when_they_are_listed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, _, lines = _crawl(tmp_path, "capped", max_pages=10)
    pages = [line for line in lines if line["channel"] in ("sitemap", "feed")]
    assert len(pages) == 10
    assert all(line["outcome"] == "captured" for line in pages)


def test_held_pages_are_released_when_nothing_else_arrives(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only failures come back (nothing listens there): no response to release more on, so
    the crawl must not close while pages are still held."""
    from wire import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    entries = "".join(f"<url><loc>{dead}/gone/{i}</loc></url>" for i in range(9))
    sitemap = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
               + entries + "</urlset>").encode()
    routes = {"/sitemap.xml": response("200 OK", XML, sitemap), "/robots.txt": response("404 Not Found", HTML, b"")}
    with serve_wire(routes) as server:
        doc = {"name": "dead", "sitemaps": [server.base + "/sitemap.xml"], "politeness": {"concurrency_per_host": 1},
               "scope": {"allow_hosts": ["127.0.0.1"]}}
        crawl(tmp_path, collection_from_dict(doc),
              overrides={"ARCHIVE_SITEMAP_BACKLOG_LOW": 2, "RETRY_TIMES": 0, "ROBOTSTXT_OBEY": False}, extract=False)
    _, lines = read_collection(tmp_path / "dead")
    gone = sorted(line["url"] for line in lines if "/gone/" in line["url"])
    assert gone == sorted(f"{dead}/gone/{i}" for i in range(9))
    assert all(line["outcome"] != "captured" for line in lines if "/gone/" in line["url"])
