"""Links and page requisites of an HTML page, read from its parsed tree, and resolved.

A news page carries a hundred or more links, nearly all of them seen before (navigation,
"latest" lists, the same article on every page). Resolving and canonicalising each of
them with ``urljoin`` and ``safe_url_string`` was most of a crawl's time, so the common
forms are resolved by string concatenation here, and the spider skips what it has seen
before canonicalising anything. Anything unusual (dot segments, non-ASCII, other schemes,
scheme-relative or path-relative references) goes through ``urljoin`` as before.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from w3lib.url import safe_url_string

from archive.urls import with_authority, with_slashes

# Each "//" step of an XPath walks the whole tree again, and predicates are slow in libxml2;
# so links come from one path per tag, requisites from lxml's own tag filter (a C loop),
# and inline styles from one attribute path. Plain strings: a "smart" one keeps its
# parent element alive, built for nothing.
_LINKS = etree.XPath("descendant-or-self::a/@href | descendant-or-self::area/@href", smart_strings=False)
_STYLE_ATTRS = etree.XPath("descendant-or-self::*/@style", smart_strings=False)
# The elements whose background attribute is an image a browser loads as their CSS
# background-image (HTML's rendering of body and of tables and their parts). (Looked for by
# tag, not by an XPath of every element's attribute: a third of the time on a news page.)
_BACKGROUND_TAGS = ("body", "table", "thead", "tbody", "tfoot", "tr", "td", "th")
_REQUISITE_TAGS = ("link", "script", "img", "source", "video", "audio", "track", "embed", "object", "input",
                   "style", "use", "image")
# Framed documents (a lazy loader's data-src too): pages of their own, not requisites.
_FRAMES = etree.XPath("descendant-or-self::iframe/@src | descendant-or-self::iframe/@data-src"
                      " | descendant-or-self::frame/@src", smart_strings=False)
# A page's advertised feeds: <link rel="alternate" type="application/rss+xml" href="...">.
_ALTERNATES = etree.XPath("descendant-or-self::link[@href and @type and @rel]", smart_strings=False)
_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
# <link rel> tokens whose href a browser loads as it renders the page (rel is a set of tokens:
# "shortcut icon" is "icon"); a preload only with an "as" (browsers ignore one without). Chromium
# fetches a web app manifest with every page that names one.
_LOADED_RELS = frozenset({"stylesheet", "icon", "modulepreload", "manifest"})
# Where lazy-loading scripts (lazysizes, lozad, WordPress's and jQuery's lazy loaders) keep
# the image a browser would show once scrolled to: what a crawler that runs no script can
# only find so, and replay (its client script) sets as the image's source.
_LAZY_SRC = ("data-src", "data-lazy-src", "data-original")
_LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")
# url(...) tokens and @import strings in CSS (function names are case-insensitive), escapes
# and all (``url(a\(1\).png)``, ``url("it\"s.png")``, ``url(bg\20 1.png)``).
_CSS_URL = re.compile(r"""url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|((?:[^)'"\s\\]|\\[0-9a-fA-F]{1,6}\s?|\\.)*))\s*\)"""
                      r"""|@import\s+(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""", re.IGNORECASE | re.DOTALL)
# An escape in CSS (CSS Syntax §4.3.7): up to six hex digits and one white space after them,
# a newline in a string (a line continuation, nothing), or any other character as itself.
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|(\r\n|[\n\r\f])|(.))", re.DOTALL)
_HTTP = ("http://", "https://")
_NO_HOST = ("http:///", "https:///")  # (a host after the slashes, to a browser: not for the shortcut)
# HTML's "ASCII whitespace", which browsers strip from both ends of a URL attribute.
_WHITESPACE = " \t\n\f\r"
# The URL parser removes tabs and newlines from anywhere in the input (WHATWG URL).
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


