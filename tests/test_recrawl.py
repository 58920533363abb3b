"""A site that changes between runs: revisits for what did not change, new versions with
diffs for what did, a withdrawal, and a second job that fetches far fewer bytes."""

from __future__ import annotations

import io
import json

import pytest
from newsroom import Newsroom
from warcs import read_collection
from wire import response, serve_wire

from archive.cli import main
from archive.config import collection_from_dict
from archive.crawl import crawl
from archive.verify import verify
from archive.warc.records import PROFILE_IDENTICAL, PROFILE_NOT_MODIFIED


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    store = tmp_path_factory.mktemp("recrawl")
    room = Newsroom()
    routes = room.routes()
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "feeds": [server.base + "/feed"],
                                     "scope": {"page_requisites": False}})
        first = crawl(store, coll)
        first_records, _ = read_collection(store / "news")
        # Between runs: a headline edit, a body edit, a new story, a removal; the rest untouched.
        _, paragraphs = room.articles["story-1"]
        room.articles["story-1"] = ("Story number 1, corrected headline", paragraphs)
        headline2, paragraphs2 = room.articles["story-2"]
        room.articles["story-2"] = (headline2, paragraphs2[:2] + ["A new paragraph added after publication."]
                                    + paragraphs2[2:])
        room.articles["story-new"] = ("A brand new story", ["Fresh news " * 50])
        del room.articles["story-5"]
        routes.clear()
        routes.update(room.routes())
        second = crawl(store, coll)
    records, lines = read_collection(store / "news")
    return {"store": store, "base": server.base, "first": first, "second": second, "records": records,
            "lines": lines, "first_records": first_records}


def _second(runs, path):
    job = runs["second"].job_id
    return [l for l in runs["lines"] if l["job_id"] == job and l["url"] == runs["base"] + path]


def _record(runs, line):
    return next(r for r in runs["records"] if r.h("WARC-Record-ID") == line["warc"]["record_id"])


def test_untouched_articles_become_revisits_of_the_first_capture(runs):
    firsts = {r.h("WARC-Target-URI"): r for r in runs["first_records"] if r.type == "response"}
    for slug in ("story-0", "story-3", "story-4"):
        line = _second(runs, f"/a/{slug}")[0]
        assert line["status"] == 304
        rec = _record(runs, line)
        assert rec.type == "revisit" and rec.h("WARC-Profile") == PROFILE_NOT_MODIFIED
        original = firsts[runs["base"] + f"/a/{slug}"]
        assert rec.h("WARC-Refers-To") == original.h("WARC-Record-ID")
        assert rec.h("WARC-Refers-To-Date") == original.h("WARC-Date")
        assert rec.h("WARC-Payload-Digest") == original.h("WARC-Payload-Digest")
    plain = _second(runs, "/a/plain")[0]  # this server ignores validators: same bytes again
    rec = _record(runs, plain)
    assert plain["status"] == 200 and rec.type == "revisit" and rec.h("WARC-Profile") == PROFILE_IDENTICAL
    assert rec.payload == b""  # no second copy of the payload


def test_edited_and_new_articles_are_new_responses_with_versions(runs):
    for slug in ("story-1", "story-2", "story-new"):
        assert _record(runs, _second(runs, f"/a/{slug}")[0]).type == "response"
    rows = [json.loads(l) for l in runs["second"].articles.read_text().splitlines()]
    by_slug = {r["url"].rsplit("/", 1)[1]: r for r in rows}
    assert set(by_slug) == {"story-1", "story-2", "story-new", "story-5"}  # unchanged ones add no rows
    assert by_slug["story-1"]["version"] == 2 and by_slug["story-new"]["version"] == 1
    first_rows = {r["url"].rsplit("/", 1)[1]: r for r in map(json.loads, runs["first"].articles.read_text().splitlines())}
    assert by_slug["story-1"]["previous_version"] == first_rows["story-1"]["source"]["record_id"]
    assert by_slug["story-5"]["status"] == "withdrawn" and by_slug["story-5"]["previous_version"]


def test_the_second_job_fetched_far_fewer_bytes(runs):
    assert runs["second"].counts["bytes"] < 0.4 * runs["first"].counts["bytes"]
    assert verify(runs["store"]).ok


