"""Article metadata from what publishers declare: JSON-LD, OpenGraph, meta tags.

Structured data first (it is what the publisher says about the page), then OpenGraph and
plain meta tags, then the page's own markup (``<h1>``, ``rel=author``, ``<time>``).
:func:`inferred_metadata` is the extractor's guess, for what a page leaves undeclared; an
article row names the fields that came from it.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from htmldate import find_date
from lxml import etree
from lxml import html as lxml_html
from trafilatura import extract_metadata

log = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "OpinionNewsArticle",
    "BackgroundNewsArticle", "ReviewNewsArticle", "AskPublicNewsArticle", "BlogPosting", "LiveBlogPosting",
    "Report", "ScholarlyArticle", "TechArticle", "SatiricalArticle",
}


def _ld_objects(tree: Any) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, ``@graph`` members flattened."""
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            # (strict=False: a raw newline or tab inside a string, as many CMSs write an
            # articleBody, is taken as browsers and search engines take it)
            data = json.loads(script.text_content().strip() or "null", strict=False)
        except (ValueError, RecursionError):  # (nested deeper than the parser goes)
            log.debug("unreadable JSON-LD block skipped")
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                found.append(item)
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)
    return found


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    if isinstance(value, str):
        return {value}
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


# What bylines and author links say before the name: "By", "View all posts by", "Von",
# "Zum Profil von", "Beitrag von", "Autor", "Par", "Por".
_BY = re.compile(r"^\s*(?:(?:view|see|show)\s+all\s+(?:posts|articles|stories)\s+(?:by|of|from)|"
                 r"(?:posts|articles|stories)\s+by|(?:written|posted|published)\s+by|by|von|zum\s+profil\s+von|"
                 r"(?:zeige\s+)?alle\s+(?:beitr\u00e4ge|artikel)\s+von|(?:ein\s+)?(?:beitrag|artikel)\s+von|"
                 r"autor(?:in)?:?|auteur|author:?|por|par)\s+", re.IGNORECASE)


# A name written surname first, "Doe, Jane" (a word each side of the one comma): one person,
# where "Jane Doe, John Roe" is two, and so are two newsrooms, "Reuters, AP".
_SURNAME_FIRST = re.compile(r"\s*[^\W\d_][\w'’.-]*\s*,\s*[^\W\d_][\w'’.-]*\s*")


