"""Parsing replay paths: ``/<coll>/[<timestamp><modifier>/]<url>`` as pywb writes them.

Everything that could make a path mean a file (``..`` or ``.`` segments, also
percent-encoded or double-encoded, NUL bytes, backslashes, non-origin-form targets) is
refused with 400 before routing; the store is only ever read through index lookups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

COLLECTION = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
REWRITE_MODIFIERS = {"", "mp_", "if_", "fr_", "js_", "cs_", "im_", "oe_"}
MODIFIERS = REWRITE_MODIFIERS | {"id_", "prov_"}
_TIMESTAMP = re.compile(r"^(\d{1,14}|\*)([a-z]{2,5}_)?/(.*)$", re.DOTALL)
# Digits past fourteen, or a date written with dashes, before a URL: a timestamp mistyped, not
# a host (which no URL of digits and dashes alone followed by another URL is).
_LONG_TIMESTAMP = re.compile(r"^(\d{15,}|\d{4}-[\d-]*)([a-z]{2,5}_)?/(https?:|[^/]*\.[^/]*/)", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):/*")

MAX_QUERY = 1000  # characters of a search of a collection's pages (SQLite refuses very long LIKE patterns)


class BadRequest(Exception):
    """The request path cannot be a replay request (answered with 400)."""


@dataclass
class Route:
    kind: str  # root, redirect, collection, replay, captures
    coll: str | None = None
    timestamp: str | None = None
    modifier: str = ""
    url: str | None = None
    query: str = ""
    provenance_redirect: bool = False
    location: str | None = None


def check_safe(path: str) -> None:
    """Refuse traversal and control characters, however they are encoded."""
    if not path.startswith("/"):
        raise BadRequest("the request target must be a path starting with /")
    seen = path
    for _ in range(3):
        if "\x00" in seen or "\\" in seen or any(ord(c) < 32 for c in seen):
            raise BadRequest("control characters and backslashes are not allowed in replay paths")
        if any(seg in (".", "..") for seg in seen.split("/")):
            raise BadRequest("'.' and '..' path segments are not allowed")
        decoded = unquote(seen, errors="replace") if "%" in seen else seen
        if decoded == seen:
            break
        seen = decoded


def normalise_url(text: str) -> str:
    """An archived URL from a replay path: scheme restored, ``http:/x`` mended."""
    m = _SCHEME.match(text)
    if m and m.group(1).lower() in ("http", "https"):
        url = f"{m.group(1).lower()}://{text[m.end():]}"
    elif m and ":" in text[: m.end()] and not re.match(r"^[^/:]+:\d", text):
        raise BadRequest(f"only http and https URLs are archived, not {m.group(1)}:")
    else:
        url = "http://" + text.lstrip("/")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise BadRequest(f"malformed URL {url!r}: {exc}") from None
    if not parts.hostname:
        raise BadRequest(f"malformed URL {url!r}: no host")
    return url


def parse(target: str) -> Route:
    """Route a raw request target (path and query exactly as the client sent them)."""
    path, _, query = target.partition("?")
    check_safe(path)
    if path == "/":
        return Route("root")
    coll, slash, rest = path[1:].partition("/")
    if not COLLECTION.match(coll):
        raise BadRequest(f"{coll!r} is not a collection name")
    if not slash:  # (a search's words kept: /news?q=harbour)
        return Route("redirect", coll, location=f"/{coll}/" + (f"?{query}" if query else ""))
    if not rest:
        words = parse_qs(query).get("q", [""])[0]
        if len(words) > MAX_QUERY:
            raise BadRequest(f"a search of {len(words):,} characters; at most {MAX_QUERY:,} are taken")
        return Route("collection", coll, query=words)
    m = _TIMESTAMP.match(rest)
    if m is None and _LONG_TIMESTAMP.match(rest):
        raise BadRequest(f"{rest.partition('/')[0]!r} is no timestamp: at most 14 digits, YYYYMMDDhhmmss")
    timestamp, modifier, raw_url = (m.group(1), m.group(2) or "", m.group(3)) if m else (None, "", rest)
    if modifier not in MODIFIERS:
        raise BadRequest(f"unknown replay modifier {modifier!r}")
    if m and not raw_url and not query:
        raise BadRequest(f"no URL after {timestamp}{modifier}/: the path is /{coll}/{timestamp}{modifier}/http://...")
    provenance = False
    if query == "provenance" or query.endswith("&provenance"):
        provenance, query = True, query[: -len("provenance")].rstrip("&")
    url = normalise_url(raw_url + ("?" + query if query else ""))
    if timestamp == "*":
        return Route("captures", coll, url=url)
    return Route("replay", coll, timestamp, modifier, url, provenance_redirect=provenance)


_REPLAY_FORM = re.compile(r"^(?:(?:\d{1,14}|\*)(?:[a-z]{2,5}_)?/)?(?:https?:|$)", re.IGNORECASE)


def in_replay_form(rest: str) -> bool:
    """Whether ``rest``, a path after ``/<coll>/``, is written as this server writes replay
    paths (``[<timestamp><modifier>/]http(s)://...``), or is empty (the collection's page
    list): what a page's own path that starts with a collection's name is not."""
    return bool(_REPLAY_FORM.match(rest))


def replay_path(coll: str, timestamp: str | None, modifier: str, url: str) -> str:
    """The replay path of ``url`` at ``timestamp`` (the newest capture without one, where
    no modifier can be given either)."""
    if not timestamp:
        return f"/{coll}/{url}"
    return f"/{coll}/{timestamp}{modifier}/{url}"
