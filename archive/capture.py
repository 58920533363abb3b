"""Turning one fetch into WARC records and a capture-log line, without Scrapy.

The Scrapy middleware gathers what the client exposes into a :class:`Fetch`; this module
decides what the records say. What the client did not give us exactly (reason phrase,
decoded transfer encoding, header-name case) is reconstructed and listed in the metadata
record under ``reconstructed``, never silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from itertools import pairwise
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from archive.warc.records import Record, make_record, new_record_id, warc_date, warc_fields

REDACTED_HEADERS = (b"authorization", b"cookie", b"proxy-authorization")
REDACTED = b"[redacted]"
# Hop-by-hop framing the client removed after decoding; it no longer describes the body.
_FRAMING = (b"transfer-encoding",)
# Statuses whose responses have no body, whatever their headers say (RFC 9110 §6.4.1).
NO_BODY_STATUSES = (204, 304)
# The most of a content-encoded body any reader of ours inflates (the spider's copy,
# extraction, replay): a few hundred KB as sent may inflate to gigabytes. More than a
# sitemap may hold (50 MB). The record always keeps the body as sent.
MAX_DECODED_BYTES = 64 << 20

Headers = list[tuple[bytes, bytes]]


@dataclass
class Provenance:
    """How a URL was found (DESIGN.md, Capture): the chain from the seed to this fetch."""

    seed: str | None = None
    channel: str = "seed"  # seed / feed / sitemap / link / redirect / embed / robots
    source: str | None = None  # the feed or sitemap that listed the URL
    source_id: str | None = None  # the feed item's guid / Atom id
    via: str | None = None
    hops: str = ""  # Heritrix hop path: L link, R redirect, E embed, P prerequisite, ...
    depth: int = 0
    url_as_linked: str | None = None


@dataclass
class Fetch:
    """Everything known about one HTTP exchange that produced a response."""

    url: str
    method: str
    request_headers: Headers | None
    request_body: bytes
    status: int
    response_headers: Headers | None
    body: bytes
    started: datetime
    duration_ms: float | None
    protocol: str | None = "HTTP/1.1"
    reason: str | None = None
    remote_ip: str | None = None
    tls_cert_der: bytes | None = None
    framing: str | None = None  # "chunked" when the client decoded chunked transfer coding
    truncated: str | None = None  # WARC-Truncated reason
    provenance: Provenance = field(default_factory=Provenance)
    robots: str = "allowed"
    reconstructed: tuple[str, ...] = ()  # what the caller knows it rebuilt rather than received
    # The status line and header block as received, through the blank line (a tap on the
    # client's connection: crawler.tap), or None where the client does not give it. With
    # a head, ``response_headers`` may be None: they are then read from the head.
    response_head: bytes | None = None
    # The request line and header block as the client wrote them (the same tap), or None
    # where they are rebuilt from ``request_headers``; with a head, ``request_headers`` may
    # be None: they are then read from the head.
    request_head: bytes | None = None
    # The capture whose validators a conditional request for this URL sent (record id, URI,
    # WARC-Date, payload digest: the URI may be another URL's, whose payload this URL had),
    # as the crawl looked it up: a 304 to the request is a revisit of it.
    conditional_on: tuple[str, str, str, str] | None = None
    # The status codes of the interim (1xx) responses received before this one, in order
    # and separated by spaces ("100", "103 103"), or None.
    interim: str | None = None

    def __post_init__(self) -> None:
        if self.response_headers is None:
            self.response_headers = head_fields(self.response_head or b"")
        if self.request_headers is None:
            self.request_headers = head_fields(self.request_head or b"")


@dataclass(frozen=True)
class Revisit:
    """What an unchanged capture refers to instead of storing the payload again.

    WARC 1.1 §6.7: a revisit's block is the HTTP header only; ``WARC-Payload-Digest`` is
    the original's, and ``WARC-Refers-To*`` name the original record.
    """

    profile: str  # PROFILE_IDENTICAL or PROFILE_NOT_MODIFIED
    refers_to: str  # WARC-Record-ID of the original response
    refers_to_uri: str
    refers_to_date: str  # the original's WARC-Date, verbatim
    payload_digest: str


@dataclass
class CaptureRecords:
    records: list[Record]
    response: Record
    metadata_fields: dict[str, Any]


def tls_fingerprint(der: bytes | None) -> str | None:
    return None if der is None else "sha256:" + hashlib.sha256(der).hexdigest()


def _request_head(fetch: Fetch) -> tuple[bytes, list[str]]:
    """Request line and headers as the HTTP/1.1 client wrote them, secrets redacted.

    Without the head as written (``fetch.request_head``), it is rebuilt as the client writes
    it: ``Host`` last when absent, ``Content-Length`` before the other headers when there
    is a body.
    """
    if fetch.request_head is not None:
        return _redacted(fetch.request_head)
    parts = urlsplit(fetch.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{fetch.method} {target} HTTP/1.1".encode("latin-1")]
    if fetch.request_body:
        lines.append(b"Content-Length: " + str(len(fetch.request_body)).encode())
    redacted: list[str] = []
    has_host = False
    for name, value in fetch.request_headers:
        lname = name.lower()
        has_host = has_host or lname == b"host"
        if _secret_header(lname):
            redacted.append(name.decode("latin-1"))
            value = REDACTED
        lines.append(name + b": " + value)
    if not has_host:
        lines.append(b"Host: " + parts.netloc.encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n", redacted


# Form fields and JSON keys whose values are credentials (a login's password, an API key, a
# one-time code, a CSRF token): masked in a request's body as those headers are redacted,
# byte for byte ("*"), so that the body keeps the length its Content-Length gives.
_SECRET_FIELD = re.compile(rb"(?i)password|passwd|passphrase|passcode|api[-_]?key|credential")
# ... or that have one of these for a word ("pin", "user[pass]", "otp_attempt", "pinCode",
# "auth": what a JSON body's "auth" holds is the credentials, whatever their names), words as
# brackets, punctuation and a capital letter part them.
_SECRET_WORDS = frozenset({b"pass", b"pwd", b"pw", b"pin", b"otp", b"totp", b"auth", b"authorization"})
_WORD = re.compile(rb"[A-Z]?[a-z0-9]+|[A-Z0-9]+(?![a-z])")
# ... or a word that is, or ends in, a token or a secret ("api_token", "authToken",
# "csrfmiddlewaretoken", "client_secret", "appsecret", "secretKey"), but for one that only
# begins so ("tokenizer", "secretary", "secretariat") and one that a word after it or before
# it says is about the token, not the token ("author_token_count", "token_type",
# "token_endpoint", "client_secret_expires_at", "max_tokens"), or says is a place in a list
# of results, an API's cursor a client sends back for the next page, no credential
# ("pageToken", "next_token", "continuationToken": masked, the request did not say which
# page it asked for, and replay found no capture of the same call).
_SECRET_NOUN = re.compile(rb"[a-z0-9]*(?:token|secret)s?|secret(?:access)?keys?")
_CURSOR = frozenset({b"page", b"next", b"prev", b"previous", b"continuation", b"resume", b"sync"})
_CURSOR_TOKEN = re.compile(rb"(?:page|next|prev|previous|continuation|resume|sync)+tokens?")
_ABOUT = frozenset({b"count", b"counts", b"type", b"types", b"len", b"length", b"limit", b"limits", b"size",
                    b"usage", b"used", b"expiry", b"expires", b"expiration", b"exp", b"ttl", b"lifetime", b"url",
                    b"uri", b"endpoint"})
_COUNTED = frozenset({b"max", b"min", b"num", b"total"})
_FORM_PAIR = re.compile(rb"(?:^|&)([^=&]*)=([^&]*)")
# (a string's characters, or a number: a PIN or a one-time code is often sent as one)
_JSON_PAIR = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?[0-9][0-9.eE+-]*))')
_TOKEN = re.compile(rb"(?i)token")  # (a number named for tokens is a count of them: max_tokens)


_BOUNDARY = re.compile(r'(?i);\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))')
# (a part's field name, not its filename=)
_PART_NAME = re.compile(rb'(?i)^content-disposition:[^\n]*?;\s*name\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))',
                        re.MULTILINE)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def _request_body(fetch: Fetch) -> tuple[bytes, list[str]]:
    """The request's body with the values of its secret fields masked (a form's, a
    multipart form's parts, or a JSON body's string and number values, by their names and
    those of the members they are in), and those names; other bodies as sent. A body is
    read as what it is (:func:`_body_kind`) whatever its Content-Type says, and as that
    says when it is neither JSON nor a form throughout (cut short, say)."""
    body = fetch.request_body
    if not body:
        return body, []
    content_type = header_value(fetch.request_headers, b"content-type") or ""
    kind = content_type.partition(";")[0].strip().lower()
    if kind == "multipart/form-data" and (boundary := _BOUNDARY.search(content_type)) is not None:
        fields = _parts(body, (boundary.group(1) or boundary.group(2)).encode("latin-1"))
        return _masked(body, fields)
    if kind == "application/json" or kind.endswith("+json"):
        kind = "json"
    elif kind == "application/x-www-form-urlencoded":
        kind = "form"
    kind = _body_kind(body) or kind
    if kind == "form":
        fields = ((unquote_to_bytes(found.group(1).replace(b"+", b" ")), found.span(2))
                  for found in _FORM_PAIR.finditer(body))
    elif kind == "json":
        fields = _json_fields(body)
    else:
        return body, []
    return _masked(body, fields)


# A urlencoded form and nothing else: name=value pairs parted by "&", of the characters a
# form's encoding leaves and %XX escapes.
_FORM_CHAR = rb"(?:[A-Za-z0-9_.~*+!$'(),;:@/?\[\]-]|%[0-9A-Fa-f]{2})"
_FORM_BODY = re.compile(rb"%s+=%s*(?:&%s+=%s*)*&?" % ((_FORM_CHAR,) * 4))


def _body_kind(body: bytes) -> str | None:
    """What a request body is, whatever its Content-Type says (none, with a Blob that
    ``navigator.sendBeacon`` sends, ``text/plain`` for a string ``fetch()`` sends, or
    another's): "json" for a JSON object or array, "form" for a urlencoded form throughout,
    None for anything else (a binary body, text)."""
    start = _JSON_SPACE.match(body, 3 if body.startswith(b"\xef\xbb\xbf") else 0).end()
    if body[start:start + 1] in _CLOSE:
        try:
            json.loads(body)
        except ValueError:  # (UnicodeDecodeError among them)
            return None
        return "json"
    return "form" if _FORM_BODY.fullmatch(body) else None


def _json_fields(body: bytes) -> Iterator[tuple[bytes, tuple[int, int]]]:
    """The secret key over and the span of each string and number value of a JSON body that
    is under one (a member's value, or anything within it at any depth, arrays' items too:
    ``{"auth": {"key": "k"}}``), but numbers whose keys are only secret for a token
    (``max_tokens``, ``{"tokens": {"prompt": 10}}``: counts). A body that is no JSON
    document (cut short, or one per line) has its members' values taken where they stand."""
    scalars = _json_scalars(body)
    if scalars is None:
        for found in _JSON_PAIR.finditer(body):
            if found.group(2) is not None:
                yield found.group(1), found.span(2)
            elif _secret(_TOKEN.sub(b"", found.group(1))):
                yield found.group(1), found.span(3)
        return
    for keys, span, number in scalars:
        names = (_json_key(key) for key in keys)
        name = next((name for name in names if _secret(_TOKEN.sub(b"", name) if number else name)), None)
        if name is not None:
            yield name, span


_JSON_SPACE = re.compile(rb"[ \t\r\n]*")
_JSON_STRING = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"')
_JSON_NUMBER = re.compile(rb"-?[0-9][0-9.eE+-]*")
_JSON_LITERAL = re.compile(rb"true|false|null")
_CLOSE = {b"{": b"}", b"[": b"]"}


def _json_scalars(body: bytes) -> list[tuple[tuple[bytes, ...], tuple[int, int], bool]] | None:
    """Each string and number value of the JSON document ``body`` (RFC 8259), in order: the
    keys of the members it is in (outermost first, as sent), the span of its characters
    (a string's between its quotes) and whether it is a number. None if ``body`` is not one
    JSON value and white space alone."""
    found: list[tuple[tuple[bytes, ...], tuple[int, int], bool]] = []
    keys: list[bytes] = []  # (of the members open, one for each object open)
    open_: list[bytes] = []  # (the containers open: b"{" or b"[")
    pos = _JSON_SPACE.match(body, 3 if body.startswith(b"\xef\xbb\xbf") else 0).end()
    while True:
        # A value at pos.
        char = body[pos:pos + 1]
        if char in _CLOSE:
            pos = _JSON_SPACE.match(body, pos + 1).end()
            if body[pos:pos + 1] == _CLOSE[char]:
                pos = _JSON_SPACE.match(body, pos + 1).end()
            else:
                open_.append(char)
                if char == b"{":
                    pos = _json_member(body, pos, keys)
                    if pos < 0:
                        return None
                continue
        elif (value := _JSON_STRING.match(body, pos)) is not None:
            found.append((tuple(keys), value.span(1), False))
            pos = _JSON_SPACE.match(body, value.end()).end()
        elif (value := _JSON_NUMBER.match(body, pos) or _JSON_LITERAL.match(body, pos)) is not None:
            if value.re is _JSON_NUMBER:
                found.append((tuple(keys), value.span(), True))
            pos = _JSON_SPACE.match(body, value.end()).end()
        else:
            return None
        # After a value: the containers it ends, and the next member or item.
        while open_:
            char = body[pos:pos + 1]
            if char == _CLOSE[open_[-1]]:
                if open_.pop() == b"{":
                    keys.pop()
                pos = _JSON_SPACE.match(body, pos + 1).end()
            elif char == b",":
                pos = _JSON_SPACE.match(body, pos + 1).end()
                if open_[-1] == b"{":
                    keys.pop()
                    pos = _json_member(body, pos, keys)
                    if pos < 0:
                        return None
                break
            else:
                return None
        if not open_:
            return found if pos == len(body) else None


def _json_member(body: bytes, pos: int, keys: list[bytes]) -> int:
    """Reads a member's key and colon at ``pos`` (onto ``keys``): where its value begins, or
    -1 if there is no key and colon there."""
    key = _JSON_STRING.match(body, pos)
    if key is None:
        return -1
    pos = _JSON_SPACE.match(body, key.end()).end()
    if body[pos:pos + 1] != b":":
        return -1
    keys.append(key.group(1))
    return _JSON_SPACE.match(body, pos + 1).end()


def _json_key(key: bytes) -> bytes:
    """A key as sent, its escapes read (``pass\\u0077ord``)."""
    if b"\\" not in key:
        return key
    try:
        return json.loads(b'"' + key + b'"').encode("utf-8", "surrogatepass")
    except ValueError:
        return key


def _parts(body: bytes, boundary: bytes) -> Iterator[tuple[bytes, tuple[int, int]]]:
    """The field name and the span of the content of each part of a multipart body (RFC 7578):
    from the blank line after its headers to the line break before the next delimiter."""
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary))
    for this, following in pairwise(delimiter.finditer(body)):
        blank = _BLANK_LINE.search(body, this.end(), following.start())
        name = _PART_NAME.search(body, this.end(), blank.start()) if blank is not None else None
        if name is not None:
            yield name.group(1) or name.group(2), (blank.end(), following.start())


