"""Which known articles a later job fetches again, and how it asks.

News changes after publication. Articles first captured within ``window_days`` are fetched
on every run; older ones back off: again once ``backoff`` × their age has passed since the
last fetch, but at least every ``max_interval_days``. A re-fetch is conditional
(``If-None-Match`` / ``If-Modified-Since`` from the last capture), so an unchanged page
costs a 304 and a revisit record instead of the page.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from archive.history import CollectionHistory, UrlState
from archive.jsonl import rows_skipping_bad
from archive.store import CollectionDir

log = logging.getLogger(__name__)


def known_articles(coll: CollectionDir) -> dict[str, dict[str, Any]]:
    """Every article URL with what a recrawl needs of its latest article row (its
    ``status``), from ``articles/*.jsonl`` in job order. Not the whole rows: their text
    would have a crawl of a collection with years of articles hold all of it at start."""
    rows: dict[str, dict[str, Any]] = {}
    if not coll.articles.is_dir():
        return rows
    for path in sorted(coll.articles.glob("*.jsonl")):
        # A damaged line costs only its article's re-fetch; the crawl goes on (`archive
        # extract` writes the table again).
        for row in rows_skipping_bad(path):
            if isinstance(row.get("url"), str):
                rows[row["url"]] = {"status": row.get("status")}
            else:
                log.warning("%s: an article row without a url skipped", path)
    return rows


def due(state: UrlState, now: datetime, policy: dict[str, Any]) -> bool:
    first = datetime.fromisoformat(state.first_started)
    last = datetime.fromisoformat(state.started)
    age = now - first
    if age <= timedelta(days=float(policy["window_days"])) or last > now:
        # (a last capture stamped after now, by a clock that ran ahead, says nothing of
        # when it was made: the URL would otherwise wait for that date)
        return True
    interval = min(timedelta(days=float(policy["max_interval_days"])), age * float(policy["backoff"]))
    return now - last >= interval


def recrawl_urls(articles: dict[str, dict[str, Any]], history: CollectionHistory, now: datetime,
                 policy: dict[str, Any]) -> list[str]:
    """Known, still-published article URLs due for a re-fetch, most recently first seen first."""
    candidates = []
    for url, row in articles.items():
        state = history.urls.get(url)
        if row.get("status") == "withdrawn" or state is None or state.status in (404, 410):
            continue
        if due(state, now, policy):
            candidates.append((state.first_started, url))
    return [url for _, url in sorted(candidates, reverse=True)]


def conditional_headers(state: UrlState | None) -> dict[str, str]:
    if state is None or state.original is None:
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers
