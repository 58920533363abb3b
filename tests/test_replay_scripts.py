"""What replay adds so that a page's own scripts stay in the archive: the client script in
every replayed document, and requests that escaped the replay prefix sent back by Referer.
(The browser's side of it is in test_replay_browser.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from jobs import Clock, fetch
from replay_helpers import get

from archive.config import one_off
from archive.index import update_indexes
from archive.job import CaptureJob
from archive.replay import serve_in_thread
from archive.store import collection_dir

SITE = "http://site.test"
WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)
STAMP = "20260301120000"
PAGE = (b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Scripted</title>'
        b'<script src="/app.js"></script></head><body><a href="/next">next</a></body></html>')
HTML = (b"Content-Type", b"text/html")


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    store = tmp_path_factory.mktemp("scripts-store")
    job = CaptureJob(store, one_off("scripted", urls=[SITE + "/"]), clock=Clock(WHEN), dedup=False)
    pages = {
        "/page": ([HTML, (b"Referrer-Policy", b"no-referrer")], PAGE),
        "/headless": ([HTML], b"<p>no head</p><script>1</script>"),
        "/html-only": ([HTML], b"<!doctype html><html>"),
        "/declared": ([(b"Content-Type", b"text/html; charset=iso-8859-1")], b'<meta charset="utf-8"><p>x</p>'),
        "/api/data.json": ([(b"Content-Type", b"application/json")], b'{"word": "archived"}'),
        "/no-referrer": ([HTML, (b"Vary", b"Accept-Encoding")],
                         (b'<html><head><meta name="referrer" content="no-referrer"></head>'
                          b'<body><img src="/a.png" referrerpolicy="no-referrer"></body></html>')),
        "/utf-16": ([HTML], b'<meta charset="UTF-16LE"><p>x</p>'),
        "/csp": ([HTML, (b"Clear-Site-Data", b'"cache", "storage"'), (b"Speculation-Rules", b'"/rules.json"')],
                 (b'<meta http-equiv="Content-Security-Policy" content="upgrade-insecure-requests">'
                  b"<meta http-equiv=content-security-policy content='img-src https://cdn.test'>"
                  b'<script type="speculationrules">{"prefetch": [{"urls": ["http://site.test/next"]}]}</script>')),
        "/bom": ([HTML], b"\xef\xbb\xbf<p>caf\xc3\xa9</p>"),
        "/own-map": ([HTML], (b'<head><SCRIPT  type = "importmap">{"imports": {"vue": "/vue.js", '
                              b'"https://cdn.test/lib/": "https://cdn.test/lib/", "/": "/"}, '
                              b'"scopes": {"/admin/": {"/": "/admin/root/"}}}</SCRIPT></head>')),
        "/xhtml": ([(b"Content-Type", b"application/xhtml+xml")],
                   b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'),
        "/api/list.json?x=1&_=111": ([(b"Content-Type", b"application/json")], b'["x is 1"]'),
        "/api/list.json?x=2&_=222": ([(b"Content-Type", b"application/json")], b'["x is 2"]'),
        "/api/plain.json?x=1": ([(b"Content-Type", b"application/json")], b'["plain"]'),
        "/search?q=caf%E9": ([(b"Content-Type", b"application/json")], b'["e acute"]'),
    }
    for path, (headers, body) in pages.items():
        job.record_fetch(fetch(SITE + path, body, WHEN, headers=headers, seed=SITE + "/"))
    job.close()
    update_indexes(collection_dir(store, "scripted"))
    with serve_in_thread(store) as base:
        yield base


def _page(base: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return get(base, f"/scripted/{STAMP}/{SITE}{path}", headers=headers)


def test_the_client_script_comes_first_in_the_head_and_the_doctype_stays_first(replay):
    status, headers, body = _page(replay, "/page")
    assert status == 200
    tag = (f'<script src="/_archive/client.js" data-coll="scripted" data-timestamp="{STAMP}" data-modifier="" '
           f'data-url="{SITE}/page"></script>').encode()
    # The page's site, by root path or absolute URL, at the page's time, for the imports of
    # the page and its site's modules.
    prefix = f"/scripted/{STAMP}/{SITE}/"
    imports = (f'<script type="importmap">{{"scopes": {{"{prefix}": {{"/": "{prefix}", '
               f'"/scripted/": "/scripted/", "{SITE}/": "{prefix}"}}}}}}</script>').encode()
    assert body.startswith(b'<!DOCTYPE html>\n<html lang="en"><head>' + tag + imports + b'<meta charset="utf-8">')
    assert body.index(tag) < body.index(b"/app.js")
    assert b"archive-replay-banner" in body
    # The tag moves the <meta charset> on; the header says the charset instead.
    assert headers["content-type"] == "text/html; charset=utf-8"
    # An archived Referrer-Policy would stop the browser saying which page a request came from.
    assert "referrer-policy" not in headers and headers["x-archive-orig-referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(("path", "expected"), [
    ("/headless", b'<script src="/_archive/client.js"'),  # before the first element
    ("/html-only", b'<!doctype html><html><script src="/_archive/client.js"'),  # after <html>
    ("/bom", b'\xef\xbb\xbf<script src="/_archive/client.js"'),  # after a byte order mark
    ("/xhtml", b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script src="/_archive/client.js"'),
])
def test_the_client_script_is_placed_in_a_page_without_a_head(replay, path, expected):
    _, _, body = _page(replay, path)
    assert body.startswith(expected)


def test_a_page_with_an_import_map_of_its_own_has_it_pointed_into_the_archive_and_no_other(replay):
    # (before Chromium 133 only the first import map counted: the page's own would be lost)
    _, _, body = _page(replay, "/own-map")
    assert body.lower().count(b"importmap") == 1 and b"/_archive/client.js" in body
    doc = json.loads(body.partition(b'"importmap">')[2].partition(b"</SCRIPT>")[0])
    prefix, cdn = f"/scripted/{STAMP}/{SITE}/", f"/scripted/{STAMP}/https://cdn.test/lib/"
    # Its addresses and scopes in the archive, its keys as written and, for those that are
    # URLs, archived as well (a relative import resolves to that); ours merged, its own first
    # (its URL entries in our scope too, which a browser looks in before the top level).
    own = {"https://cdn.test/lib/": cdn, cdn: cdn, "/": prefix, prefix: prefix}
    assert doc == {"imports": {"vue": prefix + "vue.js", **own},
                   "scopes": {prefix + "admin/": {"/": prefix + "admin/root/", prefix: prefix + "admin/root/"},
                              prefix: {"/scripted/": "/scripted/", SITE + "/": prefix, **own}}}


@pytest.mark.parametrize(("page", "maps"), [
    # not JSON the browser can read either: ours as well
    (b'<script type="importmap">{"imports": </script>', 2),
    # es-module-shims' map is no browser's: ours
    (b'<script type="importmap-shim">{"imports": {}}</script>', 1),
    # a map in a comment or a script's string is none: ours, besides those two texts
    (b'<!-- <script type="importmap"> --><script>var t = \'<script type="importmap">\';</script>', 3),
])
def test_an_import_map_is_added_unless_a_map_of_the_pages_took_its_entries(page, maps):
    from archive.replay.rewrite import rewrite_html

    body = rewrite_html(b"<html><head>" + page + b"</head></html>", SITE + "/p", lambda u: "/c/1/" + u,
                        first="<script src=/c.js></script>", imports={"scopes": {"/c/1/x": {"/": "/c/1/x"}}})
    assert body.count(b'<script type="importmap">') == maps, body
    assert body.index(b"/c.js") < body.index(b'{"scopes": {"/c/1/x"')


def test_a_pages_import_map_keeps_its_bytes_and_odd_json_breaks_nothing():
    from archive.replay.rewrite import rewrite_html

    def mapped(json_text: bytes) -> bytes:
        page = b'<html><head><script type="importmap">' + json_text + b"</script></head></html>"
        return rewrite_html(page, SITE + "/p", lambda u: "/c/1/" + u, first="<script></script>",
                            imports={"scopes": {"/c/1/x": {"/": "/c/1/x"}}})

    # UTF-8 bytes as they were, escapes as escapes (a character past Latin-1 raised)
    body = mapped('{"imports": {"caf\u00e9/": "/caf\u00e9/", "\\u20ac": "/e.js", "\\ud800": "/s.js"}}'.encode())
    assert "café/".encode() in body and b'"\\u20ac"' in body and b'"\\ud800"' in body
    assert b"/c/1/http://site.test/caf%C3%A9/" in body
    assert mapped(b"[" * 100_000 + b"]" * 100_000).count(b"importmap") == 2  # (too deep to read: ours too)


def test_a_charset_the_archived_header_names_is_kept(replay):
    _, headers, _ = _page(replay, "/declared")
    assert headers["content-type"] == "text/html; charset=iso-8859-1"


def test_a_page_fetched_by_a_script_gets_no_banner_and_no_client_but_its_links_rewritten(replay):
    _, _, body = _page(replay, "/page", **{"Sec-Fetch-Dest": "empty"})
    assert b"archive-replay-banner" not in body and b"/_archive/client.js" not in body
    assert f'href="/scripted/{STAMP}/{SITE}/next"'.encode() in body
    _, _, framed = _page(replay, "/page", **{"Sec-Fetch-Dest": "iframe"})
    assert b"archive-replay-banner" not in framed and b"/_archive/client.js" in framed
    # pywb's modifier of a page in a frame, whoever asks for it
    _, _, framed = get(replay, f"/scripted/{STAMP}if_/{SITE}/page")
    assert b"archive-replay-banner" not in framed and b'data-modifier="if_"' in framed


def test_the_client_script_is_served(replay):
    status, headers, body = get(replay, "/_archive/client.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert b'addEventListener("navigate"' in body


def test_a_request_that_escaped_a_replayed_page_is_sent_back_into_the_archive(replay):
    page = f"{replay}/scripted/{STAMP}/{SITE}/page"
    status, headers, _ = get(replay, "/api/data.json?x=1", headers={"Referer": page})
    assert status == 307 and headers["location"] == f"/scripted/{STAMP}/{SITE}/api/data.json?x=1"
    # Paths no collection could have, such as a bundler's /_next/, are sent back too.
    status, headers, _ = get(replay, "/_next/static/app.js", headers={"Referer": page})
    assert status == 307 and headers["location"] == f"/scripted/{STAMP}/{SITE}/_next/static/app.js"
    assert get(replay, headers["location"])[0] == 404  # (not archived: the archive's own 404)
    # A path of the site that starts as the collection's name does, not written as a replay path
    status, headers, _ = get(replay, "/scripted/api/data.json", headers={"Referer": page})
    assert status == 307 and headers["location"] == f"/scripted/{STAMP}/{SITE}/scripted/api/data.json"


@pytest.mark.parametrize(("target", "referer", "status"), [
    ("/api/data.json", None, 404),  # no Referer: no collection "api"
    ("/api/data.json", "{base}/scripted/", 404),  # not a replayed page
    ("/scripted/", "{base}/scripted/{stamp}/{site}/page", 200),  # the replay server's own paths
    ("/scripted/{stamp}/{site}/page", "{base}/scripted/{stamp}/{site}/page", 200),
    ("/scripted/*/{site}/page", "{base}/scripted/{stamp}/{site}/page", 200),
    ("/", "{base}/scripted/{stamp}/{site}/missing", 200),  # the 404 page's link to the collections
    ("/api/%2e%2e/x", "{base}/scripted/{stamp}/{site}/page", 400),  # refused, Referer or not
])
def test_requests_not_from_a_replayed_page_are_answered_as_they_were(replay, target, referer, status):
    headers = {} if referer is None else {"Referer": referer.format(base=replay, stamp=STAMP, site=SITE)}
    assert get(replay, target.format(stamp=STAMP, site=SITE), headers=headers)[0] == status


@pytest.mark.parametrize(("asked", "served"), [
    ("/api/list.json?x=1&_=999", "/api/list.json?x=1&_=111"),  # another cache-buster than the capture's
    ("/api/list.json?_=999&x=2&rnd=5", "/api/list.json?x=2&_=222"),
    ("/api/list.json?x=2", "/api/list.json?x=2&_=222"),  # none at all
    ("/api/plain.json?x=1&_=5", "/api/plain.json?x=1"),  # one the capture had not
    ("/api/list.json?x=3&_=999", None),  # another value of a parameter that counts: not the capture
    ("/api/list.json?x=1&y=1&_=999", None),
    ("/api/list.json?x=1&ts=5", None),  # (a parameter that may mean something)
    ("/search?q=caf%E8&_=1", None),  # another byte, though neither is UTF-8
    # What the crawl leaves out of the URLs it fetches, in an archived page's link
    ("/page;jsessionid=0A1B2C3D", "/page"),
    ("/api/plain.json?x=1&PHPSESSID=abc&utm_source=feed", "/api/plain.json?x=1"),
])
def test_a_url_with_a_new_cache_buster_is_sent_to_the_capture_that_differs_only_in_it(replay, asked, served):
    status, headers, _ = _page(replay, asked)
    if served is None:
        assert status == 404
    else:
        assert (status, headers["location"]) == (302, f"/scripted/{STAMP}/{SITE}{served}")
        assert _page(replay, served)[0] == 200


def test_a_page_is_told_apart_in_caches_from_its_copy_fetched_by_a_script(replay):
    # (a copy fetched by a script has no client script: a browser must not show it as the page)
    assert _page(replay, "/page")[1]["vary"] == "Sec-Fetch-Dest"
    assert _page(replay, "/no-referrer")[1]["vary"] == "Accept-Encoding, Sec-Fetch-Dest"


def test_a_page_that_would_send_no_referer_is_made_to_send_one(replay):
    _, _, body = _page(replay, "/no-referrer")
    assert b'<meta name="referrer" data-archive-content="no-referrer">' in body
    assert b'data-archive-referrerpolicy="no-referrer"' in body


def test_a_content_security_policy_in_the_page_is_kept_aside_as_the_header_is(replay):
    _, headers, body = _page(replay, "/csp")
    # (and what would empty the browser's storage of the replay server, or prefetch from the live web)
    assert "clear-site-data" not in headers and headers["x-archive-orig-clear-site-data"] == '"cache", "storage"'
    assert "speculation-rules" not in headers and "x-archive-orig-speculation-rules" in headers
    assert b'<script type="text/x-archived-speculationrules">{"prefetch"' in body
    assert b'<meta http-equiv="Content-Security-Policy" data-archive-content="upgrade-insecure-requests">' in body
    assert b"<meta http-equiv=content-security-policy data-archive-content='img-src https://cdn.test'>" in body


def test_a_meta_charset_of_utf_16_is_said_as_the_utf_8_a_browser_reads(replay):
    assert _page(replay, "/utf-16")[1]["content-type"] == "text/html; charset=utf-8"


def test_a_request_that_escaped_a_page_replayed_without_a_timestamp_goes_to_the_newest_capture(replay):
    status, headers, _ = get(replay, "/api/data.json", headers={"Referer": f"{replay}/scripted/{SITE}/page"})
    assert status == 307 and headers["location"] == f"/scripted/{SITE}/api/data.json"
    assert get(replay, headers["location"])[0] == 200


def test_a_request_that_escaped_is_sent_back_behind_a_proxy_that_renamed_the_host(replay):
    referer = f"https://archive.example.org/scripted/{STAMP}/{SITE}/page"
    status, headers, _ = get(replay, "/api/data.json", headers={"Referer": referer})
    assert status == 307 and headers["location"] == f"/scripted/{STAMP}/{SITE}/api/data.json"
