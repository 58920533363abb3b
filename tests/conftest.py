from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from wire import chunked, response, serve_wire, slow

HOME = b"""<!doctype html><html><head><title>Home</title>
<link rel="stylesheet" href="/style.css"></head><body>
<a href="/gzip?utm_source=test#top">gzip</a> <a href="/chunked">chunked</a>
<a href="/redirect1">redirect</a> <a href="/private/secret">private</a>
<a href="/missing">missing</a> <a href="/slow">slow</a> <a href="/error">error</a>
<img src="/img.png"></body></html>"""
GZIP_HTML = b"<html><body><p>compressed page</p><a href='/'>home</a></body></html>"
GZIPPED = gzip.compress(GZIP_HTML, mtime=0)
CHUNKS = [b"<html><body>", b"<p>first chunk</p>", b"<p>second chunk</p>", b"</body></html>"]
FINAL = b"<html><body><p>after two redirects</p></body></html>"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def site_routes() -> dict:
    html = [("Content-Type", "text/html; charset=utf-8")]
    return {
        "/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nDisallow: /private/\n"),
        "/": response("200 OK", [*html, ("Set-Cookie", "session=s3cr3t; Path=/"), ("X-Custom-Header", "Kept")], HOME),
        "/gzip": response("200 OK", [*html, ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")], GZIPPED),
        "/chunked": chunked("200 OK", html, CHUNKS),
        "/redirect1": response("302 Found", [("Location", "/redirect2")], b""),
        "/redirect2": response("301 Moved Permanently", [("Location", "/final")], b""),
        "/final": response("200 OK", html, FINAL),
        "/error": response("500 Internal Server Error", html, b"<html>boom</html>"),
        "/slow": slow(3.0, response("200 OK", html, b"too late")),
        "/style.css": response("200 OK", [("Content-Type", "text/css")],
                               b"@import url(/print.css);\nbody { color: black; background: url('/bg.png') }"),
        "/print.css": response("200 OK", [("Content-Type", "text/css")], b"body { color: gray }"),
        "/bg.png": response("200 OK", [("Content-Type", "image/png")], PNG[:100]),
        "/img.png": response("200 OK", [("Content-Type", "image/png")], PNG),
    }


@pytest.fixture(scope="session")
def wire_site():
    with serve_wire(site_routes()) as server:
        yield server
