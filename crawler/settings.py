"""Scrapy settings of the archiving crawler.

``archive crawl`` builds its settings with :func:`archive.crawl.scrapy_settings`, which
starts from ``BASE`` below; ``scrapy crawl news`` from the repository root uses this
module directly (set ``ARCHIVE_STORE`` and ``ARCHIVE_COLLECTION`` to capture).
"""

from __future__ import annotations

from typing import Any

# The collection's options that are Scrapy settings of the crawl (section, option, setting,
# type): ``archive crawl`` sets them from the collection; in a project of one's own the
# project's settings decide them, and the job records what they were (crawler.job).
COLLECTION_SETTINGS: tuple[tuple[str | None, str, str, type], ...] = (
    (None, "obey_robots", "ROBOTSTXT_OBEY", bool),
    ("politeness", "user_agent", "USER_AGENT", str),
    ("politeness", "delay", "DOWNLOAD_DELAY", float),
    ("politeness", "concurrency_per_host", "CONCURRENT_REQUESTS_PER_DOMAIN", int),
    ("politeness", "autothrottle", "AUTOTHROTTLE_ENABLED", bool),
    ("politeness", "retry_after_cap", "ARCHIVE_RETRY_AFTER_CAP", float),
    ("caps", "timeout", "DOWNLOAD_TIMEOUT", float),
    ("caps", "max_body_bytes", "ARCHIVE_MAX_BODY_BYTES", int),
    ("caps", "min_free_bytes", "ARCHIVE_MIN_FREE_BYTES", int),
)

BASE: dict[str, Any] = {
    "BOT_NAME": "archive",
    "SPIDER_MODULES": ["crawler.spiders"],
    "NEWSPIDER_MODULE": "crawler.spiders",
    # ``scrapy crawl`` from the repository root exits 1 when capture failed (Scrapy's exits 0).
    "COMMANDS_MODULE": "archive.scrapy_commands",
    "ROBOTSTXT_OBEY": True,
    # A crawl opens no listening ports (DESIGN.md): no telnet console, no remote control.
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    # gzip and deflate only: every reader we ship decodes them (CONTRACTS.md).
    "DEFAULT_REQUEST_HEADERS": {
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": "en",
        "Accept-Encoding": "gzip, deflate",
    },
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "archive.scrapy.RecordingRobotsTxtMiddleware": 100,
        # Scrapy's, with the decoded body bounded apart from the download (crawler.compression).
        "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
        "crawler.compression.BoundedHttpCompressionMiddleware": 590,
        # Before RetryMiddleware (550) sees the response, which would retry at once.
        "archive.scrapy.RetryAfterMiddleware": 560,
        # A charset of no text (``base64``) read as none before the text is first read.
        "crawler.charset.TextCharsetMiddleware": 585,
        # Scrapy's, saying in the capture log where a chain too long (a loop) was cut.
        "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
        "crawler.redirect.RecordingMetaRefreshMiddleware": 580,
        "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
        "crawler.redirect.RecordingRedirectMiddleware": 600,
        # Scrapy's, with a browser's limits on the cookies a site may store (crawler.cookies).
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
        "crawler.cookies.BoundedCookiesMiddleware": 700,
        # Above HttpCompression (590), Redirect (600), Cookies (700), HttpProxy (750) and
        # HttpCache (900): sees final request headers, every 3xx, bodies still encoded.
        "archive.scrapy.WarcCaptureMiddleware": 950,
    },
    # Scrapy's HTTP/1.1 handler, its connections tapped for each response's head as sent
    # (status line, reason phrase, header names and order, connection headers) and each
    # request's head as written.
    "DOWNLOAD_HANDLERS": {
        "http": "archive.scrapy.TappingDownloadHandler",
        "https": "archive.scrapy.TappingDownloadHandler",
    },
    "EXTENSIONS": {
        "archive.scrapy.ArchiveJobExtension": 0,
        "crawler.gcfreeze.GcFreeze": 10,
    },
    # Duplicates as the spider writes its URLs (query order kept): crawler.fingerprint.
    "REQUEST_FINGERPRINTER_CLASS": "crawler.fingerprint.VerbatimFingerprinter",
    # A truncated or cut-off body is still evidence: keep it and mark the record.
    "DOWNLOAD_FAIL_ON_DATALOSS": False,
    # Depth is enforced by the spider (links only; page requisites go one hop further).
    "DEPTH_LIMIT": 0,
    "DEPTH_PRIORITY": 0,
    "RETRY_TIMES": 2,
    # The spider yields requests, never items, and Scrapy starts this many worker tasks
    # for the output of every response (100 by default: about 1 ms a page for nothing).
    # Requests are scheduled by a plain call, so one worker keeps up.
    "CONCURRENT_ITEMS": 1,
    # Bodies waiting for the spider, in bytes (Scrapy's default is 5 MB): fewer pages held
    # at once, flatter memory.
    "SCRAPER_SLOT_MAX_ACTIVE_SIZE": 1_000_000,
    # Private addresses are refused at resolution for hosts that are not seeds.
    "TWISTED_DNS_RESOLVER": "crawler.resolver.ScopedResolver",
    "LOG_LEVEL": "INFO",
    "COOKIES_ENABLED": True,
    # Scrapy checks every callback, for every response, for a generator that returns a
    # value, by reading and parsing its source: a tenth of a crawl's time, since its cache
    # keys on bound methods that die with their request. Our callbacks are checked once, by
    # the tests (test_spider_callbacks_return_no_values).
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
}

globals().update(BASE)
