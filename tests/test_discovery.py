"""Discovery through feeds and sitemaps, safe XML, canonical URLs, redirect loops, Retry-After."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from warcs import read_collection
from wire import response, serve_wire

from archive.config import collection_from_dict
from archive.crawl import crawl
from archive.discovery import (
    MAX_SITEMAP_BYTES,
    BadDocument,
    document_kind,
    parse_feed,
    parse_sitemap,
)
from archive.urls import canonicalize

HTML = [("Content-Type", "text/html")]
XML = [("Content-Type", "application/xml")]

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>T</title><link>/</link>
<item><title>One</title><link>/a/one?utm_source=rss&amp;utm_medium=feed#c</link><guid isPermaLink="false">g-1</guid>
<pubDate>Sat, 14 Mar 2026 08:30:00 +0100</pubDate><dc:creator>Ada</dc:creator>
<content:encoded><![CDATA[<p>Full <b>body</b></p>]]></content:encoded></item>
<item><title>Two</title><link>/a/two</link><guid>g-2</guid></item>
<item><title>Dup</title><link>/a/one?fbclid=xyz</link><guid>g-3</guid></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:x</id><updated>2026-03-14T08:30:00Z</updated>
<entry><title>Three</title><id>tag:x,2026:3</id><link rel="alternate" href="/a/three"/>
<published>2026-03-14T08:30:00+01:00</published><updated>2026-03-15T09:00:00+01:00</updated></entry></feed>"""
INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>/sm-news.xml</loc></sitemap></sitemapindex>"""
NEWS = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>/a/four</loc><news:news><news:publication><news:name>P</news:name><news:language>en</news:language>
</news:publication><news:publication_date>2026-03-14T08:30:00+01:00</news:publication_date>
<news:title>Four</news:title></news:news></url></urlset>"""
BOMB = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<rss version="2.0"><channel><item><title>&d;</title><link>/a/bomb</link></item></channel></rss>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&x;</title><link>/a/evil</link></item></channel></rss>"""


def test_feed_parsing_reads_links_guids_and_dates():
    items = parse_feed(RSS, "http://h/feed")
    assert [i.guid for i in items] == ["g-1", "g-2", "g-3"]
    assert items[0].published == "2026-03-14T07:30:00+00:00"
    atom = parse_feed(ATOM, "http://h/atom")[0]
    assert (atom.link, atom.guid, atom.updated) == ("/a/three", "tag:x,2026:3", "2026-03-15T08:00:00+00:00")


def test_an_atom_feeds_nested_relative_bases_are_each_applied():
    """feedparser dropped a relative xml:base inside another: the entry's ``2026/`` was lost."""
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="news/"><title>t</title>
    <id>tag:h,2026:f</id><entry xml:base="2026/"><id>tag:h,2026:1</id><link href="one"/></entry>
    <entry xml:base="../up/"><id>tag:h,2026:2</id><link href="two"/></entry>
    <entry xml:base="http://other.test/x/"><id>tag:h,2026:3</id><link href="three"/></entry>
    <entry><id>tag:h,2026:4</id><link href="four"/></entry></feed>"""
    assert [(i.link, i.guid) for i in parse_feed(atom, "http://h/feeds/atom.xml")] == [
        ("http://h/feeds/news/2026/one", "tag:h,2026:1"), ("http://h/feeds/up/two", "tag:h,2026:2"),
        ("http://other.test/x/three", "tag:h,2026:3"), ("http://h/feeds/news/four", "tag:h,2026:4")]
    # One not well-formed is read as feedparser reads it, not re-written (a bare & kept).
    broken = atom.replace(b'href="four"', b'href="four?a=1&b=2"').replace(b"<title>t</title>", b"<title>T & J</title>")
    assert parse_feed(broken, "http://h/feeds/atom.xml")[3].link == "news/four?a=1&b=2"


@pytest.mark.parametrize("body", [BOMB, EXTERNAL, b"<html><p>not a feed", b""])
def test_unsafe_or_broken_feeds_are_refused(body):
    with pytest.raises(BadDocument):
        parse_feed(body, "http://h/feed")


def test_feeds_and_sitemaps_in_another_encoding_than_declared_are_read():
    # Each was refused whole, its items lost, though a browser or feed reader shows it.
    latin = RSS.replace(b"<title>Two</title>", b"<title>Caf\xe9</title>")
    assert [i.title for i in parse_feed(latin, "http://h/feed")] == ["One", "Café", "Dup"]
    utf8_as_utf16 = b"<?xml version='1.0' encoding='utf-16'?><urlset><url><loc>/a/\xc3\xa9</loc></url></urlset>"
    assert [e.loc for e in parse_sitemap(utf8_as_utf16, "http://h/sm.xml").entries] == ["/a/é"]
    # Re-encoded, a document is checked again: entities stay refused.
    with pytest.raises(BadDocument, match="unsafe"):
        parse_feed(BOMB.replace(b"aaaaaaaaaa", b"\xe9aaaaaaaaa"), "http://h/feed")


@pytest.mark.parametrize(("body", "kind"), [
    (RSS, "feed"),
    (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- made by hand -->\n<feed xmlns="http://www.w3.org/2005/Atom">', "feed"),
    (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">', "feed"),
    (b'<?xml version="1.0"?><?xml-stylesheet href="s.xsl"?><urlset>', "sitemap"),
    (gzip.compress(b'<?xml version="1.0"?><sitemapindex>', mtime=0), "sitemap"),
    (gzip.compress(RSS, mtime=0), "feed"),
    (BOMB, "feed"),  # (a doctype with entities: known, and then refused by the feed reader)
    (b"<!DOCTYPE html>\n<html><body>", None),
    (b'<?xml version="1.0"?><svg>', None),
    (b"GIF89a", None),
    (b"<!-- never closed", None),
    (b"", None),
])
def test_a_documents_kind_is_known_by_its_first_element(body, kind):
    assert document_kind(body) == kind


def test_knowing_a_documents_kind_takes_no_time_whatever_its_prolog():
    # A first version's pattern took exponential time on a body of spaces: forty of them
    # blocked the crawl for hours. (In a process of its own: a stuck regex holds the GIL.)
    code = ("from archive.discovery import document_kind as k; "
            "assert k(b' ' * 4096) is None and k(b' ' * 60 + b'x') is None and k(b'\\n' * 100 + b'<rss>') == 'feed'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_oversized_plain_sitemaps_and_feeds_are_refused_unparsed():
    # Uncompressed, as a gzip sitemap past the limit already was: parsing is whole, in memory.
    padding = b" " * MAX_SITEMAP_BYTES
    with pytest.raises(BadDocument, match="larger than 50 MB"):
        parse_sitemap(b"<urlset><url><loc>/a</loc></url>" + padding + b"</urlset>", "http://h/sm.xml")
    with pytest.raises(BadDocument, match="feed larger than"):
        parse_feed(RSS.replace(b"</channel>", b" " * (10 << 20) + b"</channel>"), "http://h/feed")


def test_sitemaps_index_and_news():
    assert parse_sitemap(INDEX, "x").kind == "index"
    entry = parse_sitemap(NEWS, "x").entries[0]
    assert (entry.loc, entry.news_title, entry.news_publication_date) == ("/a/four", "Four", "2026-03-14T08:30:00+01:00")
    with pytest.raises(BadDocument):
        parse_sitemap(BOMB, "x")


@pytest.mark.parametrize("raw, canonical", [
    ("HTTP://Example.COM:80/a?utm_source=x&b=2&fbclid=1#frag", "http://example.com/a?b=2"),
    ("https://example.com:443", "https://example.com/"),
    ("https://example.com:8443/x?gclid=1", "https://example.com:8443/x"),
    ("https://user:pw@example.com/x", "https://example.com/x"),
    ("http://example.com/caf\u00e9?q=\u00e9", "http://example.com/caf%C3%A9?q=%C3%A9"),
    # Dot segments resolved as a browser resolves them (WHATWG URL), "%2e" spellings too.
    ("http://example.com/news/../2026/story.html", "http://example.com/2026/story.html"),
    ("http://example.com/a/./b/.", "http://example.com/a/b/"),
    ("http://example.com/a/b/..?page=2#c", "http://example.com/a/?page=2"),
    ("http://example.com/../../x", "http://example.com/x"),
    ("http://example.com/a/%2E%2e/b/.%2e/c", "http://example.com/c"),
    ("http://example.com/a//b/../c", "http://example.com/a//c"),
    ("http://example.com/.well-known/v1.2/..x/x..", "http://example.com/.well-known/v1.2/..x/x.."),
    # Session ids: the same page at a new URL on every visit.
    ("http://example.com/news/story.jsp;jsessionid=0A1B2C3D?id=7", "http://example.com/news/story.jsp?id=7"),
    ("http://example.com/a.php?PHPSESSID=abc123&p=2", "http://example.com/a.php?p=2"),
    ("http://example.com/a.asp?ASPSESSIONIDQQGGQGPC=ABC&CFID=1&CFTOKEN=2&x=1", "http://example.com/a.asp?x=1"),
    ("http://example.com/a?sid=0123456789abcdef0123456789ABCDEF&sid=5", "http://example.com/a?sid=5"),
    # A host's name written whole (the root's dot at its end): the same host, in scope.
    ("http://Example.COM./a", "http://example.com/a"),
    ("http://example.com.:8080/a", "http://example.com:8080/a"),
])
def test_canonicalisation(raw, canonical):
    assert canonicalize(raw) == canonical


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    store = tmp_path_factory.mktemp("disc")
    state = {"busy": 0}

    def busy(head):
        state["busy"] += 1
        if state["busy"] == 1:
            return response("503 Service Unavailable", [("Retry-After", "1")], b"busy")(head)
        return response("200 OK", HTML, b"<html><p>now</p></html>")(head)

    page = response("200 OK", HTML, b"<html><body><p>article</p></body></html>")
    routes = {
        "/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nSitemap: /sm-index.xml\n"),
        "/feed": response("200 OK", XML, RSS), "/atom": response("200 OK", XML, ATOM),
        "/bomb": response("200 OK", XML, BOMB), "/evil": response("200 OK", XML, EXTERNAL),
        "/sm-index.xml": response("200 OK", XML, INDEX), "/sm-news.xml": response("200 OK", XML, NEWS),
        "/a/one": page, "/a/two": page, "/a/three": page, "/a/four": page,
        "/loop-a": response("302 Found", [("Location", "/loop-b")], b""),
        "/loop-b": response("302 Found", [("Location", "/loop-a")], b""),
        "/busy": busy,
        "/long-wait": response("503 Service Unavailable", [("Retry-After", "3600")], b"later"),
    }
    with serve_wire(routes) as server:
        b = server.base
        coll = collection_from_dict({"name": "d", "feeds": [b + "/feed", b + "/atom", b + "/bomb", b + "/evil"],
                                     "urls": [b + "/loop-a", b + "/busy", b + "/long-wait"]})
        result = crawl(store, coll)
        records, lines = read_collection(store / "d")
        yield {"base": b, "records": records, "lines": lines, "result": result, "server": server}


def _lines(d, path):
    return [l for l in d["lines"] if l["url"] == d["base"] + path]


def test_feed_items_are_fetched_once_with_their_source(discovered):
    one = _lines(discovered, "/a/one")
    assert len(one) == 1  # the fbclid duplicate was recognised
    assert one[0]["channel"] == "feed" and one[0]["source"] == discovered["base"] + "/feed"
    assert one[0]["source_id"] == "g-1" and one[0]["depth"] == 1
    assert one[0]["url_as_linked"] == discovered["base"] + "/a/one?utm_source=rss&utm_medium=feed#c"
    assert _lines(discovered, "/a/three")[0]["source_id"] == "tag:x,2026:3"


def test_sitemap_from_robots_is_followed_and_feeds_are_captured(discovered):
    four = _lines(discovered, "/a/four")[0]
    assert four["channel"] == "sitemap" and four["source"] == discovered["base"] + "/sm-news.xml"
    for path in ("/feed", "/atom", "/sm-index.xml", "/sm-news.xml", "/robots.txt"):
        assert _lines(discovered, path)[0]["outcome"] == "captured"


def test_malicious_feeds_are_captured_but_yield_nothing(discovered):
    assert _lines(discovered, "/bomb") and _lines(discovered, "/evil")
    assert not _lines(discovered, "/a/bomb") and not _lines(discovered, "/a/evil")
    assert discovered["result"].counts["bad_documents"] == 2


def test_the_manifest_names_each_bad_document_and_why(discovered):
    """The manifest, the job's lasting record, counted bad documents; which they were, and
    why, was only in the crawl log, which no manifest covers."""
    from archive.validation import validate
    from archive.verify import verify

    manifest = json.loads(discovered["result"].manifest.read_text())
    base = discovered["base"]
    assert sorted((bad["url"], bad["reason"]) for bad in manifest["bad_documents"]) == [
        (base + "/bomb", "unsafe XML refused (EntitiesForbidden)"),
        (base + "/evil", "unsafe XML refused (EntitiesForbidden)")]
    assert verify(discovered["result"].manifest.parent.parent).ok
    # A manifest written before they were named is valid as it was.
    del manifest["bad_documents"]
    validate("manifest", manifest)


def test_redirect_loop_ends_with_every_hop_captured(discovered):
    a, b = _lines(discovered, "/loop-a"), _lines(discovered, "/loop-b")
    assert a and b and all(l["status"] == 302 for l in a + b)
    assert len(a) + len(b) <= 25


def test_503_with_retry_after_is_retried_after_the_delay(discovered):
    busy = _lines(discovered, "/busy")
    assert [l["status"] for l in busy] == [503, 200]
    first, second = (datetime.fromisoformat(l["started"]) for l in busy)
    assert (second - first).total_seconds() >= 1.0
    assert [l["status"] for l in _lines(discovered, "/long-wait")] == [503]  # over the cap: not retried now


def test_links_resolving_to_private_addresses_are_refused_unless_allowed(tmp_path):
    page = b"<html><body><a href='http://localhost:%d/inside'>x</a></body></html>"
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b""),
              "/inside": response("200 OK", HTML, b"<html><p>inside</p></html>")}
    with serve_wire(routes) as server:
        routes["/"] = response("200 OK", HTML, page % server.port)
        for allow in (False, True):
            coll = collection_from_dict({"name": f"p{int(allow)}", "urls": [server.base + "/"],
                                         "scope": {"allow_hosts": ["127.0.0.1", "localhost"],
                                                   "allow_private_addresses": allow}})
            crawl(tmp_path, coll, overrides={"RETRY_TIMES": 0})
            _, lines = read_collection(tmp_path / f"p{int(allow)}")
            inside = [l for l in lines if l["url"].endswith("/inside")]
            if allow:
                assert inside[0]["outcome"] == "captured"
            else:
                assert inside[0]["outcome"] == "failed" and "private or local address" in inside[0]["error"]
    # nothing reached the server for the refused host: /inside was fetched once, when allowed
    assert sum(h.startswith(b"GET /inside ") for h in server.requests) == 1


def test_page_requisites_on_private_address_literals_are_refused(tmp_path):
    page = b"<html><body><img src='http://127.0.0.2:%d/img.png'></body></html>"
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"")}
    with serve_wire(routes) as server:
        routes["/"] = response("200 OK", HTML, page % server.port)
        crawl(tmp_path, collection_from_dict({"name": "lit", "urls": [server.base + "/"]}))
    _, lines = read_collection(tmp_path / "lit")
    img = [l for l in lines if l["url"].endswith("/img.png")]
    assert img and img[0]["outcome"] == "failed" and img[0]["error"].startswith("RefusedAddress:")
    assert not any(h.startswith(b"GET /img.png") for h in server.requests)


def _advertising_site(max_depth: int, tmp_path, more: int = 0) -> tuple[set[str], list[dict], str]:
    home = (b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
            b'<link rel="ALTERNATE" type="application/atom+xml; charset=utf-8" href="/atom.xml">'
            b'<link rel="alternate" type="application/rss+xml" href="http://localhost:9/elsewhere.xml">'
            b'<link rel="alternate" type="application/rss+xml" title="News &raquo; Comments Feed" href="/c.xml">'
            b'<link rel="alternate" type="application/rss+xml" href="/comments/feed/">'
            b'<link rel="alternate" type="application/rss+xml" href="/?feed=comments-rss2">'
            + b"".join(b'<link rel="alternate" type="application/rss+xml" href="/more-%d.xml">' % i
                       for i in range(more))
            + b'<link rel="alternate" type="text/html" href="/mobile/"></head><body>no links</body></html>')
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Story</title><link>/story</link>'
           b"<guid>story-1</guid></item></channel></rss>")
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><title>Other</title>'
            b'<link href="/other"/><id>tag:other</id></entry></feed>')
    routes = {"/": response("200 OK", HTML, home), "/feed.xml": response("200 OK", XML, rss),
              "/atom.xml": response("200 OK", XML, atom),
              "/story": response("200 OK", HTML, b"<html><body>story</body></html>"),
              "/other": response("200 OK", HTML, b"<html><body>other</body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "adv", "urls": [server.base + "/"], "obey_robots": False,
                                              "scope": {"max_depth": max_depth}}), extract=False)
        fetched = {h.split(b" ")[1].decode() for h in server.requests}
    _, lines = read_collection(tmp_path / "adv")
    return fetched, lines, server.base


def test_the_feeds_a_seed_page_advertises_are_read_as_feeds(tmp_path):
    fetched, lines, base = _advertising_site(1, tmp_path)
    # (not another site's, nor a page's other versions, nor the comments)
    assert fetched == {"/", "/feed.xml", "/atom.xml", "/story", "/other", "/favicon.ico"}  # (pages naming no icon)
    by_url = {line["url"].removeprefix(base): line for line in lines}
    feed, story = by_url["/feed.xml"], by_url["/story"]
    assert (feed["channel"], feed["via"], feed["hops"]) == ("feed", base + "/", "L")
    assert (story["channel"], story["source"], story["source_id"], story["hops"]) == (
        "feed", base + "/feed.xml", "story-1", "LL")


def test_a_seed_page_advertising_any_number_of_feeds_has_ten_read(tmp_path):
    fetched, _, _ = _advertising_site(1, tmp_path, more=30)
    assert len([path for path in fetched if path.endswith(".xml")]) == 10


def test_a_crawl_of_depth_0_reads_no_advertised_feed(tmp_path):
    fetched, _, _ = _advertising_site(0, tmp_path)
    assert fetched == {"/", "/favicon.ico"}


def _linked_documents(tmp_path, max_depth: int, seed: str = "/",
                      rss_type: str = "text/html") -> tuple[set[str], dict[str, dict], str]:
    home = (b'<html><body><a href="/rss">RSS</a> <a href="/map.xml">Sitemap</a> <a href="/data.xml">data</a>'
            b"</body></html>")
    rss = (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- generator -->\n<rss version="2.0"><channel><item>'
           b"<title>Story</title><link>/story</link><guid>story-1</guid></item></channel></rss>")
    urlset = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              b"<url><loc>/mapped</loc></url></urlset>")
    routes = {"/": response("200 OK", HTML, home),
              "/rss": response("200 OK", [("Content-Type", rss_type)], rss),  # (text/html: as some servers label it)
              "/map.xml": response("200 OK", [("Content-Type", "application/octet-stream")], gzip.compress(urlset)),
              "/data.xml": response("200 OK", XML, b'<?xml version="1.0"?><catalog><a href="/nothing"/></catalog>'),
              "/story": response("200 OK", HTML, b"<html><body>story</body></html>"),
              "/mapped": response("200 OK", HTML, b"<html><body>mapped</body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "linked", "urls": [server.base + seed], "obey_robots": False,
                                              "scope": {"max_depth": max_depth}}), extract=False)
        fetched = {h.split(b" ")[1].decode() for h in server.requests}
    _, lines = read_collection(tmp_path / "linked")
    return fetched, {line["url"].removeprefix(server.base): line for line in lines}, server.base


def test_a_feed_and_a_sitemap_a_page_links_to_are_read_as_such_a_link_further(tmp_path):
    # A site's "RSS" and "Sitemap" links: before, they were captured as pages and their
    # items never seen. Their items are a link further than they are, within the depth.
    fetched, by_url, base = _linked_documents(tmp_path, 2)
    assert fetched == {"/", "/rss", "/map.xml", "/data.xml", "/story", "/mapped", "/favicon.ico"}
    assert (by_url["/rss"]["channel"], by_url["/rss"]["depth"]) == ("link", 1)  # (as it was reached)
    story, mapped = by_url["/story"], by_url["/mapped"]
    assert (story["channel"], story["source"], story["source_id"], story["hops"], story["depth"]) == (
        "feed", base + "/rss", "story-1", "LL", 2)
    assert (mapped["channel"], mapped["via"], mapped["depth"]) == ("sitemap", base + "/map.xml", 2)


def test_a_feed_a_seed_page_advertises_is_read_though_another_seed_linked_it_first(tmp_path):
    # Linked from the section page at the depth limit, the feed was fetched as a page and
    # not read; the home page's <link rel="alternate"> to it was then passed over as seen.
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Story</title><link>/story</link>'
           b"<guid>story-1</guid></item></channel></rss>")
    home = response("200 OK", HTML, b'<html><head><link rel="alternate" type="application/rss+xml" '
                                    b'href="/feed.xml"></head><body>home</body></html>')
    routes = {"/section": response("200 OK", HTML, b'<html><body><a href="/feed.xml">RSS</a></body></html>'),
              "/": lambda head: [1.0, *home(head)],  # (after the section's link has been followed)
              "/feed.xml": response("200 OK", XML, rss),
              "/story": response("200 OK", HTML, b"<html><body>story</body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "order", "urls": [server.base + "/section", server.base + "/"],
                                              "obey_robots": False, "scope": {"max_depth": 1}}), extract=False)
        fetched = [h.split(b" ")[1].decode() for h in server.requests]
    assert fetched.count("/feed.xml") == 2 and "/story" in fetched
    _, lines = read_collection(tmp_path / "order")
    story = next(line for line in lines if line["url"].endswith("/story"))
    assert (story["channel"], story["depth"], story["source"]) == ("feed", 1, server.base + "/feed.xml")


def test_a_linked_feed_at_the_depth_limit_has_no_item_fetched(tmp_path):
    # (else every tag and category feed a page links to would take the crawl past its depth)
    fetched, _, _ = _linked_documents(tmp_path / "a", 1, rss_type="application/rss+xml")
    assert fetched == {"/", "/rss", "/map.xml", "/data.xml", "/favicon.ico"}
    fetched, _, _ = _linked_documents(tmp_path / "b", 0, seed="/rss", rss_type="application/rss+xml")  # a seed
    assert fetched == {"/rss"}


def _framing_site(extra: bytes = b"") -> dict:
    page = (b'<html><head><link rel="preload" as="image" href="/hero.jpg"></head><body>'
            b'<img src="data:image/gif;base64,R0lGOD" data-src="/lazy.jpg" data-srcset="/lazy-2x.jpg 2x">'
            b'<img src="/soft404.png"><iframe src="/frame.html"></iframe>'
            b'<iframe src="http://localhost:9/advert.html"></iframe>' + extra + b"</body></html>")
    frame = (b'<html><head><link rel="stylesheet" href="/frame.css"></head>'
             b'<body><img src="/in-frame.png"><a href="/from-frame">a link</a></body></html>')
    png = [("Content-Type", "image/png")]
    return {"/": response("200 OK", HTML, page), "/frame.html": response("200 OK", HTML, frame),
            "/frame.css": response("200 OK", [("Content-Type", "text/css")], b"body{background:url(/bg.png)}"),
            # (a missing image answered with a page: a browser loads nothing that page refers to)
            "/soft404.png": response("200 OK", HTML, b'<html><link rel="stylesheet" href="/soft.css"></html>'),
            "/from-frame": response("200 OK", HTML, b"<html><body>from the frame</body></html>"),
            **{path: response("200 OK", png, b"png") for path in
               ("/hero.jpg", "/lazy.jpg", "/lazy-2x.jpg", "/in-frame.png", "/bg.png")}}


def test_lazy_images_preloads_and_frames_of_the_site_are_captured_with_their_requisites(tmp_path):
    # What a browser loads that a crawler running no script finds only in the markup: a lazy
    # loader's data-src/data-srcset, a preload, and a frame of the site itself, with its own
    # stylesheet and image (and the stylesheet's background), even at depth 0; not a frame of
    # another site (an advertisement, a player), nor what a page sent for an image refers to.
    with serve_wire(_framing_site()) as server:
        crawl(tmp_path, collection_from_dict({"name": "lazy", "urls": [server.base + "/"], "obey_robots": False,
                                              "scope": {"max_depth": 0}}))
        fetched = {h.split(b" ")[1].decode() for h in server.requests}
    assert fetched == {"/", "/hero.jpg", "/lazy.jpg", "/lazy-2x.jpg", "/soft404.png", "/frame.html", "/frame.css",
                       "/in-frame.png", "/bg.png", "/favicon.ico"}
    _, lines = read_collection(tmp_path / "lazy")
    hops = {line["url"].removeprefix(server.base): line["hops"] for line in lines}
    assert (hops["/frame.html"], hops["/in-frame.png"], hops["/frame.css"], hops["/bg.png"]) == ("E", "EE", "EE", "EEE")


def test_a_frame_of_the_site_is_a_page_whose_links_are_followed_within_the_depth(tmp_path):
    with serve_wire(_framing_site(b'<a href="/frame.html">the same page, linked</a>')) as server:
        crawl(tmp_path, collection_from_dict({"name": "deep", "urls": [server.base + "/"], "obey_robots": False,
                                              "scope": {"max_depth": 2}}))
        fetched = [h.split(b" ")[1].decode() for h in server.requests]
    assert fetched.count("/frame.html") == 1 and "/from-frame" in fetched


def test_an_index_listing_endless_sitemaps_is_followed_only_up_to_max_pages(tmp_path):
    # A hostile index: thousands of sitemaps (here also one pointing back at the index);
    # max_pages does not count sitemaps, so it alone would not have bounded the fetches.
    listed = "".join(f"<sitemap><loc>/sm-{i}.xml</loc></sitemap>" for i in range(2000))
    index = f"<sitemapindex><sitemap><loc>/index.xml</loc></sitemap>{listed}</sitemapindex>".encode()
    routes = {"/index.xml": response("200 OK", XML, index)}
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "i", "sitemaps": [server.base + "/index.xml"], "obey_robots": False,
                                     "scope": {"max_pages": 5}})
        result = crawl(tmp_path, coll, overrides={"RETRY_TIMES": 0})
        fetched = [h for h in server.requests if h.startswith(b"GET /sm-")]
    assert result.outcome == "finished"
    assert len(fetched) == 5
    log = next((tmp_path / "i" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert "1995 sitemaps not followed" in log


NOT_WELL_FORMED_RSS = b"""