def test_history_shows_captures_and_readable_diffs(runs, capsys):
    url = runs["base"] + "/a/story-2"
    assert main(["history", url, "--store", str(runs["store"])]) == 0
    out = capsys.readouterr().out
    assert "new content" in out and "Version 2" in out
    assert "+A new paragraph added after publication." in out
    assert main(["history", runs["base"] + "/a/story-1", "--store", str(runs["store"]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["kind"] for c in data["captures"]] == ["new content", "new content"]
    assert data["versions"][1]["changes"]["headline"] == {"from": "Story number 1 headline",
                                                           "to": "Story number 1, corrected headline"}
    assert main(["history", runs["base"] + "/a/story-0", "--store", str(runs["store"]), "--json"]) == 0
    kinds = [c["kind"] for c in json.loads(capsys.readouterr().out)["captures"]]
    assert kinds == ["new content", "revisit (server-not-modified)"]
    assert main(["history", runs["base"] + "/never", "--store", str(runs["store"])]) == 1


@pytest.mark.parametrize("same_url", [True, False])
def test_a_304_is_a_revisit_of_the_capture_whose_validators_were_sent_as_the_crawl_found_it(tmp_path, same_url):
    # The capture worker does not look the original up again (its look-up could fail, or
    # find another). The original may be another URL's, whose payload this one had.
    from dataclasses import replace
    from datetime import UTC, datetime

    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    url, when = "http://news.test/a/story", datetime(2026, 3, 1, 12, tzinfo=UTC)
    original = ("<urn:uuid:00000000-0000-4000-8000-000000000001>", url if same_url else url + "-copy",
                "2026-02-01T12:00:00Z", "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ")
    job = CaptureJob(tmp_path, one_off("news", urls=["http://news.test/"]), clock=Clock(when))
    job.record_fetch(replace(fetch(url, b"", when, status=304, headers=[(b"ETag", b'"v1"')]),
                             request_headers=[(b"If-None-Match", b'"v1"')], conditional_on=original))
    job.close()
    records, _ = read_collection(tmp_path / "news")
    [record] = [r for r in records if r.h("WARC-Target-URI") == url and r.type in ("response", "revisit")]
    assert (record.type, record.h("WARC-Profile"), record.h("WARC-Refers-To"), record.h("WARC-Refers-To-Target-URI"),
            record.h("WARC-Refers-To-Date"), record.h("WARC-Payload-Digest")) == ("revisit", PROFILE_NOT_MODIFIED,
                                                                                   *original)


@pytest.mark.parametrize("redirected", [False, True])
def test_a_redirected_request_does_not_carry_the_original_of_the_url_before(redirected):
    # Scrapy copies a request's meta (and its validators) into the request a redirect makes.
    import time
    from types import SimpleNamespace

    from scrapy.http import Request, Response

    from crawler.middlewares import CONDITIONAL_ON, WarcCaptureMiddleware

    recorded: list = []
    mw = WarcCaptureMiddleware.__new__(WarcCaptureMiddleware)
    mw.obey_robots = False
    mw.job = SimpleNamespace(record_fetch=recorded.append)
    original = ("<urn:uuid:00000000-0000-4000-8000-000000000001>", "http://news.test/a", "2026-02-01T12:00:00Z",
                "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ")
    meta = {CONDITIONAL_ON: original, "_archive_t0": (time.time(), time.monotonic())}
    if redirected:
        meta["redirect_urls"] = ["http://news.test/a"]
    req = Request("http://news.test/b", meta=meta, headers={"If-None-Match": '"v1"'})
    mw.process_response(req, Response(req.url, status=304, request=req))
    assert recorded[0].conditional_on == (None if redirected else original)


def test_the_versions_kept_between_jobs_are_those_the_tables_give(runs, tmp_path):
    # Each job's extraction compares against the versions file, not every earlier table read
    # again; `archive extract` re-derives every table from the tables alone, in memory.
    import shutil

    from archive.article_versions import VERSIONS

    assert (runs["store"] / "news" / VERSIONS).is_file()
    second = runs["store"] / "news" / "articles" / f"{runs['second'].job_id}.jsonl"
    rows = [json.loads(line) for line in second.read_text().splitlines()]
    assert {r["status"] for r in rows} == {"captured", "withdrawn"} and {r["version"] for r in rows} >= {1, 2}
    copy = tmp_path / "store"
    shutil.copytree(runs["store"], copy)
    assert main(["extract", "--store", str(copy), "--collection", "news"]) == 0
    for table in (runs["store"] / "news" / "articles").glob("*.jsonl"):
        assert (copy / "news" / "articles" / table.name).read_bytes() == table.read_bytes()


def test_a_versions_file_damaged_or_behind_is_made_again_from_the_tables(runs, tmp_path):
    import shutil

    from archive.article_versions import VERSIONS, StoredVersions
    from archive.extract import versions_before
    from archive.store import collection_dir

    copy = tmp_path / "store"
    shutil.copytree(runs["store"], copy)
    coll = collection_dir(copy, "news")
    later = 1 + max(json.loads(m.read_text())["sequence"] for m in coll.manifests.glob("*.json"))
    expected = versions_before(coll, later)  # (both jobs' tables folded in)
    assert isinstance(expected, StoredVersions) and len(expected) > 5
    expected = {key: (v.number, v.record_id, v.text) for key, v in expected.items()}
    (coll.root / VERSIONS).write_bytes(b"not a database")  # a disk's fault: derived, so made again
    again = versions_before(coll, later)
    assert isinstance(again, StoredVersions)
    assert {key: (v.number, v.record_id, v.text) for key, v in again.items()} == expected
    # Asked for the versions before the second job, which the file already holds: the tables.
    second = json.loads((coll.manifests / f"{runs['second'].job_id}.json").read_text())["sequence"]
    before = versions_before(coll, second)
    assert isinstance(before, dict) and len(before) < len(expected)


def test_an_article_answered_404_twice_in_one_job_is_withdrawn_once(runs, tmp_path):
    # (a log may hold two attempts at one URL: a retry, a link met twice)
    import shutil

    from archive.article_versions import StoredVersions, version_of
    from archive.extract import _withdrawals, versions_before
    from archive.store import collection_dir

    copy = tmp_path / "store"
    shutil.copytree(runs["store"], copy)
    coll = collection_dir(copy, "news")
    job = runs["second"].job_id
    log = coll.logs / f"{job}.captures.jsonl"
    gone = [line for line in log.read_text().splitlines() if json.loads(line).get("status") == 404
            and json.loads(line)["url"].endswith("/a/story-5")]
    assert len(gone) == 1
    twice = tmp_path / "twice.captures.jsonl"
    twice.write_text(log.read_text() + gone[0] + "\n")
    second = json.loads((coll.manifests / f"{job}.json").read_text())["sequence"]
    stored = versions_before(coll, second)  # (the file, which holds the first job's table)
    assert isinstance(stored, StoredVersions)
    first = coll.articles / f"{runs['first'].job_id}.jsonl"
    in_memory = {row["article_id"]: version_of(row) for row in map(json.loads, first.read_text().splitlines())}
    for prior in (stored, in_memory):
        rows = _withdrawals(twice, "job", prior)
        assert [(r["url"].rsplit("/", 1)[1], r["status"]) for r in rows] == [("story-5", "withdrawn")]
    stored.close()


def test_a_crawls_start_reads_the_article_versions_file_not_every_table(runs, tmp_path, monkeypatch):
    """Each crawl's start read every article table the collection had written, bodies and
    all: its cost grew with the collection's past."""
    import shutil

    import archive.article_versions
    import archive.recrawl
    from archive.recrawl import known_articles
    from archive.store import collection_dir

    copy = tmp_path / "store"
    shutil.copytree(runs["store"], copy)
    coll = collection_dir(copy, "news")
    read: list[str] = []
    def spying(read_rows):
        def reading(path, *args):
            read.append(path.name)
            return read_rows(path, *args)
        return reading

    for module, name in [(archive.article_versions, "rows_refusing_bad"), (archive.recrawl, "rows_skipping_bad")]:
        monkeypatch.setattr(module, name, spying(getattr(module, name)))
    urls = known_articles(coll)
    assert runs["base"] + "/a/story-5" in urls and runs["base"] + "/a/story-new" in urls
    read.clear()
    assert known_articles(coll) == urls and read == []  # (the next crawl's start: no table read)
    (coll.root / "article_versions.sqlite").unlink()
    assert known_articles(coll) == urls and len(read) == 2  # (made again from the tables)
    read.clear()
    assert known_articles(coll) == urls and read == []


def test_a_table_a_killed_crawl_left_unmade_is_made_by_the_next_and_an_older_one_is_said(tmp_path):
    """A crawl killed after its manifest, before its extraction, left its job without an
    article table: its articles were in no dataset, and only an export said so."""
    from archive.cli import main

    room = Newsroom()
    routes = room.routes()
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "scope": {"page_requisites": False}})
        crawl(tmp_path, coll)
        second = crawl(tmp_path, coll)
        table = second.articles
        made = {p.name: p.read_bytes() for p in (table, table.with_name(f"{second.job_id}.derived.json"))}
        for name in made:
            (table.parent / name).unlink()  # (killed before its extraction)
        room.articles["story-new"] = ("A brand new story", ["Fresh news " * 50])
        routes.update(room.routes())
        third = crawl(tmp_path, coll)
        assert {name: (table.parent / name).read_bytes() for name in made} == made
        assert [json.loads(line)["url"].rsplit("/", 1)[1] for line in third.articles.read_text().splitlines()] == [
            "story-new"]
        # One whose table cannot be made (its log not what its manifest lists): said, and the
        # job's own table made all the same, crawl after crawl.
        third.articles.unlink()
        third.articles.with_name(f"{third.job_id}.derived.json").unlink()
        with open(table.parent.parent / "logs" / f"{third.job_id}.captures.jsonl", "ab") as fh:
            fh.write(b"\n")
        first_table = min(table.parent.glob("*.jsonl"))
        first_table.unlink()
        for _ in range(2):
            out, err = io.StringIO(), io.StringIO()
            assert main(["crawl", "--url", server.base + "/", "--collection", "news", "--store", str(tmp_path)],
                        out=out, err=err) == 0
            assert (f"archive crawl: warning: jobs {first_table.stem}, {third.job_id} of news have no article table: "
                    f"`archive extract --collection news --store {tmp_path}` writes every table again\n"
                    in err.getvalue()), err.getvalue()
            made = sorted(table.parent.glob("*.jsonl"))
            assert len(made) == len(list(table.parent.parent.joinpath("manifests").glob("*.json"))) - 2


