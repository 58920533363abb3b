"""archive.links: the links and requisites of a page, and their absolute URLs.

The resolver takes a shortcut for the common forms instead of calling ``urljoin``; these
tests hold it to ``urljoin`` (and so to what the crawler did before with Scrapy's
LinkExtractor), to browsers where they differ, and check the extractors on real parsed
pages (lxml and parsel trees, Scrapy responses).
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import quote, urljoin

import lxml.html
import pytest
from lxml import etree
from parsel import Selector
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.utils.response import get_base_url

from archive.links import Resolver, css_urls, page_frames, page_links, page_requisites, parse_html
from archive.replay.rewrite import rewrite_url
from archive.urls import canonicalize, host_of

# HTML's "ASCII whitespace", stripped from both ends of a URL attribute by browsers.
HTML_WHITESPACE = " \t\n\f\r"

# A base with a path, a query and a non-default port: every part of it matters to some form.
BASE = "http://news.example.org:8080/section/sub/page.html?x=1&y=2"
BASES = [BASE, "https://news.example.org/", "http://news.example.org"]

# References the resolver must resolve exactly as urljoin does. (Left out: an empty path
# parameter, '/a;': urljoin drops the ';', a urlparse quirk; the shortcut keeps it, as
# browsers do.)
EXACT = [
    # absolute
    "http://other.example/a", "https://other.example/a?b=1", "http://other.example", "HTTP://Other.Example/x",
    "https://news.example.org:443/x", "http://news.example.org:8080/same-origin",
    # root-relative
    "/", "/abs", "/abs?q=1", "/abs#f", "/a/b/c.html", "/a//b", "/%7Euser/", "/sp ace",
    # path-relative
    "a.html", "../x", "./y", "../../z", "sub/", ".", "..", "a/b/../c",
    # dot segments inside root-relative and absolute URLs
    "/a/../b", "/a/./b", "/a/b/..", "/a/b/.", "/..", "/.hidden", "http://other.example/a/./b",
    "http://other.example/a/../b", "https://other.example/x/../../y",
    # query only
    "?page=2", "?", "?a=1&b=2",
    # scheme-relative
    "//other.example/x", "//other.example", "//other.example:81/x?q",
    # whitespace around the reference (stripped, as browsers do)
    "  /padded  ", "\n\t/wrapped\r\n", "\f?page=3 ", " ../up ",
    # other schemes and oddities urljoin passes through or resolves its own way
    "javascript:void(0)", "mailto:desk@news.example.org", "tel:+100",
]

# References where the shortcut keeps a form that canonicalize normalises: tabs and
# newlines inside the URL (urlsplit removes them, as browsers do; canonicalize does too).
# After canonicalize the two must never differ.
CANONICAL_ONLY = [
    "/a\nb", "/tab\there", "/wrapped/\n  story.html", "http://other.example/a\nb", "/s?q=a\r\nb",
]


def _urljoin(base: str, href: str) -> str:
    return urljoin(base, href.strip(HTML_WHITESPACE))


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("href", EXACT)
def test_resolver_gives_what_urljoin_gives(base: str, href: str) -> None:
    assert Resolver(base).resolve(href) == _urljoin(base, href)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("href", CANONICAL_ONLY)
def test_resolver_and_urljoin_agree_after_canonicalize(base: str, href: str) -> None:
    resolved = Resolver(base).resolve(href)
    assert canonicalize(resolved) == canonicalize(_urljoin(base, href))
    # The canonical form carries no raw whitespace (it would not be a valid URL).
    assert not set(canonicalize(resolved)) & set(HTML_WHITESPACE)


def test_resolver_resolves_dot_segments_and_relative_forms_against_the_base() -> None:
    # The table above compares with urljoin; these pin the values themselves, so both
    # cannot be wrong the same way unnoticed.
    r = Resolver(BASE)
    assert r.resolve("/a/../b") == "http://news.example.org:8080/b"
    assert r.resolve("../x") == "http://news.example.org:8080/section/x"
    assert r.resolve("./y") == "http://news.example.org:8080/section/sub/y"
    assert r.resolve("?page=2") == "http://news.example.org:8080/section/sub/page.html?page=2"
    assert r.resolve("//other.example/x") == "http://other.example/x"
    assert r.resolve("/abs?q=1") == "http://news.example.org:8080/abs?q=1"
    assert Resolver("https://news.example.org/a/b").resolve("//cdn.example/x") == "https://cdn.example/x"


@pytest.mark.parametrize("href", ["#frag", "#", "", "   ", " #top\n", "\t\n"])
def test_fragment_and_empty_references_resolve_to_the_base(href: str) -> None:
    assert Resolver(BASE).resolve(href) == BASE
    # urljoin keeps the fragment; the crawler drops fragments, so the URL is the same.
    assert canonicalize(Resolver(BASE).resolve(href)) == canonicalize(_urljoin(BASE, href))


# -- non-ASCII references: query in the page's encoding, path in UTF-8 -------------------------


def _expected(origin: str, path: str, query: str, encoding: str) -> str:
    """What browsers send (WHATWG URL): path percent-encoded as UTF-8, the query of an
    http(s) URL in the document's encoding; space as %20 in both."""
    return f"{origin}{quote(path.encode('utf-8'), safe='/')}?{quote(query.encode(encoding), safe='=&')}"


