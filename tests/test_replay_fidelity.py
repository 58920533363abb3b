"""Pages crawled from a live site and replayed: every resource the replayed page names is the
capture the crawl made of it."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from replay_helpers import get
from wire import response, serve_wire

from archive.cli import main
from archive.replay import serve_in_thread

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


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
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        assert main(["crawl", "--url", site.base + "/page", "--store", str(store), "--depth", "0",
                     "--collection", "enc"]) == 0
    with serve_in_thread(store) as base:
        status, _, body = get(base, f"/enc/2026/{site.base}/page")
        assert status == 200
        sources = _sources(body)
        assert len(sources) == 3, body
        images = [get(base, src) for src in sources]
    assert [(status, body[len(PNG):]) for status, _, body in images] == [(200, b"path"), (200, b"query"), (200, b"bg")]
