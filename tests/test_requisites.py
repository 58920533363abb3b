"""A real crawl's page requisites that no tag's src names: ``background`` images, and the
``/favicon.ico`` a browser asks for of a page that names no icon."""

from __future__ import annotations

from collections import Counter

from warcs import read_collection
from wire import response, serve_wire

from archive.capture_log import error_count
from archive.config import collection_from_dict
from archive.crawl import crawl

HTML = [("Content-Type", "text/html")]
GIF = [("Content-Type", "image/gif")]
PIXEL = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def _crawl(tmp_path, routes, **scope):  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        coll = collection_from_dict({"name": "r", "urls": [site.base + "/"], "scope": scope} if scope else
                                    {"name": "r", "urls": [site.base + "/"]})
        result = crawl(store, coll, extract=False)
        asked = Counter(head.split(b" ")[1].decode() for head in site.requests)
    assert result.outcome == "finished"
    records, lines = read_collection(store / "r")
    return site.base, asked, records, lines, result


def test_background_images_and_the_favicon_of_a_page_naming_no_icon_are_captured_once_a_host(tmp_path):
    page = (b'<html><body background="/paper.gif"><table background="/table.gif"><tr><td background="cell.gif">'
            b'<a href="/second">next</a></td></tr></table></body></html>')
    routes = {"/": response("200 OK", HTML, page),
              "/second": response("200 OK", HTML, b'<html><body background="/paper.gif">again</body></html>'),
              "/paper.gif": response("200 OK", GIF, PIXEL), "/table.gif": response("200 OK", GIF, PIXEL),
              "/cell.gif": response("200 OK", GIF, PIXEL)}  # (no /favicon.ico: the server's 404)
    base, asked, records, lines, _ = _crawl(tmp_path, routes)
    for path in ("/paper.gif", "/table.gif", "/cell.gif", "/favicon.ico"):
        assert asked[path] == 1, path  # (once, though both pages would have it)
    favicon = [r for r in records if r.type == "response" and r.h("WARC-Target-URI") == base + "/favicon.ico"]
    assert len(favicon) == 1 and favicon[0].status_line == "HTTP/1.1 404 Not Found"  # recorded as any requisite's 404 is
    [line] = [line for line in lines if line["url"] == base + "/favicon.ico"]
    assert (line["outcome"], line["status"], line["channel"], line["hops"]) == ("captured", 404, "embed", "E")
    [cell] = [line for line in lines if line["url"] == base + "/cell.gif"]
    assert (cell["channel"], cell["via"]) == ("embed", base + "/")


def test_no_favicon_is_asked_for_a_page_that_names_its_icon_nor_without_requisites(tmp_path):
    page = b'<html><head><link rel="shortcut icon" href="/static/icon.png"></head><body>x</body></html>'
    routes = {"/": response("200 OK", HTML, page), "/static/icon.png": response("200 OK", GIF, PIXEL)}
    _, asked, _, _, _ = _crawl(tmp_path / "named", routes)
    assert asked["/static/icon.png"] == 1 and "/favicon.ico" not in asked
    routes = {"/": response("200 OK", HTML, b'<html><body background="/paper.gif">x</body></html>')}
    _, asked, _, _, _ = _crawl(tmp_path / "off", routes, page_requisites=False)
    assert "/favicon.ico" not in asked and "/paper.gif" not in asked


def test_a_site_without_a_favicon_is_no_error_and_a_requisite_gone_is_one(tmp_path):
    # Every host of a site with no /favicon.ico answers the browser's ask with a 404: said in
    # the counts (favicon_absent), as a robots.txt's 404 is, and not an error of the job.
    routes = {"/": response("200 OK", HTML, b'<html><body><img src="/gone.png">x</body></html>')}
    _, asked, _, _, result = _crawl(tmp_path, routes)
    assert asked["/favicon.ico"] == 1 and asked["/gone.png"] == 1
    assert result.counts["by_status"]["404"] == 3  # robots.txt, /favicon.ico, /gone.png
    assert (result.counts["robots_txt_absent"], result.counts["favicon_absent"]) == (1, 1)
    assert error_count(result.counts) == 1  # the image the page names
