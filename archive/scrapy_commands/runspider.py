"""``scrapy runspider`` that exits 1 when capture failed (see the package)."""

from __future__ import annotations

from scrapy.commands.runspider import Command as ScrapyRunSpider

from archive.scrapy_commands import ExitsOnCaptureFailure


class Command(ExitsOnCaptureFailure, ScrapyRunSpider):
    def short_desc(self) -> str:
        return "Run the spider of a Python file (exit 1 if capture failed)"
