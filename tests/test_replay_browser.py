"""A replayed article in headless Chromium: every request stays on the replay server.

Chromium is driven over the Chrome DevTools Protocol (websocket-client), so no browser is
downloaded; Debian's ``chromium`` package is used (``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import html
import http.server
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from replay_helpers import stop

from archive.demo.run import run_demo
from archive.demo.site import DemoSite
from archive.replay import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="/usr/bin/chromium is absent (apt-get install chromium; .ci/run does)")
websocket = pytest.importorskip("websocket", reason="websocket-client is in the test extra")


class Cdp:
    """The smallest useful DevTools client: numbered calls, events collected as they come."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        # (wait_for and drain leave short timeouts behind; an evaluation made while a page
        # navigates away is answered once the next one has a context, which takes longer)
        self.ws.settimeout(30)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.ws.recv()))

    def drain(self, quiet: float = 0.5) -> None:
        self.ws.settimeout(quiet)
        try:
            while True:
                self.events.append(json.loads(self.ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 10) -> None:
        """Evaluate ``expression`` until it is true, or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression) and time.monotonic() < deadline:
            time.sleep(0.1)

    def navigate(self, url: str) -> list[dict]:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.drain()
        return [e for e in self.events if e.get("method", "").startswith("Network.")]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         "--remote-allow-origins=*", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            page = next(t for t in json.load(resp) if t["type"] == "page")
        cdp = Cdp(page["webSocketDebuggerUrl"])
        cdp.call("Network.enable")
        cdp.call("Page.enable")
        yield cdp
        cdp.ws.close()
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    store = tmp_path_factory.mktemp("browser-store")
    result = run_demo(store)
    with serve_in_thread(store) as base:
        yield base, result.site_url


def test_replayed_article_loads_only_from_the_replay_server_and_shows_its_text(browser, replay):
    base, site = replay
    article = DemoSite(n_articles=50).articles[0]
    events = browser.navigate(f"{base}/demo/2026/{site}{article.path}")
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert len(requests) >= 4  # the page, its stylesheet (and import), script, images
    outside = [u for u in requests if not u.startswith(base + "/") and not u.startswith(("data:", "blob:"))]
    assert outside == [], f"requests left the archive: {outside}"
    statuses = {e["params"]["response"]["url"]: e["params"]["response"]["status"]
                for e in events if e["method"] == "Network.responseReceived"}
    page_and_html_resources = [u for u in statuses if "/static/site.css" in u or "/static/site.js" in u
                               or u.endswith(".png") and "/static/img/bg.png" not in u or article.path in u]
    assert len(page_and_html_resources) >= 4
    assert all(statuses[u] == 200 for u in page_and_html_resources), statuses
    # What the crawler did not capture (it does not follow CSS url()s yet) is a 404 from
    # the archive, never a live fetch.
    missing = {u for u, status in statuses.items() if status != 200}
    assert all(statuses[u] == 404 and u.startswith(base) for u in missing)
    text = browser.evaluate("document.body.innerText")
    assert article.headline in text
    assert article.paragraphs[0][:120] in text
    assert "Archived copy captured" in text  # the banner
    background = browser.evaluate("getComputedStyle(document.body).backgroundImage")
    assert "/demo/" in background and "/static/img/bg.png" in background  # CSS url() rewritten


def test_header_only_windows_1252_page_renders_its_characters(browser, replay):
    base, site = replay
    browser.navigate(f"{base}/demo/2026/{site}/special/windows-1252")
    assert browser.evaluate("document.title") == "Caf\u00e9 reopens on Harbour Street"
    assert browser.evaluate("document.characterSet").lower() == "windows-1252"
    assert "cr\u00e8me br\u00fbl\u00e9e" in browser.evaluate("document.body.innerText")


class _LiveHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.requests.append(self.requestline)  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


class _Live(http.server.ThreadingHTTPServer):
    """Stands for the live web: keeps every connection count and request made to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _LiveHandler)
        self.connections = 0
        self.requests: list[str] = []

    def get_request(self):  # type: ignore[no-untyped-def]
        self.connections += 1
        return super().get_request()


