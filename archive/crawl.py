"""Launching a crawl job: Scrapy in a child process, progress and result back to the caller.

Each job runs in a fresh interpreter (``python -m archive.crawl``) because Twisted's reactor cannot be
restarted: a researcher can call :func:`crawl` many times from one notebook or script, and
a crash of the crawl cannot take the caller down with it. SIGINT and SIGTERM reach the
child, which finishes the current records, closes its files and writes the manifest.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.config import Collection
from archive.errors import ArchiveError, CrawlError, StoreError
from archive.runtime import sigint_ignored_by_children, sigint_unblocked, sigterm_on_parent_death
from archive.store import (
    FLOOR_OF_ARCHIVE_CRAWL,
    UNWRITABLE,
    CollectionDir,
    below_floor,
    collection_dir,
    unused_job_id,
)
from archive.warc.records import utcnow

log = logging.getLogger(__name__)

Progress = dict[str, Any]


@dataclass
class CrawlResult:
    job_id: str
    collection: str
    store: Path
    manifest: Path
    outcome: str
    counts: dict[str, Any]
    files: list[dict[str, Any]]
    articles: Path | None = None
    article_count: int = 0
    # The automatic push to the collection's ``storage`` (None: no storage section).
    pushed: Any = None  # archive.storage.PushResult when the push succeeded
    push_error: str | None = None  # why it failed; local files are intact, the next push retries
    extract_error: str | None = None  # why the articles were not extracted (`archive extract` does it later)
    unindexed: list[str] = field(default_factory=list)  # why a WARC of the collection could not be indexed
    index_error: str | None = None  # why the indexes or the catalog could not be brought up to date
    tables_missing: str | None = None  # earlier jobs left without an article table, and what makes them
    # Capture logs of earlier jobs found changed since their jobs at this job's start (a line cut or edited).
    damaged_logs: list[str] = field(default_factory=list)
    # Stopped by a signal (SIGINT, SIGTERM) to the crawl: the caller stops too, with no next collection.
    interrupted: bool = False
    # Feed items, sitemap entries and robots.txt Sitemap: lines on hosts out of the scope,
    # not fetched (the crawl log names them by host).
    out_of_scope: int = 0
    # The collection's sitemaps that answered an HTML page, whose links were followed as a
    # page's (the crawl log names them).
    html_sitemaps: int = 0


def scrapy_settings(collection: Collection, store: Path, job_id: str) -> dict[str, Any]:
    """The Scrapy settings of one job, derived from the collection's effective config."""
    from crawler.settings import BASE, COLLECTION_SETTINGS

    caps = collection.caps
    settings = dict(BASE)
    for section, option, name, kind in COLLECTION_SETTINGS:
        settings[name] = kind((collection.settings[section] if section else collection.settings)[option])
    settings.update(
        ARCHIVE_STORE=str(store),
        ARCHIVE_COLLECTION=collection.effective(),
        ARCHIVE_JOB_ID=job_id,
        ARCHIVE_RAISE_START_ERRORS=True,  # (the crawl process says why its job could not start: _child_main)
        LOG_FILE=str(collection_dir(store, collection.name).crawl_log(job_id)),
    )
    if caps["max_body_bytes"]:
        # Our cap truncates and keeps the bytes; Scrapy's own would drop the response.
        settings["DOWNLOAD_MAXSIZE"] = 0
    return settings


