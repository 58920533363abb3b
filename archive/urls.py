"""URL canonicalisation: the form we fetch, de-duplicate and write as WARC-Target-URI.

Rules (CONTRACTS.md, "Which URL, which depth"): fragment dropped, tracking parameters and
session ids removed, scheme and host lower-case, default port dropped, dot segments of the path resolved.
The order of the remaining query parameters is kept: servers may depend on it, and
reordering would change what we fetch.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING = re.compile(
    r"^(utm_[a-z0-9_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|twclid|igshid|"
    r"mc_cid|mc_eid|_ga|_gl|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|"
    r"wt_mc|ito|ncid|cmpid|ref_src|s_cid)$",
    re.IGNORECASE,
)


# Session ids a server writes into its links (Java's ";jsessionid=" path parameter, PHP's,
# ASP's and ColdFusion's query parameters; a "sid" of 32 hex digits, as Heritrix strips
# it): every visit gives the same pages new URLs, a crawl that never ends.
_SESSION_PARAM = re.compile(r"^(jsessionid|phpsessid|aspsessionid[a-z]{8}|cfid|cftoken|sid=[0-9a-f]{32})(=|$)",
                            re.IGNORECASE)
_SESSION_PATH = re.compile(r";jsessionid=[^/?#;]*", re.IGNORECASE)


def canonicalize(url: str) -> str:
    """Return the canonical form of an absolute http(s) URL."""
    parts = urlsplit(safe_url_string(url.strip()))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    elif host.endswith(".") and host.strip("."):  # (a name written whole, "example.com.": the same host)
        host = host.rstrip(".")
    port = parts.port
    netloc = host
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{host}:{port}"
    # The netloc is rebuilt from host and port only: credentials in a URL never reach a
    # WARC header or a log.
    query = "&".join(
        pair for pair in parts.query.split("&")
        if pair and not _TRACKING.match(pair.split("=", 1)[0]) and not _SESSION_PARAM.match(pair)
    )
    path = _without_dot_segments(_SESSION_PATH.sub("", parts.path) or "/")
    return urlunsplit((scheme, netloc, path, query, ""))


# A percent-escape: the same octet in either case of its hex digits (RFC 3986 6.2.2.1).
_ESCAPE = re.compile("%[0-9A-Fa-f]{2}")
# RFC 3986 2.3: an unreserved character and its escape are one URL (6.2.2.2); a reserved
# one's escape ("%2F", "%3F", "%26") is another URL than the character.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _one_spelling(escape: re.Match[str]) -> str:
    char = chr(int(escape.group()[1:], 16))
    return char if char in _UNRESERVED else escape.group().upper()


def same_escapes(url: str) -> str:
    """``url`` with its percent-escapes in one spelling, to compare two spellings of one URL:
    hex digits in upper case (``caf%c3%a9`` and ``caf%C3%A9``), an unreserved character's
    escape decoded (``%7Eed`` and ``~ed``, ``%41`` and ``A``). Canonical URLs keep the
    spelling the site wrote, as the URL requested and the identities of captures and
    articles made from them do."""
    return _ESCAPE.sub(_one_spelling, url) if "%" in url else url


def canonical_or_none(url: str) -> str | None:
    """:func:`canonicalize`, or None for a URL that cannot be fetched (a bad port, say)."""
    try:
        return canonicalize(url)
    except ValueError:
        return None


# Path segments a browser resolves, compared in lower case: "%2e" is a dot to the URL
# standard (WHATWG URL, path state), as it is not to RFC 3986.
_SINGLE_DOT = frozenset((".", "%2e"))
_DOUBLE_DOT = frozenset(("..", ".%2e", "%2e.", "%2e%2e"))


def _without_dot_segments(path: str) -> str:
    """``path`` as a browser requests it: "." segments dropped, each ".." taking the segment
    before it away (none above the root). A link to ``/news/../2026/story`` is fetched,
    de-duplicated and recorded as ``/2026/story``, the URL a reader's browser asks for."""
    if "/." not in path and "/%2" not in path:  # (every dot segment starts with one)
        return path
    segments = path.split("/")[1:]  # (the path of an http(s) URL starts with "/")
    kept: list[str] = []
    for i, segment in enumerate(segments):
        folded = segment.lower()
        if folded in _DOUBLE_DOT:
            if kept:
                kept.pop()
        elif folded not in _SINGLE_DOT:
            kept.append(segment)
            continue
        if i == len(segments) - 1:  # a trailing "." or ".." leaves a directory: "/a/b/.." is "/a/"
            kept.append("")
    return "/" + "/".join(kept)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def host_in_scope(host: str, allowed: list[str], port: int | None = None) -> bool:
    """Exact host match, or a suffix match when written ``*.example.org``; a pattern with a
    port (``127.0.0.1:8080``) matches that port only (``port``: the URL's, its scheme's
    default where it names none), one without it any port."""
    host = host.lower().rstrip(".")  # (a name written whole, "example.com.", is that host: canonicalize)
    for pattern in allowed:
        pattern, wanted = entry_host_and_port(pattern.lower())
        if wanted is not None and wanted != port:
            continue
        pattern = pattern.rstrip(".")
        if pattern.startswith("*."):
            if host == pattern[2:] or host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def same_site(a: str, b: str) -> bool:
    """Whether hosts ``a`` and ``b`` are of one site: the same but for a ``www.``-like
    first label, or one a sub-domain of the other."""
    def site(host: str) -> str:
        first, _, rest = host.partition(".")
        return rest if first in ("www", "m", "mobile", "amp") and "." in rest else host

    a, b = site(a.lower().rstrip(".")), site(b.lower().rstrip("."))
    return a == b or a.endswith("." + b) or b.endswith("." + a)