<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Q&A and AT&T news</title><link>/</link>
<item><title>Caf&eacute; opens&nbsp;today</title><link>/a/one</link><description>Line<br>break</description></item>
<item><title>Two</title><link>/a/two?x=1&y=2</link></item>
</channel></rss>"""
NOT_WELL_FORMED_SITEMAP = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>/a/one</loc></url><url><loc>/search?q=x&page=2</loc></url><url><loc>/a/three?x=1&amp;y=2</loc></url>
</urlset>"""


def test_feeds_and_sitemaps_that_are_not_well_formed_xml_are_read_as_feed_readers_read_them():
    """A bare "&", an HTML entity, an unclosed <br>, blank lines before the declaration:
    each was refused whole by the strict check, every item lost; feed readers take them."""
    assert [i.link for i in parse_feed(NOT_WELL_FORMED_RSS, "http://h/feed")] == ["/a/one", "/a/two?x=1&y=2"]
    sitemap = parse_sitemap(NOT_WELL_FORMED_SITEMAP, "http://h/sitemap.xml")
    assert [e.loc for e in sitemap.entries] == ["/a/one", "/search?q=x&page=2", "/a/three?x=1&y=2"]


@pytest.mark.parametrize("lead", [b"", b"\n\n"])  # (blank lines first: the strict check stops there)
@pytest.mark.parametrize("broken", [b"<title>AT&T</title>", b"<br>"])
@pytest.mark.parametrize("unsafe", [BOMB, EXTERNAL])
def test_an_entity_declaration_is_refused_in_a_document_that_is_not_well_formed_too(unsafe, broken, lead):
    body = lead + unsafe.replace(b"<channel>", b"<channel>" + broken)
    with pytest.raises(BadDocument, match="unsafe"):
        parse_feed(body, "http://h/feed")
    with pytest.raises(BadDocument, match="unsafe"):
        parse_sitemap(body.replace(b"rss", b"urlset"), "http://h/sitemap.xml")