@pytest.mark.parametrize(("encoding", "path", "query"), [
    ("utf-8", "/поиск/новости", "q=выборы 2024&page=2"),
    ("cp1251", "/поиск/новости", "q=выборы 2024&page=2"),
    ("utf-8", "/café/menu", "q=crème brûlée"),
    ("latin-1", "/café/menu", "q=crème brûlée"),
])
def test_non_ascii_query_is_encoded_in_the_page_encoding_and_the_path_in_utf8(
        encoding: str, path: str, query: str) -> None:
    origin = "http://news.example.org"
    expected = _expected(origin, path, query, encoding)
    assert Resolver(origin + "/section/", encoding).resolve(f"{path}?{query}") == expected
    # Scrapy's LinkExtractor, on a page actually encoded so, finds the same URL.
    body = f'<html><body><a href="{path}?{query}">x</a></body></html>'.encode(encoding)
    response = HtmlResponse(origin + "/section/", body=body, encoding=encoding)
    [link] = LinkExtractor(tags=("a",), attrs=("href",)).extract_links(response)
    assert link.url == expected
    if encoding != "utf-8":
        # The encoding is really used: the same query in UTF-8 would be different bytes.
        assert expected != _expected(origin, path, query, "utf-8")


def test_non_ascii_path_relative_reference_and_host() -> None:
    # A relative non-ASCII path joins the (already ASCII) base path, encoded as UTF-8.
    base = "http://news.example.org/%D1%80%D1%83%D0%B1%D1%80%D0%B8%D0%BA%D0%B0/"
    r = Resolver(base, "cp1251")
    assert r.resolve("статья.html") == base + quote("статья.html".encode())
    # A non-ASCII host becomes IDNA; the query still follows the page's encoding.
    assert r.resolve("http://пример.рф/путь?q=я") == "http://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C?q=%FF"


def test_query_character_the_page_encoding_cannot_represent() -> None:
    body = '<html><body><a href="/search?q=&#20013;">x</a> <a href="/next">n</a></body></html>'.encode("cp1251")
    response = HtmlResponse("http://news.example.org/", body=body, encoding="cp1251")
    resolver = Resolver(get_base_url(response), response.encoding)
    resolved = [resolver.resolve(h) for h in page_links(response.selector.root)]
    assert resolved == ["http://news.example.org/search?q=%26%2320013%3B", "http://news.example.org/next"]


