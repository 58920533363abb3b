"""GcFreeze sets aside what exists when the spider opens; the setting turns it off."""

from __future__ import annotations

import gc

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.gcfreeze import GcFreeze
from crawler.settings import BASE


def test_objects_alive_at_spider_open_are_frozen():
    extension = GcFreeze.from_crawler(get_crawler())
    try:
        assert gc.get_freeze_count() == 0
        extension.spider_opened()
        assert gc.get_freeze_count() > 1000  # modules, settings, the spider...
    finally:
        gc.unfreeze()


def test_it_can_be_switched_off_and_is_on_in_the_crawl_settings():
    with pytest.raises(NotConfigured):
        GcFreeze.from_crawler(get_crawler(settings_dict={"ARCHIVE_GC_FREEZE": False}))
    assert "crawler.gcfreeze.GcFreeze" in BASE["EXTENSIONS"]