@pytest.mark.parametrize("to", ["http://www.news.test", "http://consent.elsewhere.test"])
def test_a_seed_that_redirects_to_another_host_of_its_site_is_a_seed_there(tmp_path, monkeypatch, caplog, to):
    """news.test -> www.news.test: the landing page alone was captured, none of its links
    followed (its host was out of the scope the seed's host made). A redirect to another
    site is said, and not followed further. (Through a forward proxy, which answers for
    any host by its absolute URLs: no name needs to resolve.)"""
    for name in ("no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    page = b"<html><body><a href='/a/1'>1</a> <a href='/a/2'>2</a></body></html>"
    robots = response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n")
    routes = {"http://news.test/robots.txt": robots, f"{to}/robots.txt": robots,
              "http://news.test/": response("301 Moved Permanently", [("Location", to + "/home")], b""),
              f"{to}/home": response("200 OK", HTML, page)}
    for n in (1, 2):
        routes[f"{to}/a/{n}"] = response("200 OK", HTML, b"<html><body><p>story</p></body></html>")
    with serve_wire(routes) as proxy:
        monkeypatch.setenv("http_proxy", proxy.base)
        crawl(tmp_path, collection_from_dict({"name": "moved", "urls": ["http://news.test/"]}), extract=False)
    _, lines = read_collection(tmp_path / "moved")
    fetched = {line["url"] for line in lines if line["outcome"] == "captured"}
    assert to + "/home" in fetched
    if "news.test" in to:
        assert {to + "/a/1", to + "/a/2"} <= fetched, fetched
    else:
        assert not {to + "/a/1", to + "/a/2"} & fetched
        assert "another site: it is not taken into the scope" in (tmp_path / "moved" / "logs").joinpath(
            next(p.name for p in (tmp_path / "moved" / "logs").glob("*.crawl.log"))).read_text()

def test_a_page_that_refreshes_has_its_links_followed_and_its_refresh_taken_as_one(tmp_path):
    """A front page reloading itself every minute went to no one (Scrapy made it a request
    for itself, which the duplicate filter dropped): none of its links was followed."""
    def page(head: bytes, links: bytes) -> bytes:
        return b"<html><head>" + head + b"</head><body>" + links + b"</body></html>"

    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/front": response("200 OK", HTML, page(b'<meta http-equiv="refresh" content="60; url=/front">',
                                                     b"<a href='/a/1'>1</a> <a href='/later'>later</a>")),
              "/later": response("200 OK", HTML, page(b'<meta http-equiv="refresh" content="30; url=/next">',
                                                     b"<a href='/a/2'>2</a>")),
              "/now": response("200 OK", HTML, page(b'<meta http-equiv="refresh" content="0; url=/a/3">', b"")),
              "/next": response("200 OK", HTML, page(b"", b"<p>next</p>")),
              # (the header browsers obey as they obey the element)
              "/walled": response("200 OK", [*HTML, ("Refresh", "0;URL='/a/4'")], page(b"", b"")),
              "/wait": response("200 OK", [*HTML, ("Refresh", "60")], page(b"", b"<a href='/a/5'>5</a>"))}
    for n in (1, 2, 3, 4, 5):
        routes[f"/a/{n}"] = response("200 OK", HTML, page(b"", b"<p>story</p>"))
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "refresh", "urls": [
            server.base + p for p in ("/front", "/now", "/walled", "/wait")], "scope": {"max_depth": 2}}))
    _, lines = read_collection(tmp_path / "refresh")
    by_path = {line["url"].removeprefix(server.base): line for line in lines if line["outcome"] == "captured"}
    assert {"/front", "/a/1", "/later", "/a/2", "/next", "/now", "/a/3", "/walled", "/a/4", "/wait",
            "/a/5"} <= set(by_path), sorted(by_path)
    assert (by_path["/next"]["via"], by_path["/next"]["hops"], by_path["/next"]["depth"]) == (
        server.base + "/later", "LR", 1)
    assert (by_path["/a/4"]["via"], by_path["/a/4"]["hops"], by_path["/a/4"]["depth"]) == (
        server.base + "/walled", "R", 0)