@pytest.mark.parametrize(("href", "expected"), [
    ("/\n/other.example/x", "http://other.example/x"),
    ("/a/\n../b", "http://news.example.org:8080/b"),
])
def test_tabs_and_newlines_cannot_change_what_a_reference_means(href: str, expected: str) -> None:
    assert canonicalize(_urljoin(BASE, href)) == expected  # what urljoin (and a browser) gives
    assert canonicalize(Resolver(BASE).resolve(href)) == expected


@pytest.mark.parametrize(("href", "expected"), [
    ("\\x", "http://news.example.org:8080/x"),
    ("/a\\b", "http://news.example.org:8080/a/b"),
    ("..\\img\\b.png", "http://news.example.org:8080/section/img/b.png"),
    ("\\\\cdn.example\\a.js?v=\\1#\\f", "http://cdn.example/a.js?v=\\1#\\f"),
    ("http:\\\\other.example\\x", "http://other.example/x"),
])
def test_a_backslash_before_the_query_is_a_slash_as_browsers_read_it(href: str, expected: str) -> None:
    # (urljoin keeps it as part of a name: "/a\\b" would be fetched as /a%5Cb, a page that is not there)
    assert Resolver(BASE).resolve(href) == expected
    assert rewrite_url(href, BASE, lambda url: url) == expected  # (replay reads the page's links as the crawl did)
    # (before the path is percent-encoded, where the backslash would become %5C)
    assert Resolver(BASE).resolve("/caf\u00e9\\menu") == "http://news.example.org:8080/caf%C3%A9/menu"


@pytest.mark.parametrize(("base", "href", "expected"), [
    # Of another scheme than the page's: a host after the colon, whatever slashes (WHATWG URL,
    # special authority ignore slashes state).
    ("http://news.example.org/a/b", "https:/cdn.example/x?q=1", "https://cdn.example/x?q=1"),
    ("http://news.example.org/a/b", "https:cdn.example", "https://cdn.example"),
    ("http://news.example.org/a/b", "HTTPS:///cdn.example:8443/x", "https://cdn.example:8443/x"),
    ("https://news.example.org/a/b", "http:/other.example/x", "http://other.example/x"),
    ("https://news.example.org/a/b", "http:\\other.example", "http://other.example"),
    # Of the page's scheme: relative unless two slashes or more follow.
    ("http://news.example.org/a/b", "http:/x", "http://news.example.org/x"),
    ("http://news.example.org/a/b", "http:x", "http://news.example.org/a/x"),
    ("https://news.example.org/a/b", "https:/x", "https://news.example.org/x"),
    ("https://news.example.org/a/b", "https:///other.example/x", "https://other.example/x"),
    ("https://news.example.org/a/b", "https:/\\other.example/x", "https://other.example/x"),
])
def test_an_http_url_without_two_slashes_is_read_as_browsers_read_it(base: str, href: str, expected: str) -> None:
    # (urljoin kept "https:/cdn.example/x" as it was on an http page, no URL to fetch: the link was lost)
    assert Resolver(base).resolve(href) == expected
    assert rewrite_url(href, base, lambda url: url) == expected  # (replay reads the page's links as the crawl did)


@pytest.mark.parametrize("href", ["https:", "https:/", "https:?q=1", "https://"])
def test_an_http_url_of_no_host_is_no_page_to_fetch(href: str) -> None:
    # (a browser reads no URL: it is not taken for the page or its host)
    assert host_of(canonicalize(Resolver("http://news.example.org/a/b").resolve(href))) == ""


