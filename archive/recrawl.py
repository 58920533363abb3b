"""Which known articles a later job fetches again, and how it asks.

News changes after publication. Articles first captured within ``window_days`` are fetched
on every run; older ones back off: again once ``backoff`` × their age has passed since the
last fetch, but at least every ``max_interval_days``. A re-fetch is conditional
(``If-None-Match`` / ``If-Modified-Since`` from the last capture), so an unchanged page
costs a 304 and a revisit record instead of the page.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from archive.article_versions import VERSIONS, StoredVersions
from archive.errors import StoreError
from archive.history import CollectionHistory, UrlState
from archive.jsonl import rows_skipping_bad
from archive.store import CollectionDir, remade_if_not_a_database

log = logging.getLogger(__name__)


def known_articles(coll: CollectionDir) -> set[str]:
    """Every article URL of the collection (its latest version's, for an article with
    several): from the article versions file (:mod:`archive.article_versions`), brought up
    to date, or where it cannot give them, from every article table. Not the tables first:
    a crawl's start read every table the collection had written, bodies and all (seconds,
    and a GB read, at each start of a collection crawled half-hourly for a year)."""
    path = coll.root / VERSIONS
    doing = "the known articles are read from the article tables"
    try:
        stored = remade_if_not_a_database(
            path, lambda: StoredVersions.before(coll, _EVERY_JOB, doing=doing, table_doing=doing),
            made_from="the article tables")
    except (sqlite3.Error, OSError, StoreError) as exc:  # (locked for long, a damaged row or manifest)
        log.warning("%s: %s; the article tables are read instead", path, exc)
        stored = None
    if stored is not None:
        try:
            return {url for (url,) in stored.db.execute("SELECT url FROM latest")}
        finally:
            stored.close()
    return _from_tables(coll)


_EVERY_JOB = 1 << 62  # (a manifest sequence past every job's)


def _from_tables(coll: CollectionDir) -> set[str]:
    urls: set[str] = set()
    if not coll.articles.is_dir():
        return urls
    for path in sorted(coll.articles.glob("*.jsonl")):
        # A damaged line costs only its article's re-fetch; the crawl goes on (`archive
        # extract` writes the table again).
        for row in rows_skipping_bad(path):
            if isinstance(row.get("url"), str):
                urls.add(row["url"])
            else:
                log.warning("%s: an article row without a url skipped", path)
    return urls


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


def recrawl_urls(articles: set[str], history: CollectionHistory, now: datetime,
                 policy: dict[str, Any]) -> list[str]:
    """Known article URLs due for a re-fetch, most recently first seen first. Withdrawn ones
    too, on the same terms: an article that answered 404 through an outage, or was taken
    down and put back, is found again (its return a version of its own)."""
    urls = history.urls
    keys = list(articles)
    # (the history file's, many to a query; a plain mapping's, one by one)
    many = getattr(urls, "many", None)
    states = many(keys) if many is not None else {url: state for url in keys if (state := urls.get(url)) is not None}
    candidates = [(state.first_started, url) for url, state in states.items() if due(state, now, policy)]
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
