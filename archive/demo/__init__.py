"""Deterministic synthetic local news website for offline demos, crawler tests and benchmarks.

Why: the archive tool needs a realistic site with known ground truth that works without
network access. ``DemoSite`` generates it (``site.articles`` is the ground truth and
``site.render(path)`` a pure response function); ``serve`` exposes it on 127.0.0.1.

Routes: ``/``, ``/<section>/`` (+ ``page/N/``), ``/tag/<tag>/``, ``/author/<slug>/``,
article paths like ``/world/2026/03/14/<slug>``, ``/old/story-<n>.html`` (301),
``/about/``, ``/contact/``, ``/private/secret-page`` (robots-disallowed), ``/feed.xml``,
``/atom.xml``, ``/sitemap.xml``, ``/sitemap-news.xml``, ``/sitemap-articles.xml``,
``/robots.txt``, ``/favicon.ico``, ``/static/...`` and ``/special/...`` capture tests.
"""
from __future__ import annotations

from .pages import DemoPage
from .server import serve
from .site import DemoArticle, DemoSite

__all__ = ["DemoArticle", "DemoPage", "DemoSite", "serve"]