@pytest.mark.parametrize(("value", "target"), [
    (b"0; url=/a", "http://h.test/a"), (b"5;URL='/b'", "http://h.test/b"), (b"3, http://x.test/c", "http://x.test/c"),
    (b"60", None), (b"  2 ; Url = /f ", "http://h.test/f"), (b"0 /g", "http://h.test/g"),
    (b"foo", None),  # (no number first: no refresh, as browsers read it)
    (b'0; url="/h', "http://h.test/h"),  # (a quote not closed: to the end)
    (b"0; url=https:/x.test/i", "https://x.test/i"), (b"0; url=https:x.test", "https://x.test"),  # (WHATWG URL)
])
def test_a_refresh_headers_target_is_read_as_browsers_read_it(value, target):
    from scrapy.http import HtmlResponse

    from crawler.redirect import refresh_header_target

    assert refresh_header_target(HtmlResponse("http://h.test/p/q", headers={"Refresh": value}, body=b"")) == target


def test_a_redirect_to_a_page_fetched_already_is_not_followed_and_targets_are_canonical(tmp_path):
    """A feed item sent through a tracker to /story?utm_source=feed was fetched, archived and
    extracted beside the /story the front page links."""
    page = b"<html><body><p>story</p></body></html>"
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/": response("200 OK", HTML, b"<html><body><a href='/story'>s</a> <a href='/tagged'>t</a>"
                                              b"<a href='/r/2'>2</a></body></html>"),
              "/feed": response("200 OK", [("Content-Type", "application/rss+xml")],
                                b"<rss version='2.0'><channel><title>t</title><item><link>/r/1</link></item>"
                                b"</channel></rss>"),
              "/r/1": response("302 Found", [("Location", "/story?utm_source=feed&utm_medium=rss")], b""),
              "/r/2": response("302 Found", [("Location", "/other?utm_source=x")], b""),
              # (a server that insists on its own spelling of the page: followed)
              "/tagged": response("302 Found", [("Location", "/tagged?utm_source=site")], b""),
              "/tagged?utm_source=site": response("200 OK", HTML, page),
              "/story": response("200 OK", HTML, page), "/other": response("200 OK", HTML, page)}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "once", "urls": [server.base + "/"],
                                              "feeds": [server.base + "/feed"]}))
    _, lines = read_collection(tmp_path / "once")
    fetched = sorted(line["url"].removeprefix(server.base) for line in lines if line["outcome"] == "captured")
    assert fetched == sorted(["/robots.txt", "/", "/feed", "/r/1", "/r/2", "/story", "/other", "/tagged",
                              "/tagged?utm_source=site", "/favicon.ico"])


def test_allowed_hosts_written_with_a_port_match_that_port(tmp_path):
    """The schema takes "127.0.0.1:8080", but the scope compared the host alone: nothing
    but the seeds was ever in scope."""
    from archive.urls import host_in_scope

    assert host_in_scope("news.example", ["news.example:8080"], 8080)
    assert not host_in_scope("news.example", ["news.example:8080"], 80)
    assert host_in_scope("a.news.example", ["*.news.example:443"], 443)
    assert host_in_scope("news.example", ["news.example"], 8080)
    assert host_in_scope("news.example", ["news.example."], 80)  # (a seed written "http://news.example./")
    # An IPv6 address, as a seed's host is taken (no brackets), is no host and port.
    assert host_in_scope("::1", ["::1"], 8000) and host_in_scope("2001:db8::1", ["2001:db8::1"], 80)
    assert host_in_scope("::1", ["[::1]:8000"], 8000) and not host_in_scope("::1", ["[::1]:8000"], 80)
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/": response("200 OK", HTML, b"<html><body><a href='/a/1'>1</a></body></html>"),
              "/a/1": response("200 OK", HTML, b"<html><body><p>one</p></body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "port", "urls": [server.base + "/"],
                                              "scope": {"allow_hosts": [f"127.0.0.1:{server.port}"]}}))
    _, lines = read_collection(tmp_path / "port")
    assert server.base + "/a/1" in {line["url"] for line in lines if line["outcome"] == "captured"}


@pytest.mark.parametrize("slower", ["index", "linked sitemap"])
def test_a_sitemap_an_index_lists_is_read_though_a_page_linked_it_first(tmp_path, slower):
    """The home page's footer links the news sitemap, fetched as a page at the depth limit
    and not read; the index that lists it came after, and it was skipped as seen: whether
    its articles were fetched hung on which of the two came first."""
    from wire import slow

    index = (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>/sm/news.xml</loc></sitemap></sitemapindex>")
    news = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>/a/1</loc></url><url><loc>/a/2</loc></url></urlset>")
    index_route = response("200 OK", XML, index)
    news_route = response("200 OK", XML, news)
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/": response("200 OK", HTML, b"<html><body><footer><a href='/sm/news.xml'>map</a></footer></body></html>"),
              # (the index after the page's link; the linked sitemap, then, still on its way or not)
              "/sm/index.xml": slow(1.0 if slower == "index" else 0.5, index_route),
              "/sm/news.xml": slow(1.5, news_route) if slower != "index" else news_route,
              "/a/1": response("200 OK", HTML, b"<html><body><p>1</p></body></html>"),
              "/a/2": response("200 OK", HTML, b"<html><body><p>2</p></body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "maps", "urls": [server.base + "/"],
                                              "sitemaps": [server.base + "/sm/index.xml"],
                                              "scope": {"max_depth": 1}}), extract=False)
    _, lines = read_collection(tmp_path / "maps")
    fetched = {line["url"].removeprefix(server.base) for line in lines if line["outcome"] == "captured"}
    assert {"/a/1", "/a/2"} <= fetched, sorted(fetched)


def test_urls_that_differ_in_the_order_of_their_query_are_each_fetched(tmp_path):
    """Scrapy's duplicate filter sorted the query: the second was dropped unsaid, though
    the spider keeps the order (a server may read it) and took it for a page of its own."""
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/": response("200 OK", HTML, b"<html><body><a href='/l?a=1&b=2'>1</a> <a href='/l?b=2&a=1'>2</a>"
                                              b"</body></html>"),
              "/l?a=1&b=2": response("200 OK", HTML, b"<html><body><p>a then b</p></body></html>"),
              "/l?b=2&a=1": response("200 OK", HTML, b"<html><body><p>b then a</p></body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "order", "urls": [server.base + "/"]}), extract=False)
    _, lines = read_collection(tmp_path / "order")
    fetched = {line["url"].removeprefix(server.base) for line in lines if line["outcome"] == "captured"}
    assert {"/l?a=1&b=2", "/l?b=2&a=1"} <= fetched


def test_an_images_location_is_not_taken_for_its_pages():
    """<image:loc> before <loc>: the image's URL was taken for the page's."""
    doc = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
           b'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url><image:image>'
           b"<image:loc>/img.jpg</image:loc></image:image><loc>/page</loc><lastmod>2026-03-14</lastmod></url></urlset>")
    assert [(e.loc, e.lastmod) for e in parse_sitemap(doc, "http://h/s.xml").entries] == [("/page", "2026-03-14")]


