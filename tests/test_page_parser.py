"""Pages parsed for their links in a process of their own (crawler.page_parser): the same
answers as parsing in the crawl process, and nothing lost when that process is not there.

Real processes: the child is ``python -m crawler.page_parser``, reached through pipes from
an asyncio loop; the crawls are real crawls of the demo site on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_links import LINKS_EXPECTED, LINKS_PAGE, REQUISITES_PAGE

from archive.config import collection_from_dict
from archive.crawl import crawl
from archive.demo import DemoSite, serve
from archive.links import html_bytes
from crawler import page_parser
from crawler.page_parser import PageParser, ParserGone, hrefs

PAGES = [
    html_bytes(LINKS_PAGE, LINKS_PAGE.encode(), "utf-8"),
    html_bytes(REQUISITES_PAGE, REQUISITES_PAGE.encode(), "utf-8"),
    html_bytes("<html><body><a href='/caf\u00e9'>\u00e9</a><img srcset='a.png 1x, b.png 2x'></body></html>",
               None, "cp1252"),
    b"",  # an empty page
    b"<a href=x>" * 20000,  # larger than a pipe's default buffer
]


async def _ready(parser: PageParser) -> None:
    parser.start()
    for _ in range(500):
        if parser._send is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the page parser did not connect")


def test_the_child_finds_what_the_crawl_process_finds() -> None:
    async def run() -> list[Any]:
        parser = PageParser()
        await _ready(parser)
        try:
            # All sent at once: the answers come back to the page that asked.
            answers = await asyncio.gather(*(parser.hrefs(page) for page in PAGES),
                                           parser.hrefs(PAGES[0], links=False), parser.hrefs(PAGES[1], requisites=False))
            return list(answers)
        finally:
            await parser.close()

    answers = asyncio.run(run())
    assert answers[: len(PAGES)] == [hrefs(page, True, True) for page in PAGES]
    assert answers[0][0] == LINKS_EXPECTED and answers[1][1]  # the pages really have links and requisites
    assert answers[len(PAGES)] == ([], *hrefs(PAGES[0], True, True)[1:])
    assert answers[len(PAGES) + 1] == (hrefs(PAGES[1], True, True)[0], [], hrefs(PAGES[1], True, True)[2], False)


def test_before_it_is_ready_and_after_it_is_gone_pages_are_parsed_here(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> tuple[list[str], int]:
        parser = PageParser()
        with pytest.raises(ParserGone, match="not ready"):
            await parser.hrefs(PAGES[0])
        await _ready(parser)
        assert await parser.hrefs(PAGES[0]) == hrefs(PAGES[0], True, True)
        assert parser._proc is not None
        pid = parser._proc.pid
        os.kill(pid, signal.SIGKILL)
        waiting = asyncio.ensure_future(parser.hrefs(PAGES[1]))
        reasons = []
        for attempt in (waiting, parser.hrefs(PAGES[0])):
            with pytest.raises(ParserGone) as gone:
                await asyncio.wait_for(attempt, 10)
            reasons.append(str(gone.value))
        await parser.close()
        return reasons, pid

    with caplog.at_level(logging.WARNING, logger="crawler.page_parser"):
        reasons, pid = asyncio.run(run())
    assert all("page parser" in reason for reason in reasons), reasons
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "parsed in the crawl process" in said[0], said  # said once
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped


def test_closing_ends_the_child_and_without_a_loop_there_is_none() -> None:
    async def run() -> int:
        parser = PageParser()
        await _ready(parser)
        assert parser._proc is not None
        proc = parser._proc
        await parser.close()
        assert proc.returncode == 0  # it ended by itself, at the end of its input
        with pytest.raises(ParserGone, match="closed"):
            await parser.hrefs(PAGES[0])
        return proc.pid

    asyncio.run(run())
    parser = PageParser()
    parser.start()  # no running loop
    assert parser._proc is None and parser._gone == "no asyncio loop"


def test_a_child_that_sends_garbage_or_sits_on_a_page_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_parser, "PAGE_SECONDS", 0.4)

    async def run() -> list[Any]:
        results = []
        for trouble in ("garbage", "stuck"):
            parser = PageParser()
            await _ready(parser)
            assert parser._proc is not None
            proc = parser._proc
            if trouble == "garbage":  # as if a start-up script printed to the replies' pipe
                replies = parser._receive.get_protocol()  # type: ignore[union-attr]
                replies.data_received(b"Welcome to Python!\n" * 3)
                waiting = asyncio.ensure_future(parser.hrefs(PAGES[0]))
            else:
                os.kill(proc.pid, signal.SIGSTOP)
                waiting = asyncio.ensure_future(parser.hrefs(PAGES[0]))
            with pytest.raises(ParserGone) as gone:
                await asyncio.wait_for(waiting, 10)
            results.append((trouble, str(gone.value), proc.wait(timeout=10)))
            await parser.close()
        return results

    results = asyncio.run(run())
    assert [trouble for trouble, _, _ in results] == ["garbage", "stuck"]
    assert "not a reply" in results[0][1] and "unanswered" in results[1][1]
    assert all(code == -signal.SIGKILL for _, _, code in results)  # stopped, not left running


def test_one_core_gets_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not page_parser.worth_it()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert page_parser.worth_it()


def test_a_crawl_finds_the_same_pages_with_and_without_the_child(tmp_path: Path) -> None:
    site = DemoSite(n_articles=40, seed=3)
    found: dict[str, Any] = {}
    with serve(site, host="127.0.0.1", port=0) as url:
        for mode, overrides in (("child", {}), ("here", {"ARCHIVE_PARSE_PROCESS": False})):
            store = tmp_path / mode
            coll = collection_from_dict({"name": "t", "urls": [url + "/"], "feeds": [url + "/feed.xml"],
                                         "scope": {"max_depth": 3}})
            result = crawl(store, coll, overrides={"RETRY_TIMES": 0, **overrides}, extract=False)
            lines = [json.loads(line) for line in (store / "t" / "logs" / f"{result.job_id}.captures.jsonl").open()]
            crawl_log = (store / "t" / "logs" / f"{result.job_id}.crawl.log").read_text()
            # Which way a page was first reached (link or sitemap, at what depth) may differ:
            # links now come back a little later, and the crawl's order is not fixed anyway.
            found[mode] = {
                "captures": Counter((line["url"], line["outcome"], line.get("status")) for line in lines),
                "said": re.findall(r"page parser: (\d+) pages parsed in its process, (\d+) in the crawl process",
                                   crawl_log),
                "trouble": "pages are parsed in the crawl process from now on" in crawl_log,
            }
    assert found["child"]["captures"] == found["here"]["captures"]
    assert sum(found["child"]["captures"].values()) > 60  # articles, sections, requisites
    [(there, here)] = found["child"]["said"]
    assert int(there) > 40 and int(here) < 10  # the child did the parsing (bar the first pages)
    assert found["here"]["said"] == [] and not found["child"]["trouble"]
