"""GcFreeze: sets aside what is alive when the crawl starts, out of the collector's way.

Python's cyclic garbage collector walks every tracked object in a full collection, and a
crawl allocates fast enough to trigger collections all the time. What exists when the
spider opens (modules, settings, the spider, a collection's history) lives as long as the
process; ``gc.freeze()`` moves it to a permanent generation, so collections only look at
what the crawl creates. On the benchmark site this took about 7 % off the crawl process's
CPU (docs/performance.md). Raising the collector's thresholds instead was slower, and at
the time let memory balloon (pages were then held in a reference cycle; no longer).

Setting: ``ARCHIVE_GC_FREEZE`` (default True).
"""

from __future__ import annotations

from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from archive.runtime import freeze_heap


class GcFreeze:
    def __init__(self, crawler: Crawler):
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GcFreeze:
        if not crawler.settings.getbool("ARCHIVE_GC_FREEZE", True):
            raise NotConfigured
        return cls(crawler)

    def spider_opened(self, spider: Any = None) -> None:
        freeze_heap()
