"""An article a site moves (its old URL answering 301 with the new one) stays one article."""

from __future__ import annotations

import io
import json
from pathlib import Path

from jobs import Clock, fetch
from newsroom import article_html
from wire import response, serve_wire

from archive.cli import main
from archive.config import collection_from_dict, one_off
from archive.crawl import crawl
from archive.extract import extract_collection
from archive.job import CaptureJob

HTML = [("Content-Type", "text/html; charset=utf-8")]
PARAGRAPHS = ["The council said the harbour bridge would reopen to traffic on Monday after repairs. " * 6] * 5


def _page(base: str, path: str, paragraphs: list[str] = PARAGRAPHS) -> bytes:
    # (a page naming itself by rel=canonical, as most news sites' pages do)
    link = f"<link rel='canonical' href='{base}{path}'>".encode()
    return article_html(path, "Harbour bridge reopens", paragraphs).replace(b"</head>", link + b"</head>")


def _rows(store: Path) -> list[dict]:
    return [json.loads(line) for table in sorted((store / "news" / "articles").glob("*.jsonl"))
            for line in table.read_text().splitlines()]


def _moved(store: Path, old: str, new: str, before: bytes, after: bytes, location: bytes | None = None) -> list[dict]:
    """The rows of two jobs: the first captures ``before`` at ``old``; the second finds
    ``old`` answering 301 to ``location`` (``new`` by default) and captures ``after`` at ``new``."""
    clock = Clock()
    first = CaptureJob(store, one_off("news", urls=["http://127.0.0.1:9/"]), clock=clock)
    first.record_fetch(fetch(old, before, clock()))
    first.close()
    second = CaptureJob(store, one_off("news", urls=["http://127.0.0.1:9/"]), clock=clock)
    second.record_fetch(fetch(old, b"", clock(), status=301, headers=[(b"Location", location or new.encode())]))
    second.record_fetch(fetch(new, after, clock()))
    second.close()
    extract_collection(store, "news")
    return _rows(store)


def test_a_page_moved_by_a_301_continues_its_article_and_the_old_urls_history_shows_where(tmp_path):
    """Crawl 1 captured /news/a.html; crawl 2 was sent from there to /news/2026/a.html by a
    301, the same story: it made a second article, and the first ended unmarked."""
    store = tmp_path / "store"
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n")}
    with serve_wire(routes) as server:
        base = server.base
        coll = collection_from_dict({"name": "news", "urls": [base + "/"], "scope": {"page_requisites": False}})
        routes["/"] = response("200 OK", HTML, b"<html><body><a href='/news/a.html'>Bridge</a></body></html>")
        routes["/news/a.html"] = response("200 OK", HTML, _page(base, "/news/a.html"))
        crawl(store, coll)
        routes["/news/a.html"] = response("301 Moved Permanently", [("Location", "/news/2026/a.html")], b"")
        routes["/news/2026/a.html"] = response("200 OK", HTML, _page(base, "/news/2026/a.html"))
        crawl(store, coll)
        # Linked at its new URL, unchanged: nothing new; then edited there: a version.
        routes["/"] = response("200 OK", HTML, b"<html><body><a href='/news/2026/a.html'>Bridge</a></body></html>")
        crawl(store, coll)
        routes["/news/2026/a.html"] = response("200 OK", HTML, _page(base, "/news/2026/a.html", [
            *PARAGRAPHS, "Update: the bridge opened an hour late."]))
        crawl(store, coll)
        # The old URL gone at last: the article, at its new URL, is not withdrawn.
        del routes["/news/a.html"]
        crawl(store, coll)
    rows = _rows(store)
    assert [(r["url"].removeprefix(base), r["version"], r["status"]) for r in rows] == [
        ("/news/a.html", 1, "captured"), ("/news/2026/a.html", 2, "captured"), ("/news/2026/a.html", 3, "captured")]
    assert len({r["article_id"] for r in rows}) == 1
    assert [r["previous_version"] for r in rows[1:]] == [r["source"]["record_id"] for r in rows[:-1]]
    assert rows[1]["canonical_url"] == base + "/news/2026/a.html"
    # Made again from the WARCs, the same tables.
    tables = {p.name: p.read_bytes() for p in (store / "news" / "articles").glob("*.jsonl")}
    extract_collection(store, "news")
    assert {p.name: p.read_bytes() for p in (store / "news" / "articles").glob("*.jsonl")} == tables
    out = io.StringIO()
    assert main(["history", base + "/news/a.html", "--store", str(store)], out=out, err=io.StringIO()) == 0
    versions = [line for line in out.getvalue().splitlines() if line.startswith("Version")]
    assert [v.split(" (")[0] for v in versions] == ["Version 1", "Version 2", "Version 3"]
    assert f"; at {base}/news/2026/a.html)" in versions[1] and "; at" not in versions[0]
    out = io.StringIO()
    assert main(["export", "--store", str(store), "--collection", "news", "--out", str(tmp_path / "out")],
                out=out, err=io.StringIO()) == 0
    assert out.getvalue().splitlines()[0].startswith("Exported ")
    assert " and 1 article (3 rows: versions, withdrawals) to " in out.getvalue().splitlines()[0]


