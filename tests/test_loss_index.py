"""A WARC gone for good whose loss is stated: `archive index` and each job's end leave its
captures out, and say so once, and replay answers them as not archived; a WARC gone without
a statement (or with one of other bytes) is a failure of `archive index`, as before."""

from __future__ import annotations

import io
import json
import logging
import sqlite3

import pytest
from replay_helpers import SECOND, SITE, Clock, fetch, get, two_jobs

from archive.cli import main
from archive.config import one_off
from archive.index import lookup_url, update_indexes
from archive.index.cdxj import index_name
from archive.index.merged import merged_files
from archive.job import CaptureJob
from archive.replay import serve_in_thread
from archive.store import collection_dir


@pytest.fixture
def store(tmp_path):
    """Collection ``news`` of two jobs, indexed; the first job's WARC (/story's first
    version, /zipped, /moved, and the original of the revisits /same and /copy) deleted."""
    two_jobs(tmp_path)
    coll = collection_dir(tmp_path, "news")
    update_indexes(coll)
    min(coll.warcs.glob("*.warc.gz")).unlink()
    return tmp_path


def _first_warc(coll):
    """The first job's WARC, which the fixture deleted."""
    return min(f["path"].rsplit("/", 1)[-1] for m in coll.manifests.glob("*.json")
               for f in json.loads(m.read_text())["files"] if f["kind"] == "warc")


def _state_loss(coll, name):
    assert main(["verify", str(coll.root), "--accept-loss", f"warcs/{name}", "--reason", "the disk failed"],
                out=io.StringIO()) == 0


def _stated(coll):
    """The first job's WARC, stated lost: its name, its statement's path, and the statement."""
    name = _first_warc(coll)
    _state_loss(coll, name)
    statement = coll.root / "lost" / f"{name}.json"
    return name, statement, json.loads(statement.read_text())


def _indexed_files(coll) -> set[str]:
    """The WARCs the merged index and the catalog have captures of."""
    merged = {json.loads(line.split(b" ", 2)[2])["filename"] for path in merged_files(coll)
              for line in path.read_bytes().splitlines()}
    with sqlite3.connect(coll.root / "catalog.sqlite") as db:
        catalog = {row[0] for row in db.execute("SELECT filename FROM captures UNION SELECT filename FROM pages")}
    return merged | catalog


def test_archive_index_leaves_a_warc_stated_lost_out_says_so_in_one_line_and_succeeds(store, caplog):
    coll = collection_dir(store, "news")
    name = _first_warc(coll)
    out, err = io.StringIO(), io.StringIO()
    assert main(["index", "--store", str(store)], out=out, err=err) == 1  # (not stated: as before, and what to do)
    assert err.getvalue() == (
        f"archive index: {coll.warcs / name} is listed in a manifest but not in the store, nor pushed by `archive "
        f"push --delete-local`: restore it, or, if it is gone for good, state its loss (`archive verify {coll.root} "
        f"--accept-loss warcs/{name} --reason TEXT`); its index, if it had one, is left as it was\n")
    assert (coll.indexes / index_name(coll.warcs / name)).is_file() and name in _indexed_files(coll)

    _state_loss(coll, name)
    for _ in range(2):  # (said at every run, in one line; nothing else)
        out, err = io.StringIO(), io.StringIO()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert main(["index", "--store", str(store)], out=out, err=err) == 0
        assert err.getvalue() == "" and not [r for r in caplog.records if r.levelno >= logging.WARNING]
        lines = out.getvalue().splitlines()
        assert len(lines) == 2 and "news: 1 WARC indexed" in lines[0] and "(3 captures)" in lines[0]
        assert lines[1].startswith(f"news: warcs/{name} stated lost on ") and lines[1].endswith(
            ": the disk failed; its captures are left out of the indexes and the catalog")
        assert not (coll.indexes / index_name(coll.warcs / name)).exists()
        assert not list(coll.indexes.glob(f"{index_name(coll.warcs / name)}*"))
        assert _indexed_files(coll) == {max(p.name for p in coll.warcs.glob("*.warc.gz"))}
    assert lookup_url(coll, SITE + "/zipped") == [] and [e.timestamp for e in lookup_url(coll, SITE + "/story")] == [
        "20260305120000"]