def test_a_withdrawn_article_is_still_looked_at_and_its_return_is_a_version(tmp_path):
    """A 404 ended an article's recrawls for good: one back after an outage (linked from
    nowhere now) stayed withdrawn in the tables."""
    room = Newsroom()
    routes = room.routes()
    back = routes["/a/story-5"]
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "scope": {"page_requisites": False}})
        crawl(tmp_path, coll)
        del room.articles["story-5"]  # (gone from the pages, and its URL answers 404)
        routes.clear()
        routes.update(room.routes())
        crawl(tmp_path, coll)
        routes["/a/story-5"] = back  # (back, though no page links it again)
        third = crawl(tmp_path, coll)
    rows = [json.loads(line) for line in third.articles.read_text().splitlines()]
    assert [(r["url"].rsplit("/", 1)[1], r["status"], r["version"]) for r in rows] == [("story-5", "captured", 3)]


def test_an_article_whose_last_capture_is_stamped_ahead_of_now_is_due():
    # A clock that ran ahead for one job must not keep the article from being fetched
    # again until the date it wrote.
    from datetime import UTC, datetime

    from archive.history import UrlState
    from archive.recrawl import due

    policy = {"window_days": 2, "max_interval_days": 7, "backoff": 0.5}
    now = datetime(2026, 11, 27, tzinfo=UTC)
    settled = UrlState(200, "2026-11-26T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", None, None, None)
    assert not due(settled, now, policy)
    ahead = UrlState(200, "2099-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", None, None, None)
    assert due(ahead, now, policy)