@contextlib.contextmanager
def _live_web() -> Iterator[_Live]:
    """A :class:`_Live` server, serving until the block ends."""
    live = _Live()
    threading.Thread(target=live.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        yield live
    finally:
        live.shutdown()
        live.server_close()


def _tricks(live: str) -> dict[str, tuple[list[tuple[bytes, bytes]], bytes]]:
    """Captures that send a browser to ``live`` by other means than a resource load."""
    html = [(b"Content-Type", b"text/html")]

    def meta(content: str) -> bytes:
        return f'<html><head><meta http-equiv="refresh" content="{content}"></head><body>x</body></html>'.encode()

    def body(inner: str) -> bytes:
        return f"<html><body>{inner}</body></html>".encode()

    return {
        "/refresh-header": ([*html, (b"Refresh", f"0; url={live}/".encode())], b"<html><body>x</body></html>"),
        "/meta-bare": (html, meta(f"0; {live}/")),
        "/meta-comma": (html, meta(f"0,url={live}/")),
        "/after-comment": (html, b"<!-->" + meta(f"0;url={live}/") + b"-->"),
        "/after-script": (html, b"<script>1</script x>" + meta(f"0;url={live}/") + b"<script>2</script>"),
        "/link-preconnect": ([*html, (b"Link", f"<{live}>; rel=preconnect".encode())], b"<html><body>x</body></html>"),
        "/no-type": ([], meta(f"0;url={live}/")),
        "/unknown-type": ([(b"Content-Type", b"unknown/unknown")], meta(f"0;url={live}/")),
        "/two-types": ([(b"Content-Type", b"text/plain"), *html], meta(f"0;url={live}/")),
        "/xhtml-as-xml": ([(b"Content-Type", b"text/xml")],
                          f'<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="refresh" '
                          f'content="0;url={live}/"/></head><body/></html>'.encode()),
        "/form-script": (html, body(f'<form method="post"></form><script>onload = () => {{var f = document.forms[0]; '
                                    f'f.action = "{live}/"; f.submit()}}</script>')),
        "/speculation": (html, body(f'<script type="speculationrules">{{"prefetch": [{{"source": "list", "urls": '
                                    f'["{live}/"]}}], "prerender": [{{"source": "list", "urls": ["{live}/p"]}}]}}</script>')),
        "/srcdoc": (html, body(f'<iframe srcdoc="&lt;script&gt;location = &quot;{live}/&quot;&lt;/script&gt;"></iframe>')),
        "/data-frame": (html, body(f'<iframe src="data:text/html,&lt;script&gt;location=&quot;{live}/&quot;'
                                   f'&lt;/script&gt;"></iframe>')),
        "/blob-frame": (html, body(f'<script>var f = document.createElement("iframe"); f.src = URL.createObjectURL(new '
                                   f'Blob([\'<script>location="{live}/"</\' + \'script>\'], {{type: "text/html"}})); '
                                   f"document.body.appendChild(f)</script>")),
        "/blob-top": (html, body(f'<script>onload = () => {{ location = URL.createObjectURL(new Blob([\'<script>location='
                                 f'"{live}/"</\' + \'script>\'], {{type: "text/html"}})); }}</script>')),
        "/ping": (html, body(f'<a id="l" href="/elsewhere" ping="{live}/ping">x</a>'
                             f'<script>onload = () => document.getElementById("l").click()</script>')),
        "/svg-script": ([(b"Content-Type", b"image/svg+xml")],
                        f'<svg xmlns="http://www.w3.org/2000/svg"><script>location="{live}/"</script></svg>'.encode()),
    }


def test_archived_pages_built_to_reach_the_live_web_stay_in_the_archive(browser, tmp_path):
    from datetime import UTC, datetime

    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.index import update_indexes
    from archive.job import CaptureJob
    from archive.store import collection_dir

    with _live_web() as live:
        store, when, site = tmp_path / "store", datetime(2026, 3, 1, 12, tzinfo=UTC), "http://site.test"
        tricks = _tricks(f"http://127.0.0.1:{live.server_port}")
        job = CaptureJob(store, one_off("tricks", urls=[site + "/"]), clock=Clock(when), dedup=False)
        for path, (headers, body) in tricks.items():
            job.record_fetch(fetch(site + path, body, when, headers=headers, seed=site + "/"))
        job.close()
        update_indexes(collection_dir(store, "tricks"))
        connected = []
        with serve_in_thread(store) as base:
            targets = [f"2026/{site}{path}" for path in tricks] + [f"2026id_/{site}/meta-comma"]
            for target in targets:
                before = live.connections
                browser.navigate(f"{base}/tricks/{target}")
                time.sleep(0.5)  # a refresh of 0 s comes after the load event
                if live.connections != before:
                    connected.append(target.rpartition("/")[2])
    assert live.requests == []
    # Chromium's predictor connects to where a form goes before the CSP refuses the post:
    # while its page is shown, or late, during the next one's half second.
    names = [target.rpartition("/")[2] for target in targets]
    form = names.index("form-script")
    assert len(connected) <= 1 and set(connected) <= set(names[form : form + 2]), connected


def _wav(seconds: int, rate: int = 8000) -> bytes:
    """A WAV file of ``seconds`` of a 440 Hz tone, 16-bit mono PCM."""
    import math
    import struct

    samples = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                       for i in range(seconds * rate))
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_archived_audio_plays_and_seeks_by_ranges_of_its_capture(browser, tmp_path):
    from datetime import UTC, datetime

    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.index import update_indexes
    from archive.job import CaptureJob
    from archive.store import collection_dir

    store, when, site = tmp_path / "store", datetime(2026, 3, 1, 12, tzinfo=UTC), "http://site.test"
    job = CaptureJob(store, one_off("media", urls=[site + "/"]), clock=Clock(when), dedup=False)
    job.record_fetch(fetch(site + "/player", b'<html><body><audio id="a" src="/sound.wav" preload="auto" controls>'
                                             b"</audio></body></html>", when, seed=site + "/",
                           headers=[(b"Content-Type", b"text/html")]))
    job.record_fetch(fetch(site + "/sound.wav", _wav(20), when, seed=site + "/",
                           headers=[(b"Content-Type", b"audio/wav")]))
    job.close()
    update_indexes(collection_dir(store, "media"))
    with serve_in_thread(store) as base:
        browser.navigate(f"{base}/media/2026/{site}/player")
        deadline = time.monotonic() + 20
        while browser.evaluate("document.getElementById('a').readyState") < 1:
            assert time.monotonic() < deadline, browser.evaluate("String(document.getElementById('a').error?.message)")
            time.sleep(0.1)
        assert abs(browser.evaluate("document.getElementById('a').duration") - 20) < 0.1
        assert browser.evaluate("document.getElementById('a').seekable.end(0)") > 19.9
        browser.evaluate("document.getElementById('a').currentTime = 15")
        deadline = time.monotonic() + 20
        while browser.evaluate("document.getElementById('a').seeking"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert abs(browser.evaluate("document.getElementById('a').currentTime") - 15) < 0.5
        assert browser.evaluate("document.getElementById('a').error") is None
        browser.drain()
    sound = [e["params"]["response"] for e in browser.events
             if e.get("method") == "Network.responseReceived" and "/sound.wav" in e["params"]["response"]["url"]]
    assert sound and all(r["status"] == 206 for r in sound), [(r["status"], r.get("headers")) for r in sound]


def _png() -> bytes:
    """A PNG of one red pixel."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def _archived_site(store: Path, name: str, site: str, captures: dict[str, tuple[bytes, bytes]]) -> Path:
    """``store`` with collection ``name``: one job of ``captures`` (path -> Content-Type, body)
    of ``site``, taken at 2026-03-01 12:00 UTC, and indexed."""
    from datetime import UTC, datetime

    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.index import update_indexes
    from archive.job import CaptureJob
    from archive.store import collection_dir

    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    job = CaptureJob(store, one_off(name, urls=[site + "/"]), clock=Clock(when), dedup=False)
    for path, (mime, body) in captures.items():
        url = path if path.startswith("http") else site + path  # (another site's, given whole)
        job.record_fetch(fetch(url, body, when, headers=[(b"Content-Type", mime)], seed=site + "/"))
    job.close()
    update_indexes(collection_dir(store, name))
    return store


def _scripted(site: str) -> dict[str, tuple[bytes, bytes]]:
    """Captures of a site whose scripts make their own URLs: absolute ones on the site (which
    the browser would fetch from the live web), root-relative ones (which would miss the
    replay prefix), a lazy image, a module importing another by a root path, a navigation."""
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Scripted</title></head><body>
<div id="out"></div><div id="written"></div><div id="styled"></div><div id="set-property"></div><img id="lazy" data-src="{site}/pic.png" alt="">
<script>
var out = document.getElementById("out");
fetch("{site}/data.json").then(r => r.json()).then(d => {{ out.dataset.absolute = d.word; }});
fetch("/data.json").then(r => r.json()).then(d => {{ out.dataset.root = d.word; }});
fetch(new Request("{site}/data.json")).then(r => r.json()).then(d => {{ out.dataset.request = d.word; }});
// (a path of the site that starts as the collection's name does)
fetch("/scripted/data.json").then(r => r.json()).then(d => {{ out.dataset.named = d.word; }});
var xhr = new XMLHttpRequest();
xhr.open("GET", "{site}/data.json");
xhr.onload = () => {{ out.dataset.xhr = JSON.parse(xhr.responseText).word; }};
xhr.send();
var img = document.getElementById("lazy");
img.src = img.dataset.src;
var set = document.createElement("img");
set.id = "set";
set.setAttribute("src", "{site}/pic.png");
document.body.appendChild(set);
var commas = document.createElement("img");  // (a URL with commas in it, as image services write them)
commas.id = "commas";
commas.srcset = "{site}/w_1,h_1/pic.png 1x";
document.body.appendChild(commas);
var climber = document.createElement("img");  // (as on the archived site: no higher than its root)
climber.id = "climber";
climber.src = "../../../../../pic.png";
document.body.appendChild(climber);
var anchor = document.createElement("a");  // (the idiom scripts read a URL's parts with)
anchor.href = "{site}/some/path";
out.dataset.parts = anchor.pathname;
out.dataset.closed = String(EventSource.CLOSED);
document.getElementById("styled").style.backgroundImage = 'url("{site}/pic.png")';
document.getElementById("set-property").style.setProperty("background", "url({site}/pic.png) no-repeat");
document.getElementById("written").innerHTML = '<p><img id="inner" src="{site}/pic.png" alt=""></p>';
document.body.insertAdjacentHTML("beforeend", '<img id="adjacent" srcset="{site}/pic.png 1x" alt="">');
history.replaceState(null, "", "/moved-here");
</script>
<script type="module" src="/mod/main.js"></script>
</body></html>"""
    html, js = b"text/html", b"text/javascript"
    return {
        "/page": (html, page.encode()),
        "/data.json": (b"application/json", b'{"word": "archived"}'),
        "/scripted/data.json": (b"application/json", b'{"word": "archived"}'),
        "/pic.png": (b"image/png", _png()),
        "/w_1,h_1/pic.png": (b"image/png", _png()),
        "/mod/main.js": (js, b'import {word} from "/mod/dep.js"; document.getElementById("out").dataset.module = word;'),
        "/mod/dep.js": (js, b'export const word = "archived";'),
        "/go": (html, f'<html><head><title>Go</title></head><body><script>onload = () => {{ '
                      f'setTimeout(() => {{ location.href = "{site}/next"; }}, 10); }}</script></body></html>'.encode()),
        "/next": (html, b"<html><head><title>Next</title></head><body>arrived</body></html>"),
    }


def test_urls_made_by_a_pages_scripts_stay_in_the_archive(browser, tmp_path):
    with _live_web() as live:  # the archived site's own address: what a script's URLs point at
        site = f"http://127.0.0.1:{live.server_port}"
        store = _archived_site(tmp_path / "store", "scripted", site, _scripted(site))
        with serve_in_thread(store) as base:
            prefix = f"{base}/scripted/20260301120000/{site}"
            browser.navigate(f"{prefix}/page")
            browser.wait_until("['absolute', 'root', 'request', 'named', 'xhr', 'module']"
                               ".every(k => out.dataset[k] === 'archived')")
            assert json.loads(browser.evaluate("JSON.stringify(out.dataset)")) == {
                "absolute": "archived", "root": "archived", "request": "archived", "named": "archived", "xhr": "archived",
                "module": "archived", "parts": "/some/path", "closed": "2"}
            for image in ("lazy", "set", "commas", "climber", "inner", "adjacent"):
                browser.wait_until(f"document.getElementById('{image}').naturalWidth === 1")
                assert browser.evaluate(f"document.getElementById('{image}').naturalWidth") == 1, image
            for styled in ("styled", "set-property"):
                image = browser.evaluate(f"getComputedStyle(document.getElementById('{styled}')).backgroundImage")
                assert image == f'url("{prefix}/pic.png")', styled
            assert browser.evaluate("location.href") == f"{prefix}/moved-here"
            browser.navigate(f"{prefix}/go")
            browser.wait_until("document.title === 'Next'")
            assert browser.evaluate("location.href") == f"{prefix}/next"
            # The banner's link to every capture of the page is the replay server's own.
            browser.evaluate("document.querySelector('#archive-replay-banner a[href*=\"/*/\"]').click()")
            browser.wait_until("location.href.includes('/scripted/*/')")
            assert browser.evaluate("location.href") == f"{base}/scripted/*/{site}/next"
    assert live.requests == [] and live.connections == 0


def test_a_page_built_by_jquery_replays_from_the_archive(browser, tmp_path):
    # jQuery as archived pages load it, making URLs its own way: $.ajax with cache: false
    # (a "_=" parameter of the moment), attr() and css() from script, html() markup.
    jquery = pytest.importorskip("xstatic.pkg.jquery", reason="XStatic-jQuery is in the test extra")
    with _live_web() as live:
        _replay_jquery(browser, tmp_path, jquery, f"http://127.0.0.1:{live.server_port}")
    assert live.requests == [] and live.connections == 0


def _replay_jquery(browser, tmp_path: Path, jquery, site: str) -> None:  # type: ignore[no-untyped-def]
    page = f"""<!DOCTYPE html><html><head><title>jQuery</title><script src="/jquery.min.js"></script></head>
<body><div id="out"></div><img id="attr" alt=""><div id="css" style="width:1px;height:1px"></div><div id="html"></div>
<script>
$.ajax({{url: "{site}/data.json?x=1", cache: false, dataType: "json"}}).done(d => $("#out").attr("data-ajax", d.word));
$.getJSON("/data.json?x=1").done(d => $("#out").attr("data-root", d.word));
$("#attr").attr("src", "{site}/pic.png");
$("#css").css("background-image", "url({site}/pic.png)");
$("#html").html('<img id="inner" src="{site}/pic.png" alt="">');
</script></body></html>"""
    captures = {
        "/page": (b"text/html", page.encode()),
        "/jquery.min.js": (b"text/javascript", (Path(jquery.BASE_DIR) / "jquery.min.js").read_bytes()),
        "/data.json?x=1": (b"application/json", b'{"word": "archived"}'),
        "/pic.png": (b"image/png", _png()),
    }
    store = _archived_site(tmp_path / "store", "jq", site, captures)
    with serve_in_thread(store) as base:
        prefix = f"{base}/jq/20260301120000/{site}"
        browser.navigate(f"{prefix}/page")
        browser.wait_until("$('#out').attr('data-ajax') === 'archived' && $('#out').attr('data-root') === 'archived'"
                           " && $('#attr')[0].naturalWidth === 1 && $('#inner')[0].naturalWidth === 1"
                           " && getComputedStyle($('#css')[0]).backgroundImage.includes('/jq/')")
        assert browser.evaluate("$.fn.jquery").startswith("3.")
        assert browser.evaluate("[$('#out').attr('data-ajax'), $('#out').attr('data-root')]") == ["archived"] * 2
        assert browser.evaluate("[$('#attr')[0].naturalWidth, $('#inner')[0].naturalWidth]") == [1, 1]
        assert browser.evaluate("getComputedStyle($('#css')[0]).backgroundImage") == f'url("{prefix}/pic.png")'


def test_a_page_with_its_own_content_security_policy_replays_its_images_and_the_client_script(browser, tmp_path):
    site = "http://site.test"
    page = (b'<html><head><meta http-equiv="Content-Security-Policy" content="img-src https://cdn.site.test; '
            b"script-src https://cdn.site.test\"><title>Policy</title></head><body><img id=\"pic\" src=\"/pic.png\">"
            b"</body></html>")
    store = _archived_site(tmp_path / "store", "policy", site, {"/page": (b"text/html", page),
                                                                "/pic.png": (b"image/png", _png())})
    with serve_in_thread(store) as base:
        browser.navigate(f"{base}/policy/20260301120000/{site}/page")
        assert browser.evaluate("document.getElementById('pic').naturalWidth") == 1
        assert browser.evaluate("window.__archiveReplay && window.__archiveReplay.collection") == "policy"


@pytest.mark.parametrize("realm", ["window", "document.body.appendChild(document.createElement('iframe')).contentWindow",
                                   ("document.body.appendChild(document.createElement('iframe')).contentDocument"
                                    ".defaultView")])
def test_a_page_that_opens_a_peer_connection_sends_nothing_to_its_stun_server(browser, tmp_path, realm):
    # WebRTC asks STUN servers for addresses over UDP, which no Content-Security-Policy covers;
    # a fresh frame's window has a peer connection of its own.
    import socket

    stun = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stun.bind(("127.0.0.1", 0))
    stun.settimeout(3)
    page = (f'<html><body><script>try {{ var realm = {realm}; var pc = new realm.RTCPeerConnection({{iceServers: [{{urls: '
            f'"stun:127.0.0.1:{stun.getsockname()[1]}"}}]}}); pc.createDataChannel("x"); '
            f"pc.createOffer().then(o => pc.setLocalDescription(o)); }} catch (e) {{ window.refused = e.name; }}"
            f"</script></body></html>").encode()
    store = _archived_site(tmp_path / "store", "rtc", "http://site.test", {"/page": (b"text/html", page)})
    try:
        with serve_in_thread(store) as base:
            browser.navigate(f"{base}/rtc/20260301120000/http://site.test/page")
            with pytest.raises(TimeoutError):
                stun.recvfrom(2048)
            assert browser.evaluate("window.refused") == "NotSupportedError"
    finally:
        stun.close()


@pytest.mark.parametrize("navigate", ["w.location = url", "w.location.href = url", "w.location.assign(url)",
                                      "w.location.replace(url)"])
def test_a_window_opened_empty_and_sent_to_the_live_web_opens_its_capture(browser, tmp_path, navigate):
    # (a share button's way: open a window at once, on the click, and send it on afterwards)
    with _live_web() as live:
        site = f"http://127.0.0.1:{live.server_port}"
        page = (f'<html><body><button id="b" style="position:fixed;left:0;top:100px;width:200px;height:200px;'
                f'z-index:2147483647" onclick="var w = window.open(\'\'); var url = \'{site}/next\'; '
                f'try {{ new w.RTCPeerConnection() }} catch (e) {{ window.rtc = e.name }} {navigate}; '
                f'window.opened = !!w">share</button></body></html>').encode()
        store = _archived_site(tmp_path / "store", "pop", site, {
            "/page": (b"text/html", page), "/next": (b"text/html", b"<html><head><title>Next</title></head></html>")})
        with serve_in_thread(store) as base:
            browser.navigate(f"{base}/pop/20260301120000/{site}/page")
            for kind in ("mousePressed", "mouseReleased"):
                browser.call("Input.dispatchMouseEvent", type=kind, x=50, y=150, button="left", clickCount=1)
            browser.wait_until("window.opened === true")
            assert browser.evaluate("window.rtc") == "NotSupportedError"  # (a peer connection of its own)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                    t["url"] == f"{base}/pop/20260301120000/{site}/next" for t in browser.call("Target.getTargets")["targetInfos"]):
                time.sleep(0.1)
            popups = [t for t in browser.call("Target.getTargets")["targetInfos"] if t["type"] == "page"
                      and t["url"] != f"{base}/pop/20260301120000/{site}/page"]
            for popup in popups:
                browser.call("Target.closeTarget", targetId=popup["targetId"])
    assert [t["url"] for t in popups] == [f"{base}/pop/20260301120000/{site}/next"]
    assert live.requests == [] and live.connections == 0


# What a button's click does (``url``: the live URL of /next), then how the test clicks it.
_LINK_MADE = ("var a = document.body.appendChild(document.createElement('a')); a.href = url; a.textContent = 'go'; "
              "a.style.cssText = 'position:fixed;left:300px;top:100px;width:200px;height:200px;display:block;"
              "z-index:2147483647'")
_NEW_WINDOWS = {
    "a link a script added, with a target": (_LINK_MADE + "; a.target = '_blank'", "then the link"),
    "a link a script added, clicked with ctrl": (_LINK_MADE, "then the link with ctrl"),
    "a link clicked by script, never in the page": (
        "var a = document.createElement('a'); a.href = url; a.target = '_blank'; a.click()", ""),
    "a click event sent to a link never in the page": (
        ("var a = document.createElement('a'); a.href = url; a.target = '_blank'; "
         "a.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))"), ""),
    "document.open with three arguments": ("document.open(url, '_blank', '')", ""),
}


@pytest.mark.parametrize("case", list(_NEW_WINDOWS))
def test_a_window_or_tab_opened_on_a_live_url_opens_its_capture_instead(browser, tmp_path, case):
    # The Navigation API sees only the navigations of the window whose script listens.
    action, then = _NEW_WINDOWS[case]
    with _live_web() as live:
        site = f"http://127.0.0.1:{live.server_port}"
        page = (f'<html><body><button id="b" style="position:fixed;left:0;top:100px;width:200px;height:200px;'
                f'z-index:2147483647" onclick="var url = \'{site}/next\'; {html.escape(action)}; window.done = true">'
                f'go</button></body></html>').encode()
        store = _archived_site(tmp_path / "store", "tab", site, {
            "/page": (b"text/html", page), "/next": (b"text/html", b"<html><head><title>Next</title></head></html>")})
        with serve_in_thread(store) as base:
            here, there = f"{base}/tab/20260301120000/{site}/page", f"{base}/tab/20260301120000/{site}/next"
            browser.navigate(here)
            clicks = [(50, 0)] + ([(350, 2 if then.endswith("ctrl") else 0)] if then else [])
            for x, modifiers in clicks:
                for kind in ("mousePressed", "mouseReleased"):
                    browser.call("Input.dispatchMouseEvent", type=kind, x=x, y=150, button="left", clickCount=1,
                                 modifiers=modifiers)
                browser.wait_until("window.done === true")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                    t["url"] == there for t in browser.call("Target.getTargets")["targetInfos"]):
                time.sleep(0.1)
            time.sleep(0.3)  # (for a window that would have gone to the live web as well)
            opened = [t for t in browser.call("Target.getTargets")["targetInfos"] if t["type"] == "page"
                      and t["url"] != here]
            for tab in opened:
                browser.call("Target.closeTarget", targetId=tab["targetId"])
    assert [t["url"] for t in opened] == [there]
    assert live.requests == [] and live.connections == 0


