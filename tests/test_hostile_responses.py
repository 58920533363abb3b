"""Responses built to hurt a crawler: recorded as sent, and kept from the spider's memory."""

from __future__ import annotations

import random
import zlib

from warcs import read_collection
from wire import response, serve_wire

from archive.capture import MAX_DECODED_BYTES
from archive.config import collection_from_dict
from archive.crawl import crawl
from archive.verify import verify


def _gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def _crawled(store, routes):  # type: ignore[no-untyped-def]
    """A crawl of the site of ``routes`` from its front page into collection ``h`` of
    ``store``, robots.txt not asked for: its result, and the paths the site was asked for."""
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "h", "urls": [site.base + "/"], "obey_robots": False}))
        return result, [head.split(b" ")[1] for head in site.requests]


def test_a_gzip_bomb_is_recorded_as_sent_and_not_inflated_for_the_spider(tmp_path):
    # Under 100 KB on the wire, past the bound once inflated; its first link must go unfollowed.
    html = b"<html><body><a href='/after'>after</a>" + b" " * (MAX_DECODED_BYTES + (8 << 20)) + b"</body></html>"
    bomb = _gzip(html)
    assert len(bomb) < 100_000
    routes = {
        "/": response("200 OK", [("Content-Type", "text/html")], b"<html><body><a href='/bomb'>b</a></body></html>"),
        "/bomb": response("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], bomb),
        "/after": response("200 OK", [("Content-Type", "text/html")], b"<html><body>after</body></html>"),
    }
    store = tmp_path / "store"
    result, paths = _crawled(store, routes)
    assert result.outcome == "finished"
    assert b"/bomb" in paths and b"/after" not in paths
    records, _ = read_collection(store / "h")
    [recorded] = [r for r in records if r.type == "response" and r.h("WARC-Target-URI").endswith("/bomb")]
    assert recorded.payload == bomb  # as sent: the record is written before any decoding
    log = next((store / "h" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert "exceeded DOWNLOAD_MAXSIZE" in log and f"({MAX_DECODED_BYTES} B) during decompression" in log


def test_only_the_first_500_kib_of_a_robots_txt_are_parsed_and_all_of_it_is_kept(tmp_path):
    # Parsed whole, a robots.txt of hundreds of megabytes held the crawl for minutes and
    # gigabytes; RFC 9309 lets a crawler stop at 500 KiB. The rule past that point is ignored.
    robots = b"User-agent: *\nDisallow: /private\n" + b"Allow: /public\n" * 150_000 + b"Disallow: /late\n"
    routes = {
        "/robots.txt": response("200 OK", [("Content-Type", "text/plain")], robots),
        "/": response("200 OK", [("Content-Type", "text/html")],
                      b"<html><body><a href='/private'>p</a><a href='/late'>l</a></body></html>"),
        "/late": response("200 OK", [("Content-Type", "text/html")], b"<html><body>late</body></html>"),
    }
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "r", "urls": [site.base + "/"]}))
        paths = [head.split(b" ")[1] for head in site.requests]
    assert result.outcome == "finished"
    assert b"/late" in paths and b"/private" not in paths
    records, _ = read_collection(store / "r")
    [recorded] = [r for r in records if r.type == "response" and r.h("WARC-Target-URI").endswith("/robots.txt")]
    assert recorded.payload == robots
    log = next((store / "r" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert f"robots.txt of {len(robots)} bytes, only its first" in log


def test_where_a_redirect_chain_too_long_was_cut_is_in_the_capture_log(tmp_path):
    routes = {f"/r{i}": response("302 Found", [("Location", f"/r{i + 1}")], b"") for i in range(30)}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "c", "urls": [site.base + "/r0"], "obey_robots": False}))
    assert result.outcome == "finished"
    _, lines = read_collection(store / "c")
    assert [l["url"] for l in lines if l["outcome"] == "captured"] == [f"{site.base}/r{i}" for i in range(21)]
    [cut] = [l for l in lines if l["outcome"] != "captured"]
    assert cut["url"] == site.base + "/r21" and cut["outcome"] == "failed" and cut["status"] is None
    assert cut["error"] == "RedirectLimit: not followed after 20 redirects (REDIRECT_MAX_TIMES)"
    assert cut["hops"] == "R" * 21 and cut["via"] == site.base + "/r20"
    assert result.counts["by_error"] == {"RedirectLimit": 1}
    log = next((store / "c" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert f"{site.base}/r21: RedirectLimit: not followed" in log


def test_a_body_that_is_not_its_content_encoding_is_kept_and_said_in_one_line(tmp_path):
    page = b"<html><body><a href='/after'>after</a></body></html>"
    routes = {
        "/": response("200 OK", [("Content-Type", "text/html")],
                      b"<html><body><a href='/plain'>p</a><a href='/garbage'>g</a></body></html>"),
        "/plain": response("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], page),
        "/garbage": response("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "deflate")], b"\x00junk"),
    }
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "e", "urls": [site.base + "/"], "obey_robots": False}))
    assert result.outcome == "finished"
    records, _ = read_collection(store / "e")
    [plain] = [r for r in records if r.type == "response" and r.h("WARC-Target-URI").endswith("/plain")]
    assert plain.payload == page  # as sent
    log = next((store / "e" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert "Traceback" not in log
    assert "/plain>: its body is not the gzip it is labelled" in log
    assert "/garbage>: its body is not the deflate it is labelled" in log


def test_a_site_setting_thousands_of_cookies_gets_a_browsers_share_sent_back(tmp_path):
    # Kept whole, they were all sent with every request: request heads (and request records)
    # of megabytes, growing with each page.
    def page(n: int):
        cookies = "".join(f"Set-Cookie: c{n}_{i}=value; Path=/\r\n" for i in range(1000))
        body = f"<html><body><a href='/p{n + 1}'>next</a></body></html>".encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n{cookies}Content-Length: {len(body)}\r\n\r\n"
        return lambda _head: [head.encode() + body]

    routes = {f"/p{n}": page(n) for n in range(6)}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "k", "urls": [site.base + "/p0"], "obey_robots": False}))
        heads = {head.split(b" ")[1]: head for head in site.requests}
    assert result.outcome == "finished" and b"/p5" in heads
    cookie = next(line for line in heads[b"/p5"].split(b"\r\n") if line.lower().startswith(b"cookie:"))
    assert cookie.count(b"=") == 180
    log = next((store / "k" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert f"{site.base}/p0: 820 cookies not kept (at most 180 a domain" in log


def test_a_page_listing_thousands_of_requisites_gets_the_first_thousand_fetched(tmp_path):
    # Requisites come on top of max_pages: one page listing 5,000 images had 5,000 fetches.
    page = b"<html><body>" + b"".join(b"<img src='/i%d.png'>" % i for i in range(1500)) + b"</body></html>"
    store = tmp_path / "store"
    with serve_wire({"/": response("200 OK", [("Content-Type", "text/html")], page)}) as site:
        result = crawl(store, collection_from_dict({"name": "q", "urls": [site.base + "/"], "obey_robots": False,
                                                    "scope": {"max_pages": 1}}), overrides={"RETRY_TIMES": 0})
        images = {head.split(b" ")[1] for head in site.requests if head.startswith(b"GET /i")}
    assert result.outcome == "finished"
    assert images == {b"/i%d.png" % i for i in range(1000)}
    log = next((store / "q" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert f"{site.base}/ lists 1500 requisites: only the first 1000" in log


def test_a_redirect_to_no_url_at_all_is_kept_and_said_in_one_line(tmp_path):
    routes = {"/bad-port": response("302 Found", [("Location", "http://127.0.0.1:99999/")], b""),
              "/bad-ipv6": response("302 Found", [("Location", "http://[::1/")], b"")}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "u", "urls": [site.base + "/bad-port",
                                                                          site.base + "/bad-ipv6"],
                                                    "obey_robots": False}))
    assert result.outcome == "finished"
    _, lines = read_collection(store / "u")
    assert sorted(l["status"] for l in lines) == [302, 302]
    log = next((store / "u" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert "Traceback" not in log
    assert "/bad-port: redirect not followed: unusable Location 'http://127.0.0.1:99999/'" in log
    assert "/bad-ipv6: redirect not followed: unusable Location 'http://[::1/'" in log


def test_a_gzip_bomb_page_is_not_inflated_whole_to_extract_articles(tmp_path):
    from archive.extract import html_captures

    # Past the 64 MiB the crawl's spider reads too (a bomb of gigabytes took as many in memory).
    html = b"<html><body><p>hello</p>" + b" " * (72 << 20) + b"</body></html>"
    routes = {
        "/": response("200 OK", [("Content-Type", "text/html")], b"<html><body><p>home</p></body></html>"),
        "/bomb": response("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], _gzip(html)),
    }
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "x", "urls": [site.base + "/", site.base + "/bomb"],
                                                    "obey_robots": False}))
    assert result.outcome == "finished" and result.extract_error is None
    [warc] = (store / "x" / "warcs").glob("*.warc.gz")
    assert [c.url for c in html_captures(warc)] == [site.base + "/"]


def test_a_link_no_url_can_be_made_of_skips_that_link_only(tmp_path):
    # "//[::1" or "http://[zz]/" cannot be resolved; it ended the page, feed or sitemap it
    # was in, the links after it unfollowed.
    bad = ["//[::1", "http://[::1", "http://[zz]/"]
    html = "".join(f"<a href='{b}'>x</a><img src='{b}'>" for b in bad)
    feed = "".join(f"<item><link>{b}</link></item>" for b in bad)
    urlset = "".join(f"<url><loc>{b}</loc></url>" for b in bad)
    page = b"<html><body>ok</body></html>"
    routes = {
        "/": response("200 OK", [("Content-Type", "text/html")],
                      f"<html><body>{html}<a href='/after-page'>a</a><img src='/after.png'></body></html>".encode()),
        "/feed": response("200 OK", [("Content-Type", "application/xml")],
                          f"<rss version='2.0'><channel>{feed}<item><link>/after-feed</link></item>"
                          "</channel></rss>".encode()),
        "/sm.xml": response("200 OK", [("Content-Type", "application/xml")],
                            f"<urlset>{urlset}<url><loc>/after-sitemap</loc></url></urlset>".encode()),
        "/after-page": response("200 OK", [("Content-Type", "text/html")], page),
        "/after-feed": response("200 OK", [("Content-Type", "text/html")], page),
        "/after-sitemap": response("200 OK", [("Content-Type", "text/html")], page),
        "/after.png": response("200 OK", [("Content-Type", "image/png")], b"png"),
    }
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        coll = {"name": "j", "urls": [site.base + "/"], "feeds": [site.base + "/feed"],
                "sitemaps": [site.base + "/sm.xml"], "obey_robots": False}
        result = crawl(store, collection_from_dict(coll))
        paths = {head.split(b" ")[1] for head in site.requests}
    assert result.outcome == "finished"
    assert {b"/after-page", b"/after.png", b"/after-feed", b"/after-sitemap"} <= paths
    log = next((store / "j" / "logs").glob("*.crawl.log")).read_text("utf-8")
    assert "Traceback" not in log


def _as_sent(raw: bytes):  # type: ignore[no-untyped-def]
    return lambda _head: [raw]


def test_heads_whose_lines_end_in_a_bare_line_feed_are_recorded_as_sent_and_verified_as_such(tmp_path):
    # HTTP clients accept lines ended by LF alone, and so does the tap: verify's reader must
    # end such a head where the client did, or take a sound record for a damaged one.
    body = {path: b"<html><body>%s: a body that holds a blank line\r\n\r\nof its own</body></html>" % path
            for path in (b"/lf", b"/mixed")}
    sent = {
        "/lf": b"HTTP/1.1 200 OK\nContent-Type: text/html\nX-Bare: lf\nContent-Length: %d\n\n" % len(body[b"/lf"])
        + body[b"/lf"],
        "/mixed": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\n\r\n" % len(body[b"/mixed"])
        + body[b"/mixed"],
    }
    # (and one whose record does not inflate in one piece: the reader's other path)
    body[b"/large"] = b"\n\r\n" + random.Random(9).randbytes(200_000)
    sent["/large"] = b"HTTP/1.1 200 OK\nContent-Length: %d\n\n" % len(body[b"/large"]) + body[b"/large"]
    routes = {"/": response("200 OK", [("Content-Type", "text/html")],
                            b"<html><body><a href='/lf'>l</a><a href='/mixed'>m</a><a href='/large'>g</a></body></html>"),
              **{path: _as_sent(raw) for path, raw in sent.items()}}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "lf", "urls": [site.base + "/"], "obey_robots": False}))
    assert result.outcome == "finished"
    records, _ = read_collection(store / "lf")
    for path, raw in sent.items():
        [recorded] = [r for r in records if r.type == "response" and r.h("WARC-Target-URI").endswith(path)]
        assert recorded.block == raw and recorded.payload == body[path.encode()]
    report = verify(store / "lf")
    assert report.ok, report.problems