def test_a_revisit_of_other_bytes_than_the_pages_latest_version_is_a_version(tmp_path):
    """A revisit gave no article row: an edit undone, an article withdrawn and back, and a
    page the same as another URL's were missing from the tables."""
    store = tmp_path / "store"
    room = Newsroom()
    edited_from = room.articles["story-1"]
    room.articles["story-twin"] = room.articles["story-0"]  # (byte for byte the same page)
    routes = room.routes()
    jobs = []
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "scope": {"page_requisites": False}})
        jobs.append(crawl(store, coll))
        room.articles["story-1"] = ("Story number 1, corrected headline", edited_from[1])
        gone = room.articles.pop("story-5")
        routes.clear()
        routes.update(room.routes())
        jobs.append(crawl(store, coll))
        room.articles["story-1"] = edited_from  # (the edit undone: the first job's bytes again)
        room.articles["story-5"] = gone
        routes.clear()
        routes.update(room.routes())
        jobs.append(crawl(store, coll))
    tables = [[json.loads(line) for line in job.articles.read_text().splitlines()] for job in jobs]
    slugs = [{r["url"].rsplit("/", 1)[1]: r for r in rows} for rows in tables]
    assert {"story-0", "story-twin"} <= set(slugs[0])
    assert slugs[0]["story-twin"]["body"] == slugs[0]["story-0"]["body"]
    assert sorted(slugs[1]) == ["story-1", "story-5"]
    assert sorted(slugs[2]) == ["story-1", "story-5"]  # (the rest unchanged: no row)
    back = slugs[2]["story-1"]
    assert (back["version"], back["headline"], back["status"]) == (3, "Story number 1 headline", "captured")
    assert back["previous_version"] == slugs[1]["story-1"]["source"]["record_id"]
    assert (slugs[2]["story-5"]["version"], slugs[2]["story-5"]["status"]) == (3, "captured")
    records, _ = read_collection(store / "news")
    kinds = {r.h("WARC-Record-ID"): r.type for r in records}
    assert kinds[back["source"]["record_id"]] == "revisit"  # (the row points at the capture, a revisit)
    assert kinds[slugs[2]["story-5"]["source"]["record_id"]] == "revisit"
    for job in jobs:
        derived = json.loads(job.articles.with_suffix(".derived.json").read_text())
        assert derived["revisits_without_original"] == 0
    assert verify(store).ok
    made = [job.articles.read_bytes() for job in jobs]
    assert main(["extract", "--store", str(store), "--collection", "news"]) == 0
    assert [job.articles.read_bytes() for job in jobs] == made  # (the tables, made again, the same)
    # An export's reader gives each row's payload, a revisit's from its original.
    import base64
    import hashlib

    import archive.dataset
    from archive.export import export_dataset

    export_dataset(store, "news", tmp_path / "out")
    with archive.dataset.open(tmp_path / "out") as ds:
        rows = {(r["url"].rsplit("/", 1)[1], r["version"]): r for r in ds.articles()}
        for row in rows.values():
            if row["status"] != "captured":
                continue
            body = ds.payload_record(row).http_response.partition(b"\r\n\r\n")[2]
            assert "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode() == row["source"]["payload_digest"]
            assert row["headline"].encode() in ds.raw_response(row)
        assert ds.record(rows["story-1", 3]).headers["WARC-Type"] == "revisit"
        assert ds.payload_record(rows["story-1", 3]).headers["WARC-Record-ID"] == \
            rows["story-1", 1]["source"]["record_id"]