def _secret(name: bytes) -> bool:
    if _SECRET_FIELD.search(name):
        return True
    words = [word.lower() for word in _WORD.findall(name)]
    for at, word in enumerate(words):
        if word in _SECRET_WORDS:
            return True
        after = words[at + 1] if at + 1 < len(words) else None
        before = words[at - 1] if at else None
        cursor = b"token" in word and (before in _CURSOR or _CURSOR_TOKEN.fullmatch(word) is not None)
        if _SECRET_NOUN.fullmatch(word) and after not in _ABOUT and before not in _COUNTED and not cursor:
            return True
    return False


# What a secret header's name has in it (a quick look before a name is read in words), and
# a head's header name with it (not its request line: a URL with "/opinion/" is no secret).
_SECRET_HINTS = (b"token", b"secret", b"pass", b"pw", b"pin", b"otp", b"auth", b"key", b"credential")
_SECRET_HINT = re.compile(b"|".join(_SECRET_HINTS))
_SECRET_NAME = re.compile(rb"\n[^:\n]*(?:%s)[^:\n]*:" % b"|".join(_SECRET_HINTS))


def _secret_header(name: bytes) -> bool:
    """Whether a request header's value is a credential, by its name in lower case: the
    ``REDACTED_HEADERS``, and one named as a body's secret field is (:func:`_secret`),
    as ``X-Api-Key``, ``X-Auth-Token``, ``X-Amz-Security-Token``."""
    return name in REDACTED_HEADERS or (_SECRET_HINT.search(name) is not None and _secret(name))


