"""Articles that moved: a page reached by a redirect from a URL that had an article
continues that article, under its ``article_id``.

An article is known by its canonical URL (``article_id`` is its SHA-1). A site that moves
a story (``/news/a.html`` answering 301 to ``/news/2026/a.html``, http to https, a new
domain) gives it a new canonical URL: read alone, the page there is a new article, and
the old one ends with its last capture, as if it had never moved. So a job's article at
a URL no article has had yet continues the one at the URL it was redirected from (a
redirect this job captured, followed or not, one hop or several), and later captures of
it, at its new URL or a view whose canonical URL that is, continue it too: the versions
file knows the article by the URL of its latest version.

A redirect is a move only where the page it leads to is the same story: the same headline
(case, spacing, Unicode forms and typographic quotes and dashes aside), the same headline
and body, or the same path and query on another scheme or host (a slash at the path's end
and the spelling of its escapes aside, as a site moved to https often changes them on the
way). Sites also send a deleted story's URL to another story, or to the front of its
section, which can read as an article: that page is an article of its own, and the old one
ends with its last capture.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from archive.article_versions import Version, text_digest
from archive.errors import StoreError
from archive.index.records import read_record
from archive.store import CollectionDir
from archive.urls import canonical_or_none, join_url, same_escapes

log = logging.getLogger(__name__)

_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_HOPS = 20  # (more than any crawl follows: a loop in the map ends here)

Latest = Callable[[str], "Version | None"]  # the version last recorded under a URL

# (what a CMS moving a story retypesets: curly quotes and dashes back to plain ones)
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                             "\u2013": "-", "\u2014": "-", "\u2212": "-"})


def redirects(coll: CollectionDir, lines: Iterable[dict[str, Any]], latest: Latest,
              lost_warcs: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    """Where a job's pages were redirected from, by the URL redirected to, from its capture
    log's ``lines``: a redirect the crawl followed (the ``via`` of a capture it reached), and
    a redirect of a URL that had an article (the ``Location`` of its 3xx, which is not
    followed where the page it names was fetched from a link already). ``latest``: the
    version last recorded under a URL, as before the job; ``lost_warcs``: WARCs stated lost,
    by name, whose records cannot be read."""
    found: dict[str, str] = {}
    for line in lines:
        url = line["url"]
        if line.get("channel") == "redirect" and line.get("via"):
            found.setdefault(url, line["via"])
        warc = line.get("warc")
        if line.get("status") not in _REDIRECTS or not warc or warc["filename"] in lost_warcs or latest(url) is None:
            continue
        try:
            record = read_record(coll, warc["filename"], warc["offset"], warc["length"])
        except StoreError as exc:
            log.warning("the redirect of %s cannot be read: %s", url, exc)
            continue
        location = record.header("Location")
        target = canonical_or_none(join_url(url, location.strip())) if location else None
        if target is not None and target != url:
            found.setdefault(target, url)
    return found


def continue_moved(row: dict[str, Any], known: Callable[[str], bool], latest: Latest,
                   moved_from: dict[str, str]) -> None:
    """Give ``row`` (a page's article, not yet a version) the ``article_id`` of the article
    it continues, where its own names none known (``known``: whether an article id is):
    that of the article whose latest version is at the row's canonical URL (one that moved
    there, captured again), else that of the article last at a URL the page was redirected
    from (``moved_from``, from :func:`redirects`), the nearest, if the page is its story
    (:func:`same_story`)."""
    if known(row["article_id"]):
        return
    there = latest(row["canonical_url"])
    if there is not None and there.row["canonical_url"] == row["canonical_url"]:
        row["article_id"] = there.row["article_id"]
        return
    url, hops = row["url"], 0
    while url in moved_from and hops < _HOPS:
        url, hops = moved_from[url], hops + 1
        before = latest(url)
        if before is not None:
            if same_story(before, row):
                row["article_id"] = before.row["article_id"]
            return


def same_story(before: Version, row: dict[str, Any]) -> bool:
    """Whether ``row``, the page a redirect led to, is the story ``before`` is the latest
    version of: the same headline, or where either has none, the same text; or whatever
    either says, the same path and query on another scheme or host (http to https, a new
    domain), where a story edited on the day it moved is still the one story."""
    if text_digest(row) == before.text:
        return True
    if _place(before.row["url"]) == _place(row["url"]):
        return True
    old, new = _headline(before.row.get("headline")), _headline(row.get("headline"))
    return old is not None and old == new


def _place(url: str) -> tuple[str, str]:
    """The path and query of ``url`` as a move to another scheme or host keeps them, whatever
    the site's new front end makes of a slash at the path's end ("/2026/story" to
    "https://.../2026/story/") or of the case of its escapes ("caf%c3%a9", "caf%C3%A9")."""
    parts = urlsplit(same_escapes(url))
    return parts.path.rstrip("/"), parts.query


def _headline(text: str | None) -> str | None:
    if not text:
        return None
    return " ".join(unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY).casefold().split()) or None
