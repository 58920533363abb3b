"""HTML pages of the demo news site, plus the response type and helpers shared by all renderers.

Why a separate module: ``site.py`` owns the ground truth (what the articles say); this
module dresses that truth up as a realistic, boilerplate-heavy website. Every renderer
is a pure function of the site state and the base URL, so pages can be cached.
"""
from __future__ import annotations

import bisect
import datetime as dt
import email.utils
import functools
import gzip
import hashlib
import html
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .site import DemoArticle

SITE_NAME = "The Northport Ledger"
SITE_DESCRIPTION = "News from Northport and the coast: world, business, science, culture and sport."
SECTIONS = ("world", "business", "science", "culture", "sport")
PER_PAGE = 10
DEFAULT_BASE_URL = "http://127.0.0.1"
BROKEN_LINKS = (
    ("/world/2019/06/02/ferry-strike-called-off", "Ferry strike called off (2019)"),
    ("/about/careers/", "Careers at the Ledger"),
    ("/events/summer-fair/", "Summer fair"),
)
N_IMAGES = 12
HTML = "text/html; charset=utf-8"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_HANDLES = ("harbourwatcher", "M. Brennan", "quietreader", "Jo from Carrow", "oldcastle_dad",
            "seaview42", "R. Osei")
_COMMENTS = (
    "Long overdue, in my view. Let\u2019s hope it actually happens this time.",
    "Who is going to pay for all of this?",
    "Great reporting, thank you.",
    "I grew up near here and have never seen anything like it.",
    "Same story every year. Nothing changes.",
    "Interesting piece, but it leaves out the cost to local families.",
    "My neighbours have been saying this for months.",
    "Finally some good news.",
)
_SPECIAL_LINKS = (
    ("/special/chunked", "Chunked transfer encoding"),
    ("/special/windows-1252", "A Windows-1252 page"),
    ("/special/redirect-chain", "Redirect chain"),
    ("/special/redirect-loop", "Redirect loop"),
    ("/special/error", "Server error"),
)
_INFO = {
    "about": ("About us", ("The Northport Ledger is a synthetic newspaper made by the archive "
                           "tool for offline demos, tests and benchmarks. Nothing here is real.")),
    "contact": ("Contact", "Write to the newsdesk at newsdesk@example.invalid."),
    "private": ("Internal notes", "Staff only: disallowed by robots.txt, must not be archived."),
    "chain-final": ("End of the redirect chain", "You followed two redirects to get here."),
}
_SHARES = ("Email", "Facebook", "X", "WhatsApp", "Copy link")
_NEWSLETTER = (
    '<aside class="newsletter"><h2>The Morning Ledger</h2>\n<p>Get the day\u2019s most important '
    "stories in your inbox every weekday at 7am. Free, and you can unsubscribe at any time.</p>\n"
    '<form class="newsletter-form"><label>Email address <input type="email" name="email" '
    'placeholder="you@example.com"></label> <button type="submit">Sign up</button></form></aside>\n'
)
_FOOTER_NAV = (
    '<nav aria-label="Footer"><ul><li><a href="/about/">About us</a></li>'
    '<li><a href="/contact/">Contact</a></li><li><a href="/feed.xml">RSS feed</a></li>'
    '<li><a href="/atom.xml">Atom feed</a></li><li><a href="/sitemap.xml">Sitemap</a></li>'
    "</ul></nav>\n"
)
_HEAD_LINKS = (
    '<link rel="stylesheet" href="/static/site.css">\n<link rel="icon" href="/favicon.ico">\n'
    f'<link rel="alternate" type="application/rss+xml" title="{SITE_NAME}" href="/feed.xml">\n'
    f'<link rel="alternate" type="application/atom+xml" title="{SITE_NAME} (Atom)" '
    'href="/atom.xml">\n<script src="/static/site.js" defer></script>\n'
)
_PAD_WRAPPERS = (
    ('<svg xmlns="http://www.w3.org/2000/svg" class="icon-sprite" style="display:none" '
     'aria-hidden="true">\n{}</svg>\n'),
    '<nav class="mega-menu" aria-label="All stories" hidden><ul>\n{}</ul></nav>\n',
    ('<aside class="more-stories" aria-hidden="true" hidden><h2>More from the Ledger</h2><ul>\n'
     "{}</ul></aside>\n"),
)

_PAD_MARKS = ("\x00pad-sprite\x00", "\x00pad-menu\x00", "\x00pad-hidden\x00")


