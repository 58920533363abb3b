"""``archive demo``: serve the bundled news site on 127.0.0.1, crawl it, verify the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.config import collection_from_dict
from archive.crawl import CrawlResult, crawl
from archive.demo.server import serve
from archive.demo.site import DemoSite
from archive.store import FLOOR_FIXED
from archive.verify import Report, verify

DEMO_COLLECTION = "demo"


@dataclass
class DemoResult:
    site_url: str
    articles: int
    crawl: CrawlResult
    verify: Report


# The demo writes about 2 MB: it needs nowhere near a crawl's default floor of free space
# (256 MiB), and has no option to lower it.
DEMO_MIN_FREE_BYTES = 32 << 20


def run_demo(store: Path, *, progress: Callable[[dict[str, Any]], None] | None = None,
             n_articles: int = 50) -> DemoResult:
    site = DemoSite(n_articles=n_articles)
    with serve(site, host="127.0.0.1", port=0) as base_url:
        collection = collection_from_dict(
            {"name": DEMO_COLLECTION, "urls": [base_url + "/"], "feeds": [base_url + "/feed.xml"],
             "sitemaps": [base_url + "/sitemap.xml"], "politeness": {"concurrency_per_host": 8},
             "caps": {"min_free_bytes": DEMO_MIN_FREE_BYTES}},
            where="demo",
        )
        # (and no option to lower it: the advice is to free space or crawl elsewhere)
        result = crawl(store, collection, progress=progress, overrides={"ARCHIVE_FLOOR_LOWERED_BY": FLOOR_FIXED})
    return DemoResult(base_url, len(site.articles), result, verify(store / DEMO_COLLECTION))
