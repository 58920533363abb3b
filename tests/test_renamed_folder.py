"""A collection's folder renamed by hand: its manifests, records and logs still name the
collection they were written under. verify says so, and no job chains onto them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from jobs import Clock, run_job

from archive.config import one_off
from archive.crawl import crawl
from archive.errors import CrawlError
from archive.verify import verify


@pytest.fixture
def renamed(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    clock = Clock()
    run_job(store, 3, clock)
    run_job(store, 2, clock)
    assert verify(store / "news").ok
    (store / "news").rename(store / "world")
    return store


def test_verify_says_a_folder_holds_another_collections_manifests(renamed: Path) -> None:
    report = verify(renamed / "world")
    said = [p.message for p in report.problems]
    assert not report.ok and len(said) == 1, said
    assert said[0].startswith("holds the manifests of collection 'news', whose records name it too, not of 'world'")
    done = subprocess.run([sys.executable, "-m", "archive", "verify", str(renamed / "world")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "a folder renamed by hand? Name it 'news' again" in done.stdout + done.stderr


def test_a_crawl_into_a_renamed_folder_starts_no_job(renamed: Path) -> None:
    before = sorted(p.name for p in (renamed / "world").rglob("*"))
    with pytest.raises(CrawlError, match=r"not started: .*world holds the manifests of collection 'news'"):
        crawl(renamed, one_off("world", urls=["http://127.0.0.1:9/"]), extract=False)
    assert sorted(p.name for p in (renamed / "world").rglob("*")) == before


def test_a_collection_whose_name_starts_another_is_not_taken_for_it(tmp_path: Path) -> None:
    # `news-uk` jobs are named news-uk-<time>-<token>: of collection news-uk, not news.
    store = tmp_path / "store"
    run_job(store, 2, Clock())
    (store / "news").rename(store / "news-uk")
    assert verify(store / "news-uk").problems[0].message.startswith("holds the manifests of collection 'news',")
    (store / "news-uk").rename(store / "new")
    assert verify(store / "new").problems[0].message.startswith("holds the manifests of collection 'news',")