def test_a_header_line_a_browser_takes_is_captured_and_a_refused_head_says_why_in_one_line(tmp_path):
    # Twisted refuses lines over 16 KiB by dropping the connection ("Connection was closed
    # cleanly"); real Content-Security-Policy and Link headers pass that, and browsers take
    # heads of up to 256 KiB.
    page = b"<html><body>kept</body></html>"
    sent = {
        "/csp": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Security-Policy: "
        + b"script-src 'self' " * 2_000 + b"\r\nContent-Length: %d\r\n\r\n" % len(page) + page,
        "/huge": b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (300 << 10) + b"\r\nContent-Length: 2\r\n\r\nhi",
        "/status": b"HTTP/1.1 2xx OK\r\nContent-Length: 2\r\n\r\nhi",
        "/lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi",
    }
    links = "".join(f"<a href='{path}'>x</a>" for path in sent)
    routes = {"/": response("200 OK", [("Content-Type", "text/html")], f"<html><body>{links}</body></html>".encode()),
              **{path: _as_sent(raw) for path, raw in sent.items()}}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        coll = {"name": "long", "urls": [site.base + "/"], "obey_robots": False}
        result = crawl(store, collection_from_dict(coll))
    assert result.outcome == "finished"
    records, lines = read_collection(store / "long")
    [recorded] = [r for r in records if r.type == "response" and r.h("WARC-Target-URI").endswith("/csp")]
    assert recorded.block == sent["/csp"]
    assert verify(store / "long").ok
    errors = {line["url"].removeprefix(site.base): line["error"] for line in lines if line["outcome"] == "failed"}
    assert errors == {
        "/huge": f"DownloadFailedError: ParseError: ('a status or header line of more than {256 << 10} bytes', "
                 f"{b'X-Huge: ' + b'h' * 56!r})",
        "/status": "DownloadFailedError: ParseError: ('non-integer status code', b'HTTP/1.1 2xx OK')",
        "/lengths": "DownloadFailedError: ValueError: Invalid response: conflicting Content-Length headers: b'2,3'",
    }


