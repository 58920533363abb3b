"""Captures of POSTs (a search form, a JSON call, a multipart form) replayed when the same
is posted again: keyed by their body, as pywb keys them."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from jobs import Clock, fetch
from replay_helpers import get

try:  # (one test's: Chromium driven over its DevTools protocol)
    from test_replay_browser import CHROMIUM, browser  # noqa: F401 (a fixture)
except pytest.skip.Exception:
    CHROMIUM = None

from archive.config import one_off
from archive.index import update_indexes
from archive.job import CaptureJob
from archive.replay import serve_in_thread
from archive.store import collection_dir

SITE = "http://site.test"
WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)
HTML = [(b"Content-Type", b"text/html")]
FORM = "application/x-www-form-urlencoded"


def _multipart(boundary: str, fields: dict[str, str]) -> bytes:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


POSTS = [  # path, Content-Type, body as the spider sent it, what the site answered
    ("/search", FORM, b"q=harbour+street&page=1", b"<p>results for harbour street</p>"),
    ("/search", FORM, b"q=caf%C3%A9&page=1", b"<p>results for caf\xc3\xa9</p>"),
    ("/api/items", "application/json", b'{"id": 5, "fields": ["title", "date"]}', b'{"title": "Five"}'),
    ("/upload", "multipart/form-data; boundary=AaB03x", _multipart("AaB03x", {"name": "Ada", "topic": "tides"}),
     b"<p>thanks, Ada</p>"),
    ("/bytes", "application/octet-stream", bytes(range(256)), b"<p>binary taken</p>"),
]


# A page whose form a reader submits (here its script), as the spider did.
FORM_PAGE = (b'<html><body><form method="post" action="/search"><input name="q" value="harbour street">'
             b'<input type="hidden" name="page" value="1"></form>'
             b"<script>onload = () => document.forms[0].submit();</script></body></html>")


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    store = tmp_path_factory.mktemp("post-store")
    job = CaptureJob(store, one_off("posts", urls=[SITE + "/"]), clock=Clock(WHEN), dedup=False)
    page = fetch(SITE + "/search", b"<form method=post action=/search><input name=q></form>", WHEN, headers=HTML,
                 seed=SITE + "/")
    job.record_fetch(page)
    job.record_fetch(fetch(SITE + "/form", FORM_PAGE, WHEN, headers=HTML, seed=SITE + "/"))
    for n, (path, mime, sent, answer) in enumerate(POSTS, 1):
        job.record_fetch(dataclasses.replace(
            page, url=SITE + path, method="POST", request_body=sent, body=answer, started=WHEN + timedelta(minutes=n),
            request_headers=[(b"Content-Type", mime.encode()), (b"Content-Length", str(len(sent)).encode())]))
    job.close()
    update_indexes(collection_dir(store, "posts"))
    with serve_in_thread(store) as base:
        yield store, base


def _post(base: str, path: str, mime: str, body: bytes, modifier: str = "id_"):  # type: ignore[no-untyped-def]
    return get(base, f"/posts/2026{modifier}/{SITE}{path}", "POST",
               headers={"Content-Type": mime, "Content-Length": str(len(body))}, body=body)


def test_the_index_keys_a_post_by_its_body_as_pywb_does(replay):
    store, _ = replay
    lines = [line.split(" ", 2) for index in (store / "posts" / "indexes").glob("*.cdxj")
             for line in index.read_text().splitlines()]
    keys = {key: json.loads(fields) for key, _, fields in lines}
    assert keys["test,site)/search?__wb_method=post&page=1&q=harbour%20street"]["requestBody"] == \
        "q=harbour street&page=1"
    assert keys["test,site)/search?__wb_method=post&page=1&q=caf%c3%a9"]["method"] == "POST"
    assert "test,site)/api/items?__wb_method=post&fields=title&fields.2_=date&id=5" in keys
    assert "test,site)/upload?__wb_method=post&name=ada&topic=tides" in keys
    assert "test,site)/search" in keys  # (the page, a GET, apart)


def test_the_same_form_or_call_posted_again_is_answered_by_its_capture(replay):
    _, base = replay
    for path, mime, sent, answer in POSTS:
        status, headers, body = _post(base, path, mime, sent)
        assert (status, body) == (200, answer), path
        assert headers["memento-datetime"]
    # The same by other bytes: a form's fields in another order, JSON spaced otherwise, a
    # multipart form with the browser's own boundary.
    again = [("/search", FORM, b"page=1&q=harbour%20street", POSTS[0][3]),
             ("/api/items", "application/json; charset=utf-8", b'{"fields":["title","date"],"id":5}', POSTS[2][3]),
             ("/upload", "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk",
              _multipart("----WebKitFormBoundary7MA4YWxk", {"name": "Ada", "topic": "tides"}), POSTS[3][3])]
    for path, mime, sent, answer in again:
        assert _post(base, path, mime, sent)[::2] == (200, answer), sent
    status, _, page = _post(base, "/search", FORM, b"q=harbour+street&page=1", modifier="")  # (as a page)
    assert status == 200 and b"/_archive/client.js" in page and page.endswith(POSTS[0][3])


def test_a_post_of_another_body_finds_no_capture_and_a_get_finds_the_page(replay):
    _, base = replay
    status, _, body = _post(base, "/search", FORM, b"q=elsewhere&page=1")
    assert status == 404 and b"No POST to it with this body was captured." in body
    status, _, body = get(base, f"/posts/2026/{SITE}/search")
    assert status == 200 and b"<form" in body
    status, headers, _ = _post(base, "/nowhere", FORM, b"q=1")
    assert status == 404
    status, headers, _ = get(base, "/posts/", "POST", headers={"Content-Length": "0"})
    assert (status, headers["allow"]) == (405, "GET, HEAD")
    status, headers, _ = get(base, f"/posts/2026/{SITE}/search", "DELETE")
    assert (status, headers["allow"]) == (405, "GET, HEAD, POST, PUT")



@pytest.mark.skipif(CHROMIUM is None or not CHROMIUM.exists(), reason="needs Chromium and websocket-client")
def test_a_form_a_browser_posts_on_a_replayed_page_gets_its_captured_answer(replay, browser):
    _, base = replay
    browser.navigate(f"{base}/posts/2026/{SITE}/form")
    browser.wait_until("document.body && document.body.textContent.includes('results for')")
    assert browser.evaluate("document.body.textContent").endswith("results for harbour street")
    assert browser.evaluate("location.pathname") == f"/posts/20260301120000/{SITE}/search"  # (the form's time)
    # A script's calls, by fetch (given a URL or a Request) and XMLHttpRequest, to the live URL.
    browser.evaluate(f"""window.got = {{}};
      var json = {{"Content-Type": "application/json"}}, call = JSON.stringify({{id: 5, fields: ["title", "date"]}});
      fetch("{SITE}/api/items", {{method: "POST", headers: json, body: call}}).then(r => r.json())
        .then(d => {{ got.url = d.title; }});
      fetch(new Request("{SITE}/api/items", {{method: "POST", headers: json, body: call}})).then(r => r.json())
        .then(d => {{ got.request = d.title; }});
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "{SITE}/search");
      xhr.setRequestHeader("Content-Type", "{FORM}");
      xhr.onload = () => {{ got.xhr = xhr.responseText.slice(-30); }};
      xhr.send("q=caf%C3%A9&page=1");""")
    browser.wait_until("Object.keys(got).length === 3")
    assert json.loads(browser.evaluate("JSON.stringify(got)")) == {
        "url": "Five", "request": "Five", "xhr": "<p>results for café</p>"}


def test_a_json_post_whose_body_is_no_json_is_indexed_and_replayed_without_its_body_on_stderr(tmp_path, capfd):
    """cdxj-indexer wrote "Error parsing: <body>" to stderr for a JSON body it could not read:
    a line, the body in it, at each `archive index` and at each replay look-up of it."""
    from archive.cli import main

    job = CaptureJob(tmp_path, one_off("posts", urls=[SITE + "/"]), clock=Clock(WHEN), dedup=False)
    page = fetch(SITE + "/api", b"{}", WHEN, headers=[(b"Content-Type", b"application/json")], seed=SITE + "/")
    sent = b'{"q": "news", cut sh'
    job.record_fetch(dataclasses.replace(
        page, method="POST", request_body=sent, body=b'{"found": 1}', started=WHEN + timedelta(minutes=1),
        request_headers=[(b"Content-Type", b"application/json"), (b"Content-Length", str(len(sent)).encode())]))
    job.close()
    capfd.readouterr()
    assert main(["index", "--store", str(tmp_path)]) == 0
    out, err = capfd.readouterr()
    assert "cut sh" not in out + err and "Error parsing" not in out + err
    [index] = (tmp_path / "posts" / "indexes").glob("*.cdxj")
    assert [line.split(" ")[0] for line in index.read_text().splitlines()] == ["test,site)/api?__wb_method=post"]
    with serve_in_thread(tmp_path) as base:
        assert _post(base, "/api", "application/json", sent)[::2] == (200, b'{"found": 1}')
        assert _post(base, "/api", "application/json", b"{also not")[0] == 200  # (keyed by the method alone)
    out, err = capfd.readouterr()
    assert "cut sh" not in out + err and "also not" not in out + err and "Error parsing" not in out + err


def test_an_api_call_paged_by_a_token_keeps_it_and_is_replayed(tmp_path):
    """An API's "load more" call sends back the cursor of the page before, "pageToken" or
    "next_token": masked as a credential, the request record did not say which page it
    asked for and replay found no capture of the call. A credential beside it is masked."""
    from warcio.archiveiterator import ArchiveIterator

    store = tmp_path / "store"
    job = CaptureJob(store, one_off("posts", urls=[SITE + "/"]), clock=Clock(WHEN), dedup=False)
    page = fetch(SITE + "/more", b"{}", WHEN, headers=[(b"Content-Type", b"application/json")], seed=SITE + "/")
    calls = [(b'{"query": "harbour", "pageToken": "CAUQAA", "access_token": "s3cr3t"}', b'{"items": [2]}'),
             (b'{"query": "harbour", "nextPageToken": "CAoQAA"}', b'{"items": [3]}'),
             (b"query=harbour&next_token=p4", b'{"items": [4]}')]
    for n, (sent, answer) in enumerate(calls, 1):
        mime = b"application/json" if sent.startswith(b"{") else FORM.encode()
        job.record_fetch(dataclasses.replace(
            page, method="POST", request_body=sent, body=answer, started=WHEN + timedelta(minutes=n),
            request_headers=[(b"Content-Type", mime), (b"Content-Length", str(len(sent)).encode())]))
    job.close()
    coll = collection_dir(store, "posts")
    update_indexes(coll)
    bodies = []
    for warc in coll.warcs.glob("*.warc.gz"):
        with open(warc, "rb") as fh:
            bodies += [r.content_stream().read() for r in ArchiveIterator(fh) if r.rec_type == "request"]
    assert bodies == [calls[0][0].replace(b"s3cr3t", b"******"), calls[1][0], calls[2][0]]
    with serve_in_thread(store) as base:
        assert _post(base, "/more", "application/json", calls[1][0])[::2] == (200, calls[1][1])
        assert _post(base, "/more", FORM, calls[2][0])[::2] == (200, calls[2][1])