# One parser for every page (building one costs as much as a small page's parse). Plain
# lxml elements: the page is only read here, never handed to lxml.html's helpers.
_HTML_PARSER = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
_UTF8_BOM = b"\xef\xbb\xbf"
# The ASCII characters str.strip() removes.
_STRIPPED = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def parse_html(text: str, body: bytes | None = None, encoding: str | None = None) -> Any:
    """The root element of a page's HTML tree, as Scrapy's selector builds it for HTML.

    The tree is built here rather than through ``response.selector`` because that selector
    keeps a reference back to its response: a reference cycle that holds every page, body
    and tree alike, until the cyclic collector runs, and tens of pages pile up meanwhile.
    """
    return parse_html_bytes(html_bytes(text, body, encoding))


def html_bytes(text: str, body: bytes | None = None, encoding: str | None = None) -> bytes:
    """A page's HTML prepared as parsel prepares it (surrounding whitespace and NUL
    characters removed, re-encoded as UTF-8), for :func:`parse_html_bytes`.

    A UTF-8 ``body`` that decoded cleanly (``text`` is its decoding, without a replacement
    character) is already exactly those bytes and is used as it is, saving a re-encoding of
    the page.
    """
    if body is not None and encoding == "utf-8" and not body.startswith(_UTF8_BOM) and b"\x00" not in body \
            and "\ufffd" not in text:
        data = body.strip(_STRIPPED)
        if data[:1] < b"\x80" and data[-1:] < b"\x80":
            return data
        # (str.strip() also removes non-ASCII spaces: let it decide)
    return text.strip().replace("\x00", "").encode("utf-8")


def parse_html_bytes(data: bytes) -> Any:
    """The root element of the tree of HTML prepared by :func:`html_bytes`.

    Markup after ``</html>`` (a CMS's footer, scripts and links added past the end) is in
    the page's body to a browser; libxml2 dropped it, and the links in it with it: the end
    tags of body and html are taken out of such a page first."""
    end = max(data.rfind(b"</html"), data.rfind(b"</HTML"))
    if end >= 0 and data[end:].partition(b">")[2].strip():
        data = _END_TAGS.sub(b"", data)
    root = etree.fromstring(data or b"<html/>", parser=_HTML_PARSER)
    return root if root is not None else etree.fromstring(b"<html/>", parser=_HTML_PARSER)


_END_TAGS = re.compile(rb"</(?:body|html)\s*>", re.IGNORECASE)


def page_links(root: Any) -> list[str]:
    """``href`` of every ``<a>`` and ``<area>``, in document order, as written."""
    return _LINKS(root)


def page_frames(root: Any) -> list[str]:
    """``src`` of every ``<iframe>`` and ``<frame>`` (and an iframe's ``data-src``), in
    document order, as written."""
    return _FRAMES(root)


def page_feeds(root: Any) -> list[str]:
    """``href`` of every RSS or Atom feed of articles the page advertises (``<link
    rel="alternate">``, feed autodiscovery), in document order, as written. Feeds of comments
    are left out (WordPress advertises one on every page): their items are comments, linked
    to the article as ``post#comment-5``."""
    return [el.get("href") for el in _ALTERNATES(root)
            if "alternate" in el.get("rel").lower().split()
            and el.get("type").split(";")[0].strip().lower() in _FEED_TYPES and not _of_comments(el)]


def _of_comments(link: Any) -> bool:
    href, title = link.get("href").lower(), (link.get("title") or "").lower()
    return "comment" in title or "/comments/" in href or "feed=comments" in href


