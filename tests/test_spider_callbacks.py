"""Scrapy's per-response check for generator callbacks that return a value is switched off
(WARN_ON_GENERATOR_RETURN_VALUE, crawler/settings.py: it re-reads the callback's source for
every response); the check runs here instead, once, over every generator of our spiders."""

from __future__ import annotations

import inspect

import pytest
from scrapy.utils.misc import is_generator_with_return_value

from crawler.settings import BASE
from crawler.spiders import news

GENERATORS = [
    (f"{cls.__name__}.{name}", fn)
    for cls in (obj for _, obj in inspect.getmembers(news, inspect.isclass) if obj.__module__ == news.__name__)
    for name, fn in vars(cls).items()
    if inspect.isgeneratorfunction(fn)
]


def test_the_check_is_off_and_there_is_something_to_check() -> None:
    assert BASE["WARN_ON_GENERATOR_RETURN_VALUE"] is False
    names = [name for name, _ in GENERATORS]
    assert "NewsSpider.parse_requisite" in names and "NewsSpider.parse_feed" in names
    # An async generator cannot return a value at all (Python refuses it at compile time).
    assert inspect.isasyncgenfunction(news.NewsSpider.parse)


def test_the_check_finds_a_generator_that_returns_a_value() -> None:
    def callback(response):  # the mistake the check is for
        yield response
        return "lost"

    assert is_generator_with_return_value(callback)


@pytest.mark.parametrize("name,fn", GENERATORS, ids=[name for name, _ in GENERATORS])
def test_spider_callbacks_return_no_values(name: str, fn) -> None:
    assert not is_generator_with_return_value(fn), f"{name} is a generator that returns a value"