def _child_main(argv: list[str]) -> int:
    """Entry point of the crawl process: ``python -m archive.crawl SPEC_FD MESSAGE_FD``."""
    with open(int(argv[0]), "rb") as fh:
        spec = json.loads(fh.read())
    # Killed, its parent would leave it crawling on to the end unseen, writing to a pipe no
    # one reads: it stops as when it is asked to (its job closed as interrupted).
    sigterm_on_parent_death(spec.get("parent"))
    # A stop asked for before Scrapy's own handlers are in place (they come once its reactor
    # runs, a second or so from now) is kept, and passed on to them then: the job still
    # closes gracefully, as interrupted, instead of the process dying on the spot.
    asked: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _frame: asked.append(signum))
    sigint_unblocked()  # (a Ctrl-C that came as it started is kept now)
    out = open(int(argv[1]), "w", buffering=1, encoding="utf-8")  # noqa: SIM115 (the process's own, to its end)

    def send(kind: str, payload: Any) -> None:
        try:
            out.write(json.dumps([kind, payload]) + "\n")
        except OSError:  # (the parent is gone: there is no one to tell, and the job is closed as usual)
            pass

    send("ready", None)  # (the parent passes a SIGTERM on from now on)

    from scrapy.crawler import CrawlerProcess

    from archive.config import collection_from_dict
    from crawler.job import CAPTURE_FAILED, capture_fell_short
    from crawler.spiders.news import NewsSpider

    # A crawl log on a full disk: Python's logging would print a traceback to stderr for
    # every line it could not write, thousands, burying the one message that says why the
    # crawl stopped (the capture worker's, passed on by the parent).
    logging.raiseExceptions = False
    store = Path(spec["store"])
    collection = collection_from_dict(spec["collection"])
    settings = scrapy_settings(collection, store, spec["job_id"])
    settings.update(spec["overrides"])
    settings["ARCHIVE_PROGRESS"] = lambda snapshot: send("progress", snapshot)
    process = _stopping_promptly(CrawlerProcess)(settings)
    crawler = process.create_crawler(NewsSpider)
    not_started: list[ArchiveError] = []

    def could_not_start(failure: Any) -> Any:
        if isinstance(failure.value, ArchiveError):  # (the capture job could not be opened)
            not_started.append(failure.value)
            return None  # said below, in one line, instead of Twisted's "Unhandled error" traceback
        return failure

    process.crawl(crawler).addErrback(could_not_start)
    from twisted.internet import reactor

    def pass_on() -> None:
        if asked:
            os.kill(os.getpid(), asked[0])  # (to Scrapy's handler, a graceful stop)

    # Scrapy puts its handlers in place by a trigger of its own, added as the reactor starts,
    # after this one: the signal is passed on at the reactor's next turn, after them all.
    reactor.addSystemEventTrigger("after", "startup", lambda: reactor.callLater(0, pass_on))
    process.start()
    job = getattr(crawler, "_archive_capture_job", None)
    if job is not None and job.closed_manifest is None:
        # The spider never closed (it never opened, or a second signal forced the stop):
        # close the job here, so that what was captured is written and described.
        try:
            job.close("shutdown")
        except Exception:
            log.exception("could not close job %s", job.job_id)
    if job is None and not_started:
        send("error", f"{not_started[0]}; nothing was captured; see the crawl log")
        return 1
    if job is None or capture_fell_short(crawler):
        # (the worker's word, else why a capture that failed stopped the crawl)
        reason = (getattr(job, "failure", None) or getattr(crawler, CAPTURE_FAILED, None)
                  or "the crawl ended without writing a manifest")
        manifest = None if job is None else job.coll.manifest(job.job_id)
        if manifest is not None and manifest.exists():  # (the job was closed as capture stopped)
            send("error", f"{reason}; what was captured is closed and in {manifest}; see the crawl log")
        elif "archive verify --repair" in reason:  # (said already, with when to run it)
            send("error", f"{reason}; closed files are intact; see the crawl log")
        else:
            send("error", f"{reason}; closed files are intact, run `archive verify --repair "
                          f"{store / collection.name}`; see the crawl log")
        return 1
    send("done", str(job.closed_manifest))
    return 0


