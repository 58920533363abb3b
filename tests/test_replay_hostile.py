"""Replay of captures a hostile or broken web server could have sent, and requests a hostile
client could send: a clear 4xx or the capture as archived, never a 500, and nothing that
sends the browser to the live web."""

from __future__ import annotations

import html
import socket
import subprocess
import sys
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from jobs import Clock, fetch
from replay_helpers import get

from archive.config import one_off
from archive.index import update_indexes
from archive.job import CaptureJob
from archive.replay import serve_in_thread
from archive.store import collection_dir

SITE = "http://site.test"
CSP = "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; frame-src 'self'; object-src 'self'; form-action 'self'"
WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)


def capture(store: Path, pages: dict[str, tuple[int, list[tuple[bytes, bytes]], bytes]], *, index: bool = True) -> None:
    """One job of collection ``odd`` holding ``pages``: path -> (status, headers, body as sent)."""
    job = CaptureJob(store, one_off("odd", urls=[SITE + "/"]), clock=Clock(WHEN), dedup=False)
    for path, (status, headers, body) in pages.items():
        job.record_fetch(fetch(SITE + path, body, WHEN, status=status, headers=headers, seed=SITE + "/"))
    job.close()
    if index:
        update_indexes(collection_dir(store, "odd"))


def gzip_bomb(size: int, head: bytes = b"") -> bytes:
    """``head`` and zero bytes up to ``size``, gzipped: about a thousandth of ``size``."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [packer.compress(head)]
    zeros = bytes(1 << 20)
    for _ in range((size - len(head)) >> 20):
        out.append(packer.compress(zeros))
    return b"".join(out) + packer.flush()


def peak_memory_mib(argv: list[str]) -> tuple[int, float]:
    """The exit code of ``python -m archive argv`` and the most memory it held, in MiB (VmHWM: ru_maxrss
    would count the test process it was forked from)."""
    code = ("import re, sys\nfrom archive.cli import main\nstatus = main(sys.argv[1:])\n"
            "print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))\nsys.exit(status)")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120,
                          check=False)
    return proc.returncode, int(proc.stdout.split()[-1]) / 1024


def test_a_body_that_is_not_the_brotli_it_claims_is_indexed_and_replayed_as_archived(tmp_path):
    store = tmp_path / "store"
    capture(store, {"/br": (200, [(b"Content-Type", b"text/html"), (b"Content-Encoding", b"br")], b"<p>not br</p>")})
    with serve_in_thread(store) as base:
        page = get(base, f"/odd/2026/{SITE}/br")
        raw = get(base, f"/odd/2026id_/{SITE}/br")
    assert page[0] == 200 and page[2].endswith(b"<p>not br</p>")
    assert raw[0] == 200 and raw[1]["content-encoding"] == "br" and raw[2] == b"<p>not br</p>"


def test_a_zstd_page_is_replayed_decoded_and_its_raw_form_as_archived(tmp_path):
    # (Scrapy asks for zstd unless a project says otherwise; the archive must read what it kept)
    from backports import zstd  # type: ignore[import-not-found]

    page = b"<html><head><title>Packed</title></head><body><p>zstd page</p></body></html>"
    store = tmp_path / "store"
    # (padding after the frame, which ends it, as gzip's reader ends at its members' end)
    capture(store, {"/z": (200, [(b"Content-Type", b"text/html"), (b"Content-Encoding", b"zstd")],
                           zstd.compress(page) + bytes(8))})
    with serve_in_thread(store) as base:
        shown = get(base, f"/odd/2026/{SITE}/z")
        raw = get(base, f"/odd/2026id_/{SITE}/z")
        listed = get(base, "/odd/")
    assert shown[0] == 200 and "content-encoding" not in shown[1] and b"<p>zstd page</p>" in shown[2]
    assert raw[1]["content-encoding"] == "zstd" and raw[2] == zstd.compress(page) + bytes(8)
    assert b"Packed" in listed[2]  # (the catalog read its title)


def test_a_head_or_post_taken_after_a_page_does_not_stand_in_for_it(tmp_path):
    # A project's own spider may send HEAD or POST to a page's URL: those responses are not
    # the page, and replay and the page list must not take them for it.
    import dataclasses

    store = tmp_path / "store"
    html = [(b"Content-Type", b"text/html")]
    job = CaptureJob(store, one_off("odd", urls=[SITE + "/"]), clock=Clock(WHEN), dedup=False)
    page = fetch(SITE + "/p", b"<html><head><title>The page</title></head><body>the page</body></html>", WHEN,
                 headers=html, seed=SITE + "/")
    job.record_fetch(page)
    job.record_fetch(dataclasses.replace(page, method="HEAD", body=b"", started=WHEN + timedelta(minutes=1)))
    job.record_fetch(dataclasses.replace(page, method="POST", request_body=b"q=1",
                                         request_headers=[(b"Content-Type", b"application/x-www-form-urlencoded"),
                                                          (b"Content-Length", b"3")],
                                         body=b"<html><head><title>Posted</title></head><body>posted</body></html>",
                                         started=WHEN + timedelta(minutes=2)))
    job.close()
    update_indexes(collection_dir(store, "odd"))
    keys = [line.split(" ", 1)[0] for index in (store / "odd" / "indexes").glob("*.cdxj")
            for line in index.read_text().splitlines()]
    assert sorted(k for k in keys if "/p" in k) == ["test,site)/p", "test,site)/p?__wb_method=head",
                                                    "test,site)/p?__wb_method=post&q=1"]
    with serve_in_thread(store) as base:
        shown = get(base, f"/odd/2027/{SITE}/p")  # (after all three)
        listed = get(base, "/odd/")
    assert shown[0] == 200 and shown[2].endswith(b"the page</body></html>")
    assert listed[2].count(b"The page") == 1 and b"Posted" not in listed[2]


def test_a_redirect_to_an_unparsable_location_is_replayed_with_it_kept_aside(tmp_path):
    store = tmp_path / "store"
    capture(store, {"/moved": (302, [(b"Location", b"http://[::1/x")], b"")})
    with serve_in_thread(store) as base:
        status, headers, _ = get(base, f"/odd/2026/{SITE}/moved")
    assert status == 302
    assert "location" not in headers and headers["x-archive-orig-location"] == "http://[::1/x"


def test_an_interim_response_archived_as_the_answer_is_not_replayed_as_one(tmp_path):
    store = tmp_path / "store"
    for when, pages in ((WHEN, (("/early", 103), ("/then", 103))), (WHEN + timedelta(hours=1), (("/then", 200),))):
        job = CaptureJob(store, one_off("odd", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
        for path, status in pages:
            job.record_fetch(fetch(SITE + path, b"" if status == 103 else b"<p>the answer</p>", when, status=status,
                                   headers=[(b"Link", b"</s.css>; rel=preload")], seed=SITE + "/"))
        job.close()
    update_indexes(collection_dir(store, "odd"))
    with serve_in_thread(store) as base:
        for mode in ("", "id_"):
            proc = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "%{http_code}",
                                   f"{base}/odd/2026{mode}/{SITE}/early"], capture_output=True, timeout=20, check=False)
            assert (proc.returncode, proc.stdout[-3:], proc.stderr) == (0, b"502", b""), mode
            assert b"is an interim response" in proc.stdout
        assert get(base, f"/odd/2026prov_/{SITE}/early")[0] == 200
        # A later capture of the URL is an answer: it is served instead of the nearest.
        assert get(base, f"/odd/20260301120000id_/{SITE}/then")[:3:2] == (200, b"<p>the answer</p>")


def test_an_archived_header_holding_a_nul_byte_is_left_out_so_the_page_can_be_read(tmp_path):
    store = tmp_path / "store"
    capture(store, {"/nul": (200, [(b"Content-Type", b"text/html"), (b"X-Bin", b"a\x00b")], b"<p>words</p>")})
    with serve_in_thread(store) as base:
        proc = subprocess.run(["curl", "-sS", "-o", "-", f"{base}/odd/2026id_/{SITE}/nul"], capture_output=True,
                              timeout=20, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"<p>words</p>", b"")


def raw(base: str, data: bytes) -> bytes:
    """What the server answers to ``data`` sent as is on a fresh connection."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(("request_line", "status"), [
    (b"GARBAGE", b"400"), (b"GET / HTTP/9.9", b"505"), (b"GET / HTTP/1.1 extra", b"400"), (b"GET /", b"200"),
])
def test_a_malformed_request_line_gets_a_status_line_and_a_short_plain_message(tmp_path, request_line, status):
    store = tmp_path / "store"
    capture(store, {"/": (200, [(b"Content-Type", b"text/html")], b"<p>home</p>")})
    with serve_in_thread(store) as base:
        answer = raw(base, request_line + b"\r\n\r\n")
        after = get(base, "/odd/")[0]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 " + status + b" "), answer[:200]
    assert status == b"200" or (b"content-type: text/plain" in head.lower() and body.startswith(status + b" "))
    assert after == 200


