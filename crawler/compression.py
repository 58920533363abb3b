"""Content-encoded bodies decoded for the spider within a bound of their own.

Scrapy inflates a gzip, deflate, brotli or zstd body up to ``DOWNLOAD_MAXSIZE`` (1 GiB by
default, and no bound at all when a collection caps bodies itself, see
``archive.crawl.scrapy_settings``). A few hundred KB from a broken or hostile server can so
become a gigabyte in the crawl process, and again in the page parser it is handed to. The
record is written before decoding (the capture middleware sees the body as sent), so only
the spider's copy is bounded: past ``ARCHIVE_MAX_DECODED_BYTES`` (default 64 MiB, more than
a sitemap may hold) Scrapy drops the response with a warning, and its links go unfollowed.
A body that cannot be decoded at all (not gzip though labelled so, deflate garbage) is
dropped the same way, with a one-line warning instead of a traceback.
"""

from __future__ import annotations

import logging
import struct
import zlib
from typing import Any

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from archive.capture import MAX_DECODED_BYTES

log = logging.getLogger(__name__)


# What Scrapy's decoders raise on a body that is not what its Content-Encoding says
# (gzip: OSError, EOFError, struct.error; deflate: zlib.error; brotli and zstd their own).
_DECODE_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, struct.error, zlib.error)
try:
    import brotli

    _DECODE_ERRORS += (brotli.error,)
except ImportError:  # pragma: no cover - Scrapy then does not decode br
    pass
try:
    from backports import zstd

    _DECODE_ERRORS += (zstd.ZstdError,)
except ImportError:  # pragma: no cover - Python 3.14 has compression.zstd; or no zstd
    pass


class BoundedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's ``HttpCompressionMiddleware``, its decoded size bounded (see the module)."""

    def __init__(self, stats: object = None, *, crawler: Crawler | None = None):
        super().__init__(stats, crawler=crawler)  # type: ignore[arg-type]
        bound = crawler.settings.getint("ARCHIVE_MAX_DECODED_BYTES", MAX_DECODED_BYTES) if crawler else 0
        if bound > 0 and not 0 < self._max_size <= bound:
            self._max_size = bound

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        try:
            return super().process_response(request, response)
        except _DECODE_ERRORS as exc:
            # The record is already written, as sent; only the spider goes without it.
            codings = b", ".join(response.headers.getlist("Content-Encoding")).decode("latin-1")
            message = f"Ignored response {response}: its body is not the {codings} it is labelled ({exc})"
            log.warning(message)
            raise IgnoreRequest(message) from None
