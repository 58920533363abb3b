"""The Scrapy project: settings, the news spider, and the capture components.

Scrapy glue only; the logic lives in the ``archive`` package.
"""
