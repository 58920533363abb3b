"""Scrapy commands that know of capture: ``COMMANDS_MODULE = "archive.scrapy_commands"`` in
a project's settings puts them in place of Scrapy's own of the same name.

Scrapy's ``crawl`` and ``runspider`` exit 0 whatever the spider's finish reason, once the
crawl has started. A crawl whose capture failed (its worker died, a file could not be
written) has fetched pages that are not on record, or has no manifest, and a scheduler that
looks at the exit code should know: these exit 1 then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.job import capture_fell_short

if TYPE_CHECKING:
    import argparse

    from scrapy.crawler import Crawler


class ExitsOnCaptureFailure:
    """Mixed into a command that runs spiders: exit 1 when capture fell short."""

    exitcode: int
    _crawlers: list[Crawler]

    def _create_crawler(self, spidercls: Any) -> Crawler:
        crawler = super()._create_crawler(spidercls)  # type: ignore[misc]
        self._crawlers.append(crawler)  # (the process forgets its crawlers as they end)
        return crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        self._crawlers = []
        super().run(args, opts)  # type: ignore[misc]
        if any(capture_fell_short(crawler) for crawler in self._crawlers):
            self.exitcode = 1
