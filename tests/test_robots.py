"""robots.txt as RFC 9309 reads it: 5xx, 429 or no answer at all leaves the rules undefined
and the whole site disallowed (§2.3.1.4); 4xx allows all, whatever the error page says."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
from wire import response, serve_wire, slow

from archive.config import collection_from_dict
from archive.crawl import crawl

PAGE = b"<html><body><a href='/a'>a</a> <a href='/b'>b</a></body></html>"


def _hang_up(_head: bytes) -> list[bytes | float]:
    raise OSError("the server closes the connection without an answer")


def _crawl(tmp_path: Path, robots) -> tuple[list[bytes], list[dict]]:  # type: ignore[no-untyped-def]
    html = [("Content-Type", "text/html")]
    routes = {"/robots.txt": robots, "/": response("200 OK", html, PAGE),
              "/a": response("200 OK", html, b"<html><body>a</body></html>"),
              "/b": response("200 OK", html, b"<html><body>b</body></html>")}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "r", "urls": [site.base + "/"]}), extract=False)
        paths = [head.split(b" ")[1] for head in site.requests]
    assert result.outcome == "finished"
    [log] = (store / "r" / "logs").glob("*.captures.jsonl")
    return paths, [json.loads(line) for line in log.read_text("utf-8").splitlines()]


@pytest.mark.parametrize("status", ["503 Service Unavailable", "500 Internal Server Error", "429 Too Many Requests"])
def test_a_robots_txt_that_answers_an_error_of_the_server_disallows_the_whole_site(tmp_path, status):
    paths, lines = _crawl(tmp_path, response(status, [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"))
    assert set(paths) == {b"/robots.txt"}  # asked again as Scrapy retries, and nothing else
    robots = [line for line in lines if line["url"].endswith("/robots.txt")]
    assert robots and all(line["status"] == int(status[:3]) and line["outcome"] == "captured" for line in robots)
    [seed] = [line for line in lines if not line["url"].endswith("/robots.txt")]
    assert (seed["outcome"], seed["robots"]) == ("robots-disallowed", "disallowed")
    assert seed["error"] == (f"robots.txt answered {status[:3]}, so all of the site is taken as disallowed "
                             "(RFC 9309)")


def test_a_robots_txt_that_cannot_be_fetched_disallows_the_whole_site(tmp_path):
    paths, lines = _crawl(tmp_path, _hang_up)
    assert set(paths) == {b"/robots.txt"}
    failed = [line for line in lines if line["url"].endswith("/robots.txt")]  # each attempt
    assert failed and all(line["outcome"] == "failed" for line in failed)
    [seed] = [line for line in lines if not line["url"].endswith("/robots.txt")]
    assert (seed["outcome"], seed["robots"]) == ("robots-disallowed", "disallowed")
    kind = failed[-1]["error"].split(":")[0]  # as the robots.txt fetch's own line says
    assert seed["error"].startswith(f"robots.txt could not be fetched ({kind}: ")
    assert seed["error"].endswith(", so all of the site is taken as disallowed (RFC 9309)")


def test_a_robots_txt_that_answers_4xx_allows_all_whatever_its_page_says(tmp_path):
    page = b"User-agent: *\nDisallow: /\n"  # an error page that happens to read like rules
    paths, lines = _crawl(tmp_path, response("404 Not Found", [("Content-Type", "text/plain")], page))
    assert {b"/", b"/a", b"/b"} <= set(paths)
    assert {line["robots"] for line in lines if not line["url"].endswith("/robots.txt")} == {"allowed"}


def test_a_robots_txt_that_answers_200_is_obeyed(tmp_path):
    paths, lines = _crawl(tmp_path, response("200 OK", [("Content-Type", "text/plain")],
                                             b"User-agent: *\nDisallow: /b\n"))
    assert b"/a" in paths and b"/b" not in paths
    [refused] = [line for line in lines if line["url"].endswith("/b")]
    assert (refused["outcome"], refused["error"]) == ("robots-disallowed", "robots.txt disallows this URL")


def _timed_crawl(tmp_path: Path, robots: bytes, overrides: dict | None = None) -> tuple[list[float], str]:
    """Crawl a site of a page and three links; when each page's request came, and the crawl log."""
    import time

    came: list[float] = []

    def timed(route):  # type: ignore[no-untyped-def]
        def answer(head: bytes) -> list[bytes | float]:
            came.append(time.monotonic())
            return route(head)
        return answer

    html = [("Content-Type", "text/html")]
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], robots),
              "/": timed(response("200 OK", html, b"<html><body><a href='/a'>a</a> <a href='/b'>b</a> "
                                                     b"<a href='/c'>c</a></body></html>")),
              **{f"/{p}": timed(response("200 OK", html, b"<html><body>x</body></html>")) for p in "abc"}}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        result = crawl(store, collection_from_dict({"name": "r", "urls": [site.base + "/"]}), extract=False,
                       overrides=overrides)
    assert result.outcome == "finished" and len(came) == 4
    [crawl_log] = (store / "r" / "logs").glob("*.crawl.log")
    return sorted(came), crawl_log.read_text("utf-8")


