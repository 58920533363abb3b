"""Non-article resources of the demo site: feeds, sitemaps, robots.txt, assets, test endpoints.

Why: crawlers discover news through feeds and sitemaps, archives must capture CSS, JS
and images, and capture-fidelity tests need awkward HTTP cases (chunked bodies, a
header-only charset, redirect chains and loops, errors, slow and huge responses).
"""
from __future__ import annotations

import datetime as dt
import email.utils
import random
import struct
import urllib.parse
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from .pages import (
    N_IMAGES,
    SITE_DESCRIPTION,
    SITE_NAME,
    DemoPage,
    attr,
    body_html,
    http_date,
    make_page,
    message_page,
    slugify,
    text,
)

if TYPE_CHECKING:
    from .site import DemoArticle

STATIC_DIR = Path(__file__).with_name("static")
MAX_BIG_MB = 1024
XML = "application/xml; charset=utf-8"
SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
WINDOWS_1252_TITLE = "Caf\u00e9 reopens on Harbour Street"
WINDOWS_1252_PARAGRAPHS = (
    ("The caf\u00e9 on Harbour Street reopened on Monday, and regulars say the \u201cnew\u201d "
     "menu tastes remarkably like the old one."),
    ("\u201cWe kept the cr\u00e8me br\u00fbl\u00e9e and the fish soup,\u201d said the owner, "
     "Ren\u00e9e Dubois. \u201cPeople would riot otherwise.\u201d"),
    "Prices have risen by about \u20ac2 a dish \u2013 a change most regulars accepted calmly.",
)
_TRACKING = "?utm_source=rss&utm_medium=feed#comments"


def _palette(k: int) -> tuple[int, int, int]:
    return (37 * k % 200 + 30, 91 * k % 200 + 30, 53 * k % 200 + 30)