def test_provenance_of_a_url_never_captured_is_a_404_not_a_redirect_to_another_url(tmp_path):
    store = tmp_path / "store"
    capture(store, {"/": (200, [(b"Content-Type", b"text/html")], b"<p>home</p>")})
    with serve_in_thread(store) as base:
        status, _, body = get(base, "/odd/http://x.test/never?provenance")
    assert status == 404 and b"http://x.test/never</code> is not found in " in body


def rewritten(html: str) -> str:
    """``html`` of a page at http://site.test/page as replay rewrites it (no banner)."""
    from archive.replay.rewrite import rewrite_html

    def make(url: str) -> str:
        return f"/odd/20260301120000/{url}"

    return rewrite_html(html.encode(), SITE + "/page", make).decode()


@pytest.mark.parametrize("content", [
    "0; url=http://live.test/x", "0; http://live.test/x", "0,url=http://live.test/x", "0.5; URL='http://live.test/x'",
    '1 url = "http://live.test/x" trailing', "0;\thttp://live.test/x",
])
def test_every_form_of_meta_refresh_points_into_the_archive(content):
    page = rewritten(f'<html><head><meta http-equiv="Refresh" content="{html.escape(content)}"></head></html>')
    assert "/odd/20260301120000/http://live.test/x" in page and "=http://live.test" not in page
    assert "live.test" not in page.replace("/odd/20260301120000/http://live.test/x", "")


