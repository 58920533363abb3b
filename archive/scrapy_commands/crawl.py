"""``scrapy crawl`` that exits 1 when capture failed.

Scrapy's own exits 0 whatever the spider's finish reason, once the crawl has started. A
crawl whose capture failed (its worker died, a file could not be written) has fetched
pages that are not on record, or has no manifest, and a scheduler that looks at the exit
code should know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.commands.crawl import Command as ScrapyCrawl

from crawler.job import capture_fell_short

if TYPE_CHECKING:
    import argparse

    from scrapy.crawler import Crawler


class Command(ScrapyCrawl):
    def short_desc(self) -> str:
        return "Run a spider of the current project, by name (exit 1 if capture failed)"

    def _create_crawler(self, spidercls: Any) -> Crawler:
        crawler = super()._create_crawler(spidercls)
        self._crawlers.append(crawler)  # (the process forgets its crawlers as they end)
        return crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        self._crawlers: list[Crawler] = []
        super().run(args, opts)
        if any(capture_fell_short(crawler) for crawler in self._crawlers):
            self.exitcode = 1