FIXED_ROUTES: dict[str, tuple[str, object]] = {
    "/feed.xml": ("rss", None),
    "/atom.xml": ("atom", None),
    "/sitemap.xml": ("sitemap_index", None),
    "/sitemap-news.xml": ("sitemap_news", None),
    "/sitemap-articles.xml": ("sitemap_articles", None),
    "/robots.txt": ("robots", None),
    "/favicon.ico": ("favicon", None),
    "/static/site.css": ("file", ("site.css", "text/css; charset=utf-8")),
    "/static/print.css": ("file", ("print.css", "text/css; charset=utf-8")),
    "/static/site.js": ("file", ("site.js", "text/javascript; charset=utf-8")),
    "/static/img/bg.png": ("image", (4, 4, (244, 241, 233))),
    "/static/img/logo.png": ("image", (80, 16, (138, 28, 28))),
    **{f"/static/img/{k}.png": ("image", (64, 36, _palette(k))) for k in range(N_IMAGES)},
    **{f"/static/img/{k}-2x.png": ("image", (128, 72, _palette(k))) for k in range(N_IMAGES)},
    "/special/chunked": ("chunked", None),
    "/special/windows-1252": ("cp1252", None),
    "/special/redirect-chain": ("redirect", (302, "/special/redirect-chain/2")),
    "/special/redirect-chain/2": ("redirect", (302, "/special/redirect-chain/final")),
    "/special/redirect-chain/final": ("info", "chain-final"),
    "/special/redirect-loop": ("redirect", (302, "/special/redirect-loop/a")),
    "/special/redirect-loop/a": ("redirect", (302, "/special/redirect-loop/b")),
    "/special/redirect-loop/b": ("redirect", (302, "/special/redirect-loop/a")),
    "/special/slow": ("slow", None),
    "/special/big": ("big", None),
    "/special/error": ("error", None),
}


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A tiny valid striped PNG, so images need no binary files in the repository."""
    stripe, plain = bytes(255 - c for c in rgb), bytes(rgb)
    rows = (b"\x00" + b"".join(stripe if (x + y) % 8 == 0 else plain for x in range(width))
            for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"".join(rows), 9)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def favicon() -> bytes:
    """An ICO container holding one 16x16 PNG (valid for every current browser)."""
    image = png(16, 16, (138, 28, 28))
    entry = struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(image), 22)
    return struct.pack("<HHH", 0, 1, 1) + entry + image


def rfc822(iso: str) -> str:
    return email.utils.format_datetime(dt.datetime.fromisoformat(iso))


def parse_big_query(query: str) -> int | None:
    """Size in MiB for /special/big; None when the parameter is malformed or too large."""
    raw = urllib.parse.parse_qs(query).get("mb", ["1"])[-1]
    return int(raw) if raw.isdigit() and int(raw) <= MAX_BIG_MB else None


def _newest(articles: list[DemoArticle]) -> str:
    """Latest modification (offsets differ per article, so compare instants, not strings)."""
    return max((a.modified for a in articles), key=dt.datetime.fromisoformat,
               default="2026-03-14T09:00:00+00:00")


def _xml_page(document: str, content_type: str = XML, updated: str | None = None) -> DemoPage:
    extra = (("Last-Modified", http_date(updated)),) if updated else ()
    return make_page('<?xml version="1.0" encoding="UTF-8"?>\n' + document, content_type,
                     extra=extra)


class ResourceRenderer:
    """Mixin for DemoSite: feeds, sitemaps, robots.txt, static assets and test endpoints."""

    articles: list[DemoArticle]
    seed: int

    def _rss_item(self, base: str, a: DemoArticle, tracked: bool) -> str:
        link = base + a.path + (_TRACKING if tracked else "")
        creators = "".join(f"<dc:creator>{text(n)}</dc:creator>\n" for n in a.authors)
        categories = "".join(f"<category>{text(c)}</category>\n"
                             for c in [a.section.title(), *a.tags])
        return (f"<item>\n<title>{text(a.headline)}</title>\n<link>{text(link)}</link>\n"
                f'<guid isPermaLink="false">northport-ledger-{slugify(a.path)}</guid>\n'
                f"<pubDate>{rfc822(a.published)}</pubDate>\n{creators}{categories}"
                f"<description>{text(a.description)}</description>\n"
                f"<content:encoded><![CDATA[{body_html(a)}]]></content:encoded>\n</item>\n")

    def _render_rss(self, base: str, _arg: object) -> DemoPage:
        """RSS 2.0; every third link carries tracking parameters and a fragment, as in the wild."""
        newest = self.articles[:20]
        items = "".join(self._rss_item(base, a, k % 3 == 1) for k, a in enumerate(newest))
        updated = _newest(newest)
        document = (
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">'
            f"\n<channel>\n<title>{SITE_NAME}</title>\n<link>{text(base)}/</link>\n"
            f"<description>{SITE_DESCRIPTION}</description>\n<language>en</language>\n"
            f"<lastBuildDate>{rfc822(updated)}</lastBuildDate>\n"
            f'<atom:link href="{attr(base)}/feed.xml" rel="self" type="application/rss+xml"/>\n'
            f"{items}</channel>\n</rss>\n")
        return _xml_page(document, "application/rss+xml; charset=utf-8", updated)

    def _atom_entry(self, base: str, a: DemoArticle) -> str:
        authors = "".join(f"<author><name>{text(n)}</name></author>\n" for n in a.authors)
        return (f"<entry>\n<id>tag:northport-ledger.example,2026:{a.path}</id>\n"
                f"<title>{text(a.headline)}</title>\n"
                f'<link rel="alternate" type="text/html" href="{attr(base + a.path)}"/>\n'
                f"<published>{a.published}</published>\n<updated>{a.modified}</updated>\n"
                f'{authors}<category term="{a.section}" label="{a.section.title()}"/>\n'
                f"<summary>{text(a.description)}</summary>\n"
                f'<content type="html">{text(body_html(a))}</content>\n</entry>\n')

    def _render_atom(self, base: str, _arg: object) -> DemoPage:
        newest = self.articles[:20]
        updated = _newest(newest)
        document = (
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
            f"<id>tag:northport-ledger.example,2026:feed</id>\n<title>{SITE_NAME}</title>\n"
            f"<subtitle>{SITE_DESCRIPTION}</subtitle>\n<updated>{updated}</updated>\n"
            f'<link rel="self" type="application/atom+xml" href="{attr(base)}/atom.xml"/>\n'
            f'<link rel="alternate" type="text/html" href="{attr(base)}/"/>\n'
            f'{"".join(self._atom_entry(base, a) for a in newest)}</feed>\n')
        return _xml_page(document, "application/atom+xml; charset=utf-8", updated)

    def _render_sitemap_index(self, base: str, _arg: object) -> DemoPage:
        updated = _newest(self.articles)
        maps = "".join(f"<sitemap><loc>{text(base)}/{name}</loc><lastmod>{updated}</lastmod>"
                       "</sitemap>\n" for name in ("sitemap-news.xml", "sitemap-articles.xml"))
        return _xml_page(f"<sitemapindex {SITEMAP_NS}>\n{maps}</sitemapindex>\n")

    def _render_sitemap_news(self, base: str, _arg: object) -> DemoPage:
        """Google News sitemap of the 30 newest stories."""
        urls = "".join(
            f"<url><loc>{text(base + a.path)}</loc><news:news><news:publication><news:name>"
            f"{SITE_NAME}</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{a.published}</news:publication_date>"
            f"<news:title>{text(a.headline)}</news:title></news:news></url>\n"
            for a in self.articles[:30])
        news_ns = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
        return _xml_page(f"<urlset {SITEMAP_NS} {news_ns}>\n{urls}</urlset>\n")

    def _render_sitemap_articles(self, base: str, _arg: object) -> DemoPage:
        urls = "".join(f"<url><loc>{text(base + a.path)}</loc><lastmod>{a.modified}</lastmod>"
                       "</url>\n" for a in self.articles)
        return _xml_page(f"<urlset {SITEMAP_NS}>\n{urls}</urlset>\n")

    def _render_robots(self, base: str, _arg: object) -> DemoPage:
        rules = (f"# {SITE_NAME} (synthetic demo site)\nUser-agent: *\nDisallow: /private/\n\n"
                 f"Sitemap: {base}/sitemap.xml\n")
        return make_page(rules, "text/plain; charset=utf-8")

    def _render_file(self, base: str, arg: tuple[str, str]) -> DemoPage:
        name, content_type = arg  # the name comes from the route table, never from the request
        return make_page((STATIC_DIR / name).read_bytes(), content_type)

    def _render_image(self, base: str, arg: tuple[int, int, tuple[int, int, int]]) -> DemoPage:
        return make_page(png(*arg), "image/png", compressible=False)

    def _render_favicon(self, base: str, _arg: object) -> DemoPage:
        return make_page(favicon(), "image/x-icon", compressible=False)

    def _render_redirect(self, base: str, arg: tuple[int, str]) -> DemoPage:
        status, target = arg
        page = message_page(status, "Moved", f"This page has moved to {target}.")
        return DemoPage(status, [*page.headers, ("Location", base + target)], page.body,
                        compressible=True)

    def _render_chunked(self, base: str, _arg: object) -> DemoPage:
        lines = [f"Part {k + 1}: this page is sent with Transfer-Encoding: chunked, in several "
                 "pieces. An archive must store the decoded body and record how it travelled."
                 for k in range(12)]
        return message_page(200, "Chunked transfer encoding", *lines, chunk_size=512,
                            compressible=False)

    def _render_cp1252(self, base: str, _arg: object) -> DemoPage:
        """Charset declared only in the HTTP header: no <meta charset>, no XML declaration."""
        paragraphs = "".join(f"<p>{text(p)}</p>\n" for p in WINDOWS_1252_PARAGRAPHS)
        page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<title>{WINDOWS_1252_TITLE}</title>\n'
                f"</head>\n<body>\n<article>\n<h1>{WINDOWS_1252_TITLE}</h1>\n{paragraphs}"
                '</article>\n<p><a href="/">Home</a></p>\n</body>\n</html>\n')
        return make_page(page.encode("cp1252"), "text/html; charset=windows-1252",
                         compressible=False)

    def _render_slow(self, base: str, _arg: object) -> DemoPage:
        return message_page(200, "A slow page", "The server waited three seconds to answer.",
                            delay=3.0)

    def _render_error(self, base: str, _arg: object) -> DemoPage:
        return message_page(500, "Internal server error",
                            "This error is deliberate: archives must record it faithfully.")

    def _big(self, query: str) -> DemoPage:
        """Streams N MiB of fixed pseudo-random bytes without holding them in memory."""
        mb = parse_big_query(query)
        if mb is None:
            return message_page(400, "Bad request", f"Use ?mb=N with 0 <= N <= {MAX_BIG_MB}.")
        block = random.Random(f"{self.seed}:big").randbytes(1 << 16)
        headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(mb << 20))]
        return DemoPage(200, headers, stream=lambda: (block for _ in range(mb * 16)))

