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
    ARCHIVE_STORE = "archive-store"
    ARCHIVE_COLLECTION = {"name": "mysite", "urls": ["https://example.org/"]}
"""

from crawler.extensions import ArchiveJobExtension
from crawler.middlewares import WarcCaptureMiddleware
from crawler.retry_after import RetryAfterMiddleware
from crawler.robots import RecordingRobotsTxtMiddleware
from crawler.tap import TappingDownloadHandler

__all__ = ["ArchiveJobExtension", "RecordingRobotsTxtMiddleware", "RetryAfterMiddleware", "TappingDownloadHandler",
           "WarcCaptureMiddleware"]
