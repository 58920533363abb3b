"""The baseline: the same crawl as ``archive crawl`` in plain Scrapy, storing nothing.

Same spider (``crawler.spiders.news.NewsSpider``: feeds, sitemaps, link following, depth,
page requisites, robots.txt), same settings (``archive.crawl.scrapy_settings`` of the same
collection), same process model (one fresh interpreter per crawl). The only difference is
that the capture components are absent: no ``WarcCaptureMiddleware``, no
``ArchiveJobExtension``, and Scrapy's own ``RobotsTxtMiddleware`` instead of the subclass
that logs refusals into the capture log, and Scrapy's own HTTP/1.1 download handler instead
of the subclass that keeps each response's head as received, and Scrapy's own resolver.
Without ``ARCHIVE_STORE`` and ``ARCHIVE_COLLECTION`` (the collection is given to the spider
as an argument) the spider runs without a job (no history, no recrawl list), exactly as a
first archiving crawl does.

    python benchmarks/plain_crawl.py SPEC.json   # prints one JSON line of results

SPEC holds ``collection`` (a collection dict) and ``log_file``. With ``archive_store`` (a
directory) it runs the archiving crawl instead: ``archive crawl``'s settings, capture
components, job and capture worker included, in this same script, so that the two crawl
processes differ in their settings alone (but for ``archive crawl``'s progress reports to
its parent, once a second, which are off here: no ``ARCHIVE_PROGRESS``).
``run.py --instructions`` counts both so under valgrind, which counts the one process it
starts: here the crawl process itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from time import monotonic
from typing import Any

CAPTURE_COMPONENTS = ("archive.scrapy.WarcCaptureMiddleware", "archive.scrapy.RecordingRobotsTxtMiddleware")
CAPTURE_EXTENSIONS = ("archive.scrapy.ArchiveJobExtension",)


def plain_settings(collection: Any, log_file: str) -> dict[str, Any]:
    from archive.crawl import scrapy_settings

    settings = scrapy_settings(collection, Path("unused-store"), "plain")
    # No capture settings at all (either alone is refused as half a capture set-up); the
    # spider is handed its collection as an argument instead (see main()).
    for key in ("ARCHIVE_STORE", "ARCHIVE_JOB_ID", "ARCHIVE_COLLECTION"):
        settings.pop(key)
    middlewares = {k: v for k, v in settings["DOWNLOADER_MIDDLEWARES"].items() if k not in CAPTURE_COMPONENTS}
    # Scrapy's own robots.txt middleware (at its default order), as in any Scrapy project.
    middlewares.pop("scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware", None)
    settings["DOWNLOADER_MIDDLEWARES"] = middlewares
    settings["EXTENSIONS"] = {k: v for k, v in settings["EXTENSIONS"].items() if k not in CAPTURE_EXTENSIONS}
    settings.pop("DOWNLOAD_HANDLERS")  # Scrapy's own handler, untapped
    # Scrapy's own resolver: ours refuses private addresses but a collection's seed hosts,
    # which it reads from ARCHIVE_COLLECTION (one look-up of the site's host either way).
    settings.pop("TWISTED_DNS_RESOLVER")
    settings["LOG_FILE"] = log_file
    return settings


def archive_settings(collection: Any, store: Path, log_file: str) -> dict[str, Any]:
    """``archive crawl``'s settings of one job of ``collection`` into ``store``."""
    from archive.crawl import scrapy_settings
    from archive.store import collection_dir, new_job_id
    from archive.warc.records import utcnow

    collection_dir(store, collection.name).create()
    settings = scrapy_settings(collection, store, new_job_id(collection.name, utcnow()))
    settings["LOG_FILE"] = log_file
    return settings


def main(argv: list[str]) -> int:
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from archive.config import collection_from_dict
    from archive.runtime import cpu_seconds
    from crawler.spiders.news import NewsSpider

    spec = json.loads(Path(argv[0]).read_text("utf-8"))
    collection = collection_from_dict(spec["collection"])
    if spec.get("archive_store"):
        settings = archive_settings(collection, Path(spec["archive_store"]), spec["log_file"])
    else:
        settings = plain_settings(collection, spec["log_file"])
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(NewsSpider)
    times: dict[str, float] = {}

    def opened(**_: Any) -> None:
        times["opened"], times["cpu0"] = monotonic(), cpu_seconds()

    def closed(**_: Any) -> None:
        times["closed"], times["cpu1"] = monotonic(), cpu_seconds()

    # Signal receivers are held weakly: these stay referenced until the crawl is over.
    crawler.signals.connect(opened, signal=signals.spider_opened)
    crawler.signals.connect(closed, signal=signals.spider_closed)
    # The spider's collection: from ARCHIVE_COLLECTION when archiving, as an argument when not.
    process.crawl(crawler, **({} if spec.get("archive_store") else {"collection": collection.effective()}))
    process.start()
    stats = crawler.stats.get_stats()
    # The archiving crawl's manifest, if its job closed whole (as archive crawl's own process checks).
    job = getattr(crawler, "_archive_capture_job", None)
    # (crawler.job.CAPTURE_FAILED, by name: a checkout measured with --against may predate it)
    manifest = None if job is None or getattr(crawler, "_archive_capture_failed", None) else job.closed_manifest
    print(json.dumps({
        "manifest": None if manifest is None else str(manifest),
        "pages": stats.get("downloader/response_count", 0),
        "bytes": stats.get("downloader/response_bytes", 0),
        "elapsed": times["closed"] - times["opened"],
        "cpu": times["cpu1"] - times["cpu0"],
        "finish_reason": stats.get("finish_reason"),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
