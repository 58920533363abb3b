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
and body, the same path and query on another scheme or host (a slash at the path's end
and the spelling of its escapes aside, as a site moved to https often changes them on the
way), or the same body under another headline. That last is the commonest move of all: an
editor retitles a story, the CMS gives it a new slug and answers 301 at the old one
(WordPress's old-slug redirect), often with the body edited a little on the way. So the
body counts as the same where it is, as normalised above, or where the old body's opening
(its first ``LEAD`` characters) opens the new one or follows one paragraph added above it,
and the shorter has at least two thirds of the longer's words: an update paragraph added,
a typo fixed further on. Sites also send a deleted story's URL to another story, or to the
front of its section, which can read as an article: that page, which shares neither
headline nor body, is an article of its own, and the old one ends with its last capture.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from archive.article_versions import Version, lead_digest, normalised, story_digests, text_digest
from archive.errors import StoreError
from archive.index.records import read_record
from archive.store import CollectionDir
from archive.urls import canonical_or_none, join_url, same_escapes

log = logging.getLogger(__name__)

_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_HOPS = 20  # (more than any crawl follows: a loop in the map ends here)

Latest = Callable[[str], "Version | None"]  # the version last recorded under a URL


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
    domain), where a story edited on the day it moved is still the one story; or the same
    body under another headline (:func:`_same_body`), a story retitled and given a new slug."""
    if text_digest(row) == before.text:
        return True
    if _place(before.row["url"]) == _place(row["url"]):
        return True
    old, new = _headline(before.row.get("headline")), _headline(row.get("headline"))
    if old is not None and old == new:
        return True
    return _same_body(before, row)


def _same_body(before: Version, row: dict[str, Any]) -> bool:
    """Whether ``row``'s body is ``before``'s, edited a little if at all: the same,
    :func:`~archive.article_versions.normalised`; or the same opening, at its start or
    below one paragraph added above it (an update's note), where the shorter body has at
    least two thirds of the longer's words. A section's front that opens with a story's
    teaser, or a story on another subject, shares neither."""
    body, lead = story_digests(row)
    if body is None:
        return False
    if body == before.body_digest:
        return True
    old_words, new_words = before.row.get("word_count") or 0, row.get("word_count") or 0
    if before.lead_digest is None or 3 * min(old_words, new_words) < 2 * max(old_words, new_words):
        return False
    if lead == before.lead_digest:
        return True
    below = (row.get("body") or "").split("\n\n", 1)  # (paragraphs are parted by a blank line)
    return len(below) == 2 and lead_digest(normalised(below[1])) == before.lead_digest


def _place(url: str) -> tuple[str, str]:
    """The path and query of ``url`` as a move to another scheme or host keeps them, whatever
    the site's new front end makes of a slash at the path's end ("/2026/story" to
    "https://.../2026/story/") or of the case of its escapes ("caf%c3%a9", "caf%C3%A9")."""
    parts = urlsplit(same_escapes(url))
    return parts.path.rstrip("/"), parts.query


def _headline(text: str | None) -> str | None:
    if not text:
        return None
    return normalised(text) or None
