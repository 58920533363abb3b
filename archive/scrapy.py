"""The capture components under a path no user project can shadow.

Enable them in any Scrapy project::

    DOWNLOADER_MIDDLEWARES = {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "archive.scrapy.RecordingRobotsTxtMiddleware": 100,
        "archive.scrapy.WarcCaptureMiddleware": 950,
    }
    EXTENSIONS = {"archive.scrapy.ArchiveJobExtension": 0}
    DOWNLOAD_HANDLERS = {  # optional: request and response heads recorded exactly as sent
        "http": "archive.scrapy.TappingDownloadHandler",
        "https": "archive.scrapy.TappingDownloadHandler",
    }
    # Optional: a host that is not a seed's and resolves to a private address is refused
    # (scope.allow_private_addresses); without it only address literals are.
    TWISTED_DNS_RESOLVER = "archive.scrapy.ScopedResolver"
    ARCHIVE_STORE = "archive-store"
    ARCHIVE_COLLECTION = {"name": "mysite", "urls": ["https://example.org/"]}
"""

from crawler.extensions import ArchiveJobExtension
from crawler.middlewares import WarcCaptureMiddleware
from crawler.resolver import ScopedResolver
from crawler.retry_after import RetryAfterMiddleware
from crawler.robots import RecordingRobotsTxtMiddleware
from crawler.tap import TappingDownloadHandler

__all__ = ["ArchiveJobExtension", "RecordingRobotsTxtMiddleware", "RetryAfterMiddleware", "ScopedResolver",
           "TappingDownloadHandler", "WarcCaptureMiddleware"]