def _masked(body: bytes, fields: Iterable[tuple[bytes, tuple[int, int]]]) -> tuple[bytes, list[str]]:
    """``body`` with the values of the secret ``fields`` (name, span of the value) masked."""
    parts, names, last = [], [], 0
    for name, (start, end) in fields:
        if start == end or not _secret(name):
            continue
        parts += [body[last:start], b"*" * (end - start)]
        last = end
        names.append(name.decode("utf-8", "replace"))
    if not names:
        return body, []
    parts.append(body[last:])
    return b"".join(parts), list(dict.fromkeys(names))


def _header_groups(head: bytes) -> tuple[bytes, list[tuple[bytes, list[bytes]]]]:
    """A head's first line, and its other lines (split at LF, CRs kept) a header at a time:
    its name in lower case (empty for a line without a colon) and its lines, those folded
    onto it (beginning with a space or a tab, as the client reads them) included."""
    lines = head.split(b"\n")
    groups: list[tuple[bytes, list[bytes]]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and groups:
            groups[-1][1].append(line)
            continue
        name, colon, _ = line.partition(b":")
        groups.append((name.strip().lower() if colon else b"", [line]))
    return lines[0], groups


def _redacted(head: bytes) -> tuple[bytes, list[str]]:
    """``head`` with the values of secret headers replaced (the lines folded onto them
    dropped), and their names; every other byte kept."""
    lower = head.lower()
    if not any(name in lower for name in REDACTED_HEADERS) and not _SECRET_NAME.search(lower):
        return head, []
    first, groups = _header_groups(head)
    kept, redacted = [first], []
    for name, lines in groups:
        if _secret_header(name):
            sent_name = lines[0].partition(b":")[0]
            redacted.append(sent_name.strip().decode("latin-1"))
            kept.append(sent_name + b": " + REDACTED + (b"\r" if lines[0].endswith(b"\r") else b""))
        else:
            kept.extend(lines)
    return b"\n".join(kept), redacted


def head_fields(head: bytes) -> Headers:
    """The header fields of a head as received or sent, as the client parses them: the
    status or request line skipped, a line folded onto the next joined to it, a line without a colon
    left out, values stripped of surrounding whitespace; names kept as sent."""
    fields: Headers = []
    partial = b""
    for line in [*head.split(b"\n")[1:], b""]:
        line = line.removesuffix(b"\r")
        if line[:1] in (b" ", b"\t") and partial:
            partial += line
            continue
        if b":" in partial:
            name, value = partial.split(b":", 1)
            fields.append((name, value.strip()))
        if not line:
            break
        partial = line
    return fields


def _without_framing(head: bytes) -> tuple[bytes, list[str]]:
    """``head`` without its Transfer-Encoding lines (and the lines folded onto them), and what
    was removed. A Content-Length sent beside a Transfer-Encoding goes too: the client read
    the chunks and ignored it (RFC 9112 §6.3), so it does not describe the stored body.
    Every other byte is kept as it is."""
    if b"transfer-encoding" not in head.lower():
        return head, []
    first, groups = _header_groups(head)
    kept, removed = [first], set()
    for name, lines in groups:
        if name in _FRAMING or name == b"content-length":
            removed.add(name)
        else:
            kept.extend(lines)
    if not removed & set(_FRAMING):
        return head, []  # (the words were in a value, not a name)
    said = ["transfer-encoding-removed"]
    if b"content-length" in removed:
        said.append("content-length-removed")
    return b"\n".join(kept), said


def _response_head(fetch: Fetch) -> tuple[bytes, list[str]]:
    reconstructed: list[str] = list(fetch.reconstructed)
    if fetch.response_head is not None:
        # As received, but for the transfer coding the client has decoded (a response that
        # has no body by definition has none to decode: its head stays whole).
        if fetch.status in NO_BODY_STATUSES or fetch.method == "HEAD":
            return fetch.response_head, reconstructed
        head, removed = _without_framing(fetch.response_head)
        if not removed and fetch.framing == "chunked":
            removed = ["transfer-encoding-removed"]
        return head, reconstructed + removed
    # Names re-cased, a repeated header's lines brought together, connection headers dropped.
    reconstructed.append("header-fields")
    reason = fetch.reason
    if reason is None:
        try:
            reason = HTTPStatus(fetch.status).phrase
        except ValueError:
            reason = ""
        reconstructed.append("reason-phrase")
    protocol = fetch.protocol or "HTTP/1.1"
    if not protocol.upper().startswith("HTTP/1."):
        reconstructed.append(f"status-line-from-{protocol}")
        protocol = "HTTP/1.1"
    # RFC 9112 §4: the space after the status code stays even when the reason is empty.
    lines = [f"{protocol} {fetch.status} {reason}".encode("latin-1")]
    for name, value in fetch.response_headers:
        if name.lower() in _FRAMING:
            reconstructed.append("transfer-encoding-removed")
            continue
        lines.append(name + b": " + value)
    if fetch.framing == "chunked" and "transfer-encoding-removed" not in reconstructed:
        reconstructed.append("transfer-encoding-removed")
    return b"\r\n".join(lines) + b"\r\n\r\n", reconstructed


_PRECOMPRESSED_TYPES = ("image/", "video/", "audio/", "font/woff", "application/zip", "application/gzip",
                        "application/x-gzip", "application/pdf", "application/octet-stream")


def _compressible(fetch: Fetch) -> bool:
    """False for bodies that are compressed already: deflating them again gains nothing."""
    for name, value in fetch.response_headers:
        lname = name.lower()
        if lname == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return False
        if lname == b"content-type" and value.decode("latin-1").lower().startswith(_PRECOMPRESSED_TYPES):
            return False
    return True


def build_capture(
    fetch: Fetch,
    *,
    job_id: str,
    spider: str,
    warcinfo_id: str | None,
    revisit: Revisit | None = None,
    record_id: Callable[[], str] = new_record_id,
    payload_digest: str | None = None,
) -> CaptureRecords:
    """The response (or revisit), request and metadata records of one fetch, linked by
    Concurrent-To.

    ``payload_digest``: ``sha1_of(fetch.body)`` if the caller computed it already (for
    deduplication), so the body is not hashed a second time for the same digest.
    """
    ids = {"response": record_id(), "request": record_id(), "metadata": record_id()}
    date = fetch.started
    common: list[tuple[str, str]] = []
    if fetch.remote_ip:
        common.append(("WARC-IP-Address", fetch.remote_ip))
    if warcinfo_id:
        common.append(("WARC-Warcinfo-ID", warcinfo_id))
    if fetch.protocol:
        common.append(("WARC-Protocol", fetch.protocol.lower()))

    head, reconstructed = _response_head(fetch)
    extra = [*common, ("WARC-Concurrent-To", ids["request"])]
    if fetch.truncated:
        extra.append(("WARC-Truncated", fetch.truncated))
    if revisit is None:
        response = make_record(
            "response",
            target_uri=fetch.url,
            date=date,
            content_type="application/http; msgtype=response",
            chunks=(head, fetch.body),
            payload_from=1,
            extra=extra,
            record_id=lambda: ids["response"],
            payload_digest=payload_digest,
        )
        response.compressible = _compressible(fetch)
    else:
        response = make_record(
            "revisit",
            target_uri=fetch.url,
            date=date,
            content_type="application/http; msgtype=response",
            chunks=(head,),
            extra=[*extra, ("WARC-Profile", revisit.profile), ("WARC-Refers-To", revisit.refers_to),
                   ("WARC-Refers-To-Target-URI", revisit.refers_to_uri),
                   ("WARC-Refers-To-Date", revisit.refers_to_date),
                   ("WARC-Payload-Digest", revisit.payload_digest)],
            record_id=lambda: ids["response"],
        )

    req_head, redacted = _request_head(fetch)
    req_body, masked = _request_body(fetch)
    if fetch.request_head is None:
        reconstructed = [*reconstructed, "request-head"]
    request = make_record(
        "request",
        target_uri=fetch.url,
        date=date,
        content_type="application/http; msgtype=request",
        chunks=(req_head, req_body) if req_body else (req_head,),
        payload_from=1 if req_body else None,
        extra=[*common, ("WARC-Concurrent-To", ids["response"])],
        record_id=lambda: ids["request"],
    )

    prov = fetch.provenance
    meta = {
        "via": prov.via,
        "hopsFromSeed": prov.hops,
        "sourceTag": prov.seed,
        "fetchTimeMs": None if fetch.duration_ms is None else round(fetch.duration_ms),
        "seed": prov.seed,
        "discoveryChannel": prov.channel,
        "discoverySource": prov.source,
        "discoverySourceId": prov.source_id,
        "depth": prov.depth,
        "urlAsLinked": prov.url_as_linked,
        "jobId": job_id,
        "spider": spider,
        "userAgent": header_value(fetch.request_headers, b"user-agent"),
        "remoteIp": fetch.remote_ip,
        "protocol": fetch.protocol,
        "interimResponses": fetch.interim,
        "tlsCertSha256": tls_fingerprint(fetch.tls_cert_der),
        "requestStarted": warc_date(fetch.started),
        "responseBytes": len(fetch.body),
        "robots": fetch.robots,
        "truncated": fetch.truncated,
        "reconstructed": ",".join(reconstructed) if reconstructed else None,
        "transferEncodingRemoved": fetch.framing,
        "revisitProfile": revisit.profile if revisit else None,
        "redactedHeaders": ",".join(redacted) if redacted else None,
        "redactedFields": ",".join(masked) if masked else None,
    }
    metadata = make_record(
        "metadata",
        target_uri=fetch.url,
        date=date,
        content_type="application/warc-fields",
        chunks=(warc_fields(meta.items()),),
        extra=[("WARC-Concurrent-To", ids["response"]), *([("WARC-Warcinfo-ID", warcinfo_id)] if warcinfo_id else [])],
        record_id=lambda: ids["metadata"],
    )
    return CaptureRecords([response, request, metadata], response, meta)


def header_value(headers: Headers, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes), decoded as Latin-1."""
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None

