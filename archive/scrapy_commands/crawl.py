"""``scrapy crawl`` that exits 1 when capture failed (see the package)."""

from __future__ import annotations

from scrapy.commands.crawl import Command as ScrapyCrawl

from archive.scrapy_commands import ExitsOnCaptureFailure


class Command(ExitsOnCaptureFailure, ScrapyCrawl):
    def short_desc(self) -> str:
        return "Run a spider of the current project, by name (exit 1 if capture failed)"