def test_a_page_whose_charset_names_a_codec_of_no_text_has_its_links_followed(tmp_path):
    # w3lib takes any Python codec for a charset: "base64" stopped every reading of the page's
    # text (a LookupError traceback in the crawl log, no error counted), and its links with it.
    routes = {
        "/": response("200 OK", [("Content-Type", "text/html; charset=base64")],
                      b"<html><body><a href='/header'>h</a></body></html>"),
        "/header": response("200 OK", [("Content-Type", "text/html")],
                            b"<html><head><meta charset='rot13'></head><body><a href='/meta'>m</a></body></html>"),
        "/meta": response("200 OK", [("Content-Type", "text/html")], b"<html><body>meta</body></html>"),
    }
    store = tmp_path / "store"
    result, paths = _crawled(store, routes)
    assert result.outcome == "finished"
    assert [path for path in paths if path != b"/favicon.ico"] == [b"/", b"/header", b"/meta"]
    [crawl_log] = (store / "h" / "logs").glob("*.crawl.log")
    assert "Traceback" not in crawl_log.read_text()
    records, _ = read_collection(store / "h")
    [recorded] = [r for r in records if r.type == "response" and r.h("WARC-Target-URI").endswith("/")]
    assert ("Content-Type", "text/html; charset=base64") in recorded.http_headers  # the header kept as sent
