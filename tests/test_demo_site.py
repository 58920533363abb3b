"""Tests for the synthetic demo news site (archive.demo): ground truth, pages and HTTP behaviour."""
from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import hashlib
import html
import http.client
import json
import re
import socket
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from archive.demo import DemoSite, serve
from archive.demo.pages import BROKEN_LINKS
from archive.demo.resources import WINDOWS_1252_PARAGRAPHS

N_ARTICLES = 30
SECTIONS = {"world", "business", "science", "culture", "sport"}
NS = {
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "atom": "http://www.w3.org/2005/Atom",
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}


@pytest.fixture(scope="module")
def site() -> DemoSite:
    return DemoSite(n_articles=N_ARTICLES, seed=1)


@pytest.fixture(scope="module")
def base_url(site: DemoSite) -> Iterator[str]:
    with serve(site, host="127.0.0.1", port=0) as url:
        yield url


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def fetch(base_url: str, path: str, headers: dict[str, str] | None = None,
          method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", _port(base_url), timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def links(page_html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]+)"', page_html)


def escaped(value: str) -> str:
    return html.escape(value, quote=False)


def iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


# ----- ground truth ---------------------------------------------------------------------------
def test_articles_are_plausible_ground_truth(site: DemoSite) -> None:
    articles = site.articles
    assert len(articles) == N_ARTICLES
    assert len({a.headline for a in articles}) == N_ARTICLES
    assert len({a.path for a in articles}) == N_ARTICLES
    for a in articles:
        published, modified = iso(a.published), iso(a.modified)
        assert published.tzinfo is not None and re.search(r"[+-]\d\d:\d\d$", a.published)
        assert modified >= published
        assert a.section in SECTIONS
        assert a.path.startswith(f"/{a.section}/{published:%Y/%m/%d}/")
        assert 1 <= len(a.authors) <= 2 and a.language == "en" and a.tags
        assert 4 <= len(a.paragraphs) <= 9
        assert a.body_text == "\n\n".join(a.paragraphs)
        assert a.description.endswith(".") and a.description.count(".") == 1
        for paragraph in a.paragraphs:
            assert paragraph[0].isupper() or paragraph[0] == "\u201c"
            assert paragraph.endswith((".", "\u201d"))
    published_times = [iso(a.published) for a in articles]
    assert published_times == sorted(published_times, reverse=True)


def test_same_seed_gives_identical_bytes_for_every_route(site: DemoSite) -> None:
    twin = DemoSite(n_articles=N_ARTICLES, seed=1)
    assert twin.articles == site.articles
    assert twin.routes() == site.routes()
    for path in site.routes():
        mine, theirs = site.render(path), twin.render(path)
        assert mine is not None and theirs is not None, path
        assert (mine.status, mine.headers, mine.body) == (theirs.status, theirs.headers,
                                                          theirs.body), path
    other = DemoSite(n_articles=N_ARTICLES, seed=2)
    assert [a.headline for a in other.articles] != [a.headline for a in site.articles]


# ----- article pages --------------------------------------------------------------------------
def test_article_html_carries_ground_truth_and_metadata(site: DemoSite) -> None:
    for a in site.articles[:10]:
        page = site.render(a.path, base_url="http://news.test")
        assert page is not None and page.status == 200
        doc = page.body.decode("utf-8")
        url = "http://news.test" + a.path
        assert doc.startswith('<!DOCTYPE html>\n<html lang="en">')
        assert f'<h1 class="headline">{escaped(a.headline)}</h1>' in doc
        for paragraph in a.paragraphs:
            assert doc.count(f"<p>{escaped(paragraph)}</p>") == 1
        assert f'<link rel="canonical" href="{url}">' in doc
        expected_meta = [
            ("og:type", "article"), ("og:url", url), ("og:title", a.headline),
            ("og:description", a.description), ("article:published_time", a.published),
            ("article:modified_time", a.modified), ("article:section", a.section.title()),
            ("article:author", a.authors[0]),
        ]
        for prop, value in expected_meta:
            assert f'<meta property="{prop}" content="{html.escape(value)}">' in doc
        assert f'<meta name="description" content="{html.escape(a.description)}">' in doc
        assert '<link rel="stylesheet" href="/static/site.css">' in doc
        assert '<script src="/static/site.js"' in doc
        assert f'<time datetime="{a.published}"' in doc and 'rel="author"' in doc
        assert re.search(r'<img src="/static/img/\d+\.png" srcset="', doc)
        for boilerplate in ("share-buttons", "Related articles", "newsletter",
                            'class="comments"', "site-footer"):
            assert boilerplate in doc
        assert doc.count('class="comment"') == 2
        script = re.search(r'<script type="application/ld\+json">(.*?)</script>', doc, re.DOTALL)
        ld = json.loads(script.group(1))
        assert ld["@type"] == "NewsArticle" and ld["headline"] == a.headline
        assert [p["name"] for p in ld["author"]] == a.authors
        assert {p["@type"] for p in ld["author"]} == {"Person"}
        assert (ld["datePublished"], ld["dateModified"]) == (a.published, a.modified)
        assert ld["mainEntityOfPage"]["@id"] == url and ld["description"] == a.description
        assert ld["articleSection"] == a.section.title()


def _broken_internal_links(site: DemoSite) -> set[str]:
    broken = set()
    for path in site.routes():
        page = site.render(path)
        if page is not None and "text/html" in (page.header("Content-Type") or ""):
            for href in links(page.body.decode("utf-8", "replace")):
                target = href.split("#")[0]
                if target.startswith("/") and site.render(target) is None:
                    broken.add(target)
    return broken


def test_every_internal_link_resolves_except_the_three_broken_ones(site: DemoSite) -> None:
    assert _broken_internal_links(site) == {href for href, _ in BROKEN_LINKS}


def test_home_page_links(site: DemoSite, base_url: str) -> None:
    hrefs = links(site.render("/").body.decode())
    article_paths = {a.path for a in site.articles}
    assert len([h for h in hrefs if h in article_paths]) >= 20
    local = [h for h in hrefs if h.startswith("/")]
    assert [h for h in local if site.render(h) is None] == [h for h, _ in BROKEN_LINKS]
    for href, _ in BROKEN_LINKS:
        response, body = fetch(base_url, href)
        assert response.status == 404 and b"Page not found" in body
    old = [h for h in hrefs if h.startswith("/old/")]
    assert len(old) == 1
    response, _ = fetch(base_url, old[0])
    assert response.status == 301
    assert urllib.parse.urlsplit(response.getheader("Location")).path in article_paths
    assert "/private/secret-page" in hrefs
    for special in ("/special/chunked", "/special/windows-1252", "/special/redirect-chain",
                    "/special/redirect-loop", "/special/error"):
        assert special in hrefs
    assert "/special/slow" not in hrefs
    assert not any(h.startswith("/special/big") for h in hrefs)
    assert all(f"/{section}/" in hrefs for section in SECTIONS)


def test_section_pagination_and_tag_pages(site: DemoSite) -> None:
    world = [a.path for a in site.articles if a.section == "world"]
    seen: list[str] = []
    page_no = 1
    while True:
        page = site.render("/world/" if page_no == 1 else f"/world/page/{page_no}/")
        if page is None:
            break
        found = [h for h in links(page.body.decode()) if h in set(world)]
        assert len(found) <= 10
        seen += found
        page_no += 1
    assert seen == world and page_no - 1 == max(1, -(-len(world) // 10))
    tag = site.articles[0].tags[0]
    assert site.articles[0].path in site.render(f"/tag/{tag}/").body.decode()


# ----- feeds, sitemaps, robots ----------------------------------------------------------------
def test_rss_feed(site: DemoSite, base_url: str) -> None:
    response, body = fetch(base_url, "/feed.xml")
    assert response.status == 200 and "rss" in response.getheader("Content-Type")
    items = ET.fromstring(body).findall("./channel/item")
    assert len(items) == 20
    by_path = {a.path: a for a in site.articles}
    tracked = 0
    for item in items:
        link = urllib.parse.urlsplit(item.findtext("link"))
        article = by_path[link.path]
        tracked += link.query == "utm_source=rss&utm_medium=feed" and bool(link.fragment)
        assert item.find("guid").get("isPermaLink") == "false"
        assert email.utils.parsedate_to_datetime(item.findtext("pubDate")) == iso(article.published)
        assert [c.text for c in item.findall("dc:creator", NS)] == article.authors
        assert article.section.title() in [c.text for c in item.findall("category")]
        encoded = item.findtext("content:encoded", namespaces=NS)
        assert all(f"<p>{escaped(p)}</p>" in encoded for p in article.paragraphs)
    assert tracked >= 3


def test_atom_feed(site: DemoSite, base_url: str) -> None:
    _, body = fetch(base_url, "/atom.xml")
    feed = ET.fromstring(body)
    assert feed.findtext("atom:id", namespaces=NS) and feed.findtext("atom:updated", namespaces=NS)
    entries = feed.findall("atom:entry", NS)
    assert len(entries) == 20
    for entry, article in zip(entries, site.articles, strict=False):
        link = entry.find("atom:link[@rel='alternate']", NS)
        assert link.get("href") == base_url + article.path
        assert entry.findtext("atom:published", namespaces=NS) == article.published
        assert entry.findtext("atom:updated", namespaces=NS) == article.modified
        names = [n.text for n in entry.findall("atom:author/atom:name", NS)]
        assert names == article.authors
        assert entry.findtext("atom:summary", namespaces=NS) == article.description
        content = entry.find("atom:content", NS)
        assert content.get("type") == "html"
        assert f"<p>{escaped(article.paragraphs[0])}</p>" in content.text


def test_sitemaps(site: DemoSite, base_url: str) -> None:
    _, body = fetch(base_url, "/sitemap.xml")
    index = ET.fromstring(body)
    assert index.tag == f"{{{NS['sm']}}}sitemapindex"
    locs = [loc.text for loc in index.findall("sm:sitemap/sm:loc", NS)]
    assert locs == [f"{base_url}/sitemap-news.xml", f"{base_url}/sitemap-articles.xml"]
    _, news_body = fetch(base_url, "/sitemap-news.xml")
    news = ET.fromstring(news_body).findall("sm:url", NS)
    assert len(news) == min(30, N_ARTICLES)
    for url, article in zip(news, site.articles, strict=False):
        assert url.findtext("sm:loc", namespaces=NS) == base_url + article.path
        publication = url.find("news:news/news:publication", NS)
        assert publication.findtext("news:name", namespaces=NS) == "The Northport Ledger"
        date = url.findtext("news:news/news:publication_date", namespaces=NS)
        assert date == article.published
        assert url.findtext("news:news/news:title", namespaces=NS) == article.headline
    _, all_body = fetch(base_url, "/sitemap-articles.xml")
    urls = ET.fromstring(all_body).findall("sm:url", NS)
    assert [u.findtext("sm:loc", namespaces=NS) for u in urls] == [
        base_url + a.path for a in site.articles]
    assert [u.findtext("sm:lastmod", namespaces=NS) for u in urls] == [
        a.modified for a in site.articles]


def test_robots_txt_uses_request_host(base_url: str) -> None:
    response, body = fetch(base_url, "/robots.txt")
    robots = body.decode()
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/plain")
    assert "User-agent: *\nDisallow: /private/\n" in robots
    assert f"Sitemap: {base_url}/sitemap.xml" in robots
    _, other = fetch(base_url, "/robots.txt", {"Host": f"localhost:{_port(base_url)}"})
    assert f"Sitemap: http://localhost:{_port(base_url)}/sitemap.xml" in other.decode()


# ----- HTTP behaviour -------------------------------------------------------------------------
def test_unknown_paths_and_traversal_give_404(site: DemoSite, base_url: str) -> None:
    assert site.render("/nope") is None
    assert site.render("/static/../static/site.css") is None
    for path in ("/nope", "/../etc/passwd", "/static/../../x", "/static/%2e%2e/%2e%2e/etc/passwd",
                 "/static/../site.py", "/world"):
        response, body = fetch(base_url, path)
        assert response.status == 404, path
        assert body.startswith(b"<!DOCTYPE html>") and b"Page not found" in body
        assert b"root:" not in body and b"import" not in body


def _follow(base_url: str, path: str, hops: int) -> list[tuple[int, str]]:
    seen = []
    for _ in range(hops):
        response, _ = fetch(base_url, path)
        path = urllib.parse.urlsplit(response.getheader("Location") or "").path
        seen.append((response.status, path))
        if response.status == 200:
            break
    return seen


def test_redirects(base_url: str) -> None:
    chain = _follow(base_url, "/special/redirect-chain", 5)
    assert [status for status, _ in chain] == [302, 302, 200]
    loop = _follow(base_url, "/special/redirect-loop", 5)
    a, b = "/special/redirect-loop/a", "/special/redirect-loop/b"
    assert loop == [(302, a), (302, b), (302, a), (302, b), (302, a)]


def test_chunked_endpoint_sends_several_chunks(site: DemoSite, base_url: str) -> None:
    response, body = fetch(base_url, "/special/chunked", {"Accept-Encoding": "gzip"})
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert response.getheader("Content-Encoding") is None
    assert body == site.render("/special/chunked").body
    request = b"GET /special/chunked HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", _port(base_url)), timeout=5) as raw:
        raw.sendall(request)
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
    payload = data.split(b"\r\n\r\n", 1)[1]
    sizes: list[int] = []
    while not sizes or sizes[-1]:
        size_line, payload = payload.split(b"\r\n", 1)
        sizes.append(int(size_line, 16))
        payload = payload[sizes[-1] + 2:]
    assert len(sizes) >= 4 and sum(sizes) == len(body)


def test_windows_1252_page(base_url: str) -> None:
    response, body = fetch(base_url, "/special/windows-1252", {"Accept-Encoding": "gzip"})
    assert response.getheader("Content-Type") == "text/html; charset=windows-1252"
    assert response.getheader("Content-Encoding") is None
    assert b"\x93" in body and b"\x94" in body and b"\xe9" in body
    assert b"charset" not in body.lower()
    decoded = body.decode("cp1252")
    assert all(escaped(p) in decoded for p in WINDOWS_1252_PARAGRAPHS)


def test_gzip_when_asked(site: DemoSite, base_url: str) -> None:
    path = site.articles[0].path
    plain_response, plain = fetch(base_url, path)
    assert plain_response.getheader("Content-Encoding") is None
    assert plain_response.getheader("Vary") == "Accept-Encoding"
    response, body = fetch(base_url, path, {"Accept-Encoding": "br, gzip;q=0.8"})
    assert response.getheader("Content-Encoding") == "gzip"
    assert int(response.getheader("Content-Length")) == len(body)
    assert gzip.decompress(body) == plain
    refused, _ = fetch(base_url, path, {"Accept-Encoding": "gzip;q=0"})
    assert refused.getheader("Content-Encoding") is None
    image, _ = fetch(base_url, "/static/img/0.png", {"Accept-Encoding": "gzip"})
    assert image.getheader("Content-Encoding") is None


def test_conditional_requests(site: DemoSite, base_url: str) -> None:
    article = site.articles[1]
    response, _ = fetch(base_url, article.path)
    etag, last_modified = response.getheader("ETag"), response.getheader("Last-Modified")
    assert etag and email.utils.parsedate_to_datetime(last_modified) == iso(article.modified)
    not_modified, empty = fetch(base_url, article.path, {"If-None-Match": etag})
    assert not_modified.status == 304 and empty == b"" and not_modified.getheader("ETag") == etag
    zipped, _ = fetch(base_url, article.path, {"Accept-Encoding": "gzip"})
    zipped_etag = zipped.getheader("ETag")
    again, _ = fetch(base_url, article.path,
                     {"Accept-Encoding": "gzip", "If-None-Match": zipped_etag})
    assert zipped_etag != etag and again.status == 304
    since, _ = fetch(base_url, article.path, {"If-Modified-Since": last_modified})
    assert since.status == 304
    stale, _ = fetch(base_url, article.path,
                     {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    changed, _ = fetch(base_url, article.path, {"If-None-Match": '"something-else"'})
    assert stale.status == 200 and changed.status == 200


def test_keep_alive_and_head(site: DemoSite, base_url: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", _port(base_url), timeout=5)
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        body = first.read()
        sock = conn.sock
        conn.request("HEAD", "/")
        head = conn.getresponse()
        assert head.read() == b"" and int(head.getheader("Content-Length")) == len(body)
        path = site.articles[0].path
        conn.request("GET", path)
        third = conn.getresponse()
        assert third.status == 200
        assert third.read() == site.render(path, base_url=base_url).body
        assert conn.sock is sock and first.getheader("Connection") != "close"
    finally:
        conn.close()


def test_static_assets(base_url: str) -> None:
    _, css = fetch(base_url, "/static/site.css")
    assert b"url(/static/img/bg.png)" in css and b'@import url("/static/print.css")' in css
    expected = [("/static/print.css", "text/css"), ("/static/site.js", "text/javascript"),
                ("/static/img/bg.png", "image/png"), ("/static/img/3-2x.png", "image/png"),
                ("/favicon.ico", "image/x-icon")]
    for path, content_type in expected:
        response, body = fetch(base_url, path)
        assert response.status == 200, path
        assert response.getheader("Content-Type").startswith(content_type), path
        if content_type == "image/png":
            assert body.startswith(b"\x89PNG\r\n\x1a\n") and body[12:16] == b"IHDR"
            assert body.endswith(b"IEND\xaeB`\x82")
    _, icon = fetch(base_url, "/favicon.ico")
    assert icon[:4] == b"\x00\x00\x01\x00" and b"PNG" in icon


def test_error_big_and_slow(site: DemoSite, base_url: str) -> None:
    error, _ = fetch(base_url, "/special/error")
    assert error.status == 500
    big, data = fetch(base_url, "/special/big?mb=2")
    assert big.status == 200 and int(big.getheader("Content-Length")) == len(data) == 2 << 20
    _, again = fetch(base_url, "/special/big?mb=2")
    assert hashlib.sha256(data).digest() == hashlib.sha256(again).digest()
    assert len(set(data[:65536])) > 200  # not a trivially compressible run of one byte
    bad, _ = fetch(base_url, "/special/big?mb=lots")
    assert bad.status == 400
    slow = site.render("/special/slow")  # rendered, not fetched: the live page takes 3 s
    assert slow is not None and slow.delay == 3.0 and slow.status == 200


def test_padding_sizes_and_text_unchanged() -> None:
    plain = DemoSite(n_articles=8, seed=2)
    padded = DemoSite(n_articles=8, seed=2, padding_kb=(30, 60))
    assert padded.articles == plain.articles
    sizes = []
    for article in padded.articles:
        doc = padded.render(article.path).body
        sizes.append(len(doc))
        assert 30 * 1024 <= len(doc) <= 60 * 1024
        assert all(escaped(p).encode() in doc for p in article.paragraphs)
        # padding is markup only: no extra prose paragraphs
        assert doc.count(b"<p>") == plain.render(article.path).body.count(b"<p>")
    assert len(set(sizes)) > 1
    assert _broken_internal_links(padded) == {href for href, _ in BROKEN_LINKS}
    fixed = DemoSite(n_articles=3, seed=2, padding_kb=40)
    assert all(40 * 1024 <= len(fixed.render(a.path).body) <= 42 * 1024 for a in fixed.articles)


def test_prerender_fills_the_cache_for_every_route() -> None:
    small = DemoSite(n_articles=12, seed=4)
    assert small.prerender("http://127.0.0.1:1") == len(small.routes())
    home = small.render("/", base_url="http://127.0.0.1:1")
    assert home is small.render("/", base_url="http://127.0.0.1:1")  # served from the cache
    assert gzip.decompress(home.gzipped()) == home.body


def test_server_stops_cleanly() -> None:
    small = DemoSite(n_articles=3, seed=5)
    with serve(small) as url:
        idle = http.client.HTTPConnection("127.0.0.1", _port(url), timeout=5)
        idle.request("GET", "/")
        assert idle.getresponse().read()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", _port(url)), timeout=1).close()
    idle.close()
