"""The capture job of a running crawler, shared by the extension and the middlewares.

Settings (read once):

- ``ARCHIVE_STORE``: the store directory (required; without it and the collection, capture
  is off).
- ``ARCHIVE_COLLECTION``: the collection as a dict, as a collections file has it (name, urls and
  the options to change), or as a JSON object (``-s ARCHIVE_COLLECTION='{...}'``). One of the two without the other, or a
  collection that is not valid, or a store the job cannot be started in, stops the crawl with
  one line (:class:`ArchiveSettingsError`); ``ARCHIVE_RAISE_START_ERRORS`` (set by ``archive
  crawl``) raises the store's error instead, for the caller to say.
- ``ARCHIVE_JOB_ID``: the id of the new job (``COLLECTION-YYYYMMDDTHHMMSSZ-xxxx``, one no job of
  the collection has had, its time the UTC time of its start: not ahead of the clock); default
  a new id.
- ``ARCHIVE_CAPTURE_WORKER``: record in a worker process of its own (default True; see
  ``archive.job_worker``), or in the crawl process itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from archive.config import DEFAULTS, Collection, collection_from_dict
from archive.errors import ArchiveError, CaptureStopped, ConfigError
from archive.job import CaptureJob
from archive.job_worker import WorkerJob
from archive.schedule import AHEAD
from archive.store import (
    FLOOR_OF_A_PROJECT,
    FLOOR_OF_ARCHIVE_CRAWL,
    below_floor,
    collection_dir,
    job_collection,
    job_id_time,
)
from crawler.settings import COLLECTION_SETTINGS

_ATTR = "_archive_capture_job"
CAPTURE_FAILED = "_archive_capture_failed"  # on the crawler: why capture stopped
log = logging.getLogger(__name__)


class ArchiveSettingsError(SystemExit):
    """ARCHIVE_STORE or ARCHIVE_COLLECTION is wrong: the crawl cannot capture what it fetches.

    A SystemExit (status 1), so that ``scrapy crawl`` stops with the one line logged before
    it instead of a traceback through Scrapy's start-up; a script that runs a
    ``CrawlerProcess`` of its own can catch it by this name."""

    def __init__(self, message: str):
        super().__init__(1)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _settings_error(message: str) -> ArchiveSettingsError:
    log.error("%s", message)
    return ArchiveSettingsError(message)


def _collection_doc(crawler: Crawler) -> dict[str, Any] | None:
    """ARCHIVE_COLLECTION as a dict (a JSON object given on the command line is read), None
    if it is not set."""
    value = crawler.settings.get("ARCHIVE_COLLECTION")
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _settings_error(f"ARCHIVE_COLLECTION: not valid JSON ({exc}); give the collection as a JSON "
                                  'object, such as {"name": "mysite", "urls": ["https://example.org/"]}') from None
    if not isinstance(value, Mapping):
        raise _settings_error(f"ARCHIVE_COLLECTION: a collection is an object (a dict) with a name and urls, "
                              f"not {type(value).__name__} {value!r:.80}")
    return dict(value)


def collection_of(crawler: Crawler) -> Collection | None:
    """The collection ARCHIVE_COLLECTION gives, validated, or None if it gives none;
    :class:`ArchiveSettingsError` where it is not valid."""
    doc = _collection_doc(crawler)
    if doc is None:
        return None
    try:
        return collection_from_dict(doc, where="ARCHIVE_COLLECTION")
    except ConfigError as exc:
        raise _settings_error(str(exc)) from None


def job_for(crawler: Crawler) -> CaptureJob | WorkerJob:
    """The crawler's job, created on first use; ``NotConfigured`` when capture is off (neither
    setting given), :class:`ArchiveSettingsError` when it is asked for and cannot be had."""
    job = getattr(crawler, _ATTR, None)
    if job is not None:
        return job
    store = crawler.settings.get("ARCHIVE_STORE")
    doc = _collection_doc(crawler)
    if not store and doc is None:
        raise NotConfigured("set ARCHIVE_STORE and ARCHIVE_COLLECTION to capture into WARCs")
    if not store or doc is None:
        given, missing = ("ARCHIVE_COLLECTION", "ARCHIVE_STORE") if doc is not None else \
            ("ARCHIVE_STORE", "ARCHIVE_COLLECTION")
        raise _settings_error(f"{given} is set but {missing} is not: set both to capture into WARCs, or neither "
                              "to crawl without capturing")
    spider_name = getattr(crawler.spidercls, "name", None) or "spider"
    collection = collection_of(crawler)
    assert collection is not None
    _as_crawled(collection, doc, crawler.settings,
                spiders_scope=not getattr(crawler.spidercls, "keeps_collection_scope", False),
                spidercls=crawler.spidercls)
    job_id = crawler.settings.get("ARCHIVE_JOB_ID") or None
    named = job_id_time(str(job_id)) if job_id is not None else None
    if job_id is not None and (named is None or job_collection(str(job_id)) != collection.name):
        # (else every capture-log line and the manifest fail their schema, and nothing is kept; or,
        # another collection's, its manifest is refused by verify, and the folder by archive crawl)
        raise _settings_error(f"ARCHIVE_JOB_ID: {job_id!r} is not a job id of {collection.name}, whose jobs are "
                              f"named {collection.name}-YYYYMMDDTHHMMSSZ-xxxx (xxxx: four hex digits); leave it unset "
                              "for a new job")
    if named is not None and named > (now := datetime.now(UTC)) + AHEAD:
        # (the collection's jobs are ordered by the times their ids hold: one dated ahead of the
        # clock would be taken for its newest, and the runs after it for runs that never began)
        raise _settings_error(f"ARCHIVE_JOB_ID: {job_id} holds the time {named:%Y-%m-%dT%H:%M:%SZ}, ahead of the "
                              f"clock ({now:%Y-%m-%dT%H:%M:%SZ}): a job id holds the UTC time its job starts; leave it "
                              "unset for a new job")
    if job_id is not None:
        coll = collection_dir(Path(store), collection.name)
        if any(path.exists() for path in (coll.manifest(job_id), coll.capture_log(job_id), coll.job_file(job_id))):
            # (its capture log and job file were appended to and rewritten, and its manifest then refused:
            # a closed job's files changed, none of this crawl's listed)
            raise _settings_error(f"ARCHIVE_JOB_ID: job {job_id} has run already (its files are in {coll.root}); "
                                  "a job id names one job: leave it unset for a new job")
    common = {"job_id": job_id, "spider": spider_name,
              "operator": crawler.settings.get("ARCHIVE_OPERATOR")}
    job: CaptureJob | WorkerJob
    if not crawler.settings.getbool("ARCHIVE_RAISE_START_ERRORS"):  # (`archive crawl` has looked already)
        # (the floor as the settings make it: _as_crawled has made the collection's theirs)
        low = below_floor(Path(store), int(collection.caps["min_free_bytes"]), floor_lowered_by(crawler))
        if low is not None:
            raise _settings_error(f"ARCHIVE_STORE: the job was not started: {low}")
        coll = collection_dir(Path(store), collection.name)
        renamed = coll.renamed_from()
        if renamed is not None:
            raise _settings_error(f"ARCHIVE_STORE: the job was not started: {coll.root} {renamed}")
    try:
        if crawler.settings.getbool("ARCHIVE_CAPTURE_WORKER", True):
            job = WorkerJob(Path(store), collection, log_file=crawler.settings.get("LOG_FILE"),
                            log_level=crawler.settings.get("LOG_LEVEL")
                            if crawler.settings.getbool("LOG_ENABLED", True) else "OFF",
                            gc_freeze=crawler.settings.getbool("ARCHIVE_GC_FREEZE", True), **common)
        else:
            job = CaptureJob(Path(store), collection, **common)
    except ArchiveError as exc:
        if crawler.settings.getbool("ARCHIVE_RAISE_START_ERRORS"):
            raise  # (`archive crawl`'s crawl process says it to its parent, in its words)
        raise _settings_error(f"ARCHIVE_STORE: {exc}") from None
    setattr(crawler, _ATTR, job)
    return job


# Scope options the bundled spider keeps to; a spider of one's own decides what it follows.
_SPIDERS_SCOPE = ("max_depth", "max_pages", "allow_patterns", "deny_patterns", "page_requisites")


def _sent_user_agent(settings: Any, spidercls: type) -> tuple[str, str] | None:
    """The User-Agent the crawl's requests go with, where it is not ``USER_AGENT``, and what
    decides it: Scrapy's default headers come first (DefaultHeadersMiddleware, 400), then a
    spider's ``user_agent`` attribute (UserAgentMiddleware, 500)."""
    headers = settings.getdict("DEFAULT_REQUEST_HEADERS")
    for name, value in headers.items():
        if str(name).lower() == "user-agent" and value:
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            return text, "DEFAULT_REQUEST_HEADERS"
    agent = getattr(spidercls, "user_agent", None)
    if isinstance(agent, str) and agent:
        return agent, f"the spider's user_agent attribute ({spidercls.__name__})"
    return None