def test_a_statement_of_other_bytes_leaves_the_index_failing_as_before(store):
    coll = collection_dir(store, "news")
    name, statement, doc = _stated(coll)
    statement.write_text(json.dumps({**doc, "size": doc["size"] + 1}))
    err = io.StringIO()
    assert main(["index", "--store", str(store)], out=io.StringIO(), err=err) == 1
    assert "is listed in a manifest but not in the store" in err.getvalue()
    assert (coll.indexes / index_name(coll.warcs / name)).is_file() and name in _indexed_files(coll)


def test_a_warc_stated_lost_is_found_through_the_manifest_its_statement_names_or_else_any(store):
    from archive.index import stated_lost

    coll = collection_dir(store, "news")
    name, statement, doc = _stated(coll)
    assert list(stated_lost(coll)) == [name]
    # (a statement whose manifest is named otherwise, or not at all: the manifests are read for it)
    for listed_by in ({"manifest": "manifests/news-nothing.json"}, None, {"manifest": "../../etc/passwd"}):
        statement.write_text(json.dumps({**doc, "listed_by": listed_by}))
        assert list(stated_lost(coll)) == [name], listed_by
    # (and one naming a manifest that lists other bytes at that path excuses nothing)
    statement.write_text(json.dumps({**doc, "sha256": "sha256:" + "0" * 64}))
    assert stated_lost(coll) == {}


def test_each_job_ending_after_a_loss_is_stated_leaves_its_captures_out_without_a_word(store, caplog):
    coll = collection_dir(store, "news")
    name = _first_warc(coll)
    _state_loss(coll, name)
    for day in (7, 8):  # (the update each job's end runs, as the crawl runs it)
        when = SECOND.replace(day=day)
        job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
        job.record_fetch(fetch(f"{SITE}/day{day}", b"<title>later</title>", when))
        job.close()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert update_indexes(coll).unindexed == []
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [e.url for e in lookup_url(coll, f"{SITE}/day{day}")] == [f"{SITE}/day{day}"]
        assert lookup_url(coll, SITE + "/zipped") == [] and name not in _indexed_files(coll)


def _page(base, target):
    status, _, body = get(base, target)
    return status, body.decode("utf-8", "replace")


@pytest.mark.parametrize("indexed", [True, False], ids=["after-archive-index", "indexes-not-yet-updated"])
def test_replay_answers_captures_of_a_warc_stated_lost_as_not_found_naming_the_loss(store, indexed):
    coll = collection_dir(store, "news")
    name = _first_warc(coll)
    if indexed:
        _state_loss(coll, name)
        assert main(["index", "--store", str(store)], out=io.StringIO()) == 0
    with serve_in_thread(store) as base:
        if not indexed:  # (stated while a replay server serves: its merged index still lists the captures)
            _state_loss(coll, name)
            assert name in _indexed_files(coll)
        for target in ("/news/2026id_/http://news.test/zipped", "/news/2026/http://news.test/moved",
                       "/news/*/http://news.test/zipped"):
            status, page = _page(base, target)
            assert status == 404 and "<h1>Not in the archive</h1>" in page, target
            assert (f"A capture of it may have been in warcs/{name}, whose captures are found no more: that WARC was "
                    "stated lost on ") in page, target
            assert ": the disk failed.</p>" in page, target
        # Also captured by the second job: served from there, whatever time is asked for.
        assert get(base, "/news/20260301id_/http://news.test/story")[::2] == (
            200, b"<html><body><p>second version</p></body></html>")
        for target in ("/news/2026/http://news.test/same", "/news/2026id_/http://news.test/copy",
                       "/news/2026prov_/http://news.test/same"):
            status, page = _page(base, target)
            assert status == 404 and "<h1>Not in the archive</h1>" in page, target
            assert (f"Only captures whose original could not be found exist. The original may have been in "
                    f"warcs/{name}, stated lost on ") in page and ": the disk failed." in page, target
