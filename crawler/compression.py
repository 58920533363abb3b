"""Content-encoded bodies decoded for the spider within a bound of their own.

Scrapy inflates a gzip, deflate, brotli or zstd body up to ``DOWNLOAD_MAXSIZE`` (1 GiB by
default, and no bound at all when a collection caps bodies itself, see
``archive.crawl.scrapy_settings``). A few hundred KB from a broken or hostile server can so
become a gigabyte in the crawl process, and again in the page parser it is handed to. The
record is written before decoding (the capture middleware sees the body as sent), so only
the spider's copy is bounded: past ``ARCHIVE_MAX_DECODED_BYTES`` (default 64 MiB, more than
a sitemap may hold) Scrapy drops the response with a warning, and its links go unfollowed.
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware

MAX_DECODED_BYTES = 64 << 20


class BoundedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's ``HttpCompressionMiddleware``, its decoded size bounded (see the module)."""

    def __init__(self, stats: object = None, *, crawler: Crawler | None = None):
        super().__init__(stats, crawler=crawler)  # type: ignore[arg-type]
        bound = crawler.settings.getint("ARCHIVE_MAX_DECODED_BYTES", MAX_DECODED_BYTES) if crawler else 0
        if bound > 0 and not 0 < self._max_size <= bound:
            self._max_size = bound
