"""Article metadata from what publishers declare: JSON-LD, OpenGraph, meta tags.

Structured data first (it is what the publisher says about the page), then OpenGraph and
plain meta tags; the extractor's own guesses only fill what is still missing.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from lxml import html as lxml_html

log = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "OpinionNewsArticle",
    "BackgroundNewsArticle", "ReviewNewsArticle", "AskPublicNewsArticle", "BlogPosting", "LiveBlogPosting",
    "Report", "ScholarlyArticle", "TechArticle", "SatiricalArticle",
}


def _ld_objects(tree: Any) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, ``@graph`` members flattened."""
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content().strip() or "null")
        except ValueError:
            log.debug("unreadable JSON-LD block skipped")
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                found.append(item)
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)
    return found


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    return {value} if isinstance(value, str) else {v for v in value or [] if isinstance(v, str)}


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.replace(" and ", ",").split(",") if part.strip()]
    if isinstance(value, dict):
        name = value.get("name")
        return [name.strip()] if isinstance(name, str) and name.strip() else []
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def _first_text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def iso_datetime(value: Any) -> str | None:
    """ISO 8601 with its offset; a bare date stays a date; anything without a zone is dropped."""
    text = _first_text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if len(text) == 10:
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        return None
    return parsed.isoformat()


def page_metadata(tree: Any) -> dict[str, Any]:
    """What the page declares about itself; keys absent when not declared."""
    meta: dict[str, str] = {}
    for el in tree.xpath("//meta[@content]"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        if key and key not in meta:
            meta[key] = el.get("content").strip()
    article = next((o for o in _ld_objects(tree) if _types(o) & ARTICLE_TYPES), None)
    out: dict[str, Any] = {"is_article": article is not None or meta.get("og:type", "").lower() == "article"}
    if article is not None:
        out["headline"] = _first_text(article.get("headline")) or _first_text(article.get("name"))
        out["authors"] = _names(article.get("author"))
        out["published"] = iso_datetime(article.get("datePublished"))
        out["modified"] = iso_datetime(article.get("dateModified"))
        out["section"] = _first_text(article.get("articleSection"))
        out["description"] = _first_text(article.get("description"))
        out["language"] = _first_text(article.get("inLanguage"))
    canonical = tree.xpath('//link[@rel="canonical"]/@href')
    fallbacks = {
        "headline": meta.get("og:title"),
        "authors": _names(meta.get("author")) or None,
        "published": iso_datetime(meta.get("article:published_time")),
        "modified": iso_datetime(meta.get("article:modified_time")),
        "section": meta.get("article:section"),
        "description": meta.get("og:description") or meta.get("description"),
        "language": (tree.xpath("/html/@lang") or [None])[0] or meta.get("content-language"),
        "canonical": canonical[0].strip() if canonical else None,
    }
    for key, value in fallbacks.items():
        if not out.get(key) and value:
            out[key] = value
    return {k: v for k, v in out.items() if v not in (None, [], "")}


def parse_html(text: str) -> Any:
    return lxml_html.document_fromstring(text)
