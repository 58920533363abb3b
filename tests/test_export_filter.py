"""`archive export --from/--to/--host`: a --host that is no scope entry is refused, and an
export that selects nothing says which filter, and what the collection has."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from test_export import _article, _job

from archive.cli import main
from archive.config import collection_from_dict
from archive.errors import ConfigError
from archive.extract import extract_collection
from archive.job import CaptureJob

NOT_A_HOST = "is not a host (*.host for its subdomains too), an IPv6 address bare or in brackets, and :port if one only"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = tmp_path_factory.mktemp("ds")
    _job(store, 1, {"/a/1": _article(1)})
    _job(store, 4, {"http://127.0.0.1:8131/a/2": _article(2)}, seed="http://127.0.0.1:8131/")
    extract_collection(store, "ds")
    return store


def _export(store, out, *more):
    return main(["export", "--store", str(store), "--collection", "ds", "--out", str(out), *more])


@pytest.mark.parametrize("host", ["*", "*.", "127.0.0.1:abc", "http://127.0.0.1/", "a b"])
def test_a_host_that_is_no_allow_hosts_entry_is_a_usage_error_naming_it(store, tmp_path, capsys, host):
    # (each was taken, and matched nothing: "no captures match the filter")
    assert _export(store, tmp_path / "out", "--host", host) == 2
    assert capsys.readouterr().err == f"archive export: error: --host {host!r} {NOT_A_HOST}\n"
    assert not (tmp_path / "out").exists()
    # The crawl's scope says the same of it: one check for both.
    with pytest.raises(ConfigError, match=re.escape(f"scope.allow_hosts[0]: {host!r} {NOT_A_HOST}")):
        collection_from_dict({"name": "x", "urls": ["http://127.0.0.1/"], "scope": {"allow_hosts": [host]}})


@pytest.mark.parametrize("host", ["::1", "::ffff:127.0.0.1", "[::1]:8131", "127.0.0.1:8131", "*.example.org"])
def test_the_allow_hosts_entries_of_addresses_and_domains_are_still_taken(host):
    collection_from_dict({"name": "x", "urls": ["http://127.0.0.1/"], "scope": {"allow_hosts": [host]}})


@pytest.mark.parametrize(("more", "named"), [
    (["--host", "other.test"], "--host other.test"),
    (["--host", "127.0.0.1:8132"], "--host 127.0.0.1:8132"),
    (["--from", "2030-01-01", "--to", "2030-02-01"], "--from 2030-01-01 --to 2030-02-01"),
    (["--from", "2026-03-04", "--host", "news.test"], "--from 2026-03-04 --host news.test"),
])
def test_a_filter_that_matches_nothing_is_named_with_the_days_and_hosts_the_collection_has(store, tmp_path, capsys,
                                                                                           more, named):
    assert _export(store, tmp_path / "out", *more) == 2
    assert capsys.readouterr().err == (f"archive export: error: no captures match {named}; nothing to export "
                                       "(collection 'ds' has captures from 2026-03-01 to 2026-03-04, of "
                                       "news.test, 127.0.0.1:8131)\n")
    assert not (tmp_path / "out").exists()


def test_a_collection_without_captures_says_so_not_that_a_filter_matched_nothing(tmp_path, capsys):
    moment = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    job = CaptureJob(tmp_path / "store", collection_from_dict({"name": "ds", "urls": ["http://news.test/"]}),
                     clock=lambda: moment + timedelta(seconds=1))
    job.close()  # (every fetch failed, say: no response recorded)
    extract_collection(tmp_path / "store", "ds")
    assert _export(tmp_path / "store", tmp_path / "out") == 2
    assert capsys.readouterr().err == ("archive export: error: collection 'ds' has no captures (its jobs recorded no "
                                       "response); nothing to export\n")
    assert not (tmp_path / "out").exists()


def test_the_datasheet_counts_articles_apart_from_rows_and_says_which_earlier_versions_are_not_in_it(tmp_path,
                                                                                                    capsys):
    # Rows were counted as articles, and a filter's rows whose previous_version was left
    # out of the export named a record it does not hold, unsaid.
    store = tmp_path / "store"
    _job(store, 1, {f"/a/{i}": _article(i) for i in range(3)})
    _job(store, 5, {"/a/0": _article(0, " (updated)"), "/a/1": (404, b"gone"), "/a/2": _article(2)})
    extract_collection(store, "ds")
    capsys.readouterr()
    assert _export(store, tmp_path / "all") == 0
    # (and so does the command's first line, which said "5 articles")
    assert capsys.readouterr().out.startswith("Exported 6 captures and 3 articles (5 rows: versions, withdrawals) to ")
    sheet = (tmp_path / "all" / "DATASHEET.md").read_text()
    assert ("- Articles (by `article_id`): 3, in 5 rows of `articles.jsonl` /\n  `articles.parquet`, each row one "
            "version (1 of them a withdrawal: the page answered 404 or 410)\n") in sheet
    assert _export(store, tmp_path / "day5", "--from", "2026-03-05") == 0
    sheet = (tmp_path / "day5" / "DATASHEET.md").read_text()
    assert ("- Articles (by `article_id`): 2, in 2 rows of `articles.jsonl` /\n  `articles.parquet`, each row one "
            "version (1 of them a withdrawal: the page answered 404 or 410);\n  2 rows name as `previous_version` "
            "a version this export does not hold (captured outside\n  its filter, or in a file stated lost)\n") in sheet


def test_the_datasheet_counts_the_pages_captured_that_are_no_article(tmp_path):
    # A paywall's teaser and a list of articles were captured and gave no row, and nothing
    # in the dataset said so.
    teaser = b"<html><head><title>Where the money went</title></head><body><h1>Where the money went</h1>" \
             b"<p>For months the board refused to say.</p><p>Subscribe to continue reading.</p></body></html>"
    store = tmp_path / "store"
    _job(store, 1, {"/a/0": _article(0), "/a/1": _article(1), "/paid": teaser,
                    "/": b"<html><body><a href='/a/0'>0</a></body></html>", "/gone": (404, b"gone")})
    # Day 5: story 0 unchanged (its row is day 1's: an article still, not a page without one).
    _job(store, 5, {"/a/0": _article(0), "/paid": teaser})
    extract_collection(store, "ds")
    line = "- HTML pages captured (2xx) that are no article of the collection: {} (home, section and\n"
    assert _export(store, tmp_path / "all") == 0
    assert line.format(2) in (tmp_path / "all" / "DATASHEET.md").read_text()
    assert _export(store, tmp_path / "day5", "--from", "2026-03-05") == 0
    assert line.format(1) in (tmp_path / "day5" / "DATASHEET.md").read_text()