def test_a_print_view_of_an_article_makes_no_version_of_it(tmp_path):
    """The print page's rel=canonical names the article's page; their texts differ a little.
    Each crawl of both made each a version of the other, edits that never were."""
    from newsroom import article_html

    headline, paragraphs = "Bridge opens", ["The council opened the bridge today. " * 12] * 4
    page = article_html("bridge", headline, paragraphs)
    printed = article_html("bridge", headline, [*paragraphs, "Printed from the web site of the Daily Test."])
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n")}
    store = tmp_path / "store"
    with serve_wire(routes) as server:
        canonical = f'<link rel="canonical" href="{server.base}/a/bridge">'.encode()
        html = [("Content-Type", "text/html; charset=utf-8")]
        # (the print view linked first, so met first)
        routes["/"] = response("200 OK", html, b"<html><body><a href='/print/bridge'>print</a> "
                                                b"<a href='/a/bridge'>story</a></body></html>")
        routes["/a/bridge"] = response("200 OK", html, page.replace(b"</head>", canonical + b"</head>"))
        routes["/print/bridge"] = response("200 OK", html, printed.replace(b"</head>", canonical + b"</head>"))
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "scope": {"page_requisites": False},
                                     "politeness": {"concurrency_per_host": 1}})
        jobs = [crawl(store, coll), crawl(store, coll)]
    rows = [[json.loads(line) for line in job.articles.read_text().splitlines()] for job in jobs]
    assert [(r["url"].removeprefix(server.base), r["version"]) for r in rows[0]] == [("/a/bridge", 1)]
    assert rows[1] == []


