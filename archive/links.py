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
from parsel.csstranslator import HTMLTranslator
from w3lib.url import safe_url_string

_TRANSLATOR = HTMLTranslator()


def _compiled(*selectors: str) -> etree.XPath:
    """One compiled XPath for CSS selectors (parsel's translation, so the meaning is CSS's)."""
    # Plain strings: a "smart" one keeps its parent element alive, built for nothing.
    return etree.XPath(" | ".join(_TRANSLATOR.css_to_xpath(css) for css in selectors), smart_strings=False)


_LINKS = _compiled("a::attr(href)", "area::attr(href)")
_REQUISITES = _compiled(
    "link[rel~=stylesheet]::attr(href)", "link[rel~=icon]::attr(href)", "script::attr(src)", "img::attr(src)",
    "source::attr(src)", "video::attr(poster)", "input[type=image]::attr(src)",
)
_SRCSETS = _compiled("img::attr(srcset)", "source::attr(srcset)")
_STYLES = _compiled("style::text", "[style]::attr(style)")
_SRCSET_URL = re.compile(r"(?:^|,)\s*(\S+)")
# url(...) tokens and @import strings in CSS.
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')""")
_HTTP = ("http://", "https://")
# HTML's "ASCII whitespace", which browsers strip from both ends of a URL attribute.
_WHITESPACE = " \t\n\f\r"


def page_links(root: Any) -> list[str]:
    """``href`` of every ``<a>`` and ``<area>``, in document order, as written."""
    return _LINKS(root)


def page_requisites(root: Any) -> list[str]:
    """What a browser would load to render the page: stylesheets, icons, scripts, images
    (``src`` and every ``srcset`` candidate), posters, and ``url()``s in inline CSS."""
    urls = _REQUISITES(root)
    for srcset in _SRCSETS(root):
        urls.extend(_SRCSET_URL.findall(srcset))
    for style in _STYLES(root):
        urls.extend(css_urls(style))
    return urls


def css_urls(text: str) -> list[str]:
    """URLs a stylesheet refers to, ``data:`` URIs left out."""
    found = []
    for match in _CSS_URL.finditer(text):
        url = next((g for g in match.groups() if g), "")
        if url and not url.startswith("data:"):
            found.append(url)
    return found


class Resolver:
    """Absolute URLs of the references on one page.

    ``base`` is the page's base URL (``<base href>`` or the response URL), ``encoding``
    the page's, used for non-ASCII characters as browsers do.
    """

    def __init__(self, base: str, encoding: str = "utf-8"):
        self.base = base
        self.encoding = encoding
        parts = urlsplit(base)
        self.origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None

    def resolve(self, href: str) -> str:
        """The absolute URL ``href`` refers to."""
        href = href.strip(_WHITESPACE)
        if not href or href[0] == "#":
            return self.base  # the base document itself; fragments are dropped anyway
        if href.isascii() and "/." not in href and "\\" not in href:
            if href.startswith(_HTTP):
                return href
            if self.origin is not None and href[0] == "/" and not href.startswith("//"):
                return self.origin + href
        if not href.isascii():
            href = safe_url_string(href, self.encoding)
        return urljoin(self.base, href)