def test_an_article_at_the_url_a_redirect_of_its_old_one_names_continues_it_though_fetched_first(tmp_path):
    """The front page links the story's new URL, fetched before the recrawl of its old URL
    answers 301 there (not followed: the page is had). The redirect still says it moved."""
    clock = Clock()
    old, new = "http://127.0.0.1:9/news/a.html", "http://127.0.0.1:9/news/2026/a.html"
    first = CaptureJob(tmp_path, one_off("news", urls=["http://127.0.0.1:9/"]), clock=clock)
    first.record_fetch(fetch(old, _page("http://127.0.0.1:9", "/news/a.html"), clock()))
    first.close()
    second = CaptureJob(tmp_path, one_off("news", urls=["http://127.0.0.1:9/"]), clock=clock)
    second.record_fetch(fetch(new, _page("http://127.0.0.1:9", "/news/2026/a.html"), clock()))
    second.record_fetch(fetch(old, b"", clock(), status=301, headers=[(b"Location", b"/news/2026/a.html")]))
    # And a story that was never anywhere else keeps its own identity.
    second.record_fetch(fetch("http://127.0.0.1:9/news/b.html", article_html("b", "Ferry", PARAGRAPHS), clock()))
    second.close()
    extract_collection(tmp_path, "news")
    rows = _rows(tmp_path)
    assert [(r["url"], r["version"]) for r in rows] == [(old, 1), (new, 2), ("http://127.0.0.1:9/news/b.html", 1)]
    assert rows[0]["article_id"] == rows[1]["article_id"] != rows[2]["article_id"]


def test_a_301_to_another_story_or_a_section_page_is_no_move(tmp_path):
    """A site deletes two stories: one answers 301 with another story, never captured
    before, the other with its section's front, which reads as an article. Neither old
    story became the page it now names: each page there is an article of its own."""
    store = tmp_path / "store"
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n")}
    ferry = ["Ferry crews voted to end the strike after the operator raised its pay offer on Friday. " * 6] * 5
    section = ["Latest local news from the harbour district, updated through the day by our reporters. " * 6] * 5
    with serve_wire(routes) as server:
        base = server.base
        coll = collection_from_dict({"name": "news", "urls": [base + "/"], "scope": {"page_requisites": False}})
        routes["/"] = response("200 OK", HTML, b"<html><body><a href='/news/a.html'>Bridge</a>"
                                               b"<a href='/news/b.html'>Tunnel</a></body></html>")
        routes["/news/a.html"] = response("200 OK", HTML, _page(base, "/news/a.html"))
        routes["/news/b.html"] = response("200 OK", HTML, article_html("b", "Tunnel closes for a week", PARAGRAPHS))
        crawl(store, coll)
        routes["/news/a.html"] = response("301 Moved Permanently", [("Location", "/news/ferry.html")], b"")
        routes["/news/ferry.html"] = response("200 OK", HTML, article_html("ferry", "Ferry strike ends", ferry))
        routes["/news/b.html"] = response("301 Moved Permanently", [("Location", "/news/local/")], b"")
        routes["/news/local/"] = response("200 OK", HTML, article_html("local", "Local news", section))
        crawl(store, coll)
    rows = _rows(store)
    assert sorted((r["url"].removeprefix(base), r["version"]) for r in rows) == [
        ("/news/a.html", 1), ("/news/b.html", 1), ("/news/ferry.html", 1), ("/news/local/", 1)]
    assert len({r["article_id"] for r in rows}) == 4
    assert [r["previous_version"] for r in rows] == [None] * 4
    out = io.StringIO()
    assert main(["history", base + "/news/a.html", "--store", str(store)], out=out, err=io.StringIO()) == 0
    assert [line.split(" (")[0] for line in out.getvalue().splitlines() if line.startswith("Version")] == ["Version 1"]


def test_a_story_moved_and_retypeset_and_updated_on_the_way_continues_its_article(tmp_path):
    """The move came with the CMS's curly quotes, a capital letter and an update paragraph:
    still the same headline, the same story."""
    old, new = "http://127.0.0.1:9/news/a.html", "http://127.0.0.1:9/2026/a.html"
    rows = _moved(tmp_path, old, new, article_html("a", "Harbour bridge 'reopens' - at last", PARAGRAPHS),
                  article_html("a", "Harbour Bridge \u2018reopens\u2019 \u2013 at  last",
                               [*PARAGRAPHS, "Update: it opened an hour late."]), location=b"/2026/a.html")
    assert [(r["url"], r["version"]) for r in rows] == [(old, 1), (new, 2)]
    assert rows[0]["article_id"] == rows[1]["article_id"]


