"""Review probes: edge cases of the capture path against real local servers and real files.

One crawl of a raw-socket server (tests/wire.py) whose routes send odd but legal HTTP
(304/204 without bodies, close-delimited HTTP/1.0, duplicate and latin-1 headers, IRIs, a
very long URL, mid-body disconnects, a body exactly at the size cap, Retry-After, an
off-host redirect, a redirect loop, a stalled body), read back with warcio (iterator with
digest checks, and the `warcio check` / `warcio index` commands). Then the store side
without Scrapy: repair at many truncation points, verify on odd files, manifests, two
collections, concurrent jobs of one collection, and a job that is still running.

Tests marked xfail(strict=True) record a defect found by the review; they pass once it is
fixed (and then fail loudly, so the mark gets removed).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import pytest
from warcs import fields, read_collection, sha1_b32
from wire import chunked, response, serve_wire

from archive.capture import Fetch, Provenance
from archive.config import collection_from_dict, one_off
from archive.crawl import crawl
from archive.job import CaptureJob
from archive.manifest import HEAD, encode
from archive.repair import repair
from archive.verify import verify
from archive.warc.reader import check_records

# Every body differs: identical payloads would become revisit records (dedup across URLs).
# -- the probe site -----------------------------------------------------------------------

CAP = 20_000
BIG = 4_000_000  # many reads: the cap cuts it
LONG = "/long/" + "a" * 2000  # under Scrapy's URLLENGTH_LIMIT (2083)
TOO_LONG = "/toolong/" + "a" * 6000
IRI_LINK = "/caf\u00e9?q=\u00fc"
IRI_PATH = "/caf%C3%A9"
IRI_CANONICAL = "/caf%C3%A9?q=%C3%BC"
LINKS = ["/r304", "/cl304", "/r204", "/empty", "/emptychunk", "/http10", "/cookies", "/latin1",
         "/dataloss", "/chunkloss", "/huge", IRI_LINK, LONG, TOO_LONG, "/offsite", "/loop1", "/r503", "/exact",
         "/over", "/big", "/stall", "/badimg", "/early", "/splithead", "/oddhead", "/tecl", "/early2",
         "/early3"]
HOME = ("<!doctype html><html><head><meta charset='utf-8'></head><body>"
        + "".join(f'<a href="{link}">x</a>' for link in LINKS) + "</body></html>").encode("utf-8")
# A page requisite with an invalid port, then an ordinary link on the same page.
BADIMG = b'<html><body><img src="http://127.0.0.1:99999/x.png"><a href="/after-bad">next</a></body></html>'


def _raw(*parts: bytes | float):
    def route(_head: bytes) -> list[bytes | float]:
        return list(parts)

    return route


def _probe_routes(port_holder: dict, hits: dict) -> dict:
    text = [("Content-Type", "text/plain")]

    def counted(name, inner):
        def route(head):
            hits.setdefault(name, []).append(time.monotonic())
            return inner(head)

        return route

    def offsite(_head):
        loc = f"http://localhost:{port_holder['port']}/elsewhere"
        return [f"HTTP/1.1 302 Found\r\nLocation: {loc}\r\nContent-Length: 0\r\n\r\n".encode()]

    return {
        "/robots.txt": response("200 OK", text, b"User-agent: *\nAllow: /\n"),
        "/": response("200 OK", [("Content-Type", "text/html; charset=utf-8")], HOME),
        "/r304": _raw(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'),
        "/cl304": _raw(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n'),
        "/r204": _raw(b"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n"),
        "/empty": response("200 OK", text, b""),
        "/emptychunk": chunked("200 OK", text, []),
        "/http10": _raw(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nclose-delimited body"),
        "/cookies": _raw(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Mid: m\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nc1"),
        "/latin1": _raw(b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nl1"),
        "/dataloss": _raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n"
                          b"Connection: close\r\n\r\nonly ten b"),
        "/chunkloss": _raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                           b"Connection: close\r\n\r\n5\r\nhello\r\n20\r\nabc"),
        "/huge": _raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 70_000 + b"\r\nContent-Length: 2\r\n\r\nh1"),
        IRI_PATH: response("200 OK", text, b"iri"),
        LONG: response("200 OK", text, b"long"),
        TOO_LONG: response("200 OK", text, b"too long"),
        "/offsite": offsite,
        "/elsewhere": response("200 OK", text, b"offsite page"),
        "/loop1": response("302 Found", [("Location", "/loop2")], b""),
        "/loop2": response("302 Found", [("Location", "/loop1")], b""),
        "/r503": counted("r503", response("503 Service Unavailable", [("Retry-After", "1")], b"busy")),
        "/exact": response("200 OK", text, b"x" * CAP),
        "/over": response("200 OK", text, b"o" * (CAP + 5_000)),  # arrives in one read locally
        "/big": response("200 OK", text, b"y" * BIG),
        # (stalled well past the crawl's timeout, which is long enough that no other page of a
        # busy machine's crawl takes as long)
        "/stall": _raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial-", 6.0),
        "/badimg": response("200 OK", [("Content-Type", "text/html")], BADIMG),
        "/after-bad": response("200 OK", text, b"reached"),
        # An interim response first, which the client skips; then the real one.
        "/early": _raw(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                       b"HTTP/1.1 200 Fine Thanks\r\ncontent-type: text/plain\r\nContent-Length: 5\r\n\r\nearly"),
        # Lines a lenient client reads past: folded, without a colon, odd spacing.
        "/oddhead": _raw(b"HTTP/1.1 200 Okay-ish\r\nContent-Type:text/plain\r\nX-Fold: a\r\n\tb\r\n"
                         b"this line has no colon\r\nX-Spaced:   v  \r\nContent-Length: 3\r\n\r\nodd"),
        # Both framings, against the rules: the client reads the chunks and ignores the length.
        "/tecl": _raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        # The interim head in one read, the final one in the next.
        "/early2": _raw(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", 0.05,
                        b"HTTP/1.1 200 Later\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nlater!"),
        # Two interim heads, each in a read of its own, the second cut in two.
        "/early3": _raw(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early", 0.05,
                        b" Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", 0.05,
                        b"HTTP/1.1 200 At Last\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nat last"),
        # The head in three reads, the blank line itself cut in two.
        "/splithead": _raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", 0.05,
                           b"X-Folded: one\r\n two\r\nContent-Length: 5\r\n\r", 0.05, b"\nsplit"),
    }


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    store = tmp_path_factory.mktemp("review-store")
    hits: dict = {}
    holder: dict = {}
    with serve_wire({}) as server:
        holder["port"] = server.port
        server.routes.update(_probe_routes(holder, hits))
        coll = collection_from_dict({"name": "r", "urls": [server.base + "/"],
                                     "caps": {"timeout": 2.5, "max_body_bytes": CAP}})
        result = crawl(store, coll, overrides={"RETRY_TIMES": 1, "ARCHIVE_RETRY_AFTER_TIMES": 1})
    records, lines = read_collection(store / "r")
    return SimpleNamespace(store=store, result=result, records=records, lines=lines, base=server.base,
                           port=server.port, hits=hits, sent=server.sent)


def _responses(probe, path: str, base: str | None = None):
    url = (base or probe.base) + path
    return [r for r in probe.records if r.type == "response" and r.h("WARC-Target-URI") == url]


def _one(probe, path: str):
    found = _responses(probe, path)
    assert len(found) == 1, f"{path}: {len(found)} responses"
    return found[0]


def _meta(probe, rec) -> dict:
    for r in probe.records:
        if r.type == "metadata" and r.h("WARC-Concurrent-To") == rec.h("WARC-Record-ID"):
            return fields(r.payload)
    raise AssertionError("no metadata record")


def _lines(probe, path: str):
    return [line for line in probe.lines if line["url"] == probe.base + path]


def _sent_headers(probe, path: str) -> set[tuple[str, str]]:
    head = probe.sent[path].split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {(k.lower(), v) for k, v in (h.split(": ", 1) for h in head)}


# -- every file we wrote, through independent readers ------------------------------------


def test_every_record_passes_warcio_digest_checks_and_cli_agrees(probe):
    warcs = sorted((probe.store / "r" / "warcs").glob("*.warc.gz"))
    assert warcs
    for rec in probe.records:
        assert rec.digest_ok is not False, (rec.type, rec.h("WARC-Target-URI"))
        if rec.type == "response":
            assert rec.digest_ok is True and rec.h("WARC-Payload-Digest") == sha1_b32(rec.payload)
    if shutil.which("warcio") is None:
        pytest.skip("warcio command not installed")
    indexed = set()
    for warc in warcs:
        check = subprocess.run(["warcio", "check", str(warc)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        out = subprocess.run(["warcio", "index", "-f", "offset,length,warc-type,warc-record-id", str(warc)],
                             capture_output=True, text=True, check=True).stdout
        rows = [json.loads(line) for line in out.splitlines()]
        ours = [(r.offset, r.length, r.type, r.record_id) for r in check_records(warc)]
        theirs = [(int(r["offset"]), int(r["length"]), r["warc-type"], r["warc-record-id"]) for r in rows]
        assert ours == theirs
        indexed |= {(warc.name, o, n, i) for o, n, _, i in theirs}
    for line in probe.lines:
        if line["outcome"] == "captured":
            w = line["warc"]
            assert (w["filename"], w["offset"], w["length"], w["record_id"]) in indexed, line["url"]
    report = verify(probe.store)
    assert report.ok, [str(p) for p in report.problems]


# -- responses without a body ---------------------------------------------------------------


def test_no_body_responses_claim_no_chunked_framing(probe):
    for path in ("/r304", "/cl304", "/r204"):
        rec = _one(probe, path)
        meta = _meta(probe, rec)
        assert rec.payload == b""
        assert "transferEncodingRemoved" not in meta
        assert "transfer-encoding-removed" not in meta.get("reconstructed", "")
        assert all(k.lower() != "transfer-encoding" for k, _ in rec.http_headers)


def test_no_body_responses_keep_the_headers_that_were_sent(probe):
    for path in ("/r304", "/cl304", "/r204"):
        rec = _one(probe, path)
        recorded = {(k.lower(), v) for k, v in rec.http_headers}
        assert recorded == _sent_headers(probe, path), path
        assert "reconstructed" not in _meta(probe, rec), path


def _recorded_head(rec) -> bytes:
    return rec.block[:rec.block.index(b"\r\n\r\n") + 4]


def _sent_head(probe, path: str) -> bytes:
    wire = probe.sent[path]
    return wire[:wire.index(b"\r\n\r\n") + 4]


def test_response_heads_are_recorded_byte_for_byte_as_sent(probe):
    # Reason phrases, header-name case and order, repeated and Latin-1 headers, connection
    # headers, an HTTP/1.0 status line: the bytes the server sent.
    for path in ("/", "/r304", "/cl304", "/r204", "/cookies", "/latin1", "/http10", "/dataloss", "/oddhead",
                 "/loop1", "/offsite", "/exact"):
        rec = _one(probe, path)
        assert _recorded_head(rec) == _sent_head(probe, path), path
        assert "reconstructed" not in _meta(probe, rec), path


def test_a_length_beside_chunks_is_dropped_with_them_and_said(probe):
    rec = _one(probe, "/tecl")
    assert rec.payload == b"hello"
    assert _recorded_head(rec) == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
    assert _meta(probe, rec)["reconstructed"] == "transfer-encoding-removed,content-length-removed"


def test_a_head_that_arrives_in_pieces_is_recorded_whole(probe):
    rec = _one(probe, "/splithead")
    assert _recorded_head(rec) == _sent_head(probe, "/splithead")
    assert rec.payload == b"split"
    assert ("X-Folded", "one two") in rec.http_headers or ("X-Folded", "one\r\n two") in rec.http_headers


def test_an_interim_response_is_skipped_and_the_final_head_recorded(probe):
    for path, status_line, payload, interim in (("/early", "HTTP/1.1 200 Fine Thanks", b"early", "103"),
                                                ("/early2", "HTTP/1.1 200 Later", b"later!", "103"),
                                                ("/early3", "HTTP/1.1 200 At Last", b"at last", "100 103")):
        rec = _one(probe, path)
        wire = probe.sent[path]
        final = wire[wire.index(b"HTTP/1.1 200"):]
        assert _recorded_head(rec) == final[:final.index(b"\r\n\r\n") + 4], path
        assert rec.status_line == status_line and rec.payload == payload, path
        meta = _meta(probe, rec)
        assert "reconstructed" not in meta and meta["interimResponses"] == interim, path
    assert "interimResponses" not in _meta(probe, _one(probe, "/oddhead"))


def test_a_chunked_head_is_recorded_without_its_transfer_encoding_line_only(probe):
    rec = _one(probe, "/emptychunk")
    sent = _sent_head(probe, "/emptychunk")
    assert b"Transfer-Encoding: chunked\r\n" in sent
    assert _recorded_head(rec) == sent.replace(b"Transfer-Encoding: chunked\r\n", b"")
    assert _meta(probe, rec)["reconstructed"] == "transfer-encoding-removed"


def test_without_the_tap_a_rebuilt_head_says_what_was_rebuilt(tmp_path):
    # Scrapy's own handler: the middleware rebuilds the head from the parsed headers.
    stock = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b""),
              "/": response("200 OK", [("Content-Type", "text/html")], b'<a href="/cl304">x</a>'),
              "/cl304": _raw(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n')}
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "u", "urls": [server.base + "/"]})
        crawl(tmp_path, coll, overrides={"DOWNLOAD_HANDLERS": {"http": stock, "https": stock}})
    records, _ = read_collection(tmp_path / "u")
    rec = next(r for r in records if r.type == "response" and r.h("WARC-Target-URI") == server.base + "/cl304")
    meta = next(fields(r.payload) for r in records
                if r.type == "metadata" and r.h("WARC-Concurrent-To") == rec.h("WARC-Record-ID"))
    assert set(meta["reconstructed"].split(",")) == {"header-fields", "reason-phrase", "content-length", "request-head"}
    assert ("Content-Length", "0") in rec.http_headers


def test_head_and_no_body_statuses_claim_no_framing_in_the_middleware():
    from scrapy.http import Request, Response
    from scrapy.settings import Settings

    from crawler.middlewares import WarcCaptureMiddleware

    mw = WarcCaptureMiddleware.__new__(WarcCaptureMiddleware)
    mw.crawler = SimpleNamespace(settings=Settings({"ROBOTSTXT_OBEY": False}))
    mw.obey_robots = False
    started = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # the middleware keeps POSIX timestamps
    url = "http://127.0.0.1:9/x"
    for method, status in (("HEAD", 200), ("GET", 204), ("GET", 304), ("HEAD", 404)):
        req = Request(url, method=method)
        fetch = mw.fetch_of(req, Response(url, status=status, body=b"", request=req), started, 1.0)
        assert fetch.framing is None, (method, status)
    req = Request(url)
    fetch = mw.fetch_of(req, Response(url, status=200, body=b"x", request=req), started, 1.0)
    assert fetch.framing == "chunked"  # no Content-Length, ended cleanly: only chunked does that


def test_the_middleware_builds_the_fetch_its_fields_describe():
    # The middleware builds a fetch as a flat tuple in the order of Fetch's fields (what
    # the capture worker gets); every field here has a value of its own, so a field out
    # of place does not go unnoticed.
    from scrapy.http import Request, Response

    from crawler.middlewares import WarcCaptureMiddleware, provenance_of

    mw = WarcCaptureMiddleware.__new__(WarcCaptureMiddleware)
    mw.obey_robots = True
    started = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    url = "http://127.0.0.1:9/story"
    req = Request(url, headers={"User-Agent": "ua", "Accept": ["a", "b"]}, meta={
        "depth": 2, "redirect_urls": ["http://127.0.0.1:9/old"], "archive_robots": "allowed",
        "archive": {"seed": "http://127.0.0.1:9/", "channel": "link", "source": "http://127.0.0.1:9/feed",
                    "source_id": "guid-1", "via": "http://127.0.0.1:9/list", "hops": "L",
                    "url_as_linked": "http://127.0.0.1:9/story?utm=x"}})
    res = Response(url, status=203, headers={"Content-Length": "4", "Set-Cookie": ["a=1", "b=2"]}, body=b"body",
                   request=req, flags=["dataloss"], ip_address=None, protocol="HTTP/1.1")
    provenance = Provenance(seed="http://127.0.0.1:9/", channel="redirect", source="http://127.0.0.1:9/feed",
                            source_id="guid-1", via="http://127.0.0.1:9/old", hops="LR", depth=2,
                            url_as_linked="http://127.0.0.1:9/story?utm=x")
    assert provenance_of(req) == provenance
    # The middleware times a fetch as a POSIX timestamp; the Fetch has it as a UTC datetime.
    assert mw.fetch_of(req, res, started.timestamp(), 12.5) == Fetch(
        url=url, method="GET",
        request_headers=[(b"User-Agent", b"ua"), (b"Accept", b"a"), (b"Accept", b"b")], request_body=b"",
        status=203, response_headers=[(b"Content-Length", b"4"), (b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")],
        body=b"body", started=started, duration_ms=12.5, protocol="HTTP/1.1", reason=None, remote_ip=None,
        tls_cert_der=None, framing=None, truncated="disconnect", provenance=provenance, robots="allowed",
        reconstructed=())


def test_the_request_head_as_sent_leaves_the_meta_once_recorded():
    # It holds the request's cookies and credentials unredacted; the request's meta goes on
    # to the spider, and is copied into redirected and retried requests.
    from scrapy.http import Request, Response

    from crawler.middlewares import _HEADERS_AT, WarcCaptureMiddleware
    from crawler.tap import Head

    recorded: list[Fetch] = []
    mw = WarcCaptureMiddleware.__new__(WarcCaptureMiddleware)
    mw.obey_robots = False
    mw.job = SimpleNamespace(record_fetch=recorded.append)
    url = "http://127.0.0.1:9/x"
    sent = b"GET /x HTTP/1.1\r\nCookie: id=s3cr3t\r\nHost: 127.0.0.1:9\r\n\r\n"
    head = Head(b"HTTP/1.1 200 Fine\r\nContent-Length: 1\r\n\r\n", sent)
    req = Request(url, meta={_HEADERS_AT: (time.time(), time.monotonic(), head), "download_latency": 0.01})
    res = Response(url, status=200, headers={"Content-Length": "1"}, body=b"x", request=req)
    assert mw.process_response(req, res) is res
    [fetch] = recorded
    assert (fetch.request_head, fetch.response_head) == (sent, head.raw)
    assert head.sent is None and head.reader is None and head.done


def test_empty_bodies(probe):
    rec = _one(probe, "/empty")
    assert rec.payload == b"" and ("Content-Length", "0") in rec.http_headers
    assert rec.h("WARC-Payload-Digest") == sha1_b32(b"")
    assert "transferEncodingRemoved" not in _meta(probe, rec)
    chunk = _one(probe, "/emptychunk")
    assert chunk.payload == b"" and _meta(probe, chunk)["transferEncodingRemoved"] == "chunked"


# -- framing, headers, URLs --------------------------------------------------------------------


def test_close_delimited_http10_response(probe):
    rec = _one(probe, "/http10")
    assert rec.status_line == "HTTP/1.0 200 OK"
    assert rec.payload == b"close-delimited body"
    assert rec.h("WARC-Truncated") is None and rec.h("WARC-Protocol") == "http/1.0"
    meta = _meta(probe, rec)
    assert "transferEncodingRemoved" not in meta and "truncated" not in meta


def test_duplicate_set_cookie_headers_are_both_kept(probe):
    rec = _one(probe, "/cookies")
    assert [v for k, v in rec.http_headers if k.lower() == "set-cookie"] == ["a=1", "b=2"]
    assert ("X-Mid", "m") in rec.http_headers


def test_latin1_header_value_is_stored_byte_exact(probe):
    rec = _one(probe, "/latin1")
    warc = probe.store / "r" / "warcs" / rec.file
    raw = gzip.decompress(warc.read_bytes())
    assert b"X-Name: caf\xe9\r\n" in raw


def test_iri_and_very_long_urls(probe):
    iri = _one(probe, IRI_CANONICAL)
    assert iri.payload == b"iri"
    assert _lines(probe, IRI_CANONICAL)[0]["warc"]["record_id"] == iri.h("WARC-Record-ID")
    long = _one(probe, LONG)
    assert long.payload == b"long" and len(long.h("WARC-Target-URI")) > 2000
    assert _lines(probe, LONG)[0]["outcome"] == "captured"


def test_a_too_long_url_is_not_dropped_silently(probe):
    assert _lines(probe, TOO_LONG) or _responses(probe, TOO_LONG)


def test_a_70_kb_header_line_which_browsers_take_is_captured_as_sent(probe):
    [line] = _lines(probe, "/huge")
    assert line["outcome"] == "captured"
    [rec] = _responses(probe, "/huge")
    assert rec.payload == b"h1" and b"X-Big: " + b"b" * 70_000 + b"\r\n" in rec.block


# -- truncation ------------------------------------------------------------------------------


def test_disconnect_mid_body_is_marked(probe):
    for path, body, framing in (("/dataloss", b"only ten b", None), ("/chunkloss", b"helloabc", "chunked")):
        rec = _one(probe, path)
        assert rec.payload == body and rec.h("WARC-Truncated") == "disconnect"
        meta = _meta(probe, rec)
        assert meta["truncated"] == "disconnect" and meta.get("transferEncodingRemoved") == framing
        assert _lines(probe, path)[0]["truncated"] == "disconnect"


def test_body_over_the_cap_is_marked_length(probe):
    rec = _one(probe, "/big")
    assert rec.h("WARC-Truncated") == "length" and CAP <= len(rec.payload) < BIG
    assert _lines(probe, "/big")[0]["truncated"] == "length"


def test_a_complete_body_is_not_marked_truncated(probe):
    rec = _one(probe, "/exact")
    assert len(rec.payload) == CAP
    assert rec.h("WARC-Truncated") is None
    over = _one(probe, "/over")
    if over.h("WARC-Truncated") == "length":
        assert len(over.payload) < CAP + 5_000, "whole body stored, yet marked truncated"


def test_timeout_mid_body_keeps_the_bytes_with_truncated_time(probe):
    # One line an attempt: the first, retried, failed; the last captured, cut off by the
    # timeout, its bytes kept (one partial copy, not one an attempt).
    first, last = _lines(probe, "/stall")
    assert first["outcome"] == "failed" and "Timeout" in first["error"] and first.get("warc") is None
    assert last["outcome"] == "captured" and last["truncated"] == "time" and "Timeout" in last["error"]
    assert last["status"] == 200 and last["remote_ip"] == "127.0.0.1"
    (rec,) = _responses(probe, "/stall")
    assert rec.h("WARC-Record-ID") == last["warc"]["record_id"]
    assert rec.h("WARC-Truncated") == "time" and rec.payload == b"partial-"
    assert _recorded_head(rec) == _sent_head(probe, "/stall")
    assert rec.digest_ok is True
    # The manifest's errors by kind show both.
    manifest = json.loads(next((probe.store / "r" / "manifests").glob("*.json")).read_text())
    assert manifest["counts"]["by_error"].get("DownloadTimeoutError") == 2


# -- redirects, retries, discovery -------------------------------------------------------------


def test_redirect_loop_is_recorded_hop_by_hop_and_ends(probe):
    first, second = _one(probe, "/loop1"), _one(probe, "/loop2")
    m1, m2 = _meta(probe, first), _meta(probe, second)
    assert (m1["hopsFromSeed"], m2["hopsFromSeed"]) == ("L", "LR")
    assert m1["depth"] == m2["depth"] == "1" and m2["via"] == probe.base + "/loop1"
    assert len(_responses(probe, "/loop1")) == 1  # the way back to /loop1 is a duplicate


def test_retry_after_is_honoured_on_every_retry(probe):
    times = probe.hits["r503"]
    assert len(times) >= 2
    gaps = [b - a for a, b in pairwise(times)]
    assert all(gap >= 0.9 for gap in gaps), gaps


def _localhost_is_127(probe) -> str:
    try:
        if socket.gethostbyname("localhost") != "127.0.0.1":
            pytest.skip("localhost does not resolve to 127.0.0.1 here")
    except OSError:
        pytest.skip("localhost does not resolve")
    return f"http://localhost:{probe.port}"


def test_redirect_to_a_non_seed_loopback_host_is_refused_and_logged(probe):
    other = _localhost_is_127(probe)
    assert _one(probe, "/offsite").status_line == "HTTP/1.1 302 Found"
    assert not _responses(probe, "/elsewhere", base=other)
    refused = [line for line in probe.lines if line["url"] == other + "/elsewhere"]
    assert refused and all(line["outcome"] == "failed" and "RefusedAddress" in line["error"] for line in refused)
    assert refused[0]["channel"] == "redirect" and refused[0]["via"] == probe.base + "/offsite"


def test_a_refused_address_is_decided_once(probe):
    other = _localhost_is_127(probe)
    refused = [line for line in probe.lines if line["url"] == other + "/elsewhere"]
    assert len(refused) == 1


def test_a_bad_requisite_url_does_not_stop_link_extraction(probe):
    assert _one(probe, "/badimg")
    assert _responses(probe, "/after-bad")


# -- the store side, without Scrapy -----------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _fetch(i: int, size: int = 40) -> Fetch:
    body = (f"<html>story {i} " + "w" * size + "</html>").encode()
    return Fetch(url=f"http://127.0.0.1:9/s/{i}", method="GET", request_headers=[(b"User-Agent", b"t")],
                 request_body=b"", status=200, response_headers=[(b"Content-Type", b"text/html")], body=body,
                 started=T0, duration_ms=1.0, remote_ip="127.0.0.1",
                 provenance=Provenance(seed="http://127.0.0.1:9/", channel="link", hops="L", depth=1))


def _job(store: Path, name: str = "news", **kw) -> CaptureJob:
    return CaptureJob(store, one_off(name, urls=["http://127.0.0.1:9/"]), **kw)


def test_verify_treats_a_running_jobs_files_as_notes(tmp_path):
    job = _job(tmp_path)
    try:
        job.record_fetch(_fetch(0))
        report = verify(tmp_path)
        assert report.ok, [str(p) for p in report.problems]
    finally:
        job.close()


def test_repair_leaves_a_running_job_alone(tmp_path):
    job = _job(tmp_path)
    job.record_fetch(_fetch(0))
    report = repair(tmp_path)
    assert not report.manifests and not report.closed
    job.record_fetch(_fetch(1))
    manifest = json.loads(job.close().read_text())
    assert manifest["outcome"] == "finished"


def test_repair_during_close_does_not_steal_the_manifest(tmp_path):
    job = _job(tmp_path)
    job.record_fetch(_fetch(0))
    close_log = job.log.close

    def close_then_repair():
        result = close_log()
        repair(tmp_path / "news")  # another process: `archive verify --repair` right now
        return result

    job.log.close = close_then_repair  # type: ignore[method-assign]
    manifest = json.loads(job.close().read_text())
    assert manifest["outcome"] == "finished"
    assert len(list((tmp_path / "news" / "manifests").glob("*.json"))) == 1


def test_after_a_crash_every_logged_capture_is_in_a_warc(tmp_path):
    live = tmp_path / "live"
    job = _job(live)
    for i in range(2):  # a few KB: all of it still in the writer's buffer, both log lines on disk
        job.record_fetch(_fetch(i))
    crashed = tmp_path / "crashed"
    shutil.copytree(live, crashed)  # what the disk holds if the process died now (no lock held)
    job.close()
    repair(crashed)
    coll = crashed / "news"
    assert verify(crashed).ok
    responses = {r.record_id: (w.name, r.offset, r.length)
                 for w in (coll / "warcs").glob("*.warc.gz") for r in check_records(w) if r.type == "response"}
    log = next((coll / "logs").glob("*.captures.jsonl"))
    for line in map(json.loads, log.read_text().splitlines()):
        w = line["warc"]
        assert responses.get(w["record_id"]) == (w["filename"], w["offset"], w["length"]), line["url"]
    manifest = json.loads(next((coll / "manifests").glob("*.json")).read_text())
    assert manifest["counts"]["captured"] == len(responses)


@pytest.fixture(scope="module")
def finished_warc(tmp_path_factory):
    store = tmp_path_factory.mktemp("trunc")
    job = _job(store)
    for i in range(4):
        job.record_fetch(_fetch(i, size=60 * i))
    job.close()
    coll = store / "news"
    return (next((coll / "warcs").glob("*.warc.gz")), next((coll / "logs").glob("*.job.json")),
            next((coll / "logs").glob("*.captures.jsonl")))


def test_repair_cuts_at_the_last_complete_record_at_any_truncation(finished_warc, tmp_path):
    warc, job_file, log = finished_warc
    data = warc.read_bytes()
    ends = [r.offset + r.length for r in check_records(warc)]
    points = set(range(0, len(data) + 1, 13))
    for end in [0, *ends]:
        points |= {p for p in range(end - 9, end + 10) if 0 <= p <= len(data)}
    for k in sorted(points):
        coll = tmp_path / f"cut{k}" / "news"
        for sub in ("warcs", "logs", "manifests"):
            (coll / sub).mkdir(parents=True)
        (coll / "warcs" / (warc.name + ".open")).write_bytes(data[:k])
        shutil.copy(job_file, coll / "logs" / job_file.name)
        shutil.copy(log, coll / "logs" / (log.name + ".open"))
        repair(coll)
        expected = max([e for e in ends if e <= k], default=0)
        final = coll / "warcs" / warc.name
        assert (final.stat().st_size if final.exists() else 0) == expected, k
        assert not list(coll.rglob("*.open")), k
        if expected:
            assert final.read_bytes() == data[:expected]
        if k % 5 == 0 or k in ends:
            report = verify(coll)
            assert report.ok, (k, [str(p) for p in report.problems])
        shutil.rmtree(coll.parent)


def test_verify_odd_files(tmp_path, finished_warc):
    warc = finished_warc[0]
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert [p.message for p in verify(empty).problems] == ["empty file, no records"]
    for name, tail in (("garbage", b"trailing garbage\n"), ("zeros", b"\0" * 512),
                       ("half-member", gzip.compress(b"WARC/1.1\r\nWARC-Type: resource\r\n")[:20])):
        path = tmp_path / f"{name}.warc.gz"
        path.write_bytes(warc.read_bytes() + tail)
        report = verify(path)
        assert report.problems and all(p.where == f"offset {warc.stat().st_size}" for p in report.problems), name
    not_gzip = tmp_path / "plain.warc.gz"
    not_gzip.write_bytes(gzip.decompress(warc.read_bytes()))
    assert not verify(not_gzip).ok
    # A zero-byte .open of a dead job: verify calls it a problem, repair removes it.
    coll = tmp_path / "store" / "news"
    (coll / "warcs").mkdir(parents=True)
    (coll / "warcs" / "news-20260301120000-00001-h.warc.gz.open").write_bytes(b"")
    assert any("incomplete file" in p.message for p in verify(tmp_path / "store").problems)
    repair(tmp_path / "store")
    assert not list(coll.rglob("*.open"))


def test_manifest_with_an_unknown_field_is_reported(tmp_path):
    job = _job(tmp_path, clock=lambda: T0)
    job.record_fetch(_fetch(0))
    manifest = job.close()
    doc = json.loads(manifest.read_text())
    doc["extra_field"] = "from a future version"
    raw = encode(doc)
    manifest.write_bytes(raw)
    sidecar = manifest.with_name(manifest.name + ".sha256")
    sidecar.write_text(f"{hashlib.sha256(raw).hexdigest()}  {manifest.name}\n")
    (manifest.parent.parent / HEAD).unlink()  # (that version's would note these bytes; not ours)
    problems = [str(p) for p in verify(tmp_path).problems]
    assert len(problems) == 1 and "extra_field" in problems[0], problems
    doc["files"][0]["unknown"] = 1
    manifest.write_bytes(encode(doc))  # now the sidecar no longer matches either
    problems = [str(p) for p in verify(manifest).problems]
    assert any("sidecar" in p for p in problems) and any("unknown" in p for p in problems)


def test_a_store_with_two_collections(tmp_path):
    for name in ("alpha", "beta"):
        for _ in range(2):
            job = _job(tmp_path, name)
            job.record_fetch(_fetch(0))
            job.close()
    report = verify(tmp_path)
    assert report.ok and report.manifests == 4
    for name in ("alpha", "beta"):
        docs = sorted((json.loads(p.read_text()) for p in (tmp_path / name / "manifests").glob("*.json")),
                      key=lambda d: d["sequence"])
        assert [d["sequence"] for d in docs] == [1, 2] and docs[0]["previous"] is None
        assert all(d["collection"] == name for d in docs)
    # A dead job in one collection is repaired without touching the other.
    dead = _job(tmp_path, "beta")
    dead.record_fetch(_fetch(1))  # (its records are in the file once it returns)
    copy = tmp_path.parent / (tmp_path.name + "-copy")
    shutil.copytree(tmp_path, copy)
    dead.close()
    repaired = repair(copy)
    assert [p.parent.parent.name for p in repaired.manifests] == ["beta"]
    assert verify(copy).ok


def test_two_jobs_started_in_one_second_never_share_a_job_id(tmp_path, monkeypatch):
    # Ids differ within a second only by a random token of 16 bits: drawn the same (forced
    # here), the second job wrote over the first's job file and could not open its log.
    import archive.store

    tokens = iter(["abcd", "abcd", "abcd", "ef01"])
    monkeypatch.setattr(archive.store.secrets, "token_hex", lambda _n: next(tokens))
    first, second = _job(tmp_path, clock=lambda: T0), _job(tmp_path, clock=lambda: T0)
    assert (first.job_id, second.job_id) == ("news-20260301T120000Z-abcd", "news-20260301T120000Z-ef01")
    for job in (first, second):
        job.record_fetch(_fetch(0))
        job.close()
    assert verify(tmp_path).ok


def test_concurrent_jobs_of_one_collection_keep_a_linear_chain(tmp_path):
    jobs = []
    for i in range(6):  # opened one after another; the name race is probed below
        job = _job(tmp_path, clock=lambda: T0)
        job.record_fetch(_fetch(i))
        jobs.append(job)
    start = threading.Barrier(len(jobs))
    errors = []

    def finish(job):
        try:
            start.wait()
            for i in range(3):
                job.record_fetch(_fetch(100 + i))
            job.close()
        except Exception as exc:  # noqa: BLE001 - any failure of a thread is reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=finish, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    docs = sorted((json.loads(p.read_text()) for p in (tmp_path / "news" / "manifests").glob("*.json")),
                  key=lambda d: d["sequence"])
    assert [d["sequence"] for d in docs] == list(range(1, 7))
    for before, after in pairwise(docs):
        assert after["previous"]["job_id"] == before["job_id"]
    names = [f["path"] for d in docs for f in d["files"] if f["kind"] == "warc"]
    assert len(names) == len(set(names)) == 6
    assert verify(tmp_path).ok


def test_two_writers_racing_for_one_warc_name(tmp_path, monkeypatch):
    import os

    import archive.store

    real_link = os.link
    raced = []

    def racing_link(src, dst):
        if str(dst).endswith(".warc.gz.open") and not raced:
            raced.append(dst)
            open(dst, "xb").close()  # the other process wins the name just now
        return real_link(src, dst)

    monkeypatch.setattr(archive.store.os, "link", racing_link)
    job = _job(tmp_path, clock=lambda: T0)
    job.record_fetch(_fetch(0))
    job.close()
    assert raced and len(list((tmp_path / "news" / "warcs").glob("*.warc.gz"))) == 1


def test_status_line_of_an_unregistered_status_keeps_the_space():
    from archive.capture import build_capture

    fetch = _fetch(0)
    fetch.status = 299
    built = build_capture(fetch, job_id="news-20260301T120000Z-abcd", spider="t", warcinfo_id=None)
    head = bytes(built.response.chunks[0])
    assert head.startswith(b"HTTP/1.1 299 \r\n"), head[:20]


def test_a_timeout_not_retried_keeps_the_bytes_of_its_only_attempt(tmp_path):
    # Timeouts taken out of RETRY_EXCEPTIONS: the first attempt is the last.
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b""),
              "/stall": _raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial-", 6.0)}
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "t", "urls": [server.base + "/stall"], "caps": {"timeout": 2.5}})
        crawl(tmp_path, coll, overrides={"RETRY_EXCEPTIONS": ["twisted.internet.error.ConnectionLost"]})
    records, lines = read_collection(tmp_path / "t")
    (line,) = [line for line in lines if line["url"] == server.base + "/stall"]
    assert line["outcome"] == "captured" and line["truncated"] == "time"
    assert [r.payload for r in records if r.type == "response" and r.h("WARC-Target-URI").endswith("/stall")] == \
        [b"partial-"]