def crawl(
    store: Path,
    collection: Collection,
    *,
    progress: Callable[[Progress], None] | None = None,
    job_id: str | None = None,
    overrides: dict[str, Any] | None = None,
    extract: bool = True,
) -> CrawlResult:
    """Run one capture job of ``collection`` into ``store`` and return what it wrote.

    With ``extract`` (the default) the job's articles are extracted from its WARCs when it
    ends, into ``articles/<job-id>.jsonl``.
    """
    store = Path(store)
    coll = collection_dir(store, collection.name)
    job_id = job_id or unused_job_id(coll, utcnow())
    # (before the collection's folders are made: a job refused for want of room left them
    # empty, a collection of no job for `archive status`)
    low = below_floor(store, int(collection.caps["min_free_bytes"]),
                      (overrides or {}).get("ARCHIVE_FLOOR_LOWERED_BY", FLOOR_OF_ARCHIVE_CRAWL))
    if low is not None:
        raise CrawlError(f"job {job_id} not started: {low}")
    coll.create()
    coll.check_writable()
    renamed = coll.renamed_from()
    if renamed is not None:  # (a job now would chain a collection's manifests onto another's)
        raise CrawlError(f"job {job_id} not started: {coll.root} {renamed}")
    pulled_from = coll.unfinished_pull()
    if pulled_from is not None:  # (a job now would start a chain beside the one still coming)
        raise CrawlError(f"{coll.root}: an `archive pull` from {pulled_from} into it did not finish; run it again "
                         "before crawling into it")
    # The logs the job's history is about to take in (the job before's, and any changed since
    # they were taken in), checked against their manifests before it does: a line cut or
    # edited by hand was passed over with a line in the crawl log alone.
    from archive.capture_log import unlike_its_manifest
    from archive.history import unfolded_logs

    damaged_logs = [said for name in unfolded_logs(coll) if (said := unlike_its_manifest(coll, name)) is not None]
    spec = {"store": str(store), "collection": collection.effective(), "job_id": job_id,
            "overrides": dict(overrides or {}), "parent": os.getpid()}
    # Signal handlers can only be set from the main thread; from another thread the caller
    # owns signal handling (and can stop the job by signalling the child).
    main_thread = threading.current_thread() is threading.main_thread()
    signalled = False
    # Until the crawl process is ready for it (its own handler in place), a SIGTERM is held
    # here: one that reached it as it loaded would kill it, its job left unclosed. (Taken
    # before the crawl process starts, so that none comes between.)
    ready = False
    child: subprocess.Popen[bytes] | None = None

    def on_sigterm(*_: Any) -> None:
        nonlocal signalled
        signalled = True
        if ready and child is not None:
            _forward(child, signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
    spec_r, spec_w = os.pipe()
    msg_r, msg_w = os.pipe()
    try:
        # (a Ctrl-C as it loads, before it can keep one, would end it with a traceback: it
        # starts with SIGINT ignored, and this process passes the stop on once it is ready)
        with sigint_ignored_by_children(pass_on=False) as caught:
            child = subprocess.Popen(
                [sys.executable, "-m", "archive.crawl", str(spec_r), str(msg_w)],
                pass_fds=(spec_r, msg_w),
                stdin=subprocess.DEVNULL,
            )
        # (a SIGINT to this process as the crawl process started: it is told to stop once it
        # is ready, as for one that comes while it loads)
        signalled = signalled or bool(caught)
    except BaseException:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        for fd in (spec_r, spec_w, msg_r, msg_w):
            os.close(fd)
        raise
    os.close(spec_r)
    os.close(msg_w)
    with open(spec_w, "wb") as fh:
        fh.write(json.dumps(spec).encode())
    outcome: tuple[str, str] | None = None
    final: dict[str, Any] = {}  # (the job's last progress report, sent as it closed)
    try:
        with open(msg_r, encoding="utf-8") as messages:
            while True:
                try:
                    line = messages.readline()
                except KeyboardInterrupt:
                    # A Ctrl-C at the terminal reached the child too, which shuts down gracefully;
                    # a SIGINT sent to this process alone is passed on. (Before the child is
                    # ready, neither reaches it: it is told to stop once it is.)
                    signalled = True
                    if ready and not _terminal_signalled_us():
                        _forward(child, signal.SIGINT)
                    continue
                if not line:
                    break
                kind, payload = json.loads(line)
                if kind == "progress":
                    if payload.get("final"):
                        final = payload
                    if progress is not None:
                        progress(payload)
                elif kind == "ready":
                    ready = True
                    if signalled:
                        _forward(child, signal.SIGTERM)
                else:
                    outcome = (kind, payload)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        _wait(child)
    if outcome is None:
        raise CrawlError(
            f"the crawl process died (exit code {child.returncode}) before finishing job {job_id}; "
            "closed files are intact (a capture worker that outlived it closes the rest); if `archive verify` "
            f"then reports open files, run `archive verify --repair {store / collection.name}`"
        )
    kind, payload = outcome
    if kind == "error":
        raise CrawlError(f"job {job_id}: {payload}")
    manifest = Path(payload)
    doc = json.loads(manifest.read_text("utf-8"))
    result = CrawlResult(job_id, collection.name, store, manifest, doc["outcome"], doc["counts"], doc["files"],
                         interrupted=signalled, out_of_scope=int(final.get("out_of_scope") or 0),
                         html_sitemaps=int(final.get("html_sitemaps") or 0), damaged_logs=damaged_logs)
    # What follows is derived from the closed job, and can be done again later: a signal now
    # stops it with a word saying so, rather than the silent end SIGTERM's default would be.
    try:
        with _sigterm_interrupts(main_thread):
            _after_the_job(result, coll, doc, store, collection, extract)
    except KeyboardInterrupt:
        raise CrawlError(
            f"job {job_id} is closed ({manifest}), but was stopped before what follows it was done: "
            f"`{coll.command('extract')}` and `{coll.command('index')}` "
            "make its articles and indexes" + (", `archive push` pushes it" if collection.settings.get("storage")
                                                else "")) from None
    return result


def _after_the_job(result: CrawlResult, coll: CollectionDir, doc: dict[str, Any], store: Path,
                   collection: Collection, extract: bool) -> None:
    """A closed job's articles, indexes and push (into ``result``)."""
    from archive.index import update_indexes
    from archive.warc.reader import damage_remembered

    with damage_remembered():  # (the new WARCs are checked for articles, then for indexes)
        if extract:
            from archive.extract import extract_after_job

            try:
                result.articles, result.article_count, without = extract_after_job(coll, doc)
                if without:
                    which = ", ".join(without[:3]) + (f" and {len(without) - 3} more" if len(without) > 3 else "")
                    result.tables_missing = (f"job{'s' if len(without) > 1 else ''} {which} of {coll.name} "
                                            f"{'have' if len(without) > 1 else 'has'} no article table: "
                                            f"`{coll.command('extract')}` "
                                            "writes every table again")
            except StoreError as exc:  # (a damaged earlier file: what was captured stands, and is indexed)
                result.extract_error = str(exc)
            except Exception as exc:  # (a fault of the extraction: the capture is indexed and pushed all the same)
                log.exception("extraction of job %s failed", doc.get("job_id"))
                result.extract_error = f"the extraction failed: {type(exc).__name__}: {exc}"
        # CDXJ of the new WARCs, the merged index and the catalog, for replay (archive.index).
        # A WARC that cannot be indexed (an earlier one damaged, say) is reported, and the
        # rest indexed and pushed all the same.
        try:
            result.unindexed = update_indexes(coll).unindexed
        except StoreError as exc:  # (the job is saved: said after its summary, not in its place)
            result.index_error = str(exc)
        except OSError as exc:
            if exc.errno not in (*UNWRITABLE, errno.ENOSPC, errno.EDQUOT, errno.ENAMETOOLONG):
                raise
            result.index_error = f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
    storage = collection.settings.get("storage")
    if storage is not None:
        result.pushed, result.push_error = _push_collection(store, collection.name, storage)


@contextlib.contextmanager
def _sigterm_interrupts(main_thread: bool) -> Iterator[None]:
    """Within it, SIGTERM raises KeyboardInterrupt as SIGINT does (in the main thread only,
    where handlers can be set)."""
    if not main_thread:
        yield
        return

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminal_signalled_us() -> bool:
    """Whether this process is in the foreground of a terminal, whose Ctrl-C then reached
    its whole process group (the crawl process too), rather than a SIGINT sent to it alone."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:  # (no terminal)
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _stopping_promptly(base: type) -> type:
    """``CrawlerProcess`` whose graceful stop (SIGTERM, SIGINT) drops the requests waiting
    in the downloader for their turn: Scrapy fetches every one of them before it closes, one
    per download delay (sixteen at a 10 s delay take minutes, past a service manager's
    patience, whose SIGKILL then leaves open files). Downloads under way are finished and
    recorded; what waited is not fetched, as what waited in the scheduler is not."""

    class Process(base):  # type: ignore[misc, valid-type]
        def _signal_shutdown(self, signum: int, frame: Any) -> None:
            from twisted.internet import reactor

            reactor.callFromThread(_drop_waiting_downloads, self)
            super()._signal_shutdown(signum, frame)

    return Process


def _drop_waiting_downloads(process: Any) -> None:
    from scrapy.exceptions import IgnoreRequest
    from twisted.python.failure import Failure

    from crawler.middlewares import STOPPING

    for crawler in getattr(process, "crawlers", ()):
        # (and any request that comes to the downloader from now on: one that waited for a
        # robots.txt dropped here would otherwise go on as if the site had none)
        setattr(crawler, STOPPING, True)
        downloader = getattr(getattr(crawler, "engine", None), "downloader", None)
        for slot in list(getattr(downloader, "slots", {}).values()):
            queue = getattr(slot, "queue", None)
            while queue:
                _, waiting = queue.popleft()
                waiting.errback(Failure(IgnoreRequest("not fetched: the crawl is stopping")))


def _push_collection(store: Path, name: str, storage: dict[str, Any]) -> tuple[Any, str | None]:
    """Push the whole collection (idempotent, so whatever an earlier failed push left is retried).

    A failure is returned, not raised: the crawl's result stands either way.
    """
    from archive.errors import ArchiveError
    from archive.storage import DEFAULT_PART_SIZE, push

    try:
        return push(store, storage["to"], collection=name, endpoint_url=storage.get("endpoint_url"),
                    part_size=storage.get("part_size", DEFAULT_PART_SIZE),
                    waiting=lambda why: log.warning("push of collection %s: %s", name, why)), None
    except ArchiveError as exc:
        # (info: the caller says it, as `archive crawl` does, once)
        log.info("push of collection %s to %s failed: %s", name, storage["to"], exc)
        return None, str(exc)


def _wait(child: subprocess.Popen[bytes]) -> None:
    while True:
        try:
            child.wait()
            return
        except KeyboardInterrupt:
            continue


def _forward(child: subprocess.Popen[bytes], signum: int) -> None:
    if child.poll() is None:
        child.send_signal(signum)


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1:]))