def test_an_unquoted_value_is_read_whole_as_browsers_read_it_equals_signs_and_all():
    page = rewritten("<a href=/q.html?a=2&b=3>q</a><img src=/s/a.png?v=1 alt=x>"
                     "<meta http-equiv=refresh content=0;url=http://live.test/r3>")
    assert page == ('<a href="/odd/20260301120000/http://site.test/q.html?a=2&amp;b=3">q</a>'
                    '<img src="/odd/20260301120000/http://site.test/s/a.png?v=1" alt=x>'
                    '<meta http-equiv=refresh content="0;url=/odd/20260301120000/http://live.test/r3">')


def test_a_srcset_url_with_commas_in_it_is_rewritten_whole_as_browsers_read_it():
    # Image services put commas in their paths; a split at each comma left the URL's
    # start pointing at the live site.
    page = rewritten('<img srcset="https://img.test/upload/w_400,h_300,c_fill/a.jpg 400w,/b.jpg 2x,  /c.jpg,">')
    assert page == ('<img srcset="/odd/20260301120000/https://img.test/upload/w_400,h_300,c_fill/a.jpg 400w,'
                    '/odd/20260301120000/http://site.test/b.jpg 2x,  /odd/20260301120000/http://site.test/c.jpg,">')


def test_attributes_that_say_what_they_are_with_character_references_are_read_as_the_browser_reads_them():
    page = rewritten('<script type="speculation&#114;ules">{"prefetch": []}</script>'
                     '<meta http-equiv="re&#102;resh" content="0;url=http://live.test/r2">')
    assert '<script type="text/x-archived-speculationrules">' in page
    assert 'content="0;url=/odd/20260301120000/http://live.test/r2"' in page


def test_an_svg_sprite_of_the_site_is_loaded_from_the_archive_and_a_fragment_stays_in_the_page():
    page = rewritten('<svg><use xlink:href="/icons.svg#logo"/><use href="http://cdn.test/s.svg#m"/>'
                     '<use href="#here"/></svg>')
    assert page == ('<svg><use xlink:href="/odd/20260301120000/http://site.test/icons.svg#logo"/>'
                    '<use href="/odd/20260301120000/http://cdn.test/s.svg#m"/><use href="#here"/></svg>')


