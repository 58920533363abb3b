"""Two real crawls read back by FastWARC, a WARC reader written in C++ that shares no code
with warcio or with our writer: every record parses, every digest verifies by its own
hashing, and every capture-log line points at the record it names.

The site has what trips readers and writers up: gzip as sent, a chunked body (recorded
decoded), a close-delimited body, an interim 100 before the final head, a 204, a 404, a body
cut by the size cap, the same bytes under two URLs (a revisit by payload digest) and, in the
second job, a 304 (a revisit of the server-not-modified kind).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import fastwarc.warc as fastwarc
import pytest
from warcs import read_warc
from wire import chunked, response, serve_wire

from archive.config import collection_from_dict
from archive.crawl import crawl

HTML = [("Content-Type", "text/html; charset=utf-8")]
SAME = b"<html><body><p>the same bytes under two URLs</p></body></html>"
CAP = 64 * 1024
LINKS = ["/gzip", "/chunked", "/close", "/interim", "/same-a", "/same-b", "/big", "/empty", "/missing", "/etag"]


# An article (conditional requests are for known articles only), unchanged in the second job.
STORY = (b"<html><head><title>Validated</title><meta property='og:type' content='article'>"
         b"<meta property='article:published_time' content='2026-03-14T08:30:00+01:00'></head><body><article>"
         b"<h1>Validated</h1>" + b"<p>" + b"A paragraph of the story that does not change. " * 40 + b"</p>"
         b"</article></body></html>")


def _etag(head: bytes) -> list[bytes | float]:
    if b'if-none-match: "v1"' in head.lower():
        return [b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n']
    body = STORY
    return [b'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: "v1"\r\nContent-Length: %d\r\n\r\n%s'
            % (len(body), body)]


def _routes() -> dict:
    home = ("<html><body>" + "".join(f'<a href="{p}">{p}</a>' for p in LINKS) + "</body></html>").encode()
    return {
        "/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
        "/": response("200 OK", HTML, home),
        "/gzip": response("200 OK", [*HTML, ("Content-Encoding", "gzip")], gzip.compress(b"<p>zipped</p>", mtime=0)),
        "/chunked": chunked("200 OK", HTML, [b"<html><body>", b"<p>in chunks</p>", b"</body></html>"]),
        "/close": lambda _h: [(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
                               b"<p>ends when the connection does</p>")],
        "/interim": lambda _h: [(b"HTTP/1.1 100 Continue\r\n\r\n"
                                 b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfinal")],
        "/same-a": response("200 OK", HTML, SAME),
        "/same-b": response("200 OK", HTML, SAME),
        "/big": response("200 OK", [("Content-Type", "application/octet-stream")], os.urandom(8 * CAP)),
        "/empty": lambda _h: [b"HTTP/1.1 204 No Content\r\n\r\n"],
        "/etag": _etag,
    }


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    with serve_wire(_routes()) as site:
        coll = collection_from_dict({"name": "fw", "urls": [site.base + "/"],
                                     "caps": {"max_body_bytes": CAP, "timeout": 5.0}})
        for _ in range(2):
            crawl(store, coll, overrides={"RETRY_TIMES": 0})
    coll_dir = store / "fw"
    lines = [json.loads(line) for log in sorted((coll_dir / "logs").glob("*.captures.jsonl"))
             for line in log.read_text("utf-8").splitlines()]
    return {"warcs": sorted((coll_dir / "warcs").glob("*.warc.gz")), "lines": lines}


def _records(path: Path, *, parse_http: bool) -> list:
    with open(path, "rb") as fh:
        return [(r.stream_pos, r.record_id, r.headers.get("WARC-Type"), r.headers.get("WARC-Truncated"),
                 r.headers.get("WARC-Profile"), r.http_headers.status_code if r.http_headers is not None else None,
                 r.verify_block_digest(consume=False) if not parse_http else None,
                 r.verify_payload_digest(consume=False)
                 if parse_http and r.headers.get("WARC-Type") == "response" else None)
                for r in fastwarc.ArchiveIterator(fh, parse_http=parse_http, strict_mode=True)]


def test_every_record_is_read_as_warcio_reads_it_and_its_block_digest_verifies(crawled):
    for path in crawled["warcs"]:
        ours = _records(path, parse_http=False)
        theirs = read_warc(path)
        assert [(pos, rid, kind) for pos, rid, kind, *_ in ours] == \
            [(r.offset, r.h("WARC-Record-ID"), r.type) for r in theirs]
        assert [r for r in ours if r[6] is not True] == [], path.name


def test_every_response_payload_digest_verifies(crawled):
    responses = [r for path in crawled["warcs"] for r in _records(path, parse_http=True) if r[2] == "response"]
    assert len(responses) >= 11
    assert [r for r in responses if r[7] is not True] == []
    assert any(r[3] == "length" for r in responses)  # the body cut by the cap is one of them


def test_every_log_line_points_at_its_record(crawled):
    records = {}
    for path in crawled["warcs"]:
        for pos, rid, kind, truncated, profile, status, *_ in _records(path, parse_http=True):
            records[(path.name, pos)] = (rid, kind, truncated, profile, status)
    pointed = [line for line in crawled["lines"] if line.get("warc")]
    assert len(pointed) >= 20
    for line in pointed:
        rid, kind, truncated, profile, status = records[(line["warc"]["filename"], line["warc"]["offset"])]
        assert rid == line["warc"]["record_id"], line["url"]
        assert kind == ("revisit" if line.get("revisit") else "response"), line["url"]
        assert status == line["status"], line["url"]
        assert truncated == line.get("truncated"), line["url"]
    profiles = {records[(line["warc"]["filename"], line["warc"]["offset"])][3] for line in pointed
                if line.get("revisit")}
    assert profiles == {"http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
                        "http://netpreserve.org/warc/1.1/revisit/server-not-modified"}