def test_a_sitemap_written_as_text_is_read():
    """sitemaps.org's text form, one URL a line: it was refused as not XML."""
    body = b"\xef\xbb\xbfhttp://h/a/1\r\nhttps://h/a/2\n\n  http://h/a/3  \n"
    sitemap = parse_sitemap(body, "http://h/sitemap.txt")
    assert (sitemap.kind, [e.loc for e in sitemap.entries]) == ("urlset", ["http://h/a/1", "https://h/a/2",
                                                                           "http://h/a/3"])
    for other in (b"http://h/a/1\nnot a URL\n", b"<html><body>404</body></html>", b""):
        with pytest.raises(BadDocument):
            parse_sitemap(other, "http://h/sitemap.txt")


def test_a_feed_in_a_multi_byte_encoding_is_read_and_a_sitemap_recovered_keeps_its_text():
    """A Shift_JIS feed gave a traceback (the checker's parser reads no multi-byte
    encoding); a sitemap read leniently lost a URL's text from an HTML entity on, and one
    with a prefix left unbound gave a traceback."""
    feed = ('<?xml version="1.0" encoding="Shift_JIS"?><rss version="2.0"><channel><title>ニュース</title>'
            "<item><title>東京の記事</title><link>http://h/a/1</link></item></channel></rss>").encode("shift_jis")
    assert [(i.link, i.title) for i in parse_feed(feed, "http://h/feed")] == [("http://h/a/1", "東京の記事")]
    sitemap = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
               b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><image:image><image:loc>/i.jpg'
               b"</image:loc></image:image><loc>/caf&eacute;-ouvre?x=1&y=2</loc><news:news><news:title>Le caf&eacute;"
               b" &amp; la gare</news:title><news:publication_date>2026-03-14</news:publication_date></news:news>"
               b"</url></urlset>")
    [entry] = parse_sitemap(sitemap, "http://h/s.xml").entries
    assert (entry.loc, entry.news_title) == ("/caf\u00e9-ouvre?x=1&y=2", "Le caf\u00e9 & la gare")


def test_a_redirect_target_past_the_redirect_limit_is_fetched_when_a_link_leads_there(tmp_path):
    """The target was counted as seen before Scrapy cut the chain at REDIRECT_MAX_TIMES: a
    link to it later was passed over, and the page never fetched."""
    from wire import slow

    page = b"<html><body><p>story</p></body></html>"
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/": response("200 OK", HTML, b"<html><body><a href='/r1'>r</a> <a href='/other'>o</a></body></html>"),
              "/r1": response("302 Found", [("Location", "/r2")], b""),
              "/r2": response("302 Found", [("Location", "/target")], b""),
              "/other": slow(1.0, response("200 OK", HTML, b"<html><body><a href='/target'>t</a></body></html>")),
              "/target": response("200 OK", HTML, page)}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "cut", "urls": [server.base + "/"]}),
              overrides={"REDIRECT_MAX_TIMES": 1}, extract=False)
    _, lines = read_collection(tmp_path / "cut")
    by_url = {line["url"].removeprefix(server.base): line for line in lines if line["outcome"] == "captured"}
    assert "/target" in by_url and by_url["/target"]["via"] == server.base + "/other"


def test_a_feeds_items_on_hosts_out_of_scope_are_said_in_the_crawl_log(tmp_path):
    """They went without a word: a site whose feed links its articles on another domain
    got none of them, and nothing said why."""
    items = "".join(f"<item><link>http://articles.elsewhere.test/a/{n}</link></item>" for n in range(3))
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/feed": response("200 OK", [("Content-Type", "application/rss+xml")],
                                f"<rss version='2.0'><channel><title>t</title>{items}"
                                "<item><link>/a/here</link></item></channel></rss>".encode()),
              "/a/here": response("200 OK", HTML, b"<html><body><p>here</p></body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "off", "feeds": [server.base + "/feed"]}), extract=False)
    log = next((tmp_path / "off" / "logs").glob("*.crawl.log")).read_text()
    assert (f"feed {server.base}/feed: 3 items on articles.elsewhere.test out of the scope, not fetched "
            "(allow_hosts takes a host in)") in log


@pytest.mark.parametrize("encoding", ["base64", "rot13", "a\x00b"])
def test_a_feed_declaring_an_encoding_of_no_text_is_read_as_the_others_are(encoding):
    """A codec Python has but of no text ("base64") raised out of the feed's reading."""
    doc = (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><item><link>/x</link></item>'
           "<br></channel></rss>").encode()
    assert [i.link for i in parse_feed(doc, "http://h/feed")] == ["/x"]


def test_a_feedburner_feeds_items_are_fetched_at_their_original_links(tmp_path):
    """FeedBurner links each item through its proxy's host: out of the scope, so none of
    the site's articles were fetched; <feedburner:origLink> names the article itself."""
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/a/one": response("200 OK", HTML, b"<html><body><p>one</p></body></html>")}
    with serve_wire(routes) as server:
        routes["/feed"] = response("200 OK", [("Content-Type", "text/xml")], (
            "<?xml version='1.0'?><rss version='2.0' xmlns:feedburner='http://rssnamespace.org/feedburner/ext/1.0'>"
            "<channel><title>t</title><item><title>One</title>"
            "<link>http://feedproxy.google.com/~r/site/~3/Xy1/one</link><guid isPermaLink='false'>p-1</guid>"
            f"<feedburner:origLink>{server.base}/a/one</feedburner:origLink></item></channel></rss>").encode())
        crawl(tmp_path, collection_from_dict({"name": "fb", "feeds": [server.base + "/feed"]}), extract=False)
    _, lines = read_collection(tmp_path / "fb")
    [one] = [line for line in lines if line["url"] == server.base + "/a/one"]
    assert (one["status"], one["channel"], one["source_id"]) == (200, "feed", "p-1")
    assert "out of the scope" not in next((tmp_path / "fb" / "logs").glob("*.crawl.log")).read_text()


def test_a_gzipped_feed_is_read_given_or_linked(tmp_path):
    """A feed.xml.gz, or a feed compressed twice over (one Content-Encoding undone), was a
    bad document given as a feed ("not well-formed XML: invalid token") and a page linked:
    its articles were never fetched."""
    def feed(slug: str) -> bytes:
        return gzip.compress(f"<rss version='2.0'><channel><title>t</title><item><link>/a/{slug}</link></item>"
                             "</channel></rss>".encode())

    page = response("200 OK", HTML, b"<html><body><p>story</p></body></html>")
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/feed.xml.gz": response("200 OK", [("Content-Type", "application/gzip")], feed("given")),
              "/twice": response("200 OK", [("Content-Type", "application/rss+xml"), ("Content-Encoding", "gzip")],
                                 gzip.compress(feed("twice"))),
              "/": response("200 OK", HTML, b"<html><body><a href='/linked.xml.gz'>RSS</a></body></html>"),
              "/linked.xml.gz": response("200 OK", [("Content-Type", "application/x-gzip")], feed("linked")),
              "/a/given": page, "/a/twice": page, "/a/linked": page}
    with serve_wire(routes) as server:
        result = crawl(tmp_path, collection_from_dict({"name": "gz", "feeds": [server.base + "/feed.xml.gz",
                                                                              server.base + "/twice"],
                                                       "urls": [server.base + "/"]}), extract=False)
    _, lines = read_collection(tmp_path / "gz")
    fetched = {line["url"].removeprefix(server.base) for line in lines if line["status"] == 200}
    assert {"/a/given", "/a/twice", "/a/linked"} <= fetched
    assert result.counts["bad_documents"] == 0


def test_an_atom_entry_with_no_link_but_its_id_is_no_item_out_of_the_scope(tmp_path):
    """feedparser takes an entry's id for its link when it has none: a "tag:" id was said to
    be an item "on  out of the scope" (a host of no name), as if allow_hosts could take it."""
    atom = (b"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title><id>urn:x</id>"
            b"<entry><title>Note</title><id>tag:news.example,2026:note-4</id><link rel='related' href='/elsewhere'/>"
            b"</entry><entry><title>One</title><id>urn:uuid:1</id><link href='/a/one'/></entry></feed>")
    assert [i.link for i in parse_feed(atom, "http://h/atom")] == ["/a/one"]
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/atom": response("200 OK", [("Content-Type", "application/atom+xml")], atom),
              "/a/one": response("200 OK", HTML, b"<html><body><p>one</p></body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "tag", "feeds": [server.base + "/atom"]}), extract=False)
    _, lines = read_collection(tmp_path / "tag")
    assert {line["url"].removeprefix(server.base) for line in lines} == {"/robots.txt", "/atom", "/a/one",
                                                                       "/favicon.ico"}
    assert "out of the scope" not in next((tmp_path / "tag" / "logs").glob("*.crawl.log")).read_text()


def test_sitemaps_entries_on_hosts_out_of_the_scope_are_said_in_the_crawl_log(tmp_path):
    """A sitemap of a bare domain listing its pages on its www. host, an index listing a
    sitemap on another host, a robots.txt naming one there: none of them was fetched, and
    nothing said why (a feed's items on other hosts are said)."""
    with serve_wire({}) as server:
        other = server.base.replace("127.0.0.1", "localhost")
        urlset = "".join(f"<url><loc>{other}/a/{n}</loc></url>" for n in range(3))
        server.routes.update({
            "/robots.txt": response("200 OK", [("Content-Type", "text/plain")],
                                    f"User-agent: *\nAllow: /\nSitemap: {other}/robots-map.xml\n".encode()),
            "/map.xml": response("200 OK", XML, f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{urlset}"
                                                f"<url><loc>{server.base}/a/here</loc></url></urlset>".encode()),
            "/index.xml": response("200 OK", XML, f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                                                  f"<sitemap><loc>{other}/map.xml</loc></sitemap></sitemapindex>".encode()),
            "/a/here": response("200 OK", HTML, b"<html><body><p>here</p></body></html>")})
        crawl(tmp_path, collection_from_dict({"name": "maps", "sitemaps": [server.base + "/map.xml",
                                                                          server.base + "/index.xml"]}),
              extract=False)
    log = next((tmp_path / "maps" / "logs").glob("*.crawl.log")).read_text()
    assert (f"sitemap {server.base}/map.xml: 3 pages on localhost out of the scope, not fetched "
            "(allow_hosts takes a host in)") in log
    assert f"sitemap index {server.base}/index.xml: 1 sitemap on localhost out of the scope" in log
    assert f"{server.base}/robots.txt: sitemap {other}/robots-map.xml is out of the scope" in log
    _, lines = read_collection(tmp_path / "maps")
    assert {line["url"].removeprefix(server.base) for line in lines} == {"/robots.txt", "/map.xml", "/index.xml",
                                                                       "/a/here", "/favicon.ico"}


def test_a_feed_that_answers_an_html_page_is_said_to_be_one_and_where_it_was_asked_for(tmp_path):
    """A feed gone to the home page was "bad document http://site/: not a readable feed:
    <unknown>:1:49: mismatched tag": neither the feed's URL nor what it had become was said."""
    home = b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Home</title></head><body><br></body></html>"
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/feed/": response("301 Moved Permanently", [("Location", "/")], b""),
              "/": response("200 OK", HTML, home),
              "/rss": response("200 OK", XML, b"<?xml version='1.0'?>\n<!-- cached -->\n" + home)}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "moved", "feeds": [server.base + "/feed/", server.base + "/rss"]}),
              extract=False)
    log = next((tmp_path / "moved" / "logs").glob("*.crawl.log")).read_text()
    assert f"bad document {server.base}/: an HTML page, not a feed (redirected from {server.base}/feed/)" in log
    assert f"bad document {server.base}/rss: an HTML page, not a feed\n" in log