def _as_crawled(collection: Any, doc: dict[str, Any], settings: Any, *, spiders_scope: bool,
                spidercls: type | None = None) -> None:
    """The collection's options that are Scrapy settings, made what the crawl's settings
    are, so that the job's manifest records what ran: ``archive crawl`` sets them from the
    collection, a project of one's own from its settings. An option ARCHIVE_COLLECTION gives
    that the settings do not follow is said, with the setting that decides it; and, where the
    spider decides what to fetch (``spiders_scope``), a scope option it may not keep to."""
    for section, option, name, kind in COLLECTION_SETTINGS:
        table = collection.settings[section] if section else collection.settings
        if settings.get(name) in (None, ""):
            continue  # (not set here: the collection's value stands)
        getter = {bool: settings.getbool, int: settings.getint, float: settings.getfloat}.get(kind, settings.get)
        value = getter(name)
        sent = _sent_user_agent(settings, spidercls) if name == "USER_AGENT" and spidercls is not None else None
        if sent is not None:
            value, name = sent
        given = (doc.get(section) or {}).get(option) if section else doc.get(option)
        if given is not None and given != value:
            where = f"{section}.{option}" if section else option
            log.warning("ARCHIVE_COLLECTION %s is %r, but this crawl's %s is %r, which is what it does and what "
                        "its manifest records: set %s to change it", where, given, name, value, name)
        if table[option] != value:  # (1 and 1.0 alike: a value as written stays as written)
            table[option] = value
    given_scope = doc.get("scope") or {}
    for option in _SPIDERS_SCOPE if spiders_scope else ():
        # (a value as the defaults have it says nothing: a whole collection, effective(), passed)
        if option in given_scope and given_scope[option] != DEFAULTS["scope"].get(option):
            log.warning("ARCHIVE_COLLECTION scope.%s is kept to by `archive crawl`'s spider only (recorded in the "
                        "manifest as given); a spider of your own decides what it fetches", option)
    if doc.get("storage"):
        # (nothing here pushes: a collection that names a bucket would otherwise stay local, unsaid)
        log.warning("ARCHIVE_COLLECTION storage is pushed to by `archive crawl` only; after a crawl of your own, run "
                    "`archive push --to %s` to send its files there", (doc["storage"] or {}).get("to", "s3://..."))