def test_a_story_moved_to_https_and_a_new_domain_on_the_day_its_headline_changed_continues_its_article(tmp_path):
    """The same path on another scheme and host is the same story, whatever its headline
    says now."""
    old, new = "http://127.0.0.1:9/news/a.html", "https://localhost:9/news/a.html"
    rows = _moved(tmp_path, old, new, article_html("a", "Harbour bridge to reopen", PARAGRAPHS),
                  article_html("a", "Harbour bridge reopens", PARAGRAPHS))
    assert [(r["url"], r["version"]) for r in rows] == [(old, 1), (new, 2)]
    assert rows[0]["article_id"] == rows[1]["article_id"]


def test_a_story_moved_to_https_with_a_slash_added_to_its_path_on_the_day_its_headline_changed_continues_it(tmp_path):
    """A site moved to https often writes its paths anew on the way: a slash at the end,
    its escapes in the other case. The story is still at its path."""
    for old, new in (("http://127.0.0.1:9/2026/bridge", "https://127.0.0.1:9/2026/bridge/"),
                     ("http://127.0.0.1:9/2026/caf%c3%a9", "https://localhost:9/2026/caf%C3%A9")):
        store = tmp_path / str(len(list(tmp_path.iterdir())))
        rows = _moved(store, old, new, article_html("a", "Harbour bridge to reopen", PARAGRAPHS),
                      article_html("a", "Harbour bridge reopens", PARAGRAPHS))
        assert [(r["url"], r["version"]) for r in rows] == [(old, 1), (new, 2)]
        assert rows[0]["article_id"] == rows[1]["article_id"]


def test_a_deleted_story_sent_to_its_sections_front_on_https_is_no_move(tmp_path):
    """Only the story's own path is the same story: its section's front, the home page, are not."""
    section = ["Latest local news from the harbour district, updated through the day by our reporters. " * 6] * 2
    for old, new in (("http://127.0.0.1:9/news/bridge", "https://127.0.0.1:9/news/"),
                     ("http://127.0.0.1:9/bridge", "https://127.0.0.1:9/")):
        store = tmp_path / str(len(list(tmp_path.iterdir())))
        rows = _moved(store, old, new, article_html("a", "Harbour bridge to reopen", PARAGRAPHS),
                      article_html("n", "News from the harbour", section))
        assert len({r["article_id"] for r in rows}) == 2, (old, new)


STORY = [("The harbour bridge will reopen to traffic on Monday morning, six weeks after a barge struck one of "
          "its piers during the autumn storms, the council said on Friday."),
         ("Engineers replaced two damaged bearings and strengthened the pier with steel collars, work the council "
          "had first said would take until the new year."),
         ("Buses return to their usual routes from the first service, and the temporary ferry between the two "
          "quays stops running on Sunday evening."),
         ("Traders on the north quay, who say they lost a third of their custom while the bridge was shut, "
          "welcomed the news but asked the council to waive this quarter's market fees."),
         "A report into the collision is due in the spring."]


def test_a_story_retitled_and_given_a_new_slug_by_a_301_continues_its_article(tmp_path):
    """An editor retitles a story and the CMS moves it to a new slug, answering 301 at the
    old one: the same body, or that body with an update added, below or above, and a typo
    fixed. Each was a new article, and the story's first ended unmarked."""
    old = "http://127.0.0.1:9/2026/11/28/harbour-bridge-to-reopen"
    new = "http://127.0.0.1:9/2026/11/28/harbour-bridge-reopens"
    update = "Update, 11.40: the council says the first buses will cross at 6am."
    fixed = [STORY[0], STORY[1].replace("steel collars", "steel collars,"), *STORY[2:]]
    for paragraphs in (STORY, [*fixed, update], [update, *fixed]):
        store = tmp_path / str(len(list(tmp_path.iterdir())))
        rows = _moved(store, old, new, article_html("a", "Harbour bridge to reopen", STORY),
                      article_html("a", "Harbour bridge reopens", paragraphs))
        assert [(r["url"], r["version"]) for r in rows] == [(old, 1), (new, 2)], paragraphs
        assert rows[0]["article_id"] == rows[1]["article_id"]
        assert rows[1]["previous_version"] == rows[0]["source"]["record_id"]


def test_a_301_to_a_section_front_that_opens_with_the_storys_teaser_is_no_move(tmp_path):
    """The front still shows the deleted story's opening above its other teasers: the same
    opening, but not the story's body edited a little."""
    old, new = "http://127.0.0.1:9/2026/11/28/harbour-bridge-to-reopen", "http://127.0.0.1:9/news/local/"
    teasers = [f"Teaser {i}: the ferry timetable, the market fees and the weather for the weekend ahead, "
               "in brief from our reporters on the quays." for i in range(12)]
    rows = _moved(tmp_path, old, new, article_html("a", "Harbour bridge to reopen", STORY),
                  article_html("local", "Local news", [*STORY[:2], *teasers]))
    assert [(r["url"], r["version"]) for r in rows] == [(old, 1), (new, 1)]
    assert rows[0]["article_id"] != rows[1]["article_id"]
