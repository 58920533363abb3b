"""Finding article URLs in feeds (RSS, Atom, JSON Feed) and sitemaps (indexes, Google News).

Untrusted XML: before any parser sees a document, defusedxml refuses entity declarations
and external references, so a feed with an entity-expansion bomb or an external entity
is reported as bad (and the crawl goes on) instead of reading local files or filling
memory. A document whose bytes are not in the encoding it declares is re-encoded as UTF-8
and checked again; one that is not well-formed is read by the lenient readers below once
it is seen to declare no entity (:func:`safe_xml`). feedparser then reads feeds (it copes with the
dialects found in the wild); sitemaps are read with lxml with entity resolution and network
access off.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import logging
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.entities import name2codepoint

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from lxml import etree

log = logging.getLogger(__name__)

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for an uncompressed file
# Feeds have no published limit; real ones are well under a megabyte. Parsing one costs
# about a second a megabyte in the crawl's only thread and many times its size in memory.
MAX_FEED_BYTES = 10 * 1024 * 1024
# Google News sitemaps' namespace, http://www.google.com/schemas/sitemap-news/0.9, also as
# sites write it: https, 0.84 (its first version), no "www.", a trailing slash.
_NEWS_NS = re.compile(r"^https?://(?:www\.)?google\.com/schemas/sitemap-news/[\d.]+/?$", re.IGNORECASE)


class BadDocument(ValueError):
    """A feed or sitemap that cannot be read safely; the message says why."""


class UnsafeDocument(BadDocument):
    """XML that declares entities or references external ones."""


@dataclass(frozen=True)
class FeedItem:
    link: str
    guid: str | None = None
    title: str | None = None
    published: str | None = None  # ISO 8601, UTC, when the feed gave a date
    updated: str | None = None


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: str | None = None
    news_title: str | None = None
    news_publication_date: str | None = None


@dataclass
class Sitemap:
    kind: str  # "index" or "urlset"
    entries: list[SitemapEntry] = field(default_factory=list)


_KINDS = {b"rss": "feed", b"feed": "feed", b"rdf": "feed", b"urlset": "sitemap", b"sitemapindex": "sitemap"}
_ELEMENT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_SPACE = re.compile(rb"\s*")
_SNIFF_BYTES = 4096


def document_kind(body: bytes) -> str | None:
    """"feed" (RSS, Atom, RSS 1.0, JSON Feed) or "sitemap" (URL set or index), gzipped or not, by the
    document's first element, after any BOM, declarations, comments and doctype, whatever
    it was served as; None for anything else. For a response not fetched as either (a feed
    a page links to)."""
    head = body[:_SNIFF_BYTES]
    gzipped = head[:2] == b"\x1f\x8b"
    if gzipped:  # (a sitemap.xml.gz, a feed.xml.gz)
        try:
            head = zlib.decompressobj(31).decompress(head, _SNIFF_BYTES)
        except zlib.error:
            return None
    if is_json_feed(head):
        return "feed"
    at = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while True:
        at = _SPACE.match(head, at).end()  # type: ignore[union-attr]
        if head.startswith(b"<?", at):
            end = head.find(b"?>", at)
            end = end + 2 if end >= 0 else -1
        elif head.startswith(b"<!--", at):
            end = head.find(b"-->", at)
            end = end + 3 if end >= 0 else -1
        elif head[at:at + 9].upper() == b"<!DOCTYPE":
            close = head.find(b">", at)
            subset = head.find(b"[", at, close if close >= 0 else len(head))  # (entities declared: refused later)
            if subset >= 0:
                close = head.find(b"]", subset)
                close = head.find(b">", close) if close >= 0 else -1
            end = close + 1 if close >= 0 else -1
        else:
            break
        if end < 0:
            return None
        at = end
    found = _ELEMENT.match(head, at)
    return None if found is None else _KINDS.get(found.group(1).rpartition(b":")[2].lower())


_HTML_START = re.compile(rb"(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)


def is_html(body: bytes) -> bool:
    """Whether ``body`` begins as an HTML page does (a doctype of HTML, or ``<html>``), after
    any byte order mark, white space, comments and XML declaration (XHTML's)."""
    return _HTML_START.match(body[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf")) is not None


def check_xml_safe(body: bytes) -> None:
    """Raise :class:`BadDocument` if the XML declares entities or references external ones."""
    try:
        defused_fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeDocument(f"unsafe XML refused ({type(exc).__name__})") from None
    except etree.XMLSyntaxError as exc:  # pragma: no cover - defusedxml uses expat
        raise BadDocument(f"not well-formed XML: {exc}") from None
    except Exception as exc:  # expat's ParseError and friends
        if type(exc).__name__ == "ParseError":
            raise BadDocument(f"not well-formed XML: {exc}") from None
        # ("multi-byte encodings are not supported": Shift_JIS, GB2312, UTF-7; LookupError: a
        # codec of no text, "base64")
        if isinstance(exc, ValueError | LookupError):
            raise BadDocument(f"XML in an encoding the checker does not read: {exc}") from None
        raise


_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])([^"']*)\2""")


def _as_declared(body: bytes) -> str | None:
    """``body``'s text in the encoding its XML declaration names, where that is another
    than UTF-8 that Python reads and the bytes are in it (a Shift_JIS or GB2312 feed, which
    the checker's parser cannot read as it is); else None."""
    found = _DECLARED_ENCODING.match(body[:200].decode("latin-1"))
    if found is None:
        return None
    try:
        name = codecs.lookup(found.group(3)).name
    except (LookupError, ValueError):  # (no codec of that name; a NUL in it)
        return None
    if name in ("utf-8", "utf-7") or name.startswith(("utf-16", "utf-32")):
        return None  # (UTF-7 is never taken: it can spell markup no byte of which shows)
    try:
        return body.decode(name)
    except (UnicodeDecodeError, LookupError):  # (LookupError: a codec of no text, "base64", "rot13")
        return None


# An entity declaration, in a document the strict check could not read through.
_ENTITY_DECLARATION = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
# An "&" that begins no character or entity reference: a bare one, as in a URL's query.
_BARE_AMPERSAND = re.compile(rb"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")


def safe_xml(body: bytes) -> tuple[bytes, str | None]:
    """``body`` checked by :func:`check_xml_safe`, and why it is not well-formed XML (None
    when it is).

    If its bytes are not in the encoding it declares (Windows-1252 declared as UTF-8, UTF-8
    declared as UTF-16: common in the wild), the same text re-encoded as UTF-8 and declared
    so, checked in its turn. A document still not well-formed (a bare ``&`` in a title or a
    URL, an HTML entity, an unclosed ``<br>``, blank lines before the XML declaration: much
    of what sites serve) is passed on, to readers that recover from such faults, once no
    entity declaration is seen in it (those are refused either way); without the white
    space before its first markup. Parsers are given what this returns, so they read
    exactly what was checked."""
    try:
        check_xml_safe(body)
        return body, None
    except UnsafeDocument:
        raise
    except BadDocument as exc:
        first = exc
    candidate = body
    if not body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):  # (a byte order mark says the encoding)
        text = _as_declared(body)
        if text is None:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = body.decode("cp1252", errors="replace")  # what browsers read for Latin-1 too
        fixed = _DECLARED_ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8")
        if fixed != body:
            try:
                check_xml_safe(fixed)
                return fixed, None
            except UnsafeDocument:
                raise
            except BadDocument:
                candidate = fixed
    if candidate.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in candidate[:_SNIFF_BYTES]:
        raise first  # (UTF-16, or UTF-32: not looked through for declarations, so not read leniently)
    if _ENTITY_DECLARATION.search(candidate):
        raise UnsafeDocument("unsafe XML refused (an entity declaration in a document that is not well-formed)")
    return candidate.lstrip(), str(first)


def _inflated(body: bytes, limit: int, what: str) -> bytes:
    """``body``, inflated up to ``limit`` + 1 bytes if it is a gzip file (a ``.xml.gz``, or
    a body compressed twice over, one ``Content-Encoding`` undone), else as it is."""
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
            return fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:  # (zlib's, of damaged data, is no OSError)
        raise BadDocument(f"broken gzip {what}: {exc}") from None


def parse_feed(body: bytes, url: str) -> list[FeedItem]:
    """Items of an RSS, Atom or JSON feed, in document order; a gzipped one is inflated up
    to the feed size limit."""
    body = _inflated(body, MAX_FEED_BYTES, "feed")
    if len(body) > MAX_FEED_BYTES:
        raise BadDocument(f"feed larger than {MAX_FEED_BYTES >> 20} MB")
    if is_json_feed(body):
        return _json_feed(body)
    body, broken = safe_xml(body)
    # No base URL is given: guids are identifiers and stay as written (but see
    # _absolute_bases); links are resolved by the caller against the feed's own URL.
    parsed = feedparser.parse(io.BytesIO(body if broken else _absolute_bases(body, url)),
                              resolve_relative_uris=False, sanitize_html=False)
    if not parsed.entries and is_html(body):  # (what a parser makes of it, "mismatched tag", says less)
        raise BadDocument("an HTML page, not a feed")
    if parsed.get("bozo") and not parsed.entries:
        raise BadDocument(f"not a readable feed: {parsed.get('bozo_exception')}")
    if not parsed.get("version") and not parsed.entries:
        raise BadDocument("not an RSS or Atom feed")
    items = []
    for entry in parsed.entries:
        # A feed served through FeedBurner links each item through its proxy, on its own host
        # (out of the scope, and gone since 2022); <feedburner:origLink> is the article's URL.
        link = entry.get("feedburner_origlink") or entry.get("link") or _alternate(entry)
        if link and entry.get("guidislink") and _NOT_WEB.match(link):
            link = None  # (an id feedparser took for the link of an entry that has none: "tag:", "urn:")
        if not link:
            continue
        items.append(FeedItem(
            link=link,
            guid=entry.get("id") or None,
            title=entry.get("title") or None,
            published=_feed_date(entry.get("published_parsed")),
            # Not entry.get(): feedparser answers a missing updated_parsed with published_parsed.
            updated=_feed_date(entry["updated_parsed"] if "updated_parsed" in entry else None),  # noqa: SIM401
        ))
    if broken and not items:  # (read leniently, and nothing in it: the document is bad)
        raise BadDocument(broken)
    return items


_JSON_FEED = re.compile(rb'^\s*\{.*?"version"\s*:\s*"https?://jsonfeed\.org/version/', re.DOTALL)


def is_json_feed(body: bytes) -> bool:
    """Whether ``body`` is a JSON Feed (jsonfeed.org): an object whose ``version`` names its
    spec, near the top."""
    return _JSON_FEED.match(body[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf")) is not None


def _json_feed(body: bytes) -> list[FeedItem]:
    """Items of a JSON Feed: each one's ``url`` (its page), ``id``, ``title`` and dates."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:  # (json's errors are ValueErrors)
        raise BadDocument(f"not a readable JSON feed: {exc}") from None
    except RecursionError:
        raise BadDocument("not a readable JSON feed: nested too deep") from None
    entries = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise BadDocument("not a JSON feed (no list of items)")
    items = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) or not entry["url"].strip():
            continue  # (an item of no page of its own: a note, a status)
        items.append(FeedItem(link=entry["url"].strip(), guid=_json_text(entry.get("id")),
                              title=_json_text(entry.get("title")), published=_json_date(entry.get("date_published")),
                              updated=_json_date(entry.get("date_modified"))))
    return items


def _json_text(value: object) -> str | None:
    """A JSON Feed's string (or a number, as some write an id), else None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        return None
    return str(value)


def _json_date(value: object) -> str | None:
    """An RFC 3339 date of a JSON Feed, in UTC as the other feeds' are; None for another."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # (RFC 3339 has an offset; a local time of no zone is not a time)
    try:
        return when.astimezone(UTC).replace(microsecond=0).isoformat()
    except OverflowError:  # (year 1 east of UTC, 9999 west of it: no time in UTC)
        return None


def _absolute_bases(body: bytes, url: str) -> bytes:
    """``body`` with each ``xml:base`` made absolute, resolved against its parent's and the
    feed's URL as XML Base says. feedparser drops a relative base inside another (an
    entry's ``xml:base="2026/"`` within the feed's ``"news/"``: its links lost the
    ``2026/``). Only a well-formed feed with a base is parsed for it (re-written, one that
    is not would lose what feedparser's lenient reading keeps). feedparser resolves a guid
    it takes for a permalink against the base too: against the feed's URL, now, where the
    feed's own base is relative."""
    if b"xml:base" not in body:
        return body
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser, base_url=url)
    except (etree.XMLSyntaxError, ValueError):
        return body
    attribute = "{http://www.w3.org/XML/1998/namespace}base"
    for element in root.iter():
        if isinstance(element.tag, str) and element.get(attribute) is not None:
            element.set(attribute, element.base or "")
    return etree.tostring(root, encoding="utf-8", xml_declaration=True)


# A URI of a scheme that names no web page (an Atom entry's "tag:" or "urn:uuid:" id).
_NOT_WEB = re.compile(r"^(?!https?:)[A-Za-z][A-Za-z0-9+.-]*:(?!//)")


def _alternate(entry: dict) -> str | None:
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    return None


def _feed_date(parsed: object) -> str | None:
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC).isoformat()  # type: ignore[index,misc]
    except ValueError:  # (a year 0, feedparser's reading of year 1 east of UTC: no time Python has)
        return None


def _named(tag: str) -> tuple[str | None, str]:
    """An element's namespace and local name (``{ns}loc``; a tag left with an unbound
    prefix, ``image:loc``, by lxml's recovery, is in none, and keeps its prefix)."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


_HTML_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset((b"amp", b"lt", b"gt", b"quot", b"apos"))


def _as_number(match: re.Match[bytes]) -> bytes:
    """An HTML entity reference as the numeric reference of its character (XML's five, and
    names HTML does not know, as they were)."""
    name = match.group(1)
    code = None if name in _XML_ENTITIES else name2codepoint.get(name.decode("ascii"))
    return match.group() if code is None else b"&#%d;" % code


def _text_sitemap(body: bytes) -> Sitemap | None:
    """A sitemap written as text (sitemaps.org: one URL a line, UTF-8), or None when
    ``body`` is not one (markup, or a line that is no http(s) URL)."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text or text.startswith("<"):
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not all(line.lower().startswith(("http://", "https://")) and " " not in line for line in lines):
        return None
    return Sitemap("urlset", [SitemapEntry(line) for line in lines])


def parse_sitemap(body: bytes, url: str) -> Sitemap:
    """A sitemap index or URL set; gzip bodies are inflated up to the sitemap size limit."""
    body = _inflated(body, MAX_SITEMAP_BYTES, "sitemap")
    if len(body) > MAX_SITEMAP_BYTES:
        # Plain or inflated: a sitemap is parsed whole, in memory.
        raise BadDocument("sitemap larger than 50 MB uncompressed")
    listed = _text_sitemap(body)
    if listed is not None:
        return listed
    body, broken = safe_xml(body)
    if broken:
        # A URL's query written with a bare "&", as many sitemaps have it; an HTML entity
        # (&eacute;), which XML does not know, as the character it names (lxml would drop
        # it, and the URL or title with it from there on).
        body = _HTML_ENTITY.sub(_as_number, _BARE_AMPERSAND.sub(b"&amp;", body))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise BadDocument(f"not well-formed XML: {exc}") from None
    if root is None:
        raise BadDocument("empty sitemap")
    kind = {"sitemapindex": "index", "urlset": "urlset"}.get(_named(root.tag)[1])
    if kind is None:
        raise BadDocument(f"not a sitemap (root element <{_named(root.tag)[1]}>)")
    entries = []
    for element in root:
        if not isinstance(element.tag, str) or _named(element.tag)[1] not in ("url", "sitemap"):
            continue
        values: dict[str, str] = {}
        own = _named(element.tag)[0]  # (the sitemap's namespace, whatever it is, or none)
        for child in element.iter():
            if not isinstance(child.tag, str) or child is element:
                continue
            namespace, local = _named(child.tag)
            if namespace is not None and _NEWS_NS.match(namespace):
                key = f"news:{local}"
            elif (namespace == own and ":" not in local) or (namespace is None and local.startswith("news:")):
                key = local  # (the second: a news sitemap that left its xmlns:news out)
            else:  # (an image's or a video's <image:loc>, or a prefix left unbound: not the page's)
                continue
            text = "".join([child.text or "", *(c.tail or "" for c in child if not isinstance(c.tag, str))]).strip()
            if text:
                values.setdefault(key, text)
        if values.get("loc"):
            entries.append(SitemapEntry(values["loc"], values.get("lastmod"), values.get("news:title"),
                                        values.get("news:publication_date")))
    if broken and not entries:
        raise BadDocument(broken)
    return Sitemap(kind, entries)