def test_images_an_image_set_names_by_plain_strings_are_loaded_from_the_archive():
    page = rewritten("""<div style='background: image-set("/a.avif" type("image/avif") 1x, "http://cdn.test/a.jpg" 2x)'>""")
    assert page == ("""<div style="background: image-set(&quot;/odd/20260301120000/http://site.test/a.avif&quot; """
                    """type(&quot;image/avif&quot;) 1x, &quot;/odd/20260301120000/http://cdn.test/a.jpg&quot; 2x)">""")


def test_a_framed_document_written_in_its_srcdoc_is_rewritten_as_a_page_is():
    page = rewritten('<iframe srcdoc="&lt;p&gt;caf&eacute; &amp;amp; t&lt;img src=&quot;/x.png&quot;&gt;"></iframe>')
    inner = html.unescape(page.split('srcdoc="')[1].split('"')[0])
    # (the same document, as a browser reads it, but for the image's URL)
    assert html.unescape(inner) == html.unescape('<p>caf&eacute; &amp; t<img src="/odd/20260301120000/http://site.test/x.png">')


@pytest.mark.parametrize("mode", ["", "id_"])
def test_a_refresh_header_points_into_the_archive(tmp_path, mode):
    store = tmp_path / "store"
    capture(store, {"/r": (200, [(b"Content-Type", b"text/html"), (b"Refresh", b"0; url=http://live.test/x")], b"")})
    with serve_in_thread(store) as base:
        status, headers, _ = get(base, f"/odd/2026{mode}/{SITE}/r")
    assert status == 200 and headers["refresh"] == "0; url=/odd/20260301120000/http://live.test/x"


def test_an_archived_link_header_is_kept_aside_so_the_browser_does_not_preconnect_to_the_live_site(tmp_path):
    store = tmp_path / "store"
    link = b"<http://live.test>; rel=preconnect, <http://live.test/s.css>; rel=preload; as=style"
    capture(store, {"/l": (200, [(b"Content-Type", b"text/html"), (b"Link", link)], b"<p>x</p>")})
    with serve_in_thread(store) as base:
        head = raw(base, f"GET /odd/2026/{SITE}/l HTTP/1.0\r\n\r\n".encode()).partition(b"\r\n\r\n")[0]
    lines = head.split(b"\r\n")
    assert [line for line in lines if line.lower().startswith(b"link:")] == [b'Link: <http://site.test/l>; rel="original"']
    assert b"X-Archive-Orig-Link: " + link in lines


def test_archived_policies_that_would_rule_the_replay_servers_origin_are_kept_aside(tmp_path):
    # An Integrity-Policy kept the replay's own script from loading, and the page's scripts then
    # reached the live web; Service-Worker-Allowed let an archived worker answer for the server.
    store = tmp_path / "store"
    policies = [(b"Integrity-Policy", b"blocked-destinations=(script)"), (b"Service-Worker-Allowed", b"/"),
                (b"Reporting-Endpoints", b'default="http://live.test/report"'), (b"Permissions-Policy", b"camera=*"),
                (b"Cross-Origin-Embedder-Policy", b"require-corp"), (b"SourceMap", b"http://live.test/x.map")]
    capture(store, {"/p": (200, [(b"Content-Type", b"text/html"), *policies], b"<p>x</p>"),
                    "/sw.js": (200, [(b"Content-Type", b"text/javascript")], b"self.onfetch = () => {};")})
    with serve_in_thread(store) as base:
        status, headers, _ = get(base, f"/odd/2026/{SITE}/p")
        worker = get(base, f"/odd/2026/{SITE}/sw.js", headers={"Service-Worker": "script"})
        script = get(base, f"/odd/2026/{SITE}/sw.js")
    assert status == 200
    for name, value in policies:
        assert name.decode().lower() not in headers
        assert headers["x-archive-orig-" + name.decode().lower()] == value.decode()
    assert worker[0] == 403 and script[0] == 200  # (the same script, fetched as a worker's, is refused)


