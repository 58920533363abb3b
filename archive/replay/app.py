"""The replay WSGI application: archived pages served from a store, as they were captured.

Routes (pywb's URL scheme):

- ``/`` the collections; ``/<coll>/`` its captured pages, ``?q=`` filters title and URL;
- ``/<coll>/<timestamp><modifier>/<url>`` the capture nearest to the timestamp (any prefix
  of 14 digits), ``/<coll>/<url>`` the newest; modifier none = rewritten page, ``id_`` = the
  archived payload byte for byte, ``prov_`` = provenance JSON; ``?provenance`` redirects there;
- ``/<coll>/*/<url>`` every capture of the URL.

Every replayed response carries a Content-Security-Policy that confines the page to this
server, so nothing is loaded from the live web. A replayed page loads ``/_archive/client.js``
before its own scripts, which sends the URLs those scripts make into the archive too; a
request that still arrives without the replay prefix (``/api/x`` from a page's script) is
sent back into the archive by its ``Referer``.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from archive.capture import MAX_DECODED_BYTES
from archive.errors import ArchiveError, StoreError
from archive.index import (
    CdxjEntry,
    closest,
    lookup_near,
    lookup_url,
    stated_lost,
    update_indexes_if_writable,
)
from archive.index.cdxj import MAX_KEYED_BODY, method_query
from archive.index.merged import merged_path
from archive.index.records import ArchivedRecord, read_record
from archive.losses import said
from archive.replay import pages, rewrite, urls
from archive.replay.banner import banner_html
from archive.replay.provenance import provenance, resolve_revisit
from archive.replay.ranges import READ_FIRST, Body, Payload, Response, byte_range
from archive.replay.urls import REWRITE_MODIFIERS, BadRequest, Route, parse, replay_path
from archive.store import CollectionDir, collection_dir, directory_state
from archive.urls import canonical_or_none

log = logging.getLogger(__name__)

# form-action does not fall back to default-src: without it a form built by a script posts to the live web.
# A frame (or object) of a data: or blob: URL is a document no client script is in, whose
# scripts navigated it to the live web: frames come from the archive only.
CSP = ("default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; frame-src 'self'; object-src 'self'; "
       "form-action 'self'")
# A capture not rewritten as HTML (id_, another type, none, or XHTML sent as text/xml) may
# still be shown as a page, its links untouched; sandboxed, it runs no script and follows
# no meta refresh to the live web.
SANDBOXED = CSP + "; sandbox"
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "trailers", "transfer-encoding",
               "upgrade", "proxy-authenticate", "proxy-authorization"}
_DROP = _HOP_BY_HOP | {"set-cookie", "set-cookie2", "content-length"}
# Archived policies would fight ours or pin the live site, and a Link header would have the
# browser preconnect to it (no CSP stops that); kept visible under another name.
# An archived Referrer-Policy would keep the browser from telling the server which page a
# request that escaped the replay prefix came from.
# Clear-Site-Data would empty what the replay server's other pages keep in the browser, and
# Speculation-Rules names rules to prefetch pages by, from the live web too. An
# Integrity-Policy can keep the replay's own script from loading, and the page's scripts then
# reach the live web unwatched; Service-Worker-Allowed would let a worker take over every
# path of the server; reporting endpoints and source maps are fetched from the live web; the
# other policies of the page's document (permissions, document, cross-origin isolation)
# would apply to the replay server's origin. A challenge for credentials (a paywall's 401)
# would have the browser ask the user for a password the replay server has no use for, and
# show no page until the prompt is dismissed (a headless one none at all).
_RENAME = {"www-authenticate", "content-security-policy", "content-security-policy-report-only", "strict-transport-security",
           "public-key-pins", "report-to", "nel", "alt-svc", "link", "referrer-policy", "clear-site-data",
           "speculation-rules", "integrity-policy", "integrity-policy-report-only", "reporting-endpoints",
           "service-worker-allowed", "permissions-policy", "permissions-policy-report-only", "feature-policy",
           "document-policy", "document-policy-report-only", "require-document-policy",
           "cross-origin-opener-policy", "cross-origin-opener-policy-report-only", "cross-origin-embedder-policy",
           "cross-origin-embedder-policy-report-only", "supports-loading-mode", "sourcemap", "x-sourcemap"}
_HTML = ("text/html", "application/xhtml+xml")
# Types a browser sniffs the body of, as if none were given (and none given: "", or the
# index's "unk"), before it shows a page.
_UNKNOWN = ("", "unk", "unknown/unknown", "application/unknown", "*/*")
_REWRITTEN = (*_HTML, "text/css", "image/svg+xml")  # (the types whose links are rewritten)

CLIENT_PATH = "/_archive/client.js"  # (no collection's name starts with "_")
_CLIENT = resources.files("archive.replay").joinpath("client.js").read_bytes()
# What a request is for (Fetch's Sec-Fetch-Dest): the banner goes on pages shown as the page
# itself, the client script on every document; a page fetched by a script (dest "empty")
# gets its links rewritten and nothing added.
_BANNER_DESTS = {None, "document"}
_FRAMED = {"if_", "fr_"}  # pywb's modifiers of a page shown in a frame: no banner either
_CLIENT_DESTS = {None, "document", "iframe", "frame", "embed", "object"}

StartResponse = Callable[..., Any]
Posted = tuple[str, str | None, bytes]  # a POST's or PUT's method, Content-Type and body
_POSTED = ("POST", "PUT")  # (the methods whose captures are keyed by their body, as pywb keys them)
_ALLOW = "GET, HEAD, POST, PUT"


def _posted(environ: dict[str, Any], method: str) -> Posted | None:
    """A POST's or PUT's method, Content-Type and body (as much of it as its key is made of),
    or None for another method."""
    if method not in _POSTED:
        return None
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_KEYED_BODY)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    return method, environ.get("CONTENT_TYPE") or None, body


def _latin1(value: str) -> str:
    """Header values must be Latin-1 for WSGI; other text goes back to its UTF-8 bytes."""
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8").decode("latin-1")


def _html(status: str, body: bytes) -> Response:
    return status, [("Content-Type", "text/html; charset=utf-8")], body


class ReplayApp:
    def __init__(self, store: Path):
        self.store = Path(store)
        self.unindexed: set[str] = set()  # collections whose indexes could not be written: not tried again
        self._lost: dict[Path, tuple[object, dict[str, dict[str, Any]]]] = {}  # (see lost())

    def lost(self, coll: CollectionDir) -> dict[str, dict[str, Any]]:
        """The WARCs of ``coll`` stated lost (:func:`archive.index.stated_lost`), kept while
        its ``lost/``, ``warcs/`` and ``remote/`` stay as they are (``warcs/`` listed only
        where ``lost/`` is): looked at when a capture cannot be had or the captures of a URL
        are listed, but the manifests it reads may be thousands."""
        state = directory_state(coll.lost)
        if state is None:
            return {}
        key = (state, directory_state(coll.warcs), directory_state(coll.root / "remote"))
        known = self._lost.get(coll.root)
        if known is None or known[0] != key:
            known = self._lost[coll.root] = (key, stated_lost(coll))
        return known[1]

    def _public(self, message: str) -> str:
        """``message`` (an error's, for the browser) with the paths of the store on this
        server said as names within it: ``warcs/x.warc.gz`` of the collection the page is
        of, a collection by its name. A replay server may be open to readers who have no
        business with its disks (the log keeps the paths, for whoever runs it)."""
        roots = {os.path.abspath(self.store), os.path.realpath(self.store)} - {os.sep}
        for root in sorted(roots, key=len, reverse=True):
            message = re.sub(re.escape(root + os.sep) + r"([^/\s'\"]+)(/?)",
                             lambda m: "" if m.group(2) else m.group(1), message)
        return message

    # -- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if not target:
            target = quote(environ.get("PATH_INFO", "/"), safe="/:@!$&'()*+,;=~%")
            if environ.get("QUERY_STRING"):
                target += "?" + environ["QUERY_STRING"]
        if method not in ("GET", "HEAD", *_POSTED):
            status, headers, body = _html("405 Method Not Allowed", pages.error_page("405", "Replay is read-only."))
            headers.append(("Allow", _ALLOW))
        elif environ.get("HTTP_SERVICE_WORKER"):
            # A browser fetching a service worker's script, which would then answer for every
            # page under its scope (its client script refuses to register one; a page can go
            # round that): no archived script is served as one.
            status, headers, body = _html("403 Forbidden", pages.error_page(
                "403 Forbidden", "Replay serves no service worker: an archived one would answer for the archive."))
        else:
            try:
                # What is answered with part of a capture, or none of it, reads no more of it.
                partial = method == "HEAD" or bool(environ.get("HTTP_RANGE"))
                posted = _posted(environ, method)
                damaged: dict[tuple[str, int], StoreError] = {}
                status, headers, body = self._answer(environ, method, target, partial, posted, damaged)
                while isinstance(body, Payload):
                    try:
                        # (a HEAD reads as far as its GET would before answering: the two agree)
                        if method == "HEAD":
                            body.check()
                        else:
                            chunks = body.chunks()
                        break
                    except StoreError as exc:  # (damaged before the answer's first bytes: the next capture is had)
                        log.warning("capture %s@%d unreadable, trying the next capture: %s", body.record.filename,
                                    body.record.offset, exc)
                        damaged[body.record.filename, body.record.offset] = exc
                        status, headers, body = self._answer(environ, method, target, partial, posted, damaged)
            except BadRequest as exc:
                status, headers, body = _html("400 Bad Request", pages.error_page("400 Bad Request", str(exc)))
            except ArchiveError as exc:
                log.warning("replay of %s failed: %s", target, exc)
                status, headers, body = _html("502 Bad Gateway", pages.error_page("Archive error", self._public(str(exc))))
        headers = [(k, _latin1(v)) for k, v in headers]
        headers.append(("Content-Length", str(len(body))))
        if not any(k.lower() == "content-security-policy" for k, _ in headers):
            headers.append(("Content-Security-Policy", CSP))
        start_response(status, headers)
        if method == "HEAD":
            return [b""]
        return chunks if isinstance(body, Payload) else [body]

    def _answer(self, environ: dict[str, Any], method: str, target: str, partial: bool,
                posted: Posted | None, damaged: dict[tuple[str, int], StoreError]) -> Response:
        """The answer to a request for ``target`` (:meth:`respond`), of the range asked for."""
        status, headers, body = self.respond(target, dest=environ.get("HTTP_SEC_FETCH_DEST"),
                                             referer=environ.get("HTTP_REFERER"), partial=partial, posted=posted,
                                             damaged=damaged)
        if status.startswith("200 ") and any(k == "Memento-Datetime" for k, _ in headers):
            status, headers, body = byte_range(environ, method, status, headers, body)
        return status, headers, body

    # -- routing ------------------------------------------------------------------------

    def collections(self) -> list[str]:
        if not self.store.is_dir():
            return []
        return sorted(p.name for p in self.store.iterdir() if (p / "warcs").is_dir())

    def _is_collection(self, name: str) -> bool:
        return bool(urls.COLLECTION.match(name)) and collection_dir(self.store, name).warcs.is_dir()

    def _coll(self, name: str) -> CollectionDir | None:
        coll = collection_dir(self.store, name)
        if not coll.warcs.is_dir():
            return None
        if not merged_path(coll).is_file() and name not in self.unindexed:
            problems = update_indexes_if_writable(coll)  # a store copied without its derived files
            for problem in problems:
                log.warning("%s: serving what the indexes of %s hold", problem, coll.root)
            if problems:
                self.unindexed.add(name)
        return coll

    def respond(self, target: str, *, dest: str | None = None, referer: str | None = None,
                partial: bool = False, posted: Posted | None = None,
                damaged: dict[tuple[str, int], StoreError] | None = None) -> Response:
        """The answer to a GET of ``target``. ``dest``: the request's Sec-Fetch-Dest;
        ``referer``: its Referer, by which a request that escaped a replayed page's prefix is
        sent back into the archive; ``partial``: the request is a HEAD or asks for a range, so
        a payload served as archived is answered unread (a :class:`Payload`; so is a large one
        a whole GET asks for, :meth:`replay`); ``posted``: the method, Content-Type and body
        of a POST or PUT, answered by the capture of the same (keyed as the index keys it,
        :func:`archive.index.cdxj.method_query`); ``damaged``: records (WARC file name,
        offset) found damaged while this request was answered, passed over."""
        if target.partition("?")[0] == CLIENT_PATH:
            return "200 OK", [("Content-Type", "text/javascript; charset=utf-8"),
                              ("Cache-Control", "no-cache")], _CLIENT
        escaped = self._escaped(target, referer)
        if escaped is not None:
            return "307 Temporary Redirect", [("Location", escaped)], b""
        route = parse(target)
        if posted is not None and route.kind != "replay":
            status, headers, body = _html("405 Method Not Allowed", pages.error_page(
                "405", "Only a capture's address answers a POST or PUT: with the capture of the same one."))
            return status, [*headers, ("Allow", "GET, HEAD")], body
        if route.kind == "root":
            return _html("200 OK", pages.collections_page(self.collections()))
        if route.kind == "redirect":
            return "301 Moved Permanently", [("Location", route.location or "/")], b""
        assert route.coll is not None
        coll = self._coll(route.coll)
        if coll is None:
            return _html("404 Not Found", pages.not_found_page(None, f"collection {route.coll}"))
        if route.kind == "collection":
            from archive.catalog import search_pages

            limit = 500
            return _html("200 OK", pages.search_page(coll.name, search_pages(coll, route.query, limit),
                                                     route.query, limit))
        assert route.url is not None
        if posted is not None:
            method, content_type, sent = posted
            entries = lookup_url(coll, route.url + method_query(method, content_type, sent, route.url)[1])
            if not entries:  # (a POST is not sent to another capture than its own: it would be a GET)
                return _html("404 Not Found", pages.not_found_page(
                    coll.name, f"{method} {route.url}", f"No {method} to it with this body was captured."))
            return self.replay(coll, route, entries, dest, partial, damaged)
        entries = lookup_url(coll, route.url)
        if not entries and route.kind == "replay":
            # A link with what the crawl leaves out of the URLs it fetches (a session id,
            # utm_ parameters), or a script's cache-buster: sent to the capture without it.
            canonical = canonical_or_none(route.url)
            near = lookup_url(coll, canonical) if canonical not in (None, route.url) else []
            near = near or lookup_near(coll, route.url)
            if near:
                url = closest(near, route.timestamp)[0].url
                return "302 Found", [("Location", replay_path(coll.name, route.timestamp, route.modifier, url))], b""
        if route.kind == "captures":
            lost = self.lost(coll)
            if lost:  # (indexes not yet updated since a loss was stated)
                entries = [entry for entry in entries if entry.filename not in lost]
            if not entries:
                return _html("404 Not Found", pages.not_found_page(coll.name, route.url, self._lost_note(coll)))
            return _html("200 OK", pages.captures_page(coll.name, route.url, entries))
        if route.provenance_redirect and entries:
            ts = route.timestamp or closest(entries, None)[0].timestamp
            return "302 Found", [("Location", replay_path(coll.name, ts, "prov_", route.url))], b""
        return self.replay(coll, route, entries, dest, partial, damaged)

    def _escaped(self, target: str, referer: str | None) -> str | None:
        """Where a request for ``target`` belongs if it is no replay path but was made by a
        replayed page (its ``Referer``): the same path and query on the archived site of that
        page, at the page's time (as pywb does). None otherwise."""
        path = target.partition("?")[0]
        if not referer or path in ("/", CLIENT_PATH):  # (the 404 page links to /: the collections)
            return None
        try:
            urls.check_safe(path)  # (refused as it is, below)
        except BadRequest:
            return None
        coll, _, rest = path[1:].partition("/")
        if self._is_collection(coll) and urls.in_replay_form(rest):
            return None  # a path of the replay server's own (not the site's /news/... in collection news)
        # (Its host is not compared with ours, which a reverse proxy may have changed: a
        # Referer can only send the request to a capture of this server.)
        scheme, sep, rest = referer.partition("://")
        if not sep or scheme not in ("http", "https"):
            return None
        try:
            page = parse("/" + rest.partition("/")[2].partition("#")[0])
        except BadRequest:
            return None
        if page.kind != "replay" or page.url is None or not self._is_collection(page.coll or ""):
            return None
        try:
            url = urls.normalise_url(urljoin(page.url, target))
        except (BadRequest, ValueError):
            return None
        assert page.coll is not None
        return replay_path(page.coll, page.timestamp, "" if page.modifier == "prov_" else page.modifier, url)

    # -- replay -------------------------------------------------------------------------

    def replay(self, coll: CollectionDir, route: Route, entries: list[CdxjEntry], dest: str | None = None,
               partial: bool = False, damaged: dict[tuple[str, int], StoreError] | None = None) -> Response:
        """The closest of ``entries`` that can be replayed. Its payload is read whole before
        the answer (to be rewritten, and found damaged while another capture can still be
        sent) unless the request is ``partial`` or its record is larger than ``READ_FIRST``:
        a 300 MB video is then sent as it is read (:class:`Payload`), a payload to rewrite
        alone being read whole after its headers. ``damaged``: records passed over."""
        assert route.url is not None
        interim: CdxjEntry | None = None
        looping: CdxjEntry | None = None
        unreadable: StoreError | None = None
        orphaned = False  # (a revisit whose original could not be found)
        passed = damaged or {}
        for entry in closest(entries, route.timestamp):
            if (entry.filename, entry.offset) in passed:
                unreadable = unreadable or passed[entry.filename, entry.offset]
                continue
            try:
                record = read_record(coll, entry.filename, entry.offset, entry.length,
                                     head_only=partial or entry.length > READ_FIRST)
            except StoreError as exc:  # (as pywb does: the next closest capture is tried)
                if entry.filename in self.lost(coll):  # (indexes not yet updated since its loss was stated)
                    continue
                log.warning("capture %s@%d unreadable, trying the next capture: %s", entry.filename, entry.offset, exc)
                unreadable = unreadable or exc
                continue
            original = None
            if record.rec_type == "revisit":
                # (its headers alone: how large its payload is is known only once it is found)
                original = resolve_revisit(coll, record, entry, head_only=True)
                if original is not None and (original.filename, original.offset) in passed:
                    unreadable = unreadable or passed[original.filename, original.offset]
                    continue
                if original is None:
                    log.warning("revisit %s@%d: original not found, trying the next capture",
                                entry.filename, entry.offset)
                    orphaned = True
                    continue
            if route.modifier != "prov_" and (_head(record, original).status or 200) < 200:
                # An interim answer (100 Continue, 103 Early Hints) sent as if final: replayed
                # as is, a client would wait for ever for the answer after it.
                interim = interim or entry
                continue
            if route.modifier != "prov_" and _redirects_to_itself(entry.url, _head(record, original)):
                # A server that set a cookie and sent the reader back to the same URL: replayed,
                # the browser would follow it to itself until it gave up. The next-nearest
                # capture is the page behind it (as pywb does).
                looping = looping or entry
                continue
            if route.modifier == "prov_":
                doc = provenance(coll, entry, record, original)
                body = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
                return "200 OK", [("Content-Type", "application/json; charset=utf-8")], body
            try:
                return self._payload(coll, route, entry, record, original, dest)
            except StoreError as exc:  # (only its head was read above: its payload is damaged)
                log.warning("capture %s@%d unreadable, trying the next capture: %s", entry.filename, entry.offset, exc)
                unreadable = unreadable or exc
        if looping is not None:
            return _html("502 Bad Gateway", pages.error_page(
                "502 Bad Gateway", f"The capture of {looping.url} at {looping.timestamp} redirects to itself (a "
                "server that set a cookie and sent the reader back), and there is no other capture, of the page "
                "behind it: replayed, a browser would follow it round until it gave up. Its record is in the "
                "provenance: " + replay_path(coll.name, looping.timestamp, "prov_", looping.url)))
        if interim is not None:
            return _html("502 Bad Gateway", pages.error_page(
                "502 Bad Gateway", f"The capture of {interim.url} at {interim.timestamp} is an interim response, "
                "which no client takes for an answer, and there is no other. Its record is in the provenance: "
                + replay_path(coll.name, interim.timestamp, "prov_", interim.url)))
        if unreadable is not None:
            raise unreadable
        if not orphaned:
            return _html("404 Not Found", pages.not_found_page(coll.name, route.url, self._lost_note(coll)))
        detail = "Only captures whose original could not be found exist."
        lost = self.lost(coll)
        if len(lost) == 1:
            statement = next(iter(lost.values()))
            detail += f" The original may have been in {statement['path']}, {said(statement)}."
        elif lost:
            detail += f" The original may have been in one of the {len(lost)} WARCs of {coll.name} stated lost."
        return _html("404 Not Found", pages.not_found_page(coll.name, route.url, detail))

    def _lost_note(self, coll: CollectionDir) -> str:
        """For a page that finds no capture: the WARCs of ``coll`` stated lost, whose
        captures are found no more (and may have held this one), or nothing."""
        lost = self.lost(coll)
        if len(lost) == 1:
            statement = next(iter(lost.values()))
            note = (f"A capture of it may have been in {statement['path']}, whose captures are found no more: that "
                    f"WARC was {said(statement)}")
            return note if note.endswith((".", "!", "?")) else note + "."
        if lost:
            return (f"A capture of it may have been in one of the {len(lost)} WARCs of {coll.name} stated lost, whose "
                    "captures are found no more.")
        return ""

    def _payload(self, coll: CollectionDir, route: Route, entry: CdxjEntry, record: ArchivedRecord,
                 original: ArchivedRecord | None, dest: str | None = None) -> Response:
        head = _head(record, original)
        body_record = original or record
        status = head.status or 200
        mod = route.modifier if route.modifier else ""
        decoded = mod != "id_"
        mime = (head.header("Content-Type") or entry.mime or "").split(";")[0].strip().lower()
        # (a type a browser sniffs the body of, and shows as a page if it begins as one)
        sniffing = mime in _UNKNOWN and "nosniff" not in (head.header("X-Content-Type-Options") or "").lower()
        body: Body = b""
        if not body_record.complete:  # (a HEAD, a range or a large record: only the record's head was read)
            # A payload served as archived is sent as it is read, its length known from its
            # record: a video of hundreds of MB is never held whole, by any number of clients.
            # One to rewrite (HTML, CSS, SVG) or whose content coding is undone is read whole
            # first: its rewritten text, and so its length, is known only from all of it.
            if body_record.payload_size is not None and not (decoded and _coded(body_record)):
                body = Payload(coll, body_record)  # read no further than asked
                if decoded and sniffing and rewrite.sniffs_as_html(body.start(512)):
                    mime = "text/html"
            if not isinstance(body, Payload) or (decoded and mime in _REWRITTEN):
                body_record = read_record(coll, body_record.filename, body_record.offset, body_record.length)
        if body_record.complete:
            body = body_record.payload
            if decoded:
                body = body_record.decoded_payload(MAX_DECODED_BYTES + 1)
                if len(body) > MAX_DECODED_BYTES and body_record.header("Content-Encoding"):
                    # A bomb: sent as archived, for the browser to inflate (or not) as it would have.
                    body, decoded = body_record.payload, False
            if decoded and sniffing and rewrite.sniffs_as_html(body):
                mime = "text/html"  # (what a browser makes of it, and shows as a page)

        def make(url: str) -> str:
            return replay_path(coll.name, entry.timestamp, "" if mod == "id_" else mod, url)

        headers: list[tuple[str, str]] = []
        for name, value in head.http_headers:
            lname = name.lower()
            if lname in _DROP or (lname == "content-encoding" and decoded):
                continue
            if "\x00" in value:  # browsers and curl refuse the whole response for it (the WARC keeps it)
                continue
            if lname in _RENAME:
                name = "X-Archive-Orig-" + name
            elif lname == "location" and 300 <= status < 400:
                try:
                    value = replay_path(coll.name, entry.timestamp, mod, urljoin(entry.url, value.strip()))
                except ValueError:  # no URL a browser could follow either (``http://[::1``)
                    name = "X-Archive-Orig-" + name
            elif lname == "refresh":  # browsers follow it as they do a meta refresh
                value = rewrite.rewrite_refresh(value, entry.url, make) or value
            elif lname == "content-encoding" and original is not None:
                value = original.header("Content-Encoding") or value
            headers.append((name, value))
        moment = datetime.strptime(entry.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        headers.append(("Memento-Datetime", format_datetime(moment, usegmt=True)))
        headers.append(("Link", f'<{entry.url}>; rel="original"'))
        page = False
        if decoded and isinstance(body, bytes):  # (a Payload is of no type rewritten)
            if mod in REWRITE_MODIFIERS and mime in _HTML and not _markup_for(dest, body):
                headers = _varying(headers, "Sec-Fetch-Dest")  # (rewritten when asked for as a page)
            elif mod in REWRITE_MODIFIERS and mime in _HTML:
                banner = banner_html(
                    timestamp=entry.timestamp, url=entry.url, digest=body_record.warc("WARC-Payload-Digest") or "",
                    provenance_href=replay_path(coll.name, entry.timestamp, "prov_", entry.url),
                    captures_href=f"/{coll.name}/*/{entry.url}") if dest in _BANNER_DESTS and mod not in _FRAMED else None
                first = _client_tag(coll.name, entry.timestamp, mod, entry.url) if dest in _CLIENT_DESTS else None
                if first is not None and mime == "text/html":
                    headers = _with_charset(headers, body)  # (the tag may push a <meta charset> past where it is looked for)
                # What is added depends on what the page is fetched for: a copy a script
                # fetched must not be taken from the cache for the page itself.
                headers = _varying(headers, "Sec-Fetch-Dest")
                # (the page's own address may name another time than its capture's)
                page_prefix = replay_path(coll.name, route.timestamp, route.modifier if route.timestamp else "",
                                          _site(entry.url))
                body = rewrite.rewrite_html(body, entry.url, make, banner, first,
                                            _imports(coll.name, entry.url, make, page_prefix),
                                            rewrite.page_encoding(head.header("Content-Type"), body))
                page = True
            elif mod in REWRITE_MODIFIERS and mime == "text/css":
                body = rewrite.rewrite_css_bytes(body, entry.url, make,
                                                 rewrite.page_encoding(head.header("Content-Type"), body))
            elif mod in REWRITE_MODIFIERS and mime == "image/svg+xml":
                body = rewrite.rewrite_svg_bytes(body, entry.url, make)
        if not page:
            headers.append(("Content-Security-Policy", SANDBOXED))
        reason = head.reason.strip() or _phrase(status)
        return f"{status} {reason}", headers, body


# What a browser asks for (Sec-Fetch-Dest) that is never a page, whatever its type says: a
# script or style sheet a misconfigured server labelled text/html, rewritten as markup, was
# broken (a link in a string of the script given quotes that ended it).
_NOT_MARKUP_DESTS = {"script", "style", "image", "font", "audio", "video", "track", "worker", "sharedworker",
                     "serviceworker", "audioworklet", "paintworklet", "manifest", "report", "xslt", "json"}


def _markup_for(dest: str | None, body: bytes) -> bool:
    """Whether an HTML capture asked for as ``dest`` is markup to rewrite: a page, a frame,
    or what a script fetches if it begins as markup does (not JSON a PHP endpoint labelled
    text/html, which a link rewritten into it made unreadable)."""
    if dest == "empty":
        return body.lstrip(b"\xef\xbb\xbf \t\r\n\x0c")[:1] == b"<"
    return dest not in _NOT_MARKUP_DESTS


def _coded(record: ArchivedRecord) -> bool:
    """Whether ``record``'s payload has a content coding (that replay undoes)."""
    return any(c.strip().lower() not in ("", "identity") for c in (record.header("Content-Encoding") or "").split(","))


def _head(record: ArchivedRecord, original: ArchivedRecord | None) -> ArchivedRecord:
    """The record whose status and headers are replayed: a revisit's own, unless it records
    a 304 or has none (WARC 1.1 §6.7), when they are its original's."""
    if original is not None and (record.status in (None, 304) or not record.http_headers):
        return original
    return record


def _redirects_to_itself(url: str, head: ArchivedRecord) -> bool:
    """Whether ``head`` is a redirect to ``url`` itself."""
    location = head.header("Location") if 300 <= (head.status or 0) < 400 else None
    if not location:
        return False
    try:
        return urljoin(url, location.strip()).partition("#")[0] == url
    except ValueError:
        return False


def _client_tag(coll: str, timestamp: str, modifier: str, url: str) -> str:
    """The script tag that loads client.js for a page (ASCII, as rewrite_html needs)."""
    def attr(value: str) -> str:
        return html.escape(value, quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")

    return (f'<script src="{CLIENT_PATH}" data-coll="{attr(coll)}" data-timestamp="{attr(timestamp)}" '
            f'data-modifier="{attr(modifier)}" data-url="{attr(url)}"></script>')


def _site(url: str) -> str:
    """The root of ``url``'s site: ``http://site/``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _imports(coll: str, url: str, make: Callable[[str], str], page_prefix: str) -> dict[str, Any]:
    """An import map sending the root-relative and absolute imports of the page's site
    (``import "/js/x.js"``, ``import("http://site/js/x.js")``) by the page and its site's
    modules to their captures at the page's time, as their relative imports already go: a
    module imported both ways is one module (the browser keys modules by the URL asked for,
    before any redirect), and one imported by an absolute URL is not refused by replay's
    policy. Scoped to the site's modules: another site's (a CDN's) root paths are its own,
    sent there by the Referer. Paths under the collection are the replay server's own and
    stay as they are (the longest prefix wins). ``page_prefix``: the site's root in the
    page's own address, which names the time it was asked for, not always its capture's
    (a link from a page of another time; ``/coll/URL``)."""
    site = _site(url)
    prefix = make(site)
    entries = {"/": prefix, f"/{quote(coll)}/": f"/{quote(coll)}/", site: prefix}
    return {"scopes": {prefix: entries, page_prefix: entries}}


def _extended(headers: list[tuple[str, str]], name: str, more: str, sep: str, alone: str) -> list[tuple[str, str]]:
    """``headers`` with ``more`` added after ``sep`` to the (first) header ``name``, or with
    ``name: alone`` if there is none."""
    at = next((i for i, (k, _) in enumerate(headers) if k.lower() == name.lower()), None)
    if at is None:
        return [*headers, (name, alone)]
    return [*headers[:at], (headers[at][0], f"{headers[at][1]}{sep}{more}"), *headers[at + 1:]]


def _varying(headers: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """``headers`` with ``name`` in Vary (added to the archived one, if any)."""
    return _extended(headers, "Vary", name, ", ", name)


def _with_charset(headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    """``headers`` with the charset of the page's ``<meta>`` added to a Content-Type that
    names none: what a browser would have read from the page, said where inserted markup
    cannot move it out of reach."""
    if "charset" in next((v for k, v in headers if k.lower() == "content-type"), "").lower():
        return headers
    charset = rewrite.declared_charset(body)
    if charset is None:
        return headers
    return _extended(headers, "Content-Type", f"charset={charset}", "; ", f"text/html; charset={charset}")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Archived"  # WSGI needs a reason phrase; the archive had none