def _names(value: Any, ids: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The people ``value`` (an author) names; ``ids``: the page's JSON-LD objects by
    ``@id``, for an author given as a reference to one (``{"@id": "#/person/1"}``, as
    Yoast's ``@graph`` writes it)."""
    if value is None:
        return []
    if isinstance(value, dict) and ids and "name" not in value and isinstance(value.get("@id"), str):
        value = ids.get(value["@id"], value)
    if isinstance(value, str):
        if value.startswith(("http://", "https://")):
            return []  # article:author is often a profile URL, not a name
        value = _BY.sub("", value)
        named = _without_post(value)
        if _SURNAME_FIRST.fullmatch(named) and not any(
                word.strip().isupper() or word.strip().casefold() in _AGENCIES for word in named.split(",")):
            return [" ".join(named.split())]  # one person, "Doe, Jane", as a library's catalogue writes names
        parts = [part.strip() for part in re.split(r",|;| and | & ", value) if part.strip()]
        # (what follows a name may be the person's post, "Jane Doe, Political Correspondent": no second author)
        parts = parts[:1] + [part for part in parts[1:] if not _ROLE.search(part)]
        # (a company or a society by its legal form, and its address after it, is no author)
        return [] if any(_LEGAL_FORM.search(part) for part in parts) else parts
    if isinstance(value, dict):
        if "Organization" in _types(value) and value.get("@type") != "Person":
            return []  # a publisher named as author says nothing about who wrote it
        name = value.get("name")
        # (as the byline reads, "By Ivy Lamp", in some CMSs' markup)
        name = _BY.sub("", name).strip() if isinstance(name, str) else ""
        return [name] if name else []
    if isinstance(value, list):
        return [n for v in value for n in _names(v, ids)]
    return []


def _without_post(name: str) -> str:
    """``name`` without the post a byline gives after it, "Jane Doe, Political
    Correspondent" or "Jane Doe, Staff Writer" (a person's name, as the same person's
    bylines elsewhere give it), as a string author loses it (:func:`_names`): a JSON-LD
    person so named, or a ``rel=author`` link so written, kept it."""
    parts = name.split(",")
    # (at the first part after the name that is a post: "Doe, Jane, Political Correspondent"
    # is Doe, Jane, and a name written surname first, "Doe, Jane", is kept whole)
    at = next((i for i, part in enumerate(parts) if i and part.strip() and (_ROLE.search(part) or _staff(part.strip()))),
              len(parts))
    kept = ",".join(parts[:at]).strip()
    return kept if kept else name


# What sites put between a page's title and their own name: "Story | Site", "Site - Story".
_SEPARATOR = r"\s+(?:[|\-\u2013\u2014\u203a\u00bb\u00b7\u2022]|::)\s+"


def _headline(title: str | None, h1: str | None, site: str | None, host: str | None = None) -> str | None:
    """The headline in a page's ``og:title``, without the site's name that many put before
    or after it (``site``: the name the page declares; else a part of the title that is the
    page's ``host`` or a name in it: "Story | Popkultur.de", "Story - LA Weekly" on
    laweekly.com, and what follows it); failing those, the ``<h1>`` where the title begins
    with it and goes on, past a separator, with something shorter. Else the first of them
    there is."""
    if not title:
        return h1
    title = " ".join(title.split())
    if site and (site := " ".join(site.split())):
        name = re.escape(site)
        for pattern in (rf"(.+?){_SEPARATOR}{name}", rf"{name}{_SEPARATOR}(.+)"):
            found = re.fullmatch(pattern, title, re.IGNORECASE)
            if found:
                return found.group(1)
    if host:
        story = _without_host(title, host, h1)
        if story:
            return story
    if h1:  # (its spaces made single by _main_h1)
        found = re.match(rf"{re.escape(h1)}{_SEPARATOR}(?=\S)", title, re.IGNORECASE)
        # (what follows is a name, of a few words, shorter than a headline: an <h1> that is
        # the site's own logo, before the story's title, is not taken for it)
        rest = title[found.end():] if found else ""
        if found and len(rest) < len(h1) and len(rest.split()) <= 4:
            return title[:len(h1)]
    return title


def _squashed(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _site_names(host: str | None) -> set[str]:
    """What names the site by its host (:func:`_squashed`): the host, with and without
    ``www.``, and its labels but the last."""
    if not host:
        return set()
    host = host.lower()
    names = {_squashed(host), _squashed(host.removeprefix("www."))}
    names.update(_squashed(label) for label in host.split(".")[:-1] if len(label) > 2 and label != "www")
    names.discard("")
    return names


def _without_host(title: str, host: str, h1: str | None) -> str | None:
    """``title`` without its part that names the site by its host (and what follows that
    part), or None where no part does, or where the page's ``h1`` is the whole title ("Arsenal
    - Chelsea: match report" on arsenal.com). Parts are split at the separators of
    ``_SEPARATOR`` and at a bare ``|``."""
    if h1 and " ".join(h1.casefold().split()) == " ".join(title.casefold().split()):
        return None
    names = _site_names(host)
    pieces = re.split(rf"({_SEPARATOR}|\s*\|\s*)", title)  # (parts at even places, separators between)
    parts = pieces[0::2]
    if len(parts) < 2:
        return None
    for i in range(1, len(parts)):
        if _squashed(parts[i]) in names:
            return "".join(pieces[:2 * i - 1]) or None
    if _squashed(parts[0]) in names:
        return "".join(pieces[2:]) or None
    return None


def _within(h1: str, title: str) -> bool:
    """Whether the page's ``<h1>`` is the headline within a longer declared title, the rest
    of which is a kicker, a site's name, a date or a tagline ("Chronik: Lotte Tobisch ist
    tot", "So viel Regen gab es lange nicht : 31.10.2023, 10.19 Uhr"): a headline of three
    words or more, not much shorter than the title (a section's name, "Politik", is not)."""
    h1, title = " ".join(h1.casefold().split()), " ".join(title.casefold().split())
    return (h1 != title and h1 in title and len(h1.split()) >= 3 and len(h1) >= 15
            and len(h1) >= 0.3 * len(title))


# Typographic quotation marks and dashes, and what a title typed on a keyboard has for them.
_PLAIN = str.maketrans(dict.fromkeys("\"\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\u2018\u2019\u201a\u201b", "'")
                       | dict.fromkeys("\u2013\u2014\u2012\u2212", "-"))


def _retyped(h1: str, title: str) -> bool:
    """Whether the page's ``<h1>`` is the declared title with other quotation marks or
    dashes ("„Welches Europa wir wollen“" for '"Welches Europa wir wollen"'): the headline as
    the page shows it."""
    def plain(text: str) -> str:
        return " ".join(text.casefold().translate(_PLAIN).replace("'", " ").split())

    return h1 != title and plain(h1) == plain(title)


def _main_h1(tree: Any) -> str | None:
    """The text of the page's main ``<h1>``: an article's, else one outside the header and
    navigation (where sites put their logo as an ``<h1>``), else the first."""
    for path in ("//article//h1", "//h1[not(ancestor::header)][not(ancestor::nav)]", "//h1"):
        for element in tree.xpath(path):
            text = " ".join(element.text_content().split())
            if text:
                return text
    return None


# Lower-case words that names hold between others: "Ursula von der Leyen", "Rocío de la Cruz".
_PARTICLES = {"von", "vom", "van", "der", "den", "de", "del", "della", "di", "da", "do", "du", "des", "la", "le", "los",
              "las", "y", "e", "zu", "zur", "ten", "ter", "bin", "bint", "ibn", "al", "el", "dos", "das"}


# The legal form that ends a company's or a society's name: "Weininstitut GmbH", "Bund der
# Energieverbraucher e.V.", "Example Inc."; after a name, so that initials ("KG") are not one.
_LEGAL_FORM = re.compile(r"\S\s+(?:(?i:g?gmbh|mbh|inc|ltd|llc|corp)|AG|KG|SE|S\.A|S\.L)\b\.?|\S\s+(?i:e\.\s?v\.)")

# A journalist's post, as a byline gives it after the name: "Political Correspondent",
# "Chefredakteurin", "correspondant à Berlin".
_ROLE = re.compile(r"(?i:correspondents?|reporters?|editors?|columnists?|journalists?|contributors?|photographers?|"
                   r"analysts?|(?:chef)?redakteur(?:in|e|innen)?|korrespondent(?:in|en|innen)?|journaliste|"
                   r"correspondant(?:e)?|r\u00e9dact(?:eur|rice)|periodista|corresponsal|redactora?)(?!\w)")

# What content systems and themes put where an author's name goes when there is none.
_NO_ONE = {"admin", "administrator", "wordpressadmin", "super user", "user", "publisher", "name", "author",
           "autor", "auteur", "unknown", "no author", "anonymous", "anonym", "anónimo", "unbenannt", "posted",
           "follow", "webmaster", "editor", "guest"}


# What bylines write for a newsroom's staff rather than a person: "Staff", "Staff Writer",
# "Editorial Staff", "Staff and agencies", "From staff reports", "Staff and news service
# reports". A name of these words alone names no one; one with a word of its own is kept,
# "Jörg Staff" as "Ada Reporter", but where that word names a newsroom (_newsroom).
_STAFF_WORDS = {"staff", "staffer", "staffers", "writer", "writers", "reporter", "reporters", "report", "reports",
                "correspondent", "correspondents", "editorial", "news", "newsroom", "desk", "web", "digital",
                "online", "service", "services", "wire", "wires", "agency", "agencies", "member", "members",
                "from", "our", "the", "and", "&", "with"}
_STAFF = {"staff", "staffer", "staffers", "agencies", "wires", "reports"}

# What ends a newspaper's, a broadcaster's or an agency's name ("Example Times Staff", "LA
# Times Staff Writer", "Associated Press Staff"), and agencies' names that are no such word
# ("Reuters Staff"): before "Staff", never a person's. A name in capitals alone, of a few
# letters ("CNN Staff", "AFP Staff"), is one too.
_PUBLICATION = {"times", "post", "news", "herald", "journal", "tribune", "gazette", "press", "presse", "chronicle",
                "telegraph", "observer", "courier", "express", "daily", "weekly", "magazine", "media", "radio", "tv",
                "television", "network", "broadcasting", "bulletin", "dispatch", "examiner", "inquirer", "sentinel",
                "monitor", "globe", "register", "review", "zeitung", "nachrichten", "agency", "wire", "newswire"}
# A byline's words, and what parts a name from the role after it ("Jane Post, Staff Writer").
_BYLINE_WORD = re.compile(r"[\w&]+")
_PARTED = re.compile(r"[,;|/\u2013\u2014-]")
_AGENCIES = {"reuters", "bloomberg", "xinhua", "kyodo", "yonhap", "anadolu", "interfax", "dpa", "tass", "ansa", "efe"}


def _staff(name: str, site: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``name`` is what a byline gives for a newsroom's staff: words of
    ``_STAFF_WORDS`` alone, one of them ``_STAFF``'s; "the ... staff" ("the Associated
    Press staff", a collective, as an organisation named in JSON-LD is, which is left out);
    or a newsroom's name (:func:`_newsroom`) with such words around it, "Reuters Staff",
    "Times Staff Writer". ``site``: what names the page's site (:func:`_squashed`)."""
    found = list(_BYLINE_WORD.finditer(name))
    words = [m.group() for m in found]
    folded = [w.casefold() for w in words]
    if folded[:1] == ["the"] and folded[-1:] == ["staff"]:
        return True
    if not any(w in _STAFF for w in folded):
        return False
    start, end = 0, len(folded)
    while start < end and folded[start] in _STAFF_WORDS:
        start += 1
    while end > start and folded[end - 1] in _STAFF_WORDS and folded[end - 1] not in _PUBLICATION:
        end -= 1
    if start == end:
        return True
    # ("Tom Staff", "Jane Staff Writer": a person of that surname, or one the newsroom names;
    # "Jane Post, Staff Writer": a person and, after a comma, her role)
    parted = end < len(found) and _PARTED.search(name, found[end - 1].end(), found[end].start()) is not None
    return any(w in _STAFF for w in folded[end:]) and _newsroom(words[start:end], site, name.isupper(), parted)


def _newsroom(words: list[str], site: frozenset[str] | set[str], shouted: bool, parted: bool = False) -> bool:
    """Whether ``words`` name a newsroom: the site's own name, an agency's, a name that ends
    in a word of ``_PUBLICATION``, or a few capitals ("AP", "NYT") in a byline that is not
    all in capitals (``shouted``, where "TOM" is a name). ``parted``: the words that say
    staff come after a comma, a bar or a dash, as a person's role does ("Jane Post, Staff
    Writer", "Max Daily | Staff"): only the site's or an agency's name is a newsroom then."""
    if _squashed(" ".join(words)) in site:
        return True
    if words[-1].casefold() in _PUBLICATION and not parted:
        return True
    if len(words) != 1:
        return False
    return words[0].casefold() in _AGENCIES or (not shouted and not parted and words[0].isupper()
                                                and 2 <= len(words[0]) <= 5)


def _people(names: Iterable[str], site: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """``names`` without those that name no one ("admin", "Unknown", "Staff Writer",
    "Reuters Staff") or a company or society ("Example GmbH"), and without repeats (a byline
    shown twice on the page). ``site``: what names the page's site (:func:`_squashed`)."""
    # (a person's name, less the post after it a byline may give, "Jane Doe, Staff Writer")
    people = (_without_post(n) for n in names if n and not _staff(n, site))
    return list(dict.fromkeys(n for n in people if n.casefold() not in _NO_ONE and not _LEGAL_FORM.search(n)
                              and not _staff(n, site)))


def _a_name(text: str) -> bool:
    """Whether a link's text could be a person's name: one to four words with a letter in
    them, not a phrase ("View my complete profile", "Archiv anzeigen", "Hace 13 horas": a
    word that is a number, or of several words one in lower case that is no particle of a
    name nor a handle), a particle alone or an arrow. One word is taken as it is: a user
    name ("jesusfreak", "r23"); so is a handle among several ("revamp-it Webteam")."""
    words = text.split()
    if not 1 <= len(words) <= 4 or not any(c.isalpha() for c in text) or any(w.isdigit() for w in words):
        return False
    if _BY.fullmatch(text + " "):
        return False  # what comes before a name, without one ("SHOW ALL ARTICLES OF")
    if len(words) == 1:
        return text.lower() not in _PARTICLES
    return all(w[0].isupper() or not w[0].isalpha() or w in _PARTICLES or any(c in w for c in ".-_@")
               or w[1:2] in ("'", "\u2019") for w in words)  # (d'Alembert)


def _image_url(value: Any) -> str | None:
    """The URL of a JSON-LD ``image``: a URL, an ImageObject, or a list of either (the first)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return _first_text(value)


def _first_text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value.strip() if isinstance(value, str) and value.strip() else None


# A character reference written whole, ending in ";" (not HTML's legacy ones without it,
# which would read "&section=" in a URL as "§ion=").
_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def _first_prose(value: Any) -> str | None:
    """A JSON-LD value's text (the first of a list) as a reader sees it: the character
    references many CMSs leave in it read (``&amp;``, ``&#8217;``), its white space runs
    made one space. (Not for URLs: they are taken as written.)"""
    text = _first_text(value)
    if text is None:
        return None
    if "&" in text:
        text = _REFERENCE.sub(lambda m: html.unescape(m.group()), text)
    return " ".join(text.split()) or None


def iso_datetime(value: Any) -> str | None:
    """ISO 8601 with its offset. A time given without a zone keeps only its date: inventing an
    offset would make a claim the page did not make."""
    text = _first_text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:  # (as HTTP and feeds write them: "Wed, 04 May 2022 00:25:56 GMT")
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if len(text) == 10 or parsed.tzinfo is None:
        return parsed.date().isoformat()
    return parsed.isoformat()


def _best_date(*candidates: Any) -> str | None:
    """The first candidate with a time zone, else the first date at all."""
    parsed = [d for d in (iso_datetime(c) for c in candidates) if d]
    return next((d for d in parsed if "T" in d), parsed[0] if parsed else None)


def _newsroom_names(host: str | None, meta: dict[str, str], article: dict[str, Any] | None) -> set[str]:
    """What names the site a page is on (:func:`_squashed`): its host's names, the name it
    declares, and its article's publisher's."""
    names = _site_names(host)
    publisher = article.get("publisher") if article is not None else None
    for name in (meta.get("og:site_name"), meta.get("application-name"),
                 publisher.get("name") if isinstance(publisher, dict) else None):
        if isinstance(name, str) and _squashed(name):
            names.add(_squashed(name))
    return names


def page_metadata(tree: Any, url: str | None = None) -> dict[str, Any]:
    """What the page declares about itself; keys absent when not declared. ``url``: where the
    page was captured (its host is a name a title may give the site)."""
    meta: dict[str, str] = {}
    for el in tree.xpath("//meta[@content]"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        if key and key not in meta:
            meta[key] = el.get("content").strip()
    objects = _ld_objects(tree)
    host = urlsplit(url).hostname if url else None
    h1 = _main_h1(tree)
    article = next((o for o in objects if _types(o) & ARTICLE_TYPES), None)
    newsroom = _newsroom_names(host, meta, article)
    out: dict[str, Any] = {"is_article": article is not None or meta.get("og:type", "").lower() == "article"}
    if article is not None:
        # (an author the publisher names, even one dropped below as an organisation, is not guessed at)
        out["declares_author"] = bool(article.get("author"))
        headline = _first_prose(article.get("headline")) or _first_prose(article.get("name"))
        out["headline"] = headline and host and _without_host(headline, host, h1) or headline
        # (the object that names the person, not a bare reference to it elsewhere in the graph)
        ids = {o["@id"]: o for o in sorted(objects, key=lambda o: "name" in o) if isinstance(o.get("@id"), str)}
        out["authors"] = _people(_names(article.get("author"), ids), newsroom)
        out["published"] = _best_date(article.get("datePublished"), meta.get("article:published_time"))
        out["modified"] = _best_date(article.get("dateModified"), meta.get("article:modified_time"))
        out["section"] = _first_prose(article.get("articleSection"))
        out["description"] = _first_prose(article.get("description"))
        out["language"] = _first_text(article.get("inLanguage"))
        out["image"] = _image_url(article.get("image"))
    canonical = tree.xpath('//link[@rel="canonical"]/@href')
    times = tree.xpath("//article//time/@datetime | //time[@itemprop='datePublished']/@datetime")
    fallbacks = {
        "headline": _headline(meta.get("og:title"), h1, meta.get("og:site_name") or meta.get("application-name"),
                              host),
        # (each source without its placeholders, "admin" and the like: one that names only
        # those gives way to the next)
        "authors": _people(_names(meta.get("author")), newsroom)
        or _people(_names(meta.get("article:author")), newsroom)
        or _people((t for t in (_BY.sub("", " ".join(t.split())) for t in tree.xpath("//*[@rel='author']//text()"))
                    if _a_name(t)), newsroom) or None,
        "published": _best_date(meta.get("article:published_time"), meta.get("datepublished"),
                                meta.get("pubdate"), meta.get("date"), meta.get("dc.date.issued"),
                                meta.get("parsely-pub-date"), meta.get("sailthru.date"), *times[:1]),
        "modified": _best_date(meta.get("article:modified_time"), meta.get("og:updated_time"),
                               meta.get("datemodified"), meta.get("dc.date.modified")),
        "section": meta.get("article:section"),
        "description": meta.get("og:description") or meta.get("description"),
        "language": (tree.xpath("/html/@lang") or [None])[0] or meta.get("content-language"),
        "canonical": canonical[0].strip() if canonical else None,
        "image": meta.get("og:image") or meta.get("og:image:url") or meta.get("og:image:secure_url")
        or meta.get("twitter:image") or meta.get("twitter:image:src"),
    }
    for key, value in fallbacks.items():
        if not out.get(key) and value:
            out[key] = value
    if out.get("authors"):
        out["authors"] = _people(out["authors"], newsroom)
    if out.get("headline"):
        # A title that is only the site's host heads no story: the page's <h1>, if that is
        # not the host too, else none. (Not its declared name, which some pages give as
        # their title.)
        site = _site_names(host)
        if _squashed(out["headline"]) in site:
            out["headline"] = h1 if h1 and _squashed(h1) not in site else None
        elif h1 and (_within(h1, out["headline"]) or _retyped(h1, out["headline"])):
            out["headline"] = h1
    return {k: v for k, v in out.items() if v not in (None, [], "")}


def _latest_day(captured: str) -> str:
    """The latest day a page captured at ``captured`` (ISO 8601, UTC) can show as its date:
    the next, where the day has begun east of UTC (zones run to +14 hours)."""
    return (date.fromisoformat(captured[:10]) + timedelta(days=1)).isoformat()


def inferred_metadata(tree: Any, url: str, captured: str, *, thorough: bool = False,
                      text_if_none: bool = False) -> dict[str, Any]:
    """What trafilatura infers of a page's publication date and authors (keys absent when
    it finds nothing): the date by htmldate, the earliest it finds (publication rather than
    update), no later than the day of the capture (``captured``: its ISO 8601 time) in any
    zone; the authors from a byline. htmldate's quick search reads dates from markup and
    from the URL; ``thorough`` (for a page that says it is an article) adds its search of
    the text, which on a page of teasers finds some teaser's date. ``text_if_none`` (for a
    page that does not say so but is no list of others) searches the text only where the
    quick search found nothing, and takes a date found there only if it names a day other
    than the first of a month, where htmldate puts a month or a year alone (a "© 2016" at
    the page's foot). trafilatura joins several authors with "; "."""
    latest = _latest_day(captured)
    found = extract_metadata(tree, default_url=url, date_config={
        "original_date": True, "extensive_search": thorough, "max_date": latest})
    day = found.date
    if not day and text_if_none and not thorough:
        day = find_date(tree, url=url, original_date=True, extensive_search=True, max_date=latest)
        if day and day[8:10] == "01" and not _shows_first(tree, day):
            day = None
    out: dict[str, Any] = {}
    if day and _todays_date_shown(tree, url, day[:10], captured):
        day = None
    if day:
        out["published"] = iso_datetime(day)
    if found.author:
        out["authors"] = _people((_BY.sub("", part).strip() for part in found.author.split(";")),
                                 _site_names(urlsplit(url).hostname))
    return {k: v for k, v in out.items() if v}


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")


def _shows_first(tree: Any, day: str) -> bool:
    """Whether the page's text writes ``day`` (the first of a month, ISO 8601) with its day:
    01.02.2022, 2022-02-01, 1/2/2022 or 2/1/2022, 2022年2月1日, 1 February 2022, February 1st,
    2022; not a month or a year alone, which htmldate also gives as the first."""
    return any(_written(day).search(text) for text in tree.xpath(f"//body{_TEXT}"))


# The text of an element, scripts and styles aside.
_TEXT = "//text()[not(ancestor::script or ancestor::style)]"


def _written(day: str) -> re.Pattern[str]:
    """``day`` (ISO 8601) as pages write it: 01.02.2022, 2022-02-01, 1/2/2022 or 2/1/2022,
    2022年2月1日, 1 February 2022, February 1st, 2022."""
    year, month, d = day[:4], int(day[5:7]), int(day[8:10])
    name = _MONTHS[month - 1]
    return re.compile(
        rf"(?<![\d.])0?{d}\.\s?0?{month}\.\s?{year}(?!\d)|(?<!\d){year}[-/.]0?{month}[-/.]0?{d}(?!\d)"
        rf"|(?<![\d/])(?:0?{d}/0?{month}|0?{month}/0?{d})/{year}(?!\d)|{year}\s?年\s?0?{month}\s?月\s?0?{d}\s?日"
        rf"|(?<!\d){d}(?:st|nd|rd|th)?\s+{name}\.?,?\s+{year}(?!\d)|\b{name}\.?\s+{d}(?:st|nd|rd|th)?,?\s+{year}(?!\d)",
        re.IGNORECASE)


def _todays_date_shown(tree: Any, url: str, day: str, captured: str) -> bool:
    """Whether ``day``, a day about the capture's (the day before, of, or after it, as
    zones have it), is only the date a site shows in its header or sidebar on every page
    ("Saturday, 28 November 2026"): written outside the page's ``<article>`` and not in it,
    nor in its markup (``<time>``, ``<meta>``) or its URL."""
    near = date.fromisoformat(captured[:10])
    if date.fromisoformat(day) not in {near - timedelta(days=1), near, near + timedelta(days=1)}:
        return False
    articles = tree.xpath("//article")
    if not articles or day in url or day.replace("-", "/") in url:
        return False
    written = _written(day)
    inside = any(written.search(t) for a in articles for t in a.xpath(f".{_TEXT}"))
    marked = any(v.strip().startswith(day) for v in tree.xpath("//time/@datetime | //meta/@content"))
    outside = any(written.search(t) for t in tree.xpath(f"//body{_TEXT}[not(ancestor::article)]"))
    return outside and not inside and not marked


# An XML declaration at the start (XHTML): lxml refuses one in text already decoded.
_XML_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml[^>]*\?>")


def parse_html(text: str) -> Any | None:
    """The tree of an HTML (or XHTML) document, without its comments; None for one with no
    element in it (only a doctype, a comment, or text lxml drops, as a page of PHP source).

    Comments go because trafilatura, given a tree, keeps them, and then loses paragraphs
    that have one inside (React writes ``<!-- -->`` between the text pieces of a
    paragraph): on a real article, eight paragraphs of fifteen."""
    parser = lxml_html.HTMLParser(remove_comments=True)  # (one a call: a parser is not for sharing between threads)
    try:
        return lxml_html.document_fromstring(_XML_DECLARATION.sub("", text, count=1), parser=parser)
    except etree.ParserError:
        return None