def test_a_challenge_for_credentials_is_kept_aside_so_the_browser_shows_the_archived_page(tmp_path):
    store = tmp_path / "store"
    page = b"<html><body><h1>Subscribe to read</h1></body></html>"
    capture(store, {"/paywall": (401, [(b"Content-Type", b"text/html"), (b"WWW-Authenticate", b'Basic realm="news"')],
                                 page)})
    with serve_in_thread(store) as base:
        status, headers, body = get(base, f"/odd/2026/{SITE}/paywall")
    assert status == 401 and b"Subscribe to read" in body
    assert "www-authenticate" not in headers and headers["x-archive-orig-www-authenticate"] == 'Basic realm="news"'


def test_a_page_of_frames_keeps_its_frameset_without_a_banner_before_it(tmp_path):
    # (a banner before the <frameset> starts a body, and the browser showed the banner alone)
    page = (b'<!DOCTYPE html><html><head><title>f</title></head><frameset cols="50%,50%"><frame src="/a">'
            b'<frame src="/b"><noframes><body>no frames</body></noframes></frameset></html>')
    store = tmp_path / "store"
    capture(store, {"/frames": (200, [(b"Content-Type", b"text/html")], page)})
    with serve_in_thread(store) as base:
        status, _, body = get(base, f"/odd/20260301120000/{SITE}/frames", headers={"Sec-Fetch-Dest": "document"})
    assert status == 200 and b"archive-replay-banner" not in body and b"/_archive/client.js" in body
    assert body.endswith(b'</head><frameset cols="50%,50%"><frame src="/odd/20260301120000/http://site.test/a">'
                         b'<frame src="/odd/20260301120000/http://site.test/b"><noframes><body>no frames</body>'
                         b"</noframes></frameset></html>")


def test_urls_one_index_key_folds_together_are_each_replayed_as_their_own_page(tmp_path):
    # A SURT key folds a path's case, a trailing slash and the order of query parameters:
    # /trail/ was replayed with the bytes of /trail.
    paths = ["/trail", "/trail/", "/Case.html", "/case.html", "/q?a=1&b=2", "/q?b=2&a=1"]
    store = tmp_path / "store"
    text = [(b"Content-Type", b"text/plain")]
    capture(store, {path: (200, text, f"the page {path}".encode()) for path in paths})
    with serve_in_thread(store) as base:
        for path in paths:
            status, headers, body = get(base, f"/odd/2026id_/{SITE}{path}")
            assert (status, body) == (200, f"the page {path}".encode()), path
            assert headers["link"] == f'<{SITE}{path}>; rel="original"'
        status, _, listed = get(base, f"/odd/*/{SITE}/trail/")
        assert status == 200 and listed.count(b"/odd/20260301120000/http://site.test/trail") == \
            listed.count(b"/odd/20260301120000/http://site.test/trail/")
        # A URL of the key that was not captured as such is still found through the key.
        status, _, body = get(base, f"/odd/2026id_/{SITE}/CASE.html")
        assert status == 200 and body in (b"the page /Case.html", b"the page /case.html")


REFRESH_TO_LIVE = b'<html><head><meta http-equiv="refresh" content="0;url=http://live.test/"></head></html>'


@pytest.mark.parametrize(("headers", "mode"), [
    ([(b"Content-Type", b"text/plain"), (b"Content-Type", b"text/html")], ""),
    ([(b"Content-Type", b"text/xml")], ""), ([(b"Content-Type", b"image/svg+xml")], ""),
    ([(b"Content-Type", b"text/html")], "id_"),
])
def test_a_capture_not_rewritten_as_html_is_sandboxed_should_a_browser_show_it_as_a_page(tmp_path, headers, mode):
    store = tmp_path / "store"
    capture(store, {"/p": (200, headers, REFRESH_TO_LIVE), "/html": (200, [(b"Content-Type", b"text/html")], b"")})
    with serve_in_thread(store) as base:
        status, got, body = get(base, f"/odd/2026{mode}/{SITE}/p")
        page = get(base, f"/odd/2026/{SITE}/html")[1]
    assert status == 200 and body == REFRESH_TO_LIVE  # (a browser would follow that refresh but for the sandbox)
    assert got["content-security-policy"] == CSP + "; sandbox"
    assert page["content-security-policy"] == CSP