# -- <base href> ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("base_href", "effective"), [
    ("/archive/2024/", "http://news.example.org/archive/2024/"),
    ("https://static.example.com/a/b/", "https://static.example.com/a/b/"),
    ("  ../other/  ", "http://news.example.org/other/"),
])
def test_base_href_is_what_relative_links_resolve_against(base_href: str, effective: str) -> None:
    url = "http://news.example.org/section/page.html?ref=1"
    hrefs = ["story.html", "../index.html", "?p=2", "#top", "/root", "//cdn.example.net/x", "sub/a.html"]
    body = (f'<html><head><title>t</title><base href="{base_href}"></head><body>'
            + "".join(f'<a href="{h}">{i}</a>' for i, h in enumerate(hrefs)) + "</body></html>").encode()
    response = HtmlResponse(url, body=body, encoding="utf-8")
    base = get_base_url(response)
    assert base == effective
    resolver = Resolver(base, response.encoding)
    got = [resolver.resolve(h) for h in page_links(response.selector.root)]
    expected = [urljoin(effective, h) for h in hrefs]
    expected[3] = effective  # "#top": the base document itself, fragment dropped
    assert got == expected
    assert got[0] == effective + "story.html"
    # Nothing resolved against the response URL instead.
    assert not any(g.startswith("http://news.example.org/section/") for g in got)


# -- page_links --------------------------------------------------------------------------------

LINKS_PAGE = """<!doctype html><html><head><title>t</title>
<link rel="stylesheet" href="/style.css"><link rel="canonical" href="/canonical"></head><body>
<nav><a href="/one">1</a><a name="anchor-only">no href</a><A HREF="/Two">2</A></nav>
<map name="m"><area shape="rect" coords="0,0,1,1" href="/area-1"><area shape="default" nohref></map>
<p><a href="/one">1 again</a><a href="">empty</a><a href=" /three ">3</a></p>
<table><tr><td><a href="four.html">4</a></td></tr></table><area href="/area-2">
</body></html>"""
LINKS_EXPECTED = ["/one", "/Two", "/area-1", "/one", "", " /three ", "four.html", "/area-2"]


@pytest.mark.parametrize("parse", [lxml.html.fromstring, lambda text: Selector(text=text).root, parse_html],
                         ids=["lxml", "parsel", "parse_html"])
def test_page_links_are_a_and_area_hrefs_in_document_order_with_duplicates(parse) -> None:  # type: ignore[no-untyped-def]
    assert page_links(parse(LINKS_PAGE)) == LINKS_EXPECTED


def test_page_links_of_a_page_without_links() -> None:
    assert page_links(lxml.html.fromstring("<html><body><p>text</p><link href='/x'></body></html>")) == []


# -- page_requisites and css_urls ----------------------------------------------------------------