def test_an_articles_own_page_met_after_its_print_view_in_one_job_stands_in_its_place():
    from archive.extract import _add_version

    def row(url: str, record: str, body: str) -> dict:
        return {"article_id": "a" * 40, "url": url, "canonical_url": "http://site.test/a", "headline": "H",
                "authors": [], "published": None, "modified": None, "language": None, "section": None,
                "description": None, "image": None, "inferred": [], "body": body, "word_count": 2,
                "status": "captured", "job_id": "j",
                "source": {"warc_filename": "x.warc.gz", "warc_offset": 0, "warc_length": 1, "record_id": record,
                           "payload_digest": "sha1:" + "A" * 32, "capture_time": "2026-03-01T00:00:00Z"},
                "extractor": {"name": "archive-extract", "version": "0", "body": "t", "inferred": "t"}}

    prior: dict = {}
    rows: list = []
    assert _add_version(row("http://site.test/print/a", "<urn:p>", "text printed"), prior, rows)
    assert _add_version(row("http://site.test/a", "<urn:a>", "text"), prior, rows)
    assert [(r["url"], r["version"], r["previous_version"]) for r in rows] == [("http://site.test/a", 1, None)]
    assert not _add_version(row("http://site.test/print/a", "<urn:p2>", "text printed again"), prior, rows)
    assert len(rows) == 1 and prior["a" * 40].record_id == "<urn:a>"


def test_a_304_to_a_capture_that_made_no_version_is_not_read_again(tmp_path, monkeypatch):
    """A page whose bytes change from crawl to crawl, its text not: the 304 after such a
    change refers to a capture that made no version, whose text is the latest version's."""
    from newsroom import article_html

    import archive.extract

    store = tmp_path / "store"
    room = Newsroom()
    room.articles = {"story-0": room.articles["story-0"]}
    routes = room.routes()
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "scope": {"page_requisites": False}})
        first = crawl(store, coll)
        # New bytes, the same text (a word of the layout's comment changed): no version.
        changed = article_html("story-0", *room.articles["story-0"]).replace(b"layout", b"layouts", 1)
        routes["/a/story-0"] = room._article("story-0", changed)
        second = crawl(store, coll)
        read: list[str] = []
        real = archive.extract.article_row
        monkeypatch.setattr(archive.extract, "article_row", lambda c, j: read.append(c.url) or real(c, j))
        third = crawl(store, coll)  # (a 304 to the second's validators: a revisit of its capture)
    assert [json.loads(line)["version"] for line in first.articles.read_text().splitlines()] == [1]
    assert second.articles.read_text() == "" and third.articles.read_text() == ""
    _, lines = read_collection(store / "news")
    story = [line for line in lines if line["url"].endswith("/a/story-0") and line["job_id"] == third.job_id]
    assert story and story[0]["status"] == 304
    assert server.base + "/a/story-0" not in read  # (its revisit passed over, not extracted again)