def test_a_page_given_as_a_feed_has_the_feeds_it_advertises_read(tmp_path):
    """A section's page given for its feed (as a feed reader takes one) was a bad document
    and the job got none of its articles; the feed the page names is read instead, and said."""
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/news/": response("200 OK", HTML, b"<html><head><link rel='alternate' type='application/rss+xml' "
                                                 b"href='rss'></head><body><a href='/a/linked'>x</a></body></html>"),
              "/news/rss": response("200 OK", XML, b"<rss version='2.0'><channel><title>t</title><item>"
                                                   b"<link>/a/one</link><guid>g-1</guid></item></channel></rss>"),
              "/a/one": response("200 OK", HTML, b"<html><body><p>one</p></body></html>")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "page", "feeds": [server.base + "/news/"]}), extract=False)
    _, lines = read_collection(tmp_path / "page")
    [one] = [line for line in lines if line["url"] == server.base + "/a/one"]
    assert (one["channel"], one["source"], one["source_id"]) == ("feed", server.base + "/news/rss", "g-1")
    assert not [line for line in lines if line["url"] == server.base + "/a/linked"]  # (a feed's page: no links)
    log = next((tmp_path / "page" / "logs").glob("*.crawl.log")).read_text()
    assert (f"feed {server.base}/news/ is an HTML page: the feed it advertises read instead: {server.base}/news/rss "
            "(the collection's feeds can name it)") in log


@pytest.mark.parametrize("namespace", ["https://www.google.com/schemas/sitemap-news/0.9",
                                       "http://www.google.com/schemas/sitemap-news/0.84",
                                       "http://google.com/schemas/sitemap-news/0.9/"])
def test_a_news_sitemap_in_a_namespace_as_sites_write_it_is_one(namespace):
    """Its entries were taken for a plain sitemap's: no title, no date, and not fetched
    first, as news entries are."""
    body = (f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:n="{namespace}"><url><loc>/a/1</loc>'
            "<n:news><n:publication_date>2026-03-14T08:00:00Z</n:publication_date><n:title>One</n:title></n:news>"
            "</url></urlset>").encode()
    [entry] = parse_sitemap(body, "http://h/news.xml").entries
    assert (entry.news_title, entry.news_publication_date) == ("One", "2026-03-14T08:00:00Z")
    undeclared = body.replace(f' xmlns:n="{namespace}"'.encode(), b"").replace(b"n:", b"news:")
    [entry] = parse_sitemap(undeclared, "http://h/news.xml").entries
    assert (entry.loc, entry.news_title, entry.news_publication_date) == ("/a/1", "One", "2026-03-14T08:00:00Z")


def test_a_page_linked_in_both_cases_of_its_escapes_is_fetched_once(tmp_path):
    """A site's links written "caf%c3%a9" (as WordPress writes its slugs) and its feed's
    "café" (which becomes "caf%C3%A9"): the page was fetched twice, two articles of one."""
    page = response("200 OK", HTML, b"<html><body><p>story</p></body></html>")
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/feed": response("200 OK", XML, "<rss version='2.0'><channel><title>t</title><item><link>/a/café</link>"
                                               "<guid>g-1</guid></item></channel></rss>".encode()),
              "/": response("200 OK", HTML, b"<html><body><a href='/a/caf%c3%a9'>x</a> <a href='/a/b%c3'>y</a>"
                                            b" <a href='/a/b%C3'>z</a></body></html>"),
              "/a/caf%C3%A9": page, "/a/caf%c3%a9": page, "/a/b%c3": page, "/a/b%C3": page}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "esc", "feeds": [server.base + "/feed"],
                                              "urls": [server.base + "/"]}), extract=False)
    _, lines = read_collection(tmp_path / "esc")
    fetched = [line["url"].removeprefix(server.base).lower() for line in lines]
    assert sorted(fetched) == ["/", "/a/b%c3", "/a/caf%c3%a9", "/favicon.ico", "/feed", "/robots.txt"]


def test_a_json_feed_given_advertised_or_linked_is_read(tmp_path):
    """JSON Feed (jsonfeed.org), which sites offer beside RSS or instead of it, was a bad
    document given as a feed, and neither read when a page advertised it nor when it linked it."""
    def feed(slug: str) -> bytes:
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
            {"id": f"j-{slug}", "url": f"/a/{slug}", "title": slug.title(), "date_published": "2026-03-14T08:30:00+01:00"},
            {"id": "note", "content_text": "a note of no page"}]}).encode()

    page = response("200 OK", HTML, b"<html><body><p>story</p></body></html>")
    json_type = [("Content-Type", "application/feed+json")]
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/feed.json": response("200 OK", json_type, feed("given")),
              "/": response("200 OK", HTML, b"<html><head><link rel='alternate' type='application/feed+json' "
                                            b"href='/home.json'></head><body><a href='/more.json'>JSON</a></body></html>"),
              "/home.json": response("200 OK", json_type, feed("advertised")),
              "/more.json": response("200 OK", [("Content-Type", "application/json")], feed("linked")),
              "/a/given": page, "/a/advertised": page, "/a/linked": page}
    with serve_wire(routes) as server:
        result = crawl(tmp_path, collection_from_dict({"name": "json", "feeds": [server.base + "/feed.json"],
                                                       "urls": [server.base + "/"]}), extract=False)
    _, lines = read_collection(tmp_path / "json")
    by_url = {line["url"].removeprefix(server.base): line for line in lines}
    assert (by_url["/a/given"]["channel"], by_url["/a/given"]["source_id"]) == ("feed", "j-given")
    assert by_url["/a/advertised"]["source"] == server.base + "/home.json"
    assert by_url["/a/linked"]["source"] == server.base + "/more.json"
    assert result.counts["bad_documents"] == 0
    assert parse_feed(feed("given"), "http://h/feed.json")[0].published == "2026-03-14T07:30:00+00:00"


def test_a_page_that_sets_a_cookie_and_redirects_back_to_itself_is_fetched_again_as_a_browser_does(tmp_path):
    """A consent or bot check that sets a cookie and sends the reader back to the same URL,
    at once or through a consent page: the duplicate filter (or the spider's seen set)
    dropped the request back, and the page was never had."""
    article = response("200 OK", HTML, b"<html><body><p>the article</p><a href='/walled'>w</a>"
                                       b"<a href='/always'>a</a></body></html>")
    challenge = response("302 Found", [("Location", "/story"), ("Set-Cookie", "ok=1; Path=/")], b"")
    walled = response("200 OK", HTML, b"<html><body><p>behind the wall</p></body></html>")
    to_consent = response("302 Found", [("Location", "/consent?back=%2Fwalled")], b"")

    def story(head: bytes) -> list[bytes | float]:
        return (article if b"ok=1" in head else challenge)(head)

    def wall(head: bytes) -> list[bytes | float]:
        return (walled if b"wall=1" in head else to_consent)(head)

    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/story": story, "/walled": wall,
              "/consent": response("302 Found", [("Location", "/walled"), ("Set-Cookie", "wall=1; Path=/")], b""),
              "/always": response("302 Found", [("Location", "/always")], b"")}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "cookie", "urls": [server.base + "/story"]}))
    _, lines = read_collection(tmp_path / "cookie")
    fetched = [(line["url"].removeprefix(server.base), line["status"]) for line in lines
               if line["outcome"] == "captured" and line["url"] not in (server.base + "/robots.txt",
                                                                        server.base + "/favicon.ico")]
    assert [hop for hop in fetched if hop[0] != "/always"] == [
        ("/story", 302), ("/story", 200), ("/walled", 302), ("/consent?back=%2Fwalled", 302), ("/walled", 200)]
    assert fetched.count(("/always", 302)) == 1  # (a loop that sets no cookie: its next round would be the same)


