"""WARC 1.1 building, writing and reading, independent of Scrapy."""