@pytest.mark.parametrize("before", [
    "<!-->", "<!--->", "<!-- x --!>", "<![CDATA[ x ]>", "<script>x</script foo>", "<style>p{}</style\t>",
    "<SCRIPT>x</Script/>",
])
def test_markup_a_browser_reads_after_odd_comments_and_script_ends_is_rewritten(before):
    page = rewritten(f'<html><head>{before}<meta http-equiv="refresh" content="0;url=http://live.test/x">'
                     '<a href="http://live.test/y">y</a> --> ]]> </script></style></head></html>')
    assert 'content="0;url=/odd/20260301120000/http://live.test/x"' in page
    assert 'href="/odd/20260301120000/http://live.test/y"' in page


def test_indexing_a_gzip_bomb_does_not_inflate_it(tmp_path):
    # Half a MB as sent, 512 MiB inflated: the catalog wants the title near the top, no more.
    store = tmp_path / "store"
    bomb = gzip_bomb(512 << 20, b"<html><head><title>Bomb</title></head><body>")
    capture(store, {"/bomb": (200, [(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")], bomb)},
            index=False)
    status, peak = peak_memory_mib(["index", "--store", str(store)])
    assert status == 0 and peak < 256
    from archive.catalog import search_pages

    assert [row["title"] for row in search_pages(collection_dir(store, "odd"))] == ["Bomb"]


def test_a_gzip_bomb_is_replayed_as_archived_not_inflated(tmp_path):
    store = tmp_path / "store"
    bomb = gzip_bomb(65 << 20, b"<html><body>")  # replay decodes up to 64 MiB
    small = gzip_bomb(2 << 20, b"<html><body>")
    gzip = [(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")]
    capture(store, {"/bomb": (200, gzip, bomb), "/small": (200, gzip, small)})
    with serve_in_thread(store) as base:
        status, headers, body = get(base, f"/odd/2026/{SITE}/bomb")
        small_page = get(base, f"/odd/2026/{SITE}/small")
    assert (status, headers["content-encoding"], body) == (200, "gzip", bomb)
    assert headers["content-security-policy"].endswith("; sandbox")  # shown unrewritten, if at all
    assert "content-encoding" not in small_page[1] and len(small_page[2]) > 1 << 20  # decoded and rewritten


def test_a_client_that_leaves_before_its_error_is_sent_leaves_no_traceback(tmp_path, capsys):
    store = tmp_path / "store"
    capture(store, {"/": (200, [(b"Content-Type", b"text/html")], b"<p>home</p>")})
    with serve_in_thread(store) as base:
        host, port = base.removeprefix("http://").split(":")
        for _ in range(10):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"GET /odd/ HTT\r\n")  # half a request line, then gone
        status = get(base, "/odd/")[0]
    assert status == 200 and "Traceback" not in capsys.readouterr().err


def test_a_client_that_sends_no_request_is_let_go_and_a_slow_answer_is_not(tmp_path, capsys, monkeypatch):
    from archive.replay.server import _Handler

    monkeypatch.setattr(_Handler, "timeout", 0.5)
    store = tmp_path / "store"
    big = b"<p>" + b"x" * (32 << 20) + b"</p>"
    capture(store, {"/": (200, [(b"Content-Type", b"text/html")], b"<p>home</p>"),
                    "/big": (200, [(b"Content-Type", b"text/plain")], big)})
    with serve_in_thread(store) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as idle:
            started = time.monotonic()
            assert idle.recv(1) == b""  # closed by the server, not held open for ever
            assert time.monotonic() - started < 5
        # A client reading slowly is not cut off: the bound is on the request, not the answer.
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(f"GET /odd/2026id_/{SITE}/big HTTP/1.0\r\n\r\n".encode())
            time.sleep(1.5)
            received = b""
            while chunk := slow.recv(1 << 20):
                received += chunk
        assert received.startswith(b"HTTP/1.0 200") and received.endswith(big)
        assert get(base, "/odd/")[0] == 200
    assert "Traceback" not in capsys.readouterr().err


def test_a_burst_of_connections_is_queued_and_each_answered(tmp_path):
    from archive.replay import make_replay_server

    store = tmp_path / "store"
    capture(store, {"/": (200, [(b"Content-Type", b"text/html")], b"<p>home</p>")})
    server = make_replay_server(store, port=0)
    answers = []
    try:
        # Not accepting yet: every connection must wait in the listen queue, none be dropped.
        socks = [socket.create_connection(("127.0.0.1", server.server_port), timeout=0.5) for _ in range(64)]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        try:
            for sock in socks:
                with sock:
                    sock.settimeout(10)
                    sock.sendall(b"GET /odd/ HTTP/1.0\r\n\r\n")
                    answers.append(sock.makefile("rb").readline())
        finally:
            server.shutdown()
    finally:
        server.server_close()
    assert answers == [b"HTTP/1.0 200 OK\r\n"] * 64


def test_an_svg_document_has_its_links_and_images_pointed_into_the_archive_and_its_own_references_kept(tmp_path):
    # Sandboxed, its scripts do not run, but a link in it is followed when clicked.
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
           b'<a xlink:href="http://live.test/x?a=1&amp;b=2"><text>live</text></a><a href=\'/rel\'>r</a>'
           b'<use href="#icon"/><image href="pic.png"/><text>href="http://live.test/text"</text>'
           b'<g aria-label="see href=\'http://live.test/in-a-value\'"/></svg>')
    store = tmp_path / "store"
    capture(store, {"/d/pic.svg": (200, [(b"Content-Type", b"image/svg+xml")], svg)})
    with serve_in_thread(store) as base:
        status, headers, body = get(base, f"/odd/20260301120000/{SITE}/d/pic.svg")
        _, _, as_is = get(base, f"/odd/20260301120000id_/{SITE}/d/pic.svg")
    assert status == 200 and headers["content-security-policy"].endswith("; sandbox")
    assert body == (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
                    b'<a xlink:href="/odd/20260301120000/http://live.test/x?a=1&amp;b=2"><text>live</text></a>'
                    b'<a href="/odd/20260301120000/http://site.test/rel">r</a><use href="#icon"/>'
                    b'<image href="/odd/20260301120000/http://site.test/d/pic.png"/>'
                    b'<text>href="http://live.test/text"</text>'
                    b'<g aria-label="see href=\'http://live.test/in-a-value\'"/></svg>')
    assert as_is == svg


@pytest.mark.parametrize("declared", [[], [(b"Content-Type", b"unknown/unknown")]])
def test_a_page_sent_with_no_type_that_a_browser_shows_as_html_is_rewritten_as_one(tmp_path, declared):
    # (and one sent with nosniff, which a browser shows as it is, is not: below)
    page = b"\n <!DOCTYPE html><html><head><title>t</title></head><body><a href='http://live.test/x'>x</a></body></html>"
    store = tmp_path / "store"
    capture(store, {"/page": (200, declared, page), "/text": (200, declared, b"plain <a href='http://live.test/'>")})
    with serve_in_thread(store) as base:
        status, headers, body = get(base, f"/odd/20260301120000/{SITE}/page", headers={"Sec-Fetch-Dest": "document"})
        _, text_headers, text = get(base, f"/odd/20260301120000/{SITE}/text")
    assert status == 200 and b"/_archive/client.js" in body
    assert b'href="/odd/20260301120000/http://live.test/x"' in body and "sandbox" not in headers["content-security-policy"]
    assert text == b"plain <a href='http://live.test/'>" and text_headers["content-security-policy"].endswith("; sandbox")
    store2 = tmp_path / "store2"
    capture(store2, {"/page": (200, [*declared, (b"X-Content-Type-Options", b"nosniff")], page)})
    with serve_in_thread(store2) as base:
        _, headers, body = get(base, f"/odd/20260301120000/{SITE}/page", headers={"Sec-Fetch-Dest": "document"})
    assert body == page and headers["content-security-policy"].endswith("; sandbox")


@pytest.mark.parametrize("charset", ["base64", "utf-7", "iso-2022-jp", "utf-16", "cp424", "no-such-charset"])
def test_a_page_labelled_with_a_charset_that_is_no_ascii_superset_is_replayed_its_bytes_as_they_are(tmp_path,
                                                                                                      charset):
    page = b'<html><body><img src="/caf\xc3\xa9\x1b$B\xff.png?q=\xe9"></body></html>'
    store = tmp_path / "store"
    capture(store, {"/page": (200, [(b"Content-Type", f"text/html; charset={charset}".encode())], page)})
    with serve_in_thread(store) as base:
        status, _, body = get(base, f"/odd/20260301120000/{SITE}/page")
    assert status == 200
    assert b'<img src="/odd/20260301120000/http://site.test/caf%C3%A9\x1b$B%FF.png?q=%E9">' in body


def test_a_capture_that_redirects_to_itself_gives_way_to_the_page_behind_it(tmp_path):
    # A consent or bot check set a cookie and sent the reader back to the same URL; replayed,
    # the browser followed the redirect to itself until it gave up.
    store, later = tmp_path / "store", WHEN + timedelta(minutes=1)
    job = CaptureJob(store, one_off("odd", urls=[SITE + "/"]), clock=Clock(WHEN), dedup=False)
    job.record_fetch(fetch(SITE + "/story", b"", WHEN, status=302, seed=SITE + "/",
                           headers=[(b"Location", b"/story#top"), (b"Set-Cookie", b"ok=1")]))
    job.record_fetch(fetch(SITE + "/story", b"<p>the article</p>", later, seed=SITE + "/"))
    job.record_fetch(fetch(SITE + "/loop", b"", WHEN, status=301, seed=SITE + "/",
                           headers=[(b"Location", SITE.encode() + b"/loop")]))
    job.close()
    update_indexes(collection_dir(store, "odd"))
    with serve_in_thread(store) as base:
        page = get(base, f"/odd/20260301120000/{SITE}/story")
        raw_page = get(base, f"/odd/20260301120000id_/{SITE}/story")
        provenance = get(base, f"/odd/20260301120000prov_/{SITE}/story")
        loop = get(base, f"/odd/20260301120000/{SITE}/loop")
    assert page[0] == 200 and b"the article" in page[2]
    assert raw_page[:1] == (200,) and raw_page[2] == b"<p>the article</p>"
    assert b'"status": 302' in provenance[2]  # (the capture asked for, as it is)
    # (with no other capture: said so, as a browser would only say it was redirected too many times)
    assert loop[0] == 502 and f"/odd/20260301120000prov_/{SITE}/loop".encode() in loop[2]
    assert "location" not in loop[1]


@pytest.mark.parametrize(("dest", "rewritten"), [
    ("script", False), ("style", False), ("empty", False), (None, True), ("document", True), ("iframe", True)])
def test_a_script_or_json_labelled_text_html_is_not_rewritten_as_markup(tmp_path, dest, rewritten):
    # A link rewritten into a script's string ended the string (a SyntaxError), and into JSON
    # made it unreadable; what a browser asks for as a page is rewritten as ever.
    script = b'var u = "/x"; el.innerHTML = "<a href=\'" + u + "\'>x</a>";'
    data = b'{"items": ["<a href=\\"/other\\">more</a>"]}'
    html = [(b"Content-Type", b"text/html")]
    store = tmp_path / "store"
    capture(store, {"/legacy.js": (200, html, script), "/more": (200, html, data)})
    headers = {"Sec-Fetch-Dest": dest} if dest else {}
    with serve_in_thread(store) as base:
        answers = [get(base, f"/odd/20260301120000/{SITE}{path}", headers=headers) for path in ("/legacy.js", "/more")]
    for (status, got, body), sent in zip(answers, (script, data), strict=True):
        assert status == 200 and got["vary"] == "Sec-Fetch-Dest"
        assert (body != sent) == rewritten, body


def test_a_fragment_of_markup_a_script_fetches_has_its_links_rewritten(tmp_path):
    store = tmp_path / "store"
    capture(store, {"/more": (200, [(b"Content-Type", b"text/html")], b'\n <li><a href="/story">s</a></li>')})
    with serve_in_thread(store) as base:
        _, _, body = get(base, f"/odd/20260301120000/{SITE}/more", headers={"Sec-Fetch-Dest": "empty"})
    assert body == b'\n <li><a href="/odd/20260301120000/http://site.test/story">s</a></li>'
