"""Request fingerprints of URLs as the crawl writes them.

Scrapy's fingerprint (what its duplicate filter keeps) is of the URL made canonical by
w3lib, which sorts a query's parameters: ``/l?b=2&a=1`` after ``/l?a=1&b=2`` was dropped,
with no word in the capture log, though the spider keeps the order (servers may read it,
and :func:`archive.urls.canonicalize` leaves it) and took it for a page of its own. The
spider makes its URLs canonical itself; this takes them as they are, as Scrapy does for a
request with ``verbatim_url`` (same digests as those).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from weakref import WeakKeyDictionary

from scrapy import Request


class VerbatimFingerprinter:
    """Scrapy's ``REQUEST_FINGERPRINTER_CLASS``: method, URL as written, body."""

    def __init__(self, crawler: Any = None):
        self._cache: WeakKeyDictionary[Request, bytes] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Any) -> VerbatimFingerprinter:
        return cls(crawler)

    def fingerprint(self, request: Request) -> bytes:
        found = self._cache.get(request)
        if found is None:
            data = {"method": request.method, "url": request.url, "body": (request.body or b"").hex(), "headers": {}}
            found = self._cache[request] = hashlib.sha1(  # (an identity, as Scrapy's; no secret)
                json.dumps(data, sort_keys=True).encode()).digest()
        return found