def test_a_page_linked_with_an_unreserved_character_escaped_and_not_is_fetched_once(tmp_path):
    """RFC 3986 2.3: "~ed" and "%7Eed" (or "%7eed"), "Abc" and "%41bc" are one URL; a site's
    links written one way and its feed's the other made two captures, two articles, of one
    page. A reserved character's escape ("x%2Fy") is another URL than the character."""
    page = response("200 OK", HTML, b"<html><body><p>story</p></body></html>")
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/feed": response("200 OK", XML, b"<rss version='2.0'><channel><title>t</title><item>"
                                               b"<link>/%7Eed/from-feed</link><guid>g-1</guid></item></channel></rss>"),
              "/": response("200 OK", HTML, b"<html><body><img src='/img/%7elogo.png'><img src='/img/~logo.png'>"
                                            b"<a href='/~ed/story'>1</a> <a href='/%7eed/story'>2</a>"
                                            b" <a href='/%7Eed/story'>3</a> <a href='/~ed/from-feed'>4</a>"
                                            b" <a href='/a/%41bc-%2d'>5</a> <a href='/a/Abc--'>6</a>"
                                            b" <a href='/a/x%2Fy'>7</a> <a href='/a/x/y'>8</a></body></html>"),
              "/~ed/story": page, "/%7eed/story": page, "/%7Eed/story": page}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "tilde", "feeds": [server.base + "/feed"],
                                              "urls": [server.base + "/"]}), extract=False)
    records, lines = read_collection(tmp_path / "tilde")
    fetched = sorted(line["url"].removeprefix(server.base) for line in lines)
    # (the feed's item, or the page's link to it, whichever came first)
    assert len([url for url in fetched if url.endswith("ed/from-feed")]) == 1
    assert [url for url in fetched if not url.endswith("ed/from-feed")] == [
        "/", "/a/%41bc-%2d", "/a/x%2Fy", "/a/x/y", "/favicon.ico", "/feed", "/img/%7elogo.png", "/robots.txt",
        "/~ed/story"]
    # Each was requested, and recorded, as the spelling met first.
    targets = sorted(r.h("WARC-Target-URI").removeprefix(server.base) for r in records if r.type == "response")
    assert targets == fetched
    asked = sorted(head.split(b" ")[1].decode() for head in server.requests)
    assert asked == fetched


@contextmanager
def _tls_site(tmp_path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 answering every path with a small page: its host:port."""
    import http.server
    import ssl
    import threading

    from test_https import _self_signed

    class Secure(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b"<html><body><p>over TLS</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    _, cert_path, key_path = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    secure = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Secure)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    threading.Thread(target=secure.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{secure.server_address[1]}"
    finally:
        secure.shutdown()
        secure.server_close()


def test_an_https_link_written_with_one_slash_on_an_http_page_is_followed_as_browsers_follow_it(tmp_path):
    """``https:/host/x`` (and ``https:host/x``) on an http page is ``https://host/x`` to a
    browser; urljoin kept it as it was, no URL to fetch, and the link was lost unsaid."""
    page = response("200 OK", HTML, b"<html><body><p>plain</p></body></html>")
    with _tls_site(tmp_path) as tls:
        routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
                  "/": response("200 OK", HTML, f"<html><body><a href='https:/{tls}/one'>1</a> "
                                                f"<a href='https:{tls}/two'>2</a> <a href='http:/a/same'>3</a>"
                                                "</body></html>".encode()),
                  "/a/same": page}
        with serve_wire(routes) as server:
            crawl(tmp_path / "store", collection_from_dict({"name": "slash", "urls": [server.base + "/"],
                                                            "scope": {"allow_hosts": ["127.0.0.1"]}}), extract=False)
    _, lines = read_collection(tmp_path / "store" / "slash")
    fetched = {line["url"]: line for line in lines}
    assert fetched[f"https://{tls}/one"]["status"] == 200 and fetched[f"https://{tls}/two"]["status"] == 200
    assert fetched[server.base + "/a/same"]["status"] == 200  # (of the page's own scheme: a path on its host)


def test_a_redirect_to_an_https_url_written_with_one_slash_is_followed_as_browsers_follow_it(tmp_path):
    """``Location: https:/host/x`` (a server's rule missing a slash) from an http page: Scrapy
    asked for ``https:///host/x``, of no host, and the page a browser shows was never had."""
    with _tls_site(tmp_path) as tls:
        routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
                  "/old": response("301 Moved Permanently", [("Location", f"https:/{tls}/new")], b""),
                  "/older": response("302 Found", [("Location", f"https:{tls}/newer")], b"")}
        with serve_wire(routes) as server:
            crawl(tmp_path / "store", collection_from_dict({"name": "moved", "urls": [server.base + "/old",
                                                                                     server.base + "/older"]}),
                  extract=False)
    _, lines = read_collection(tmp_path / "store" / "moved")
    fetched = {line["url"]: line for line in lines if line["outcome"] == "captured"}
    assert fetched[f"https://{tls}/new"]["status"] == 200 and fetched[f"https://{tls}/newer"]["status"] == 200
    assert fetched[f"https://{tls}/new"]["channel"] == "redirect"


def test_a_url_given_both_as_a_feed_and_as_a_page_is_fetched_once_and_read_both_ways(tmp_path):
    """A home page in both the collection's feeds and its urls was read as a feed alone: a
    bad document, none of its links followed though the urls asked for them."""
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/": response("200 OK", HTML, b"<html><head><link rel='alternate' type='application/rss+xml' "
                                            b"href='/rss'></head><body><a href='/a/linked'>x</a></body></html>"),
              "/rss": response("200 OK", XML, b"<rss version='2.0'><channel><title>t</title><item>"
                                              b"<link>/a/item</link><guid>g-1</guid></item></channel></rss>"),
              "/a/linked": response("200 OK", HTML, b"<html><body><p>linked</p></body></html>"),
              "/a/item": response("200 OK", HTML, b"<html><body><p>item</p></body></html>")}
    with serve_wire(routes) as server:
        b = server.base
        result = crawl(tmp_path, collection_from_dict({"name": "both", "feeds": [b + "/", b + "/rss"],
                                                       "urls": [b + "/", b + "/rss"]}), extract=False)
    _, lines = read_collection(tmp_path / "both")
    fetched = sorted(line["url"].removeprefix(b) for line in lines)
    assert fetched == ["/", "/a/item", "/a/linked", "/favicon.ico", "/robots.txt", "/rss"]
    by_url = {line["url"].removeprefix(b): line for line in lines}
    assert (by_url["/a/item"]["channel"], by_url["/a/item"]["source_id"]) == ("feed", "g-1")
    assert (by_url["/a/linked"]["channel"], by_url["/a/linked"]["via"]) == ("link", b + "/")
    assert result.counts["bad_documents"] == 0
    log = next((tmp_path / "both" / "logs").glob("*.crawl.log")).read_text()
    assert f"feed {b}/ is an HTML page: read as a page, as the collection's urls give it too" in log


def test_a_url_given_both_as_a_feed_and_as_a_sitemap_is_fetched_once_and_read_as_the_one_it_is(tmp_path):
    """A sitemap given under feeds too was read as a feed alone (Scrapy dropped the second
    request for it): a bad document, none of its pages had."""
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/sitemap.xml": response("200 OK", XML, b"<urlset><url><loc>/a/listed</loc></url></urlset>"),
              "/rss": response("200 OK", XML, b"<rss version='2.0'><channel><title>t</title><item>"
                                              b"<link>/a/item</link><guid>g-1</guid></item></channel></rss>"),
              "/a/listed": response("200 OK", HTML, b"<html><head><link rel='icon' href='/i.png'></head></html>"),
              "/a/item": response("200 OK", HTML, b"<html><head><link rel='icon' href='/i.png'></head></html>"),
              "/i.png": response("200 OK", [("Content-Type", "image/png")], b"png")}
    with serve_wire(routes) as server:
        b = server.base
        both = [b + "/sitemap.xml", b + "/rss"]
        result = crawl(tmp_path, collection_from_dict({"name": "fs", "feeds": both, "sitemaps": both}),
                       extract=False)
        asked = sorted(head.split(b" ")[1].decode() for head in server.requests)
    assert asked == ["/a/item", "/a/listed", "/i.png", "/robots.txt", "/rss", "/sitemap.xml"]
    assert result.counts["bad_documents"] == 0
    _, lines = read_collection(tmp_path / "fs")
    by_url = {line["url"].removeprefix(b): line for line in lines}
    assert (by_url["/a/listed"]["channel"], by_url["/a/item"]["channel"]) == ("sitemap", "feed")


def test_a_feed_given_as_a_sitemap_too_is_parsed_once(monkeypatch):
    """Its items were parsed twice, once to tell a feed, once to read it: feedparser takes
    some 0.1 s over a feed of 200 items."""
    import asyncio
    from types import SimpleNamespace

    from scrapy import Request
    from scrapy.http import XmlResponse
    from scrapy.utils.test import get_crawler

    from crawler.spiders import news

    parsed: list[str] = []
    real = news.parse_feed
    monkeypatch.setattr(news, "parse_feed", lambda body, url: parsed.append(url) or real(body, url))
    base = "http://127.0.0.1:9"
    crawler = get_crawler(news.NewsSpider)
    held: list[Request] = []
    crawler.engine = SimpleNamespace(crawl=held.append)  # (a sitemap's pages are handed to it)
    spider = news.NewsSpider.from_crawler(crawler, collection={"name": "fs", "feeds": [base + "/rss"],
                                                               "sitemaps": [base + "/rss"]})
    items = "".join(f"<item><link>/a/{i}</link><guid>g-{i}</guid></item>" for i in range(200))
    documents = {"/rss": f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode(),
                 "/sitemap.xml": b"<urlset><url><loc>/a/listed</loc></url></urlset>"}

    async def read(path: str) -> list[str]:
        request = Request(base + path, meta={"archive": {"seed": base + path, "channel": "seed", "hops": ""},
                                             "depth": 0})
        return [r.url async for r in spider.parse_feed_or_sitemap(
            XmlResponse(request.url, body=documents[path], request=request))]

    assert asyncio.run(read("/rss")) == [f"{base}/a/{i}" for i in range(200)]
    assert parsed == [base + "/rss"]
    parsed.clear()
    assert len(asyncio.run(read("/sitemap.xml"))) + len(held) + len(spider.backlog) == 1  # (its page, had)
    assert parsed == [base + "/sitemap.xml"]