@dataclass(frozen=True)
class DemoPage:
    """One HTTP response computed without a server, so tools can inspect it directly.

    ``stream`` is set only for very large bodies (then ``body`` is empty and the
    ``Content-Length`` header is authoritative); ``chunk_size`` asks the server to use
    chunked transfer encoding and ``delay`` to wait before answering.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    compressible: bool = False
    chunk_size: int = 0
    delay: float = 0.0
    stream: Callable[[], Iterator[bytes]] | None = field(default=None, compare=False, repr=False)
    _gzip_memo: list[bytes] = field(default_factory=list, compare=False, repr=False)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def length(self) -> int:
        return int(self.header("Content-Length") or 0) if self.stream else len(self.body)

    def iter_body(self) -> Iterator[bytes]:
        return self.stream() if self.stream else iter((self.body,))

    def gzipped(self) -> bytes:
        """Compressed once and memoised, so a benchmark crawl does not pay gzip per request."""
        if not self._gzip_memo:
            self._gzip_memo.append(gzip.compress(self.body, compresslevel=6, mtime=0))
        return self._gzip_memo[0]


def slugify(value: str) -> str:
    """URL slug used for article, tag and author paths (ASCII, lowercase, hyphenated)."""
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


def human_date(iso: str) -> str:
    """Locale-independent display date (strftime %B would depend on the process locale)."""
    moment = dt.datetime.fromisoformat(iso)
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M}"


def http_date(iso: str) -> str:
    moment = dt.datetime.fromisoformat(iso).astimezone(dt.UTC)
    return email.utils.format_datetime(moment, usegmt=True)


def text(value: str) -> str:
    """Escape for a text node; quotes stay literal so prose reads naturally in the source."""
    return html.escape(value, quote=False)


def attr(value: str) -> str:
    return html.escape(value, quote=True)


def make_page(body: str | bytes, content_type: str, status: int = 200,
              extra: tuple[tuple[str, str], ...] = (), *, compressible: bool = True,
              chunk_size: int = 0, delay: float = 0.0) -> DemoPage:
    """Wrap a rendered body with the headers every response of that status shares."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    headers = [("Content-Type", content_type), *extra]
    if status == 200:
        etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
        headers += [("ETag", etag), ("Cache-Control", "public, max-age=300")]
    return DemoPage(status, headers, data, compressible, chunk_size, delay)


def message_page(status: int, title: str, *paragraphs: str, compressible: bool = True,
                 chunk_size: int = 0, delay: float = 0.0) -> DemoPage:
    """Small standalone HTML page for errors, redirects and capture-test endpoints."""
    body = "".join(f"<p>{text(p)}</p>\n" for p in paragraphs)
    page = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<title>{text(title)}</title>\n<link rel="stylesheet" href="/static/site.css">\n'
            f"</head>\n<body>\n<main>\n<h1>{text(title)}</h1>\n{body}"
            '<p><a href="/">Back to the front page</a></p>\n</main>\n</body>\n</html>\n')
    return make_page(page, HTML, status, compressible=compressible, chunk_size=chunk_size,
                     delay=delay)