REQUISITES_PAGE = """<!doctype html><html><head><title>t</title>
<link rel="stylesheet" href="/main.css">
<link rel="preload stylesheet" href="/preloaded.css" as="style">
<link rel="alternate stylesheet" href="/alt.css" title="alt">
<link rel="icon" href="/favicon.png"><link rel="shortcut icon" href="/favicon.ico">
<link rel="  icon\n stylesheet " href="/both.css">
<link rel="alternate" type="application/rss+xml" href="/feed"><link rel="preload" href="/font.woff2">
<link rel="canonical" href="/canonical"><link rel="apple-touch-icon-precomposed" href="/touch.png">
<link rel="preload" as="font" href="/font2.woff2" crossorigin><link rel="modulepreload" href="/mod.js">
<link rel="preload" as="image" href="/hero.jpg" imagesrcset="/hero-800.jpg 800w, /hero-1600.jpg 1600w">
<script src="/app.js"></script><script>var notAUrl = "url(/in-script.png)";</script>
<style>@import "/imported.css"; @import url('/imported2.css');
body { background: url(/bg.png) } .a { background-image: url( "/quoted.png" ) }
.d { background: url(data:image/png;base64,iVBORw0KGgo=) } .e { background: url('data:image/gif;base64,R0lG') }
</style></head><body>
<img src="/photo.jpg" srcset="/photo-480.jpg 480w, /photo-960.jpg 960w,/photo-1440.jpg 1440w" alt="">
<img srcset="https://img.example.net/w_400,h_300/pic.jpg 1x, https://img.example.net/w_800,h_600/pic.jpg 2x">
<picture><source srcset="/pic.avif 1x, /pic-2x.avif 2x" type="image/avif"><source src="/clip.mp4">
<img src="/pic.jpg"></picture>
<video poster="/poster.jpg"><source src="/movie.webm"></video>
<input type="image" src="/submit.png"><input type="text" src="/not-an-image-input.png">
<div style="background-image: url('/inline.png')">x</div>
<span style="background: url(data:image/png;base64,AAAA)">y</span>
<a href="/not-a-requisite">link</a><iframe src="/framed.html"></iframe><frameset><frame src="/frame.html">
</frameset><iframe data-src="/lazy-frame.html"></iframe>
<img class="lazyload" src="data:image/gif;base64,R0lGOD" data-src="/lazy.jpg" data-srcset="/lazy-2x.jpg 2x">
<img data-lazy-src="/wp-lazy.jpg" data-lazy-srcset="/wp-lazy-600.jpg 600w"><img data-original="/jq-lazy.jpg">
<div data-src="/not-an-image.jpg"></div>
<audio src="/sound.mp3"><track src="/captions.vtt"></audio><video src="/clip2.mp4"></video>
<video preload="none" poster="/poster2.jpg" src="/not-before-played.mp4"><source src="/nor-this.webm"></video>
<audio preload=" NONE " src="/not-before-played.mp3"></audio>
<embed src="/chart.svg"><object data="/doc.pdf"></object>
<svg><use href="/icons.svg#logo"></use><use xlink:href="/sprite.svg#menu"/><use href="#here"/>
<image href="/drawn.png" width="1"/></svg>
</body></html>"""
REQUISITES_EXPECTED = [
    "/main.css", "/preloaded.css", "/alt.css", "/favicon.png", "/favicon.ico", "/both.css", "/app.js",
    "/imported.css", "/imported2.css", "/bg.png", "/quoted.png",
    "/photo.jpg", "/photo-480.jpg", "/photo-960.jpg", "/photo-1440.jpg",
    "https://img.example.net/w_400,h_300/pic.jpg", "https://img.example.net/w_800,h_600/pic.jpg",
    "/pic.avif", "/pic-2x.avif", "/clip.mp4", "/pic.jpg", "/poster.jpg", "/movie.webm", "/submit.png",
    "/inline.png", "/font2.woff2", "/mod.js", "/hero.jpg", "/hero-800.jpg", "/hero-1600.jpg",
    "/lazy.jpg", "/lazy-2x.jpg", "/wp-lazy.jpg", "/poster2.jpg",
    "/wp-lazy-600.jpg", "/jq-lazy.jpg", "/sound.mp3", "/captions.vtt", "/clip2.mp4", "/chart.svg", "/doc.pdf",
    "/icons.svg#logo", "/sprite.svg#menu", "/drawn.png",
]


@pytest.mark.parametrize("parse", [lxml.html.fromstring, lambda text: Selector(text=text).root],
                         ids=["lxml", "parsel"])
def test_page_requisites_finds_what_a_browser_loads_to_render(parse) -> None:  # type: ignore[no-untyped-def]
    found = page_requisites(parse(REQUISITES_PAGE))
    # Order is not part of the contract (each kind is gathered in its own pass); counts are.
    assert Counter(found) == Counter(REQUISITES_EXPECTED)
    assert not [u for u in found if u.startswith("data:")]


def test_frames_are_found_apart_from_requisites() -> None:
    assert page_frames(lxml.html.fromstring(REQUISITES_PAGE)) == ["/framed.html", "/frame.html", "/lazy-frame.html"]


def test_a_web_app_manifest_is_a_requisite_as_chromium_fetches_it_with_the_page() -> None:
    # (replay otherwise answers Chromium's fetch of it with a 404 on every page of the site)
    root = lxml.html.fromstring('<html><head><link rel="manifest" href="/site.webmanifest"></head></html>')
    assert page_requisites(root) == ["/site.webmanifest"]


