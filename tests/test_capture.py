"""A real crawl of a raw local server, read back with warcio and compared with the wire."""

from __future__ import annotations

import re

import pytest
from conftest import CHUNKS, FINAL, GZIPPED, HOME, PNG
from warcs import fields, read_collection, sha1_b32
from wire import free_port

from archive.config import collection_from_dict
from archive.crawl import crawl
from archive.verify import verify

WARC_NAME = re.compile(r"^t-\d{14}-\d{5}-[A-Za-z0-9-]+\.warc\.gz$")


@pytest.fixture(scope="module")
def crawled(wire_site, tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    refused = f"http://127.0.0.1:{free_port()}/"
    coll = collection_from_dict(
        {"name": "t", "urls": [wire_site.base + "/", refused], "caps": {"timeout": 2.5}}
    )
    result = crawl(store, coll, overrides={"RETRY_TIMES": 0})
    records, lines = read_collection(store / "t")
    return {"store": store, "result": result, "records": records, "lines": lines, "server": wire_site,
            "refused": refused}


def _responses(crawled, path: str):
    base = crawled["server"].base
    return [r for r in crawled["records"] if r.type == "response" and r.h("WARC-Target-URI") == base + path]


def _one(crawled, path: str):
    found = _responses(crawled, path)
    assert len(found) == 1, f"expected one response for {path}, got {len(found)}"
    return found[0]


def _by_id(crawled):
    return {r.h("WARC-Record-ID"): r for r in crawled["records"]}


def _sent_body(crawled, path: str) -> bytes:
    return crawled["server"].sent[path].split(b"\r\n\r\n", 1)[1]


def test_files_are_named_closed_and_start_with_warcinfo(crawled):
    warcs = sorted((crawled["store"] / "t" / "warcs").iterdir())
    assert warcs and all(WARC_NAME.match(p.name) for p in warcs), [p.name for p in warcs]
    first = crawled["records"][0]
    assert first.type == "warcinfo"
    info = fields(first.payload)
    assert info["isPartOf"] == "t" and info["jobId"] == crawled["result"].job_id
    assert info["configSha256"].startswith("sha256:")
    for rec in crawled["records"][1:]:
        assert rec.h("WARC-Warcinfo-ID") == first.h("WARC-Record-ID")


def test_every_record_has_valid_digests_by_an_independent_reader(crawled):
    for rec in crawled["records"]:
        assert rec.h("WARC-Block-Digest", ).startswith("sha1:")
        assert rec.digest_ok is not False, (rec.type, rec.h("WARC-Target-URI"))
        if rec.type == "response":
            assert rec.h("WARC-Payload-Digest") == sha1_b32(rec.payload)
        assert rec.headers["warc-date"].endswith("Z")


def test_request_response_metadata_are_linked(crawled):
    ids = _by_id(crawled)
    responses = [r for r in crawled["records"] if r.type == "response"]
    assert len(responses) >= 9
    for resp in responses:
        request = ids[resp.h("WARC-Concurrent-To")]
        assert request.type == "request"
        assert request.h("WARC-Concurrent-To") == resp.h("WARC-Record-ID")
        metas = [r for r in crawled["records"] if r.type == "metadata" and r.h("WARC-Concurrent-To") == resp.h("WARC-Record-ID")]
        assert len(metas) == 1
        assert metas[0].h("Content-Type") == "application/warc-fields"
        assert resp.h("WARC-IP-Address") == "127.0.0.1" == request.h("WARC-IP-Address")
        assert resp.h("WARC-Protocol") == "http/1.1"


def test_http_bytes_match_what_the_server_sent(crawled):
    for path in ("/", "/final", "/img.png", "/style.css", "/robots.txt"):
        rec = _one(crawled, path)
        assert rec.payload == _sent_body(crawled, path)
        sent_head = crawled["server"].sent[path].split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        assert rec.status_line == sent_head[0]
        sent = {(k.lower(), v) for k, v in (line.split(": ", 1) for line in sent_head[1:])}
        recorded = {(k.lower(), v) for k, v in rec.http_headers}
        assert sent == recorded
    assert _one(crawled, "/").payload == HOME
    assert _one(crawled, "/img.png").payload == PNG


def test_gzip_body_is_stored_compressed_as_sent(crawled):
    rec = _one(crawled, "/gzip")
    assert rec.payload == GZIPPED
    assert ("Content-Encoding", "gzip") in rec.http_headers


def test_decoded_chunked_transfer_is_recorded_without_the_header_and_said(crawled):
    rec = _one(crawled, "/chunked")
    assert rec.payload == b"".join(CHUNKS)
    assert all(k.lower() != "transfer-encoding" for k, _ in rec.http_headers)
    meta = _metadata_of(crawled, rec)
    assert meta["transferEncodingRemoved"] == "chunked"
    assert "transfer-encoding-removed" in meta["reconstructed"]


def _metadata_of(crawled, rec):
    for r in crawled["records"]:
        if r.type == "metadata" and r.h("WARC-Concurrent-To") == rec.h("WARC-Record-ID"):
            return fields(r.payload)
    raise AssertionError("no metadata record")


def test_every_redirect_hop_is_recorded_with_provenance(crawled):
    first, second, final = (_one(crawled, p) for p in ("/redirect1", "/redirect2", "/final"))
    assert first.status_line == "HTTP/1.1 302 Found"
    assert second.status_line == "HTTP/1.1 301 Moved Permanently"
    assert final.payload == FINAL
    base = crawled["server"].base
    m1, m2, m3 = (_metadata_of(crawled, r) for r in (first, second, final))
    assert (m1["discoveryChannel"], m1["hopsFromSeed"], m1["via"]) == ("link", "L", base + "/")
    assert (m2["discoveryChannel"], m2["hopsFromSeed"], m2["via"]) == ("redirect", "LR", base + "/redirect1")
    assert (m3["discoveryChannel"], m3["hopsFromSeed"], m3["via"]) == ("redirect", "LRR", base + "/redirect2")
    assert m3["depth"] == m1["depth"] == "1"  # redirects add no depth


def test_request_record_matches_what_the_server_received_with_secrets_redacted(crawled):
    ids = _by_id(crawled)
    received = {h.split(b" ", 2)[1].decode(): h for h in crawled["server"].requests}
    rec = _one(crawled, "/final")
    request = ids[rec.h("WARC-Concurrent-To")]
    head = request.payload  # empty GET body; headers parsed by warcio
    assert head == b""
    got = {(k.lower(), v) for k, v in request.http_headers}
    wire = received["/final"].decode("latin-1").split("\r\n")
    assert request.status_line.split()[:2] == wire[0].split()[:2]
    expected = set()
    for line in wire[1:]:
        k, v = line.split(": ", 1)
        expected.add((k.lower(), "[redacted]" if k.lower() == "cookie" else v))
    assert got == expected
    assert ("cookie", "[redacted]") in got  # the session cookie set by / was sent, not archived
    assert "s3cr3t" not in "".join(v for _, v in request.http_headers)
    assert _metadata_of(crawled, rec)["redactedHeaders"] == "Cookie"
    assert ("accept-encoding", "gzip, deflate") in got
    # Byte for byte as written (request line, names, order), the secret's value alone replaced.
    as_sent = re.sub(rb"(?m)^(Cookie): [^\r]*", rb"\1: [redacted]", received["/final"]) + b"\r\n\r\n"
    assert request.block == as_sent


def test_metadata_and_log_carry_provenance(crawled):
    rec = _one(crawled, "/gzip")
    meta = _metadata_of(crawled, rec)
    base = crawled["server"].base
    assert meta["seed"] == base + "/"
    assert meta["urlAsLinked"] == base + "/gzip?utm_source=test#top"
    assert meta["remoteIp"] == "127.0.0.1"
    assert meta["jobId"] == crawled["result"].job_id
    assert meta["userAgent"].startswith("archive-corpus/")
    assert int(meta["fetchTimeMs"]) >= 0 and meta["requestStarted"].endswith("Z")
    line = next(l for l in crawled["lines"] if l["url"] == base + "/gzip")
    assert line["warc"]["record_id"] == rec.h("WARC-Record-ID")
    assert line["warc"]["offset"] == rec.offset and line["warc"]["filename"] == rec.file
    assert line["payload_digest"] == rec.h("WARC-Payload-Digest")
    assert line["response_bytes"] == len(GZIPPED)
    assert line["via"] == base + "/" and line["hops"] == "L" and line["depth"] == 1
    assert line["robots"] == "allowed" and line["protocol"] == "HTTP/1.1"


def test_robots_is_captured_obeyed_and_logged(crawled):
    base = crawled["server"].base
    robots = _one(crawled, "/robots.txt")
    assert _metadata_of(crawled, robots)["discoveryChannel"] == "robots"
    refused = [l for l in crawled["lines"] if l["url"] == base + "/private/secret"]
    assert len(refused) == 1 and refused[0]["outcome"] == "robots-disallowed"
    assert not any(b"/private/" in h for h in crawled["server"].requests)


def test_failures_without_a_response_are_logged(crawled):
    by_url = {}
    for line in crawled["lines"]:
        by_url.setdefault(line["url"], []).append(line)
    # A server that refuses connections: its robots.txt fails, and (RFC 9309) the page is
    # then taken as disallowed, the error saying why.
    robots = by_url[crawled["refused"] + "robots.txt"]
    assert robots[0]["outcome"] == "failed" and "Refused" in robots[0]["error"]
    refused = by_url[crawled["refused"]]
    assert refused[0]["outcome"] == "robots-disallowed" and "Refused" in refused[0]["error"]
    slow = by_url[crawled["server"].base + "/slow"]
    assert slow[0]["outcome"] == "failed" and "Timeout" in slow[0]["error"]
    errors = by_url[crawled["server"].base + "/error"]
    assert [l["status"] for l in errors] == [500]  # RETRY_TIMES=0: one attempt
    assert by_url[crawled["server"].base + "/missing"][0]["status"] == 404


def test_manifest_lists_every_file_and_the_store_verifies(crawled):
    result = crawled["result"]
    paths = {f["path"] for f in result.files}
    on_disk = {f"warcs/{p.name}" for p in (crawled["store"] / "t" / "warcs").iterdir()}
    assert on_disk <= paths
    assert f"logs/{result.job_id}.captures.jsonl" in paths
    assert result.counts["captured"] == sum(1 for r in crawled["records"] if r.type == "response")
    assert result.counts["attempts"] == len(crawled["lines"])
    report = verify(crawled["store"])
    assert report.ok, [str(p) for p in report.problems]
    assert not list((crawled["store"] / "t").rglob("*.open"))


# -- the response head as received (crawler.tap), the parts that need no server ----------------


def test_the_end_of_a_head_is_its_first_empty_line_whatever_the_line_endings():
    from crawler.tap import head_end

    assert head_end(b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody\n\n") == len(b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n")
    assert head_end(b"HTTP/1.0 200 OK\nA: 1\n\nbody\r\n\r\n") == len(b"HTTP/1.0 200 OK\nA: 1\n\n")
    assert head_end(b"HTTP/1.1 200 OK\r\nA: 1\n\r\n") == len(b"HTTP/1.1 200 OK\r\nA: 1\n\r\n")
    assert head_end(b"HTTP/1.1 200 OK\r\nA: 1\r\n\r") == -1
    # Looking again from just before new data finds a blank line cut in two.
    buf = b"HTTP/1.1 200 OK\r\nA: 1\r\n\r"
    assert head_end(buf + b"\nx", len(buf) - 2) == len(buf) + 1


def test_header_fields_are_read_from_a_head_as_the_client_reads_them():
    from archive.capture import head_fields

    head = (b"HTTP/1.1 200 OK\r\nContent-Type:  text/html \r\nX-Fold: a\r\n  b\r\nno colon here\r\n"
            b"set-cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n")
    assert head_fields(head) == [(b"Content-Type", b"text/html"), (b"X-Fold", b"a  b"),
                                 (b"set-cookie", b"a=1"), (b"Set-Cookie", b"b=2")]
    assert head_fields(b"HTTP/1.0 204 No Content\nA:1\n\n") == [(b"A", b"1")]


def test_a_head_loses_its_transfer_encoding_lines_and_nothing_else():
    from archive.capture import _without_framing

    head = b"HTTP/1.1 200 OK\r\nServer:  x \r\ntransfer-encoding:\r\n chunked\r\nX-A: 1\r\n\r\n"
    assert _without_framing(head) == (b"HTTP/1.1 200 OK\r\nServer:  x \r\nX-A: 1\r\n\r\n",
                                      ["transfer-encoding-removed"])
    plain = b"HTTP/1.1 200 OK\r\nX-Note: transfer-encoding\r\nContent-Length: 3\r\n\r\n"
    assert _without_framing(plain) == (plain, [])


def test_a_content_length_beside_a_transfer_encoding_goes_with_it():
    # The client reads the chunks and ignores the length, which would not fit the stored body.
    from archive.capture import _without_framing

    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
    assert _without_framing(head) == (b"HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n",
                                      ["transfer-encoding-removed", "content-length-removed"])


def test_a_bodiless_response_keeps_its_whole_head():
    from datetime import UTC, datetime

    from archive.capture import Fetch, build_capture

    head = b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nETag: \"v\"\r\n\r\n"
    for method, status in (("GET", 304), ("HEAD", 200)):
        head_of = head.replace(b"304 Not Modified", b"%d X" % status)
        fetch = Fetch(url="http://127.0.0.1:9/x", method=method, request_headers=[], request_body=b"",
                      status=status, response_headers=None, body=b"", started=datetime(2026, 1, 1, tzinfo=UTC),
                      duration_ms=1.0, response_head=head_of)
        built = build_capture(fetch, job_id="j", spider="s", warcinfo_id=None)
        assert bytes(built.response.chunks[0]) == head_of
        assert built.metadata_fields["reconstructed"] == "request-head"  # (no request head given)


def test_a_fetch_with_a_head_reads_its_headers_from_it():
    from datetime import UTC, datetime

    from archive.capture import Fetch, build_capture

    head = b"HTTP/1.1 404 Gone Fishing\r\ncontent-type: text/plain\r\nConnection: keep-alive\r\n\r\n"
    fetch = Fetch(url="http://127.0.0.1:9/x", method="GET", request_headers=[], request_body=b"", status=404,
                  response_headers=None, body=b"no", started=datetime(2026, 1, 1, tzinfo=UTC), duration_ms=1.0,
                  response_head=head)
    assert fetch.response_headers == [(b"content-type", b"text/plain"), (b"Connection", b"keep-alive")]
    built = build_capture(fetch, job_id="j", spider="s", warcinfo_id=None)
    assert bytes(built.response.chunks[0]) == head  # reason phrase and names as sent
    assert built.metadata_fields["reconstructed"] == "request-head"  # (no request head given)


def test_a_head_rebuilt_from_parsed_headers_says_its_fields_were_rebuilt():
    from datetime import UTC, datetime

    from archive.capture import Fetch, build_capture

    fetch = Fetch(url="http://127.0.0.1:9/x", method="GET", request_headers=[], request_body=b"", status=200,
                  response_headers=[(b"Content-Type", b"text/plain")], body=b"ok",
                  started=datetime(2026, 1, 1, tzinfo=UTC), duration_ms=1.0, reason="OK")
    built = build_capture(fetch, job_id="j", spider="s", warcinfo_id=None)
    assert bytes(built.response.chunks[0]) == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
    assert built.metadata_fields["reconstructed"] == "header-fields,request-head"


def test_a_request_head_as_written_is_kept_but_for_its_secrets():
    from datetime import UTC, datetime

    from archive.capture import Fetch, build_capture

    sent = (b"POST http://127.0.0.1:9/form?q=1 HTTP/1.1\r\nContent-Length: 3\r\nuser-agent: probe/1\r\n"
            b"Cookie: id=s3cr3t;\r\n \r\n more=s3cr3t\r\nAuthorization:Basic s3cr3t\r\nHost: 127.0.0.1:9\r\n\r\n")
    fetch = Fetch(url="http://127.0.0.1:9/form?q=1", method="POST", request_headers=None, request_body=b"a=b",
                  status=200, response_headers=[], body=b"", started=datetime(2026, 1, 1, tzinfo=UTC),
                  duration_ms=1.0, request_head=sent)
    assert (b"user-agent", b"probe/1") in fetch.request_headers  # read from the head
    built = build_capture(fetch, job_id="j", spider="s", warcinfo_id=None)
    request = built.records[1]  # (response, request, metadata)
    assert request.get("WARC-Type") == "request"
    assert b"".join(bytes(c) for c in request.chunks) == (
        b"POST http://127.0.0.1:9/form?q=1 HTTP/1.1\r\nContent-Length: 3\r\nuser-agent: probe/1\r\n"
        b"Cookie: [redacted]\r\nAuthorization: [redacted]\r\nHost: 127.0.0.1:9\r\n\r\na=b")
    assert built.metadata_fields["redactedHeaders"] == "Cookie,Authorization"
    assert built.metadata_fields["userAgent"] == "probe/1"
    plain = sent.split(b"Cookie")[0] + b"Host: 127.0.0.1:9\r\n\r\n"
    fetch.request_head = plain
    assert build_capture(fetch, job_id="j", spider="s", warcinfo_id=None).records[1].chunks[0] == plain


def test_a_tapped_protocol_goes_with_its_connection_not_with_the_collector():
    import gc
    import weakref

    from crawler import tap

    base = type("Base", (), {"buildProtocol": lambda self, addr: Proto(),
                             "__init__": lambda self, *a: None})

    class Transport:
        def __init__(self):
            self.written = []

        def writeSequence(self, data):
            self.written.extend(data)

    class Proto:
        def __init__(self):
            self.transport = Transport()

        def dataReceived(self, data):
            self.got, self.head = data, tap.current

        def request(self, txrequest):
            self.transport.writeSequence([b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"])
            self.transport.writeSequence([b"a body"])
            return txrequest

    protocol = tap.tapping_factory(base)().buildProtocol(None)
    assert protocol.request("r") == "r"  # the tap's request(), then the class's
    assert protocol.transport.written == [b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n", b"a body"]
    assert "writeSequence" not in vars(protocol.transport)
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody")
    assert protocol.got.endswith(b"body") and "dataReceived" not in vars(protocol)
    assert protocol.head.raw == b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"
    assert protocol.head.sent == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"  # the head only, not what followed
    del protocol.head
    gone = weakref.ref(protocol)
    gc.disable()
    try:
        del protocol
        assert gone() is None  # no reference cycle through the tap's functions
    finally:
        gc.enable()