def test_a_revisit_of_a_page_that_gave_no_article_is_not_extracted_again(tmp_path, monkeypatch):
    """The home page lists the stories and is no article: a recrawl that finds it unchanged
    does not run the extractor on it again, nor reads its original back."""
    import archive.extract

    store = tmp_path / "store"
    room = Newsroom()
    room.articles = {"story-0": room.articles["story-0"]}
    with serve_wire(room.routes()) as server:
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "scope": {"page_requisites": False}})
        crawl(store, coll)
        read: list[str] = []
        real = archive.extract.article_row
        monkeypatch.setattr(archive.extract, "article_row", lambda c, j: read.append(c.url) or real(c, j))
        second = crawl(store, coll)
    _, lines = read_collection(store / "news")
    home = [line for line in lines if line["url"] == server.base + "/" and line["job_id"] == second.job_id]
    assert home and home[0]["revisit"] is not None  # (the same bytes again)
    assert server.base + "/" not in read
    assert second.articles.read_text() == ""
    # Where an earlier job has no table, its captures were never extracted: read them.
    from archive.extract import extract_job
    from archive.store import CollectionDir

    manifest = json.loads(next((store / "news" / "manifests").glob(f"{second.job_id}.json")).read_text())
    extract_job(CollectionDir(store / "news"), manifest, earlier_whole=False)
    assert server.base + "/" in read


def test_jobs_of_a_version_that_made_no_article_tables_get_them_and_are_said_so_truly(tmp_path, caplog):
    # A store of a version that extracted nothing has no articles/ folder at all: its jobs
    # finished, and were not stopped before an extraction they never had.
    import logging
    import shutil

    room = Newsroom()
    with serve_wire(room.routes()) as server:
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "scope": {"page_requisites": False}})
        first = crawl(tmp_path, coll)
        shutil.rmtree(first.articles.parent)
        with caplog.at_level(logging.WARNING, logger="archive.extract"):
            crawl(tmp_path, coll)
    said = [r.getMessage() for r in caplog.records if first.job_id in r.getMessage()]
    assert said == [(f"job {first.job_id} has no article table (its crawl stopped before the extraction, or was "
                     "run by a version that made none): made now")]
    assert first.articles.is_file() and verify(tmp_path).ok


def test_a_known_article_linked_in_another_spelling_of_its_escapes_is_fetched_as_first_spelt_and_stays_one(tmp_path):
    """A site's links write "/a/%7Eed/story" one week and "/a/~ed/story" the next (and
    "%7e" after that): one URL, fetched as the collection first met it, with the validators
    of its last capture, its 304 a revisit of it, and one article (each spelling made one)."""
    from newsroom import article_html

    store = tmp_path / "store"
    room = Newsroom()
    story = room._article("story", article_html("story", "Harbour bridge reopens", ["The bridge reopened. " * 40]))
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/a/%7Eed/story": story, "/a/~ed/story": story, "/a/%7eed/story": story}
    # (not due for a re-fetch: a page that links it is what brings it back)
    coll = {"name": "news", "scope": {"page_requisites": False},
            "recrawl": {"window_days": 0, "backoff": 1000, "max_interval_days": 30}}
    jobs = []
    with serve_wire(routes) as server:
        for spelling in ("%7Eed", "~ed", "%7eed"):
            routes["/"] = response("200 OK", [("Content-Type", "text/html")],
                                   f"<html><body><a href='/a/{spelling}/story'>Bridge</a></body></html>".encode())
            jobs.append(crawl(store, collection_from_dict({**coll, "urls": [server.base + "/"]})))
    records, lines = read_collection(store / "news")
    pages = [line for line in lines if "/story" in line["url"]]
    assert [(line["url"].removeprefix(server.base), line["status"], line["url_as_linked"]) for line in pages] == [
        ("/a/%7Eed/story", 200, None), ("/a/%7Eed/story", 304, server.base + "/a/~ed/story"),
        ("/a/%7Eed/story", 304, server.base + "/a/%7eed/story")]
    first = pages[0]["warc"]["record_id"]
    for line in pages[1:]:
        record = _record({"records": records}, line)
        assert (record.type, record.h("WARC-Profile"), record.h("WARC-Refers-To")) == (
            "revisit", PROFILE_NOT_MODIFIED, first)
    assert [len(job.articles.read_text().splitlines()) for job in jobs] == [1, 0, 0]