@pytest.mark.parametrize("throttle", [False, True])
def test_a_crawl_delay_in_robots_txt_spaces_the_requests_to_its_host(tmp_path, throttle):
    # (AutoThrottle, which would bring the delay down towards the server's latency, leaves it)
    came, said = _timed_crawl(tmp_path, b"User-agent: *\nCrawl-delay: 0.6\nAllow: /\n",
                              overrides={"AUTOTHROTTLE_ENABLED": True, "AUTOTHROTTLE_START_DELAY": 0.01} if throttle
                              else None)
    assert min(b - a for a, b in pairwise(came)) >= 0.55, came
    assert "asks for a Crawl-delay of 0.6 s: kept to" in said


def test_a_crawl_delay_longer_than_the_cap_is_kept_to_the_cap(tmp_path):
    came, said = _timed_crawl(tmp_path, b"User-agent: *\nCrawl-delay: 86400\n",
                              overrides={"ARCHIVE_MAX_CRAWL_DELAY": 0.4})
    gaps = [b - a for a, b in pairwise(came)]
    assert min(gaps) >= 0.35 and max(gaps) < 5, came
    assert "asks for a Crawl-delay of 86400 s; 0.4 s is kept to (ARCHIVE_MAX_CRAWL_DELAY)" in said


@pytest.mark.parametrize(("robots", "undefined"), [
    (response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nDisallow: /private/\n"), False),
    (response("503 Service Unavailable", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"), True),
])
def test_every_request_that_waited_for_the_robots_txt_is_held_to_it(tmp_path, robots, undefined):
    # Seeds are scheduled at once: the first asks for robots.txt and the others wait for it.
    # All but the first waiter were once let through as if the site had no robots.txt.
    html = [("Content-Type", "text/html")]
    seeds = ["/a", "/b", "/private/1", "/private/2", "/private/3", "/c"]
    routes = {"/robots.txt": slow(0.3, robots), **{path: response("200 OK", html, b"<p>%s</p>" % path.encode())
                                                   for path in seeds}}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        crawl(store, collection_from_dict({"name": "w", "urls": [site.base + path for path in seeds]}), extract=False)
        paths = {head.split(b" ")[1].decode() for head in site.requests}
    [log] = (store / "w" / "logs").glob("*.captures.jsonl")
    lines = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    decided = {line["url"].removeprefix(site.base): line["robots"] for line in lines
               if not line["url"].endswith("/robots.txt")}
    if undefined:
        assert paths == {"/robots.txt"} and decided == dict.fromkeys(seeds, "disallowed")
    else:
        assert paths == {"/robots.txt", "/a", "/b", "/c", "/favicon.ico"}  # (pages naming no icon)
        assert decided == {path: "disallowed" if path.startswith("/private/") else "allowed"
                           for path in [*seeds, "/favicon.ico"]}


@pytest.mark.parametrize("robots", ["404 Not Found", "503 Service Unavailable", "429 Too Many Requests"])
def test_a_site_without_a_robots_txt_is_no_error_of_the_crawl(tmp_path, capsys, robots):
    # A 404 for robots.txt is how most sites say they have none; only the broken link is an
    # error. A 503 or a 429 leaves the site disallowed (above), and each answer is one.
    from archive.cli import main

    html = [("Content-Type", "text/html")]
    routes = {"/robots.txt": response(robots, [("Content-Type", "text/plain")], b"none"),
              "/": response("200 OK", html, b"<html><body><a href='/gone'>gone</a></body></html>"),
              "/gone": response("404 Not Found", html, b"<html><body>gone</body></html>"),
              "/favicon.ico": response("200 OK", [("Content-Type", "image/x-icon")], b"icon")}
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        assert main(["crawl", "--url", site.base + "/", "--store", str(store), "--collection", "r"]) == 0
    summary = capsys.readouterr().out
    [manifest] = (store / "r" / "manifests").glob("*.json")
    counts = json.loads(manifest.read_text("utf-8"))["counts"]
    absent = robots.startswith("404")
    errors = 1 if absent else counts["by_status"][robots[:3]]
    assert counts["robots_txt_absent"] == absent
    assert f"captured, {errors} error{'' if errors == 1 else 's'}, " in summary
    assert main(["status", "--store", str(store), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["last_job"]["errors"] == errors
