"""URL canonicalisation: the form we fetch, de-duplicate and write as WARC-Target-URI.

Rules (CONTRACTS.md, "Which URL, which depth"): fragment dropped, tracking parameters
removed, scheme and host lower-case, default port dropped. The order of the remaining query
parameters is kept: servers may depend on it, and reordering would change what we fetch.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import safe_url_string

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING = re.compile(
    r"^(utm_[a-z0-9_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|twclid|igshid|"
    r"mc_cid|mc_eid|_ga|_gl|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|"
    r"wt_mc|ito|ncid|cmpid|ref_src|s_cid)$",
    re.IGNORECASE,
)


def canonicalize(url: str) -> str:
    """Return the canonical form of an absolute http(s) URL."""
    parts = urlsplit(safe_url_string(url.strip()))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{host}:{port}"
    # The netloc is rebuilt from host and port only: credentials in a URL never reach a
    # WARC header or a log.
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not _TRACKING.match(pair.split("=", 1)[0])
    )
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def host_in_scope(host: str, allowed: list[str]) -> bool:
    """Exact host match, or a suffix match when written ``*.example.org``."""
    host = host.lower()
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            if host == pattern[2:] or host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False
