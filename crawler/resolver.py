"""ScopedResolver: Scrapy's caching resolver that refuses private addresses for non-seed hosts.

See ``archive.netpolicy``. A refused name fails like a DNS error, so the fetch attempt is
logged as failed with the reason, and nothing is sent to that address. With capture off
(no ARCHIVE_COLLECTION) nothing is refused.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

from archive.netpolicy import refusal
from archive.urls import host_of


def _proxy_hosts() -> set[str]:
    """The hosts of the proxies the environment names (``http_proxy``, ...): the crawl
    connects to them, as to its seeds, whatever they resolve to (a proxy of the office's
    network on 10.0.0.1 was refused, and every fetch through it failed)."""
    from urllib.request import getproxies

    return {host for url in getproxies().values() if (host := host_of(url if "://" in url else f"http://{url}"))}


class ScopedResolver(CachingThreadedResolver):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.seed_hosts: set[str] = set()
        self.allow_private = False
        # Twisted's endpoint replaces a resolver's error with "no results"; the capture
        # middleware reads the real reason here (see refusal_reason).
        self.refused: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> ScopedResolver:
        from crawler.job import collection_of

        resolver = super().from_crawler(crawler, reactor)
        collection = collection_of(crawler)  # (a collection that is not valid: one line, as crawler.job says it)
        if collection is None:
            # Capture is off: no collection, so no address policy (its refusals were every
            # local host's, said as a DNS lookup that found nothing).
            resolver.allow_private = True
        else:
            resolver.seed_hosts = {host_of(s["url"]) for s in collection.seeds} | _proxy_hosts()
            resolver.allow_private = bool(collection.scope["allow_private_addresses"])
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Any:
        d = super().getHostByName(name, timeout)

        def check(address: str) -> str:
            reason = refusal(name, address, seed_hosts=self.seed_hosts, allow_private=self.allow_private)
            if reason is not None:
                self.refused[name.lower()] = reason
                raise DNSLookupError(reason)
            return address

        return d.addCallback(check)


def refusal_reason(host: str) -> str | None:
    """Why the installed resolver refused ``host``, if it did."""
    from twisted.internet import reactor  # the reactor Scrapy installed, with our resolver

    refused = getattr(getattr(reactor, "resolver", None), "refused", None)
    return refused.get(host.lower()) if refused else None