def test_modules_imported_by_root_absolute_and_relative_paths_load_once_from_the_archive(browser, tmp_path):
    # Import specifiers are not rewritten: before, a module imported by a root path and by a
    # relative one ran twice (the root path came back from the server as a redirect), and
    # one imported by the site's absolute URL was refused, failing the module graph. A
    # module of another site (a CDN) imports root paths of its own site.
    js = b"text/javascript"
    with _live_web() as live:
        site = f"http://127.0.0.1:{live.server_port}"
        cdn = f"http://localhost:{live.server_port}"
        main = (f'import {{n}} from "/m/counter.js"; import {{m}} from "./rel.js"; import {{a}} from "{site}/m/abs.js";'
                'const {d} = await import("/m/lazy.js");'
                'document.getElementById("out").dataset.modules = [n, m, a, d, window.runs].join();')
        captures = {
            "/page": (b"text/html", (b'<!DOCTYPE html><html><head><title>Modules</title>'
                                     b'<script type="module" src="/m/main.js"></script>'
                                     b'<script type="module" src="' + cdn.encode() + b'/lib/x.js"></script></head>'
                                     b'<body><div id="out"></div></body></html>')),
            cdn + "/lib/x.js": (js, b'import {w} from "/lib/w.js"; document.getElementById("out").dataset.cdn = w;'),
            cdn + "/lib/w.js": (js, b'export const w = "cdn";'),
            "/lib/w.js": (js, b'export const w = "the page\'s site";'),
            "/m/main.js": (js, main.encode()),
            "/m/counter.js": (js, b'window.runs = (window.runs || 0) + 1; export const n = "counter";'),
            "/m/rel.js": (js, b'import {n} from "./counter.js"; export const m = "rel-" + n;'),
            "/m/abs.js": (js, b'export const a = "abs";'),
            # a page whose inline module imports, opened at another time than its capture's
            "/inline": (b"text/html", (b'<!DOCTYPE html><html><head><title>Inline</title></head><body>'
                                       b'<div id="out"></div><script type="module">import {n} from "/m/counter.js";'
                                       b'import {a} from "' + site.encode() + b'/m/abs.js";'
                                       b'out.dataset.inline = [n, a].join();</script></body></html>')),
            "/m/lazy.js": (js, b'export const d = "lazy";'),
        }
        store = _archived_site(tmp_path / "store", "mods", site, captures)
        with serve_in_thread(store) as base:
            browser.navigate(f"{base}/mods/20260301120000/{site}/page")
            browser.wait_until("out.dataset.modules !== undefined && out.dataset.cdn !== undefined")
            assert browser.evaluate("out.dataset.modules") == "counter,rel-counter,abs,lazy,1"
            assert browser.evaluate("out.dataset.cdn") == "cdn"
            for asked in ("20260101000000/", ""):  # (a link of a page of another time; no time at all)
                browser.navigate(f"{base}/mods/{asked}{site}/inline")
                browser.wait_until("out.dataset.inline !== undefined")
                assert browser.evaluate("out.dataset.inline") == "counter,abs", asked
    assert live.requests == [] and live.connections == 0