def test_an_html_page_given_as_a_sitemap_is_read_as_a_page(tmp_path):
    """A site's /sitemap.html (its sections and articles as links, for readers) given as a
    sitemap was a bad document: "not a sitemap (root element <html>)", none of its pages had."""
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/sitemap": response("301 Moved Permanently", [("Location", "/sitemap.html")], b""),
              "/sitemap.html": response("200 OK", HTML, b"<!DOCTYPE html>\n<html><body><ul><li><a href='/a/one'>1</a>"
                                                        b"<li><a href='a/two'>2</a><li><a href='http://localhost/x'>"
                                                        b"elsewhere</a></ul></body></html>"),
              "/sitemap.xml": response("200 OK", XML, b"<urlset><url><loc>/a/three</loc></url></urlset>"),
              "/a/one": response("200 OK", HTML, b"<html><body><a href='/a/deeper'>d</a></body></html>")}
    with serve_wire(routes) as server:
        b = server.base
        result = crawl(tmp_path, collection_from_dict({"name": "hsm", "sitemaps": [b + "/sitemap", b + "/sitemap.xml"],
                                                       "scope": {"max_depth": 1}}), extract=False)
    _, lines = read_collection(tmp_path / "hsm")
    by_url = {line["url"].removeprefix(b): line for line in lines}
    assert sorted(by_url) == ["/a/one", "/a/three", "/a/two", "/favicon.ico", "/robots.txt", "/sitemap",
                              "/sitemap.html", "/sitemap.xml"]
    assert (by_url["/a/one"]["channel"], by_url["/a/one"]["via"], by_url["/a/one"]["depth"]) == (
        "link", b + "/sitemap.html", 1)
    assert result.counts["bad_documents"] == 0 and result.html_sitemaps == 1
    log = next((tmp_path / "hsm" / "logs").glob("*.crawl.log")).read_text()
    assert (f"sitemap {b}/sitemap.html is an HTML page (redirected from {b}/sitemap): read as a page, "
            "its links followed") in log


def _fetched_from_feed(tmp_path, path: str, content_type: str, feed: bytes) -> list[str]:  # type: ignore[no-untyped-def]
    """The paths a crawl of the feed at ``path`` (its items /a/first and /a/second) fetched."""
    page = response("200 OK", HTML, b"<html><body><p>story</p></body></html>")
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              path: response("200 OK", [("Content-Type", content_type)], feed), "/a/first": page, "/a/second": page}
    with serve_wire(routes) as server:
        crawl(tmp_path, collection_from_dict({"name": "feed", "feeds": [server.base + path]}), extract=False)
    _, lines = read_collection(tmp_path / "feed")
    return sorted(line["url"].removeprefix(server.base) for line in lines)


def test_a_json_feed_items_date_out_of_pythons_range_is_no_date_and_the_feeds_items_are_fetched(tmp_path):
    """A JSON Feed item dated in year 1 east of UTC (or in 9999 west of it) has no time in
    UTC: the spider's callback failed on it with an OverflowError traceback in the crawl log,
    and none of the feed's articles were fetched."""
    feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "a", "url": "/a/first", "date_published": "0001-01-01T00:00:00+01:00"},
        {"id": "b", "url": "/a/second", "date_modified": "9999-12-31T23:30:00-05:00"}]}).encode()
    assert _fetched_from_feed(tmp_path, "/feed.json", "application/feed+json", feed) == \
        ["/a/first", "/a/second", "/favicon.ico", "/feed.json", "/robots.txt"]
    assert [(item.published, item.updated) for item in parse_feed(feed, "http://h/feed.json")] == [(None, None)] * 2


def test_an_atom_entrys_date_in_year_one_is_no_date_and_the_feeds_entries_are_fetched(tmp_path):
    """feedparser reads 0001-01-01T00:00:00+01:00 as a time of year 0, which Python has not:
    the feed's callback failed with a ValueError traceback, and none of its entries were fetched."""
    feed = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
            b'<entry><id>a</id><link href="/a/first"/><updated>0001-01-01T00:00:00+01:00</updated></entry>'
            b'<entry><id>b</id><link href="/a/second"/><updated>2026-03-14T08:30:00+01:00</updated></entry></feed>')
    assert _fetched_from_feed(tmp_path, "/feed.xml", "application/atom+xml", feed) == \
        ["/a/first", "/a/second", "/favicon.ico", "/feed.xml", "/robots.txt"]
    assert [item.updated for item in parse_feed(feed, "http://h/feed.xml")] == [None, "2026-03-14T07:30:00+00:00"]


def test_a_gzipped_feed_or_sitemap_whose_compressed_data_is_damaged_is_a_bad_document(tmp_path):
    """A .xml.gz whose deflate data was damaged (a gzip header, then bytes zlib refuses)
    raised zlib's error, which is no OSError: a traceback in the crawl log, and the document
    was not counted among those that could not be read."""
    def damaged(text: bytes) -> bytes:
        packed = gzip.compress(text * 40)
        return packed[:10] + b"\xff" + packed[11:]  # (a deflate block of the type none is: 11)

    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/feed.xml.gz": response("200 OK", [("Content-Type", "application/gzip")],
                                       damaged(b'<rss version="2.0"><channel><item><link>/a</link></item>')),
              "/sitemap.xml.gz": response("200 OK", [("Content-Type", "application/gzip")],
                                          damaged(b"<urlset><url><loc>/b</loc></url>"))}
    with serve_wire(routes) as server:
        result = crawl(tmp_path, collection_from_dict({"name": "gz", "feeds": [server.base + "/feed.xml.gz"],
                                                       "sitemaps": [server.base + "/sitemap.xml.gz"]}), extract=False)
    assert result.counts["bad_documents"] == 2
    crawl_log = next((tmp_path / "gz" / "logs").glob("*.crawl.log")).read_text()
    assert "Traceback" not in crawl_log and "broken gzip feed" in crawl_log and "broken gzip sitemap" in crawl_log
    for parse in (parse_feed, parse_sitemap):
        with pytest.raises(BadDocument):
            parse(damaged(b"<urlset>"), "http://h/x.xml.gz")


def test_a_feed_items_link_or_a_sitemaps_loc_written_with_one_slash_is_followed_as_a_pages_link_is(tmp_path):
    """An RSS item's <link>, a JSON Feed item's url, a sitemap's <loc> or a robots.txt's
    Sitemap: line written https:/host/x or https:host/x: joined with urljoin, no URL to fetch,
    each was lost unsaid, as a page's link was before it was read as browsers read it."""
    xml = [("Content-Type", "application/xml")]
    urlset = '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{}</urlset>'
    with _tls_site(tmp_path) as tls:
        rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
               f"<item><title>a</title><link>https:/{tls}/feed-one</link><guid>1</guid></item>"
               f"<item><title>b</title><link>http:/a/same</link><guid>2</guid></item></channel></rss>").encode()
        items = {"version": "https://jsonfeed.org/version/1.1", "title": "t",
                 "items": [{"id": "1", "url": f"https:{tls}/json-one"}]}
        index = (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                 b"<sitemap><loc>http:/more.xml</loc></sitemap></sitemapindex>")
        routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")],
                                          f"User-agent: *\nAllow: /\nSitemap: http:/index.xml\n"
                                          f"Sitemap: https:/{tls}/robots-sitemap\n".encode()),
                  "/feed": response("200 OK", [("Content-Type", "application/rss+xml")], rss),
                  "/feed.json": response("200 OK", [("Content-Type", "application/feed+json")],
                                         json.dumps(items).encode()),
                  "/sitemap.xml": response("200 OK", xml, urlset.format(
                      f"<url><loc>https:{tls}/sitemap-one</loc></url>").encode()),
                  "/index.xml": response("200 OK", xml, index),
                  "/more.xml": response("200 OK", xml, urlset.format(f"<url><loc>https:/{tls}/more-one</loc></url>")
                                        .encode()),
                  "/a/same": response("200 OK", HTML, b"<html><body><p>plain</p></body></html>")}
        with serve_wire(routes) as server:
            crawl(tmp_path / "store", collection_from_dict({
                "name": "slash", "feeds": [server.base + "/feed", server.base + "/feed.json"],
                "sitemaps": [server.base + "/sitemap.xml"], "scope": {"allow_hosts": ["127.0.0.1"]}}), extract=False)
    _, lines = read_collection(tmp_path / "store" / "slash")
    fetched = {line["url"]: line.get("status") for line in lines}
    assert {fetched.get(f"https://{tls}/{path}")  # (that robots.txt's an HTML page: read as one)
            for path in ("feed-one", "json-one", "sitemap-one", "more-one", "robots-sitemap")} == {200}, fetched
    assert fetched[server.base + "/a/same"] == 200  # (of the feed's own scheme: a path on its host)


def test_a_page_met_by_a_shorter_path_before_its_answer_comes_is_fetched_at_that_depth(tmp_path):
    """max_depth 2. Seed /a leads to /x by /p (depth 2); the other seed, /b, slower to
    answer, links /x itself (depth 1) while /x's answer is on its way. /x's link to /y is
    within the depth by the shorter path, and was cut by the path the crawl met first: what
    a depth limit reached hung on which answer came first."""
    from wire import slow

    routes = {"/a": response("200 OK", HTML, b"<html><body><a href='/p'>p</a></body></html>"),
              "/p": response("200 OK", HTML, b"<html><body><a href='/x'>x</a></body></html>"),
              "/b": slow(1.5, response("200 OK", HTML, b"<html><body><a href='/x'>x</a></body></html>")),
              "/x": slow(4.0, response("200 OK", HTML, b"<html><body><a href='/y'>y</a></body></html>")),
              "/y": response("200 OK", HTML, b"<html><body>the end</body></html>")}
    with serve_wire(routes) as server:
        base = server.base
        crawl(tmp_path, collection_from_dict({"name": "near", "urls": [base + "/a", base + "/b"], "obey_robots": False,
                                              "scope": {"max_depth": 2, "page_requisites": False}}), extract=False)
    _, lines = read_collection(tmp_path / "near")
    by_url = {line["url"].removeprefix(base): line for line in lines}
    x = by_url["/x"]
    assert (x["depth"], x["via"], x["hops"], x["seed"]) == (1, base + "/b", "L", base + "/b")
    assert by_url["/y"]["depth"] == 2 and by_url["/y"]["status"] == 200
