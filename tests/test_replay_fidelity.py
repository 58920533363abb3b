"""Pages crawled from a live site and replayed: every resource the replayed page names is the
capture the crawl made of it."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import quote

import pytest
from replay_helpers import get
from wire import response, serve_wire

from archive.cli import main
from archive.replay import serve_in_thread

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def _crawled(tmp_path, routes, collection: str, page: str = "/page"):  # type: ignore[no-untyped-def]
    """A store holding a crawl of ``page`` alone (its requisites too) into ``collection``, and
    the site that served it (closed; its ``base`` and ``requests`` kept)."""
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        assert main(["crawl", "--url", site.base + page, "--store", str(store), "--depth", "0",
                     "--collection", collection]) == 0
    return store, site


def _sources(body: bytes) -> list[str]:
    """The src of each <img> of a replayed page, and each url() of its style attributes."""
    return [m.decode("ascii") for m in re.findall(rb'<img[^>]* src="([^"]*)"', body)] + \
        [m.decode("ascii") for m in re.findall(rb'url\(&quot;([^&]*)&quot;\)', body)]


@pytest.mark.parametrize(("encoding", "declared"), [
    ("windows-1252", [("Content-Type", "text/html; charset=windows-1252")]),
    ("shift_jis", [("Content-Type", "text/html")]),  # (said by its <meta> alone)
])
def test_an_image_named_in_the_pages_own_encoding_is_replayed_from_its_capture(tmp_path, encoding, declared):
    # A browser sends a URL's path in UTF-8 and its query in the page's encoding; so does
    # the crawl. (In Shift_JIS the second byte of "表" is a backslash.)
    name = "caf\u00e9" if encoding == "windows-1252" else "\u8868"
    page = (f'<html><head><meta charset="{encoding}"><title>t</title></head><body>'
            f'<img src="/img/{name}.png"><img src="/img/q.png?w={name}">'
            f'<div style="background: url(/img/{name}.png?bg)"></div></body></html>').encode(encoding)
    path, query = quote(name, encoding="utf-8"), quote(name, encoding=encoding)
    routes = {"/page": response("200 OK", declared, page),
              f"/img/{path}.png": response("200 OK", [("Content-Type", "image/png")], PNG + b"path"),
              f"/img/{path}.png?bg": response("200 OK", [("Content-Type", "image/png")], PNG + b"bg"),
              f"/img/q.png?w={query}": response("200 OK", [("Content-Type", "image/png")], PNG + b"query")}
    store, site = _crawled(tmp_path, routes, "enc")
    with serve_in_thread(store) as base:
        status, _, body = get(base, f"/enc/2026/{site.base}/page")
        assert status == 200
        sources = _sources(body)
        assert len(sources) == 3, body
        images = [get(base, src) for src in sources]
    assert [(status, body[len(PNG):]) for status, _, body in images] == [(200, b"path"), (200, b"query"), (200, b"bg")]


def test_images_a_style_sheet_names_with_escapes_are_crawled_and_replayed(tmp_path):
    # A CSS escape is the character it stands for ("\28 " is "(", "\"" a quote): the crawl
    # fetched "bg-\28 1\29 .png" as it was written (broken at its space), and replay sent
    # the browser to "bg-/28%201/29%20.png" (its backslashes read as a URL's).
    css = (b'.a { background: url(bg-\\28 1\\29 .png) }\n.b { background: url("it\\"s.png") }\n'
           b".c { background: url('sp\\ ace.png') }\n")
    images = {"bg-(1).png": b"paren", "it%22s.png": b"quote", "sp%20ace.png": b"space"}
    routes = {"/page": response("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                b'<html><head><link rel="stylesheet" href="/s/site.css"></head><body></body></html>'),
              "/s/site.css": response("200 OK", [("Content-Type", "text/css")], css)}
    routes.update({f"/s/{name}": response("200 OK", [("Content-Type", "image/png")], PNG + body)
                   for name, body in images.items()})
    store, site = _crawled(tmp_path, routes, "css")
    fetched = {request.split(b" ")[1].decode() for request in site.requests}
    assert {f"/s/{name}" for name in images} <= fetched
    with serve_in_thread(store) as base:
        status, _, body = get(base, f"/css/2026/{site.base}/s/site.css")
        assert status == 200
        urls = [m.decode("ascii").replace(" ", "%20") for m in re.findall(rb'url\("([^"]*)"\)', body)]  # (as a browser sends it)
        assert len(urls) == 3, body
        answers = [get(base, url) for url in urls]
    assert [(status, body[len(PNG):]) for status, _, body in answers] == [(200, b"paren"), (200, b"quote"),
                                                                           (200, b"space")]


def test_a_page_with_two_base_elements_is_replayed_by_the_first_as_browsers_read_it(tmp_path):
    page = (b'<html><head><base href="/img/"><base href="/css/"><title>t</title></head>'
            b'<body><img src="icon.png"></body></html>')
    routes = {"/page": response("200 OK", [("Content-Type", "text/html; charset=utf-8")], page),
              "/img/icon.png": response("200 OK", [("Content-Type", "image/png")], PNG + b"first"),
              "/css/icon.png": response("200 OK", [("Content-Type", "image/png")], PNG + b"second")}
    store, site = _crawled(tmp_path, routes, "base")
    with serve_in_thread(store) as base:
        _, _, body = get(base, f"/base/2026/{site.base}/page")
        [source] = _sources(body)
        status, _, image = get(base, source)
    assert (status, image[len(PNG):]) == (200, b"first")


@pytest.mark.parametrize("label", ["base64", "rot13"])
def test_a_page_whose_charset_names_a_codec_of_no_text_leaves_extraction_indexes_and_replay_whole(tmp_path, label):
    # w3lib takes any Python codec for a charset; "base64" decoded no page but raised, and the
    # catalog, so archive index and archive replay, stopped at that page with a traceback.
    routes = {"/": response("200 OK", [("Content-Type", f"text/html; charset={label}")],
                            f'<html><head><meta charset="{label}"><title>Odd label</title></head>'
                            '<body><p>Words</p></body></html>'.encode())}
    store, site = _crawled(tmp_path, routes, "odd", page="/")
    for command in (["extract", "--store", str(store), "--collection", "odd"], ["index", "--store", str(store)]):
        proc = subprocess.run([sys.executable, "-m", "archive", *command], capture_output=True, text=True,
                              timeout=120, check=False)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    with serve_in_thread(store) as base:
        listed = get(base, "/odd/")
        page = get(base, f"/odd/2026/{site.base}/")
    assert listed[0] == 200 and b"Odd label" in listed[2]
    assert page[0] == 200 and b"<p>Words</p>" in page[2]