def floor_lowered_by(crawler: Crawler) -> str:
    """What sets the crawl's free-space floor, for the advice to lower it: ``archive
    crawl``'s flag and collections file, or a project's setting and ARCHIVE_COLLECTION."""
    said = crawler.settings.get("ARCHIVE_FLOOR_LOWERED_BY")  # (set by `archive demo`: by nothing)
    if said is not None:
        return str(said)
    return FLOOR_OF_ARCHIVE_CRAWL if crawler.settings.getbool("ARCHIVE_RAISE_START_ERRORS") else FLOOR_OF_A_PROJECT


def capture_failed(crawler: Crawler, exc: Exception | str, reason: str = "capture-failed") -> None:
    """Nothing more can be recorded: close the crawl (once) instead of fetching for nothing."""
    if getattr(crawler, CAPTURE_FAILED, None):
        return
    setattr(crawler, CAPTURE_FAILED, str(exc) or type(exc).__name__)
    log.error("capture %s, closing the crawl: %s", "failed" if reason == "capture-failed" else f"stopped ({reason})",
              exc)
    deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


def capture_fell_short(crawler: Crawler) -> bool:
    """Whether capture stopped the crawl, or the crawl ended without its job's manifest (the
    capture worker died and could not write it): what it fetched is not all on record."""
    job = getattr(crawler, _ATTR, None)
    return bool(getattr(crawler, CAPTURE_FAILED, None)) or (job is not None and job.closed_manifest is None)


def failure_text(exc: BaseException) -> str:
    """What went wrong with a download, as the capture log says it: the exception's type and
    message, with the reasons Twisted gave in place of their reprs (Scrapy wraps Twisted's
    ``ResponseFailed``, whose message is a list of ``Failure`` reprs, in an error of its own)."""
    name = type(exc).__name__
    reasons = getattr(exc, "reasons", None) or getattr(exc.__cause__, "reasons", None)
    if reasons:
        values = [getattr(reason, "value", reason) for reason in reasons]
        detail = "; ".join(f"{type(v).__name__}: {v}" if str(v) else type(v).__name__ for v in values)
    else:
        detail = str(exc)
    return f"{name}: {detail}" if detail else name


def record_failure(crawler: Crawler, job: CaptureJob | WorkerJob, url: str, **details: Any) -> None:
    """``job.record_failure(url, **details)``; if the capture worker has stopped, the crawl
    is closed instead (nothing more can be recorded)."""
    try:
        job.record_failure(url, **details)
    except CaptureStopped as exc:
        capture_failed(crawler, exc)