def test_srcset_candidate_without_a_descriptor() -> None:
    root = lxml.html.fromstring('<html><body><img srcset="/s1.png, /s2.png 2x"></body></html>')
    assert page_requisites(root) == ["/s1.png", "/s2.png"]


@pytest.mark.parametrize(("html", "url"), [
    ('<link rel="StyleSheet" href="/old.css">', "/old.css"),
    ('<link rel="SHORTCUT ICON" href="/favicon.ico">', "/favicon.ico"),
    ('<input type="IMAGE" src="/go.png">', "/go.png"),
    ('<div style="background: URL(/upper.png)">x</div>', "/upper.png"),
])
def test_html_and_css_keywords_are_case_insensitive(html: str, url: str) -> None:
    assert page_requisites(lxml.html.fromstring(f"<html><head></head><body>{html}</body></html>")) == [url]


def test_css_urls_reads_the_images_an_image_set_names_by_plain_strings() -> None:
    css = """.a { background-image: image-set("a.avif" type("image/avif") 1x, 'a.jpg' 1x, url(b.png) 2x); }
    .b { background: -WEBKIT-image-set("c.png" 1x, "data:image/png;base64,AA" 2x) } .c { content: "d.png" }"""
    assert sorted(css_urls(css)) == ["a.avif", "a.jpg", "b.png", "c.png"]


def test_css_urls_reads_url_tokens_and_imports_and_leaves_out_data_uris() -> None:
    css = """@import "a.css"; @import 'b.css' screen; @import url(c.css);
    @font-face { src: url( "d.woff2" ) format("woff2"), url('e.woff') format("woff"); }
    .x { background: url(/f.png) no-repeat, url(data:image/png;base64,AAAA); }
    .y { background: url("data:image/svg+xml;utf8,<svg/>") } .z { background: url() }"""
    assert css_urls(css) == ["a.css", "b.css", "c.css", "d.woff2", "e.woff", "/f.png"]
    assert css_urls("body { color: black }") == []


# -- the crawler's links against Scrapy's LinkExtractor ------------------------------------------

CROSS_HREFS = [
    "/", "/news/", "/news/story-1.html", "story-2.html", "../about", "./contact", "?page=2", "#top", "",
    "  /padded  ", "\n/wrapped\n", "/s?q=a\nb", "http://NEWS.Example.org:80/upper", "https://news.example.org:443/secure",
    "/s?utm_source=tw&id=3&fbclid=x", "/s?id=4#comments", "/s?id=4&utm_medium=social#c", "//cdn.example.net/x",
    "/a/../b", "/x/./y/../z", "HTTP://news.example.org/CAPS", "/path%20with%20escapes", "/q?a=1&&b=2",
    "/sp ace", "/café", "/search?q=café", "http://other.example/out", "/dup", "/dup", "https://news.example.org",
    "/%7Euser/", "/a//b", "javascript:void(0)", "mailto:desk@news.example.org", "tel:+100",
]


def test_links_match_scrapy_link_extractor() -> None:
    area = '<map name="m"><area href="/area-link" coords="0,0,1,1"></map>'
    body = ("<html><head><title>Front</title><link rel='stylesheet' href='/not-a-link.css'></head><body>"
            + "".join(f'<a href="{h}">link {i}</a>' for i, h in enumerate(CROSS_HREFS))
            + '<a name="no-href">x</a>' + area + "</body></html>")
    url = "http://News.Example.org:80/section/index.html?ref=home"
    response = HtmlResponse(url, body=body.encode("utf-8"), encoding="utf-8")

    # The crawler's way (crawler.spiders.news): page_links, Resolver, canonicalize.
    resolver = Resolver(get_base_url(response), response.encoding)
    ours = {canonicalize(u) for u in (resolver.resolve(h) for h in page_links(parse_html(response.text)))
            if u.startswith(("http://", "https://"))}
    # Scrapy's way, as the crawler did before.
    extractor = LinkExtractor(tags=("a", "area"), attrs=("href",), unique=True, deny_extensions=[])
    theirs = {canonicalize(link.url) for link in extractor.extract_links(response)
              if link.url.startswith(("http://", "https://"))}
    assert ours == theirs
    assert len(ours) >= 25
    # Spot checks, so that agreeing on something wrong would still fail.
    assert "http://news.example.org/section/story-2.html" in ours
    assert "http://news.example.org/s?id=3" in ours  # tracking parameters gone
    assert "http://news.example.org/upper" in ours  # host lower-case, default port dropped
    assert "http://news.example.org/section/index.html?ref=home" in ours  # "#top" and ""
    assert "http://news.example.org/s?q=ab" in ours  # newline inside removed
    assert "http://news.example.org/area-link" in ours
    assert "http://news.example.org/b" in ours and "http://news.example.org/x/z" in ours
    assert not any("not-a-link" in u for u in ours)