def page_count(n_items: int) -> int:
    return max(1, -(-n_items // PER_PAGE))


def listing_prefix(kind: str, key: str) -> str:
    return f"/{key}/" if kind == "section" else f"/{kind}/{key}/"


def page_path(prefix: str, page: int) -> str:
    return prefix if page == 1 else f"{prefix}page/{page}/"


def _fill(budget: int, make: Callable[[int], str]) -> str:
    parts: list[str] = []
    size = 0
    while size < budget:
        parts.append(make(len(parts)))
        size += len(parts[-1])
    return "".join(parts)


def _icon_paths(count: int) -> tuple[str, ...]:
    """A fixed pool of icon outlines; pages draw from it so padding stays cheap to render."""
    rng = random.Random("demo-icons")
    return tuple("M12 2 " + " ".join(f"L{rng.randrange(25)} {rng.randrange(25)}" for _ in range(10))
                 + "Z" for _ in range(count))


_ICON_PATHS = _icon_paths(256)


def _svg_symbol(rng: random.Random, k: int) -> str:
    return (f'<symbol id="icon-{k}" viewBox="0 0 24 24"><path d="{rng.choice(_ICON_PATHS)}" '
            'fill="currentColor"/></symbol>\n')


class PageRenderer:
    """Mixin for DemoSite: renders the HTML pages from ``articles`` and the indexes.

    Each ``_render_<kind>(base, arg)`` handles one kind of route-table entry.
    """

    articles: list[DemoArticle]
    seed: int
    padding_kb: int | tuple[int, int]
    _index: dict[str, dict[str, list[int]]]

    def _shell(self, title: str, body: str, *, head: str = "",
               description: str = SITE_DESCRIPTION, pad: tuple[str, str, str] = ("", "", ""),
               footer_extra: str = "", body_class: str = "") -> str:
        """The page chrome every HTML page shares; ``pad`` slots take benchmark filler."""
        nav = "".join(f'<li><a href="/{s}/">{s.title()}</a></li>' for s in SECTIONS)
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{text(title)}</title>\n"
            f'<meta name="description" content="{attr(description)}">\n{head}{_HEAD_LINKS}'
            f'</head>\n<body class="{body_class}">\n{pad[0]}<header class="site-header">\n'
            '<a class="skip-link" href="#main">Skip to content</a>\n<a class="logo" href="/">'
            f'<img src="/static/img/logo.png" alt="{SITE_NAME}" width="160" height="32"></a>\n'
            '<nav class="main-nav" aria-label="Sections"><ul><li><a href="/">Home</a></li>'
            f'{nav}</ul></nav>\n{pad[1]}</header>\n<main id="main">\n{body}</main>\n{pad[2]}'
            f'<footer class="site-footer">\n{_FOOTER_NAV}{footer_extra}<p class="copyright">'
            f"\u00a9 2026 {SITE_NAME}. A synthetic site; no event described here is real.</p>\n"
            "</footer>\n</body>\n</html>\n")

    def _teaser(self, a: DemoArticle) -> str:
        return (f'<li class="teaser"><h3><a href="{attr(a.path)}">{text(a.headline)}</a></h3>\n'
                f'<p>{text(a.description)}</p>\n<p class="meta"><a href="/{a.section}/">'
                f'{a.section.title()}</a> \u00b7 <time datetime="{a.published}">'
                f"{human_date(a.published)}</time></p></li>\n")

    def _render_home(self, base: str, _arg: object) -> DemoPage:
        """Front page: latest stories, sections, topics, and the deliberately awkward links."""
        latest = "".join(self._teaser(a) for a in self.articles[:20])
        sections = "".join(f'<li><a href="/{s}/">{s.title()}</a></li>' for s in SECTIONS)
        tag_index = self._index["tag"]
        tags = sorted(tag_index, key=lambda t: (-len(tag_index[t]), t))[:8]
        topics = "".join(f'<li><a href="/tag/{t}/">{t}</a></li>' for t in tags)
        links = [*BROKEN_LINKS, ("/private/secret-page", "Staff only: internal notes")]
        if self.articles:
            middle = len(self.articles) // 2
            links.insert(0, (f"/old/story-{1000 + middle}.html", self.articles[middle].headline))
        archive = "".join(f'<li><a href="{attr(h)}">{text(label)}</a></li>' for h, label in links)
        special = "".join(f'<li><a href="{h}">{label}</a></li>' for h, label in _SPECIAL_LINKS)
        body = (f'<section class="latest"><h1>Latest news</h1>\n<ol class="story-list">\n{latest}'
                f'</ol></section>\n<section class="sections"><h2>Sections</h2><ul>{sections}</ul>'
                f'</section>\n<section class="topics"><h2>Topics</h2><ul>{topics}</ul></section>\n'
                f'<section class="from-archive"><h2>From the archive</h2><ul>{archive}</ul>'
                "</section>\n")
        footer = (f'<nav class="capture-tests" aria-label="Capture tests"><h2>Capture tests</h2>'
                  f"<ul>{special}</ul></nav>\n")
        page = self._shell(f"{SITE_NAME} \u2013 Latest news", body, footer_extra=footer,
                           head=f'<link rel="canonical" href="{attr(base)}/">\n', body_class="home")
        return make_page(page, HTML)

    def _render_listing(self, base: str, arg: tuple[str, str, int]) -> DemoPage:
        """Section, tag and author pages, PER_PAGE stories each, newest first."""
        kind, key, page = arg
        items, prefix = self._index[kind][key], listing_prefix(kind, key)
        pages = page_count(len(items))
        title = {"section": key.title(), "tag": f"Topic: {key}"}.get(kind)
        title = title or f"Stories by {self._author_name(key)}"
        chunk = items[(page - 1) * PER_PAGE:page * PER_PAGE]
        teasers = "".join(self._teaser(self.articles[i]) for i in chunk) or "<li>No stories.</li>"
        nav = [f"<span>Page {page} of {pages}</span>"]
        if page > 1:
            nav.insert(0, f'<a rel="prev" href="{page_path(prefix, page - 1)}">Newer stories</a>')
        if page < pages:
            nav.append(f'<a rel="next" href="{page_path(prefix, page + 1)}">Older stories</a>')
        body = (f'<h1>{text(title)}</h1>\n<ol class="story-list">\n{teasers}</ol>\n'
                f'<nav class="pagination">{" ".join(nav)}</nav>\n')
        head = f'<link rel="canonical" href="{attr(base + page_path(prefix, page))}">\n'
        page_html = self._shell(f"{title} \u2013 {SITE_NAME}", body, head=head, body_class=kind)
        return make_page(page_html, HTML)

    def _author_name(self, slug: str) -> str:
        names = (n for i in self._index["author"].get(slug, ()) for n in self.articles[i].authors)
        return next((n for n in names if slugify(n) == slug), slug)

    def _render_info(self, base: str, key: str) -> DemoPage:
        title, paragraph = _INFO[key]
        body = f"<h1>{title}</h1>\n<p>{text(paragraph)}</p>\n"
        return make_page(self._shell(f"{title} \u2013 {SITE_NAME}", body), HTML)

    def _render_article(self, base: str, i: int) -> DemoPage:
        """Render once with markers where padding goes, then size the padding to the target."""
        page = self._article_html(base, i, _PAD_MARKS)
        need = self._target_size(i) - len(page.encode("utf-8")) + sum(map(len, _PAD_MARKS))
        fillers = self._padding(i, need) if need > 0 else ("", "", "")
        for mark, filler in zip(_PAD_MARKS, fillers, strict=True):
            page = page.replace(mark, filler, 1)
        last_modified = http_date(self.articles[i].modified)
        return make_page(page, HTML, extra=(("Last-Modified", last_modified),))

    def _article_head(self, base: str, a: DemoArticle) -> str:
        """Canonical link, OpenGraph/article meta and JSON-LD, as metadata extractors expect."""
        url, image = base + a.path, f"{base}/static/img/{a.image}-2x.png"
        meta = [("og:site_name", SITE_NAME), ("og:title", a.headline), ("og:type", "article"),
                ("og:url", url), ("og:description", a.description), ("og:image", image),
                ("og:locale", "en_GB"), ("article:published_time", a.published),
                ("article:modified_time", a.modified), ("article:section", a.section.title()),
                *(("article:author", n) for n in a.authors), *(("article:tag", t) for t in a.tags)]
        authors = [{"@type": "Person", "name": n, "url": f"{base}/author/{slugify(n)}/"}
                   for n in a.authors]
        publisher = {"@type": "Organization", "name": SITE_NAME,
                     "logo": {"@type": "ImageObject", "url": f"{base}/static/img/logo.png"}}
        ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": a.headline,
              "description": a.description, "datePublished": a.published,
              "dateModified": a.modified, "articleSection": a.section.title(),
              "inLanguage": a.language, "keywords": a.tags, "image": [image], "author": authors,
              "publisher": publisher, "mainEntityOfPage": {"@type": "WebPage", "@id": url}}
        script = json.dumps(ld, ensure_ascii=False, indent=1).replace("</", "<\\/")
        return (f'<link rel="canonical" href="{attr(url)}">\n'
                f'<meta name="author" content="{attr(", ".join(a.authors))}">\n'
                + "".join(f'<meta property="{k}" content="{attr(v)}">\n' for k, v in meta)
                + f'<script type="application/ld+json">\n{script}\n</script>\n')

    def _article_html(self, base: str, i: int, pad: tuple[str, str, str] = ("", "", "")) -> str:
        """The story, wrapped in everything an extractor must drop (share, related, comments)."""
        a = self.articles[i]
        byline = " and ".join(f'<a rel="author" href="/author/{slugify(n)}/">{text(n)}</a>'
                              for n in a.authors)
        updated = "" if a.modified == a.published else (
            f' \u00b7 Updated <time datetime="{a.modified}" class="modified">'
            f"{human_date(a.modified)}</time>")
        tags = "".join(f'<li><a href="/tag/{t}/" rel="tag">{t}</a></li>' for t in a.tags)
        shares = "".join(f'<button type="button" data-share="{s.split()[0].lower()}">{s}</button> '
                         for s in _SHARES)
        img = f"/static/img/{a.image}"
        body = (
            '<article class="story" id="story">\n<header class="story-header">\n'
            f'<p class="kicker"><a href="/{a.section}/">{a.section.title()}</a></p>\n'
            f'<h1 class="headline">{text(a.headline)}</h1>\n<p class="byline">By {byline}</p>\n'
            f'<p class="dateline">Published <time datetime="{a.published}" class="published">'
            f"{human_date(a.published)}</time>{updated}</p>\n</header>\n"
            f'<figure class="lead-image">\n<img src="{img}.png" srcset="{img}.png 640w, '
            f'{img}-2x.png 1280w" sizes="(max-width: 700px) 100vw, 700px" width="640" '
            f'height="360" alt="{attr(a.caption)}">\n<figcaption>{text(a.caption)} '
            f'<span class="credit">Photograph: {text(a.authors[0])}/{SITE_NAME}</span>'
            "</figcaption>\n</figure>\n"
            f'<div class="story-body">\n{body_html(a)}</div>\n<ul class="story-tags">{tags}</ul>\n'
            '<div class="share-buttons" role="group" aria-label="Share this article">'
            f"<span>Share this article</span> {shares}</div>\n</article>\n"
            f"{self._related(i)}{_NEWSLETTER}{self._comments(i)}")
        return self._shell(f"{a.headline} | {SITE_NAME}", body, head=self._article_head(base, a),
                           description=a.description, pad=pad,
                           body_class=f"article-page section-{a.section}")

    def _related(self, i: int) -> str:
        """Four nearest stories from the same section, topped up from others on thin sites."""
        same = self._index["section"][self.articles[i].section]  # ascending positions
        pos = bisect.bisect_left(same, i)
        nearest = (j for j in same[max(0, pos - 4):pos + 5] if j != i)
        picks = sorted(nearest, key=lambda j: (abs(j - i), j))[:4]
        if len(picks) < 4:
            around = range(max(0, i - 8), min(len(self.articles), i + 9))
            extra = sorted((j for j in around if j != i and j not in picks),
                           key=lambda j: (abs(j - i), j))
            picks += extra[:4 - len(picks)]
        items = "".join(f'<li><a href="{attr(self.articles[j].path)}">'
                        f"{text(self.articles[j].headline)}</a></li>\n" for j in picks)
        if not items:
            return ""
        return f'<section class="related"><h2>Related articles</h2>\n<ul>\n{items}</ul></section>\n'

    def _comments(self, i: int) -> str:
        rng = random.Random(f"{self.seed}:comments:{i}")
        when = dt.datetime.fromisoformat(self.articles[i].published)
        items = []
        for handle, comment in zip(rng.sample(_HANDLES, 2), rng.sample(_COMMENTS, 2), strict=True):
            when += dt.timedelta(minutes=rng.randrange(20, 600))
            items.append(f'<li class="comment"><p class="comment-author">{text(handle)}</p>\n'
                         f'<p class="comment-date"><time datetime="{when.isoformat()}">'
                         f"{human_date(when.isoformat())}</time></p>\n"
                         f'<p class="comment-text">{text(comment)}</p></li>\n')
        return (f'<section class="comments" id="comments"><h2>2 comments</h2>\n<ol>\n'
                f'{"".join(items)}</ol></section>\n')

    def _target_size(self, i: int) -> int:
        """Per-page size goal; a range picks a deterministic size per article, off the edges."""
        if isinstance(self.padding_kb, tuple):
            lo, hi = self.padding_kb[0] * 1024, self.padding_kb[1] * 1024
            span = hi - lo
            offset = random.Random(f"{self.seed}:size:{i}").randrange(max(1, span * 8 // 10))
            return lo + span // 10 + offset
        return self.padding_kb * 1024

    @functools.cached_property
    def _pad_links(self) -> list[str]:
        """Escaped once per site: padding picks hundreds of these for every page."""
        links = [f'<li><a href="{attr(a.path)}">{text(a.headline)}</a> '
                 f"<span>{a.section.title()}</span></li>\n" for a in self.articles]
        return links or [f'<li><a href="/{s}/">{s.title()}</a></li>\n' for s in SECTIONS]

    def _padding(self, i: int, need: int) -> tuple[str, str, str]:
        """Boilerplate only (icon sprite, mega-menu, hidden lists), never article text."""
        rng, links = random.Random(f"{self.seed}:pad:{i}"), self._pad_links

        def link(_k: int) -> str:
            return rng.choice(links)

        budget = need - sum(len(wrapper) - 2 for wrapper in _PAD_WRAPPERS)
        icons = _fill(budget // 4, lambda k: _svg_symbol(rng, k))
        menu = _fill(budget * 2 // 5, link)
        more = _fill(budget - len(icons) - len(menu), link)
        sprite, mega, hidden = (w.replace("{}", part)
                                for w, part in zip(_PAD_WRAPPERS, (icons, menu, more), strict=True))
        return sprite, mega, hidden


def body_html(a: DemoArticle) -> str:
    """The article body as the site (and its feeds) publish it: one <p> per paragraph."""
    return "".join(f"<p>{text(p)}</p>\n" for p in a.paragraphs)