@functools.lru_cache(maxsize=256)  # (a collection's few entries, looked at for every link)
def entry_host_and_port(pattern: str) -> tuple[str, int | None]:
    """An ``allow_hosts`` entry's host and port: ``host:port``, ``[v6 address]:port``, or a
    host alone (an IPv6 address as ``host_of`` gives it, ``::1``, is no host and port)."""
    if pattern.startswith("["):
        address, _, rest = pattern[1:].partition("]")
        return address, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    name, colon, port = pattern.rpartition(":")
    if colon and ":" not in name and port.isdigit():
        return name, int(port)
    return pattern, None


def port_of(url: str) -> int | None:
    """The port ``url`` connects to: the one it names, else its scheme's default."""
    parts = urlsplit(url)
    try:
        return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None


def host_pattern(url: str) -> str:
    """The ``allow_hosts`` entry of ``url``'s host and port: the host alone on its scheme's
    default port (``[address]`` for IPv6), else ``host:port`` (read by :func:`host_in_scope`)."""
    parts = urlsplit(url)
    host = host_of(url)
    shown = f"[{host}]" if ":" in host else host
    port = port_of(url)
    return shown if port in (None, _DEFAULT_PORTS.get(parts.scheme.lower())) else f"{shown}:{port}"


def with_slashes(href: str) -> str:
    """``href`` as a browser reads it on an http(s) page: a backslash before the query is a
    slash (``\\\\cdn.example\\a.js`` is scheme-relative, ``..\\img\\b.png`` relative), where
    ``urljoin`` would keep it as part of a name."""
    if "\\" not in href:
        return href
    end = min((i for i in (href.find("?"), href.find("#")) if i >= 0), default=len(href))
    return href[:end].replace("\\", "/") + href[end:]


# An http(s) scheme and the slashes after it, in a reference (backslashes made slashes).
_HTTP_SCHEME = re.compile(r"(https?):(/*)", re.IGNORECASE)


def with_authority(href: str, base_scheme: str) -> str:
    """``href`` (its backslashes made slashes) as a browser reads an http(s) URL whose
    colon is not followed by exactly two slashes (WHATWG URL, scheme state): of another
    scheme than the base's, it has a host after whatever slashes there are (``https:/x``
    and ``https:x`` on an http page are ``https://x/``); of the base's scheme, it is relative
    unless two slashes or more follow (``https:/x`` on an https page is ``/x``,
    ``https:///x`` is ``https://x/``). ``urljoin`` keeps ``https:/x`` on an http page as
    it is, which is no URL to fetch."""
    m = _HTTP_SCHEME.match(href)
    if m is None:
        return href
    scheme, slashes, rest = m.group(1).lower(), len(m.group(2)), href[m.end():]
    if slashes == 2 or (scheme == base_scheme.lower() and slashes < 2):
        return href  # (an absolute URL, or a relative one: urljoin reads both as browsers do)
    if not rest or rest[0] in "?#":
        return href  # (no host: a browser reads no URL either)
    return f"{scheme}://{rest}"


def join_url(base: str, href: str) -> str:
    """``href`` resolved against ``base`` as a browser resolves it (see :func:`with_slashes`
    and :func:`with_authority`)."""
    return urljoin(base, with_authority(with_slashes(href), urlsplit(base).scheme))


# A refresh's value, the ``content`` of ``<meta http-equiv=refresh>`` or a ``Refresh``
# header: a delay, then (after ``;`` or ``,`` and an optional ``url=``) the URL, perhaps
# quoted. The delay's digits must be followed by a separator: ``60`` alone reloads the page.
_REFRESH = re.compile(r"""^(\s*[\d.]+(?=[\s;,])\s*[;,]?\s*(?:url\s*=\s*)?)(["']?)(.*)$""",
                      re.IGNORECASE | re.DOTALL)


def refresh_parts(value: str) -> tuple[str, str] | None:
    """A refresh value's text before its URL, and the URL as written (a quoted one up to its
    closing quote, or to the end if it has none); None where it names no URL place."""
    m = _REFRESH.match(value)
    if m is None:
        return None
    quote, url = m.group(2), m.group(3)
    if quote and quote in url:
        url = url[: url.index(quote)]
    return m.group(1), url