# -- parse_html ----------------------------------------------------------------------------------

AWKWARD_PAGES = [
    "", "   \n\t ", "\x00", "plain text, no markup", "<a href='/only'>x</a>",
    "\ufeff<html><body><a href='/bom'>b</a></body></html>",
    "  \n<!doctype html><html><body><a href='/lead'>x</a>\x00<a href='/nul'>y</a></body></html>\n  ",
    "<html><body><a href='/caf\u00e9'>é</a><img src='/\u65b0.png'></body></html>",
    "<html><body><p><a href='/unclosed'>x<div><a href=/bare>y</div><area href='/a'></body>",
    "<html><head><base href='/b/'><style>p{background:url(/bg.png)}</style></head></html>",
]


@pytest.mark.parametrize("text", AWKWARD_PAGES)
def test_parse_html_reads_a_page_as_scrapys_selector_does(text: str) -> None:
    ours, theirs = parse_html(text), Selector(text=text).root
    assert page_links(ours) == page_links(theirs)
    assert page_requisites(ours) == page_requisites(theirs)
    assert ours.xpath("string()") == theirs.xpath("string()")


UTF8_BODIES = [
    b"<html><body><a href='/plain'>x</a></body></html>",
    b"\xef\xbb\xbf<html><body><a href='/after-bom'>x</a></body></html>",
    b"\xc2\xa0 <html><body><a href='/after-nbsp'>x</a></body></html>\xc2\xa0",
    b"  <html><body><a href='/caf\xc3\xa9'>\xc3\xa9</a></body></html>\xe6\x96\xb0",
    b"<html><body><a href='/bad-\xff-byte'>x</a><a href='/next'>y</a></body></html>",
    b"<html><body><a href='/nul'>x\x00</a><a href='/after-nul'>y</a></body></html>",
    b"<html><body><a href='/\xef\xbf\xbd'>literal replacement character</a></body></html>",
    b"\x1c\x0b<html><body><a href='/separators'>x</a></body></html>\x1f",
    b"", b"   ",
]


@pytest.mark.parametrize("body", UTF8_BODIES)
def test_parse_html_of_a_utf8_body_is_the_selectors_tree(body: bytes) -> None:
    response = HtmlResponse("http://news.example.org/", body=body, encoding="utf-8")
    ours, theirs = parse_html(response.text, response.body, response.encoding), response.selector.root
    after = body.rpartition(b"</html>")[2].strip(b" \xc2\xa0\x1f")
    if after:  # (kept in the body, as a browser keeps it: libxml2, under the selector, drops it)
        assert after.decode("utf-8") in "".join(ours.itertext())
    else:
        assert etree.tostring(ours) == etree.tostring(theirs)
    assert page_links(ours) == page_links(theirs)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "shift_jis"])
def test_parse_html_of_a_response_in_another_encoding(encoding: str) -> None:
    text = "<html><body><a href='/caf\u00e9'>\u00e9</a></body></html>" if encoding != "shift_jis" else \
        "<html><body><a href='/\u65b0\u805e'>\u65b0</a></body></html>"
    response = HtmlResponse("http://news.example.org/", body=text.encode(encoding), encoding=encoding)
    assert page_links(parse_html(response.text)) == page_links(response.selector.root)