def page_requisites(root: Any) -> list[str]:
    """What a browser would load to render the page, frames aside (:func:`page_frames`):
    stylesheets, icons, web app manifests, preloads, scripts, images (``src`` and every ``srcset`` candidate,
    and where lazy loaders keep them; SVG's external ``<use>`` sprites and ``<image>``s),
    embedded objects, posters, text tracks and media a
    browser would load before it is played (not with ``preload="none"``), ``url()``s in
    inline CSS, and the ``background`` images of the body and of tables and their cells.
    (The ``/favicon.ico`` a browser asks for when a page names no icon is the caller's:
    :func:`names_icon`.)

    rel and type values are ASCII case-insensitive in HTML.
    """
    urls: list[str] = []
    for el in root.iter(*_REQUISITE_TAGS):
        tag = el.tag
        if tag == "link":
            rel = (el.get("rel") or "").lower().split()
            if not _LOADED_RELS.isdisjoint(rel) or ("preload" in rel and el.get("as")):
                _add(urls, el.get("href"))
                _add_srcset(urls, el.get("imagesrcset"))
        elif tag == "img":
            _add(urls, el.get("src"))
            _add_srcset(urls, el.get("srcset"))
            _add_lazy(urls, el)
        elif tag == "source":
            parent = el.getparent()
            if parent is None or parent.tag not in ("video", "audio") or _preloaded(parent):
                _add(urls, el.get("src"))
            _add_srcset(urls, el.get("srcset"))
            _add_lazy(urls, el)
        elif tag in ("script", "track", "embed"):
            _add(urls, el.get("src"))
        elif tag == "audio":
            if _preloaded(el):
                _add(urls, el.get("src"))
        elif tag == "video":
            _add(urls, el.get("poster"))
            if _preloaded(el):
                _add(urls, el.get("src"))
        elif tag == "object":
            _add(urls, el.get("data"))
        elif tag in ("use", "image"):  # SVG: an icon of an external sprite sheet, an image
            href = el.get("href") or el.get("xlink:href")
            if href and not href.startswith("#"):
                _add(urls, href)
        elif tag == "input":
            if (el.get("type") or "").lower() == "image":
                _add(urls, el.get("src"))
        else:  # <style>: its text, and what follows any child (comments, say)
            for text in (el.text, *(child.tail for child in el)):
                if text:
                    urls.extend(css_urls(text))
    for style in _STYLE_ATTRS(root):
        urls.extend(css_urls(style))
    for el in root.iter(*_BACKGROUND_TAGS):
        _add(urls, el.get("background"))
    return urls


def names_icon(root: Any) -> bool:
    """Whether the page names an icon (``<link rel="icon">``, ``"shortcut icon"``): one that
    names none has the browser ask for ``/favicon.ico`` of its own URL's host (HTML, link type "icon")."""
    return any("icon" in (el.get("rel") or "").lower().split() and el.get("href") for el in root.iter("link"))


def _add(urls: list[str], value: str | None) -> None:
    if value and not value.startswith("data:"):  # (a lazy image's placeholder, mostly)
        urls.append(value)


def _preloaded(media: Any) -> bool:
    """Whether a browser loads some of an ``<audio>`` or ``<video>`` before it is played."""
    return (media.get("preload") or "").strip().lower() != "none"


def _add_srcset(urls: list[str], value: str | None) -> None:
    if value is not None:
        urls.extend(srcset_urls(value))


def _add_lazy(urls: list[str], el: Any) -> None:
    for name in _LAZY_SRC:
        _add(urls, el.get(name))
    for name in _LAZY_SRCSET:
        _add_srcset(urls, el.get(name))


def srcset_urls(value: str) -> list[str]:
    """The candidate URLs of a ``srcset``: see :func:`srcset_spans`."""
    return [value[start:end] for start, end in srcset_spans(value)]


def srcset_spans(value: str) -> list[tuple[int, int]]:
    """Where each candidate URL of a ``srcset`` is in it (HTML's parsing: a URL is a run of
    non-space characters, trailing commas are not part of it, descriptors run to the next
    comma outside parentheses). URLs may contain commas themselves, as image services'
    do (``/upload/w_400,h_300/a.jpg 400w``)."""
    spans, pos, n = [], 0, len(value)
    while True:
        while pos < n and value[pos] in _WHITESPACE + ",":
            pos += 1
        if pos >= n:
            return spans
        start = pos
        while pos < n and value[pos] not in _WHITESPACE:
            pos += 1
        end = pos
        if value[end - 1] == ",":
            while end > start and value[end - 1] == ",":
                end -= 1  # a candidate without descriptors
        else:
            depth = 0
            while pos < n:
                char = value[pos]
                pos += 1
                if char == "(":
                    depth += 1
                elif char == ")":
                    depth = max(0, depth - 1)
                elif char == "," and depth == 0:
                    break
        if end > start:
            spans.append((start, end))


def css_unescape(text: str) -> str:
    """A CSS string or URL as the browser reads it: its escapes (``\\28 `` for "(") undone."""
    if "\\" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            code = int(m.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return "" if m.group(2) else m.group(3)

    return _CSS_ESCAPE.sub(sub, text)


def css_urls(text: str) -> list[str]:
    """URLs a stylesheet refers to, ``data:`` URIs left out."""
    found = []
    for match in _CSS_URL.finditer(text):
        url = css_unescape(next((g for g in match.groups() if g), ""))
        if url and not url.startswith("data:"):
            found.append(url)
    found.extend(url for url in (css_unescape(text[start:end]) for start, end in image_set_strings(text))
                 if url and not url.startswith("data:"))
    return found


_IMAGE_SET = re.compile(r"(?:-webkit-)?image-set\(", re.IGNORECASE)


def image_set_strings(css: str) -> list[tuple[int, int]]:
    """Where the images written as plain strings in CSS ``image-set()`` notations are
    (``image-set("a.avif" type("image/avif") 1x, "a.jpg" 1x)``): the spans of their text,
    inside the quotes. Strings inside its own functions (``type()``, ``url()``) are not."""
    spans = []
    for m in _IMAGE_SET.finditer(css):
        pos, depth, n = m.end(), 1, len(css)
        while pos < n and depth:
            char = css[pos]
            if char in "\"'":
                end = css.find(char, pos + 1)
                if end < 0:
                    break
                if depth == 1:
                    spans.append((pos + 1, end))
                pos = end + 1
                continue
            depth += 1 if char == "(" else -1 if char == ")" else 0
            pos += 1
    return spans


class Resolver:
    """Absolute URLs of the references on one page.

    ``base`` is the page's base URL (``<base href>`` or the response URL), ``encoding``
    the page's, used for non-ASCII characters as browsers do.
    """

    def __init__(self, base: str, encoding: str = "utf-8"):
        self.base = base
        self.encoding = encoding
        parts = urlsplit(base)
        self.scheme = parts.scheme
        self.origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None

    def independent(self, href: str) -> bool:
        """Whether ``href``, exactly as written, resolves the same on every page of this
        origin: an absolute http(s) URL or a root-relative path that resolving leaves as is."""
        return (
            self.origin is not None
            and href.isascii()
            and href.isprintable()
            and "/." not in href
            and "\\" not in href
            and href.strip(_WHITESPACE) == href
            and (href.startswith(_HTTP) or (href[:1] == "/" and href[1:2] != "/"))
        )

    def resolve(self, href: str) -> str:
        """The absolute URL ``href`` refers to."""
        href = href.strip(_WHITESPACE)
        if not href.isprintable():
            href = href.translate(_TAB_NEWLINE)
        if not href or href[0] == "#":
            return self.base  # the base document itself; fragments are dropped anyway
        if href.isascii() and "/." not in href and "\\" not in href:
            if href.startswith(_HTTP) and not href.startswith(_NO_HOST):
                return href
            if self.origin is not None and href[0] == "/" and not href.startswith("//"):
                return self.origin + href
        href = with_authority(with_slashes(href), self.scheme)
        if not href.isascii():
            try:
                href = safe_url_string(href, self.encoding)
            except UnicodeEncodeError:
                href = safe_url_string(_charrefs_in_query(href, self.encoding), self.encoding)
        return urljoin(self.base, href)


def _charrefs_in_query(href: str, encoding: str) -> str:
    """Characters of the query that ``encoding`` cannot represent, as browsers send them:
    as HTML numeric character references (``&#20013;``), percent-encoded."""
    before, mark, rest = href.partition("?")
    if not mark:
        return href
    query, hash_mark, fragment = rest.partition("#")
    query = "".join(_representable(char, encoding) for char in query)
    return before + mark + query + hash_mark + fragment


def _representable(char: str, encoding: str) -> str:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return f"%26%23{ord(char)}%3B"  # "&#N;", percent-encoded: not a fragment, not a new parameter
    return char