def _requests(callback_output: Any) -> list[Any]:
    """What an async generator callback yields, driven to its end (nothing in it waits: a
    spider built without a crawler has no page parser process)."""
    agen = callback_output.__aiter__()
    found = []
    while True:
        try:
            agen.__anext__().send(None)
        except StopIteration as done:
            found.append(done.value)
        except StopAsyncIteration:
            return found


def test_a_parsed_page_is_freed_as_soon_as_the_spider_lets_go_of_it() -> None:
    """No reference cycle: a page, its body and tree go when the last reference does, not
    when the cyclic collector next runs (tens of pages later, at crawl speed)."""
    import gc
    import weakref

    from scrapy import Request

    from crawler.spiders.news import NewsSpider

    spider = NewsSpider(collection={"name": "t", "urls": ["http://news.example.org/"]})
    body = LINKS_PAGE.encode("utf-8")
    gc.disable()
    try:
        request = Request("http://news.example.org/section/", meta={"depth": 0})
        response = HtmlResponse(request.url, body=body, encoding="utf-8", request=request)
        requests = _requests(spider.parse(response))
        assert requests  # the page was really read
        alive = weakref.ref(response)
        del response, request, requests
        assert alive() is None
    finally:
        gc.enable()


def test_links_after_the_end_of_the_html_are_a_pages_links_as_browsers_read_them() -> None:
    """libxml2 dropped what follows </html> (a CMS's footer written past the end), and the
    links in it; a browser puts it in the body."""
    from archive.links import page_links, parse_html_bytes

    page = b'<html><body><a href="/a">a</a></body></html>\n<!-- footer --><div><a href="/b">b</a></div>'
    assert page_links(parse_html_bytes(page)) == ["/a", "/b"]
    assert page_links(parse_html_bytes(b'<HTML><BODY><a href="/a">a</a></BODY></HTML> <a href="/c">c</a>')) == \
        ["/a", "/c"]
    assert page_links(parse_html_bytes(b'<html><body><a href="/a">a</a></body></html>\n\n')) == ["/a"]


@pytest.mark.parametrize("parse", [lxml.html.fromstring, lambda text: Selector(text=text).root],
                         ids=["lxml", "parsel"])
def test_the_background_images_of_a_body_and_of_tables_and_their_cells_are_requisites(parse) -> None:  # type: ignore[no-untyped-def]
    page = """<html><body BACKGROUND="/paper.jpg"><table background="/table.png"><thead background="/head.png">
    <tr background="/row.png"><th background="/th.gif">a</th></tr></thead><tbody background="/body.png"><tr>
    <td background=" /cell.gif ">b</td><td background="">c</td><td background="data:image/gif;base64,R0lG">d</td>
    </tr></tbody><tfoot background="/foot.png"></tfoot></table>
    <div background="/not-in-a-div.png">e</div><img background="/nor-an-img.png" src="/img.png"></body></html>"""
    assert Counter(page_requisites(parse(page))) == Counter(
        ["/paper.jpg", "/table.png", "/head.png", "/row.png", "/th.gif", "/body.png", " /cell.gif ", "/foot.png",
         "/img.png"])


@pytest.mark.parametrize(("head", "named"), [
    ('<link rel="icon" href="/i.png">', True), ('<link rel="Shortcut Icon" href="/favicon.ico">', True),
    ('<link rel="apple-touch-icon" href="/touch.png">', False), ('<link rel="icon">', False),
    ('<link rel="stylesheet" href="/s.css">', False), ("", False),
])
def test_a_page_names_an_icon_with_a_link_whose_rel_has_the_icon_keyword(head: str, named: bool) -> None:
    from archive.links import names_icon

    assert names_icon(lxml.html.fromstring(f"<html><head>{head}</head><body>x</body></html>")) is named
