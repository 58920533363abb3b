from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from archive.commands.common import (
    ProgressLine,
    collection_name,
    count,
    given,
    http_url,
    non_negative,
    print_crawl_summary,
    shell_quoted,
    store_option,
)
from archive.commands.push import print_push_result
from archive.errors import UsageError

NAME = "crawl"
HELP = "Crawl collections (from a TOML file) or seeds given as flags into WARC files."
EXAMPLE = ("examples:\n  archive crawl collections.toml --collection meridian\n"
           "  archive crawl --url https://news.example/ --feed https://news.example/feed/ --max-pages 200 --depth 2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", type=given, metavar="CONFIG.toml", help="collections file (see docs/collections.md)")
    parser.add_argument("--collection", action="append", type=collection_name, default=[], metavar="NAME",
                        help="with CONFIG: the collections to run (repeatable, default all); "
                             "without: the name of the one-off collection (default: default)")
    parser.add_argument("--url", action="append", type=http_url, default=[], metavar="URL",
                        help="seed page (repeatable)")
    parser.add_argument("--feed", action="append", type=http_url, default=[], metavar="URL",
                        help="RSS or Atom feed to take article links from (repeatable)")
    parser.add_argument("--sitemap", action="append", type=http_url, default=[], metavar="URL",
                        help="sitemap or sitemap index (repeatable)")
    parser.add_argument("--max-pages", type=non_negative, metavar="N", help="stop after N pages")
    parser.add_argument("--depth", type=non_negative, metavar="N",
                        help="follow links at most N hops from a seed or feed item")
    parser.add_argument("--warc-max-bytes", type=non_negative, metavar="N",
                        help="start a new WARC file once one reaches N bytes (default 1000000000)")
    parser.add_argument("--min-free-bytes", type=non_negative, metavar="N",
                        help="do not start, or stop, while the store's disk has less than N bytes free "
                             "(default 268435456; 0: no floor)")
    store_option(parser)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.config import load_collections, one_off, seeds_outside_scope, with_overrides
    from archive.crawl import crawl
    from archive.store import resolve_store

    overrides = {"max_pages": args.max_pages, "max_depth": args.depth, "warc_max_bytes": args.warc_max_bytes,
                 "min_free_bytes": args.min_free_bytes}
    if args.config:
        if args.url or args.feed or args.sitemap:
            raise UsageError("give seeds either in CONFIG or as --url/--feed/--sitemap, not both")
        collections = [with_overrides(c, **overrides) for c in load_collections(Path(args.config), args.collection)]
    else:
        if not (args.url or args.feed or args.sitemap):
            raise UsageError("give a collections file, or at least one seed with --url, --feed or --sitemap")
        if len(args.collection) > 1:
            raise UsageError("without CONFIG, --collection names the one collection to create; give it once")
        name = args.collection[0] if args.collection else "default"
        collections = [one_off(name, urls=args.url, feeds=args.feed, sitemaps=args.sitemap, **overrides)]
    store = resolve_store(args.store)
    for collection in collections:
        _say_if_never_again(collection, err)
        for said in seeds_outside_scope(collection):
            print(f"archive crawl: warning: collection {collection.name!r}: {said}", file=err)
    status = 0
    for collection in collections:
        result = crawl(store, collection, progress=ProgressLine(err))
        print_crawl_summary(result, out)
        _say_earlier_deaths(store, collection.name, result.job_id, err)
        for said in result.damaged_logs:  # (said, not failed: this job's capture is whole)
            print(f"archive crawl: warning: {said}", file=err)
        if result.outcome != "finished" or _no_seed_fetched(collection, result, err):
            status = 1
        if result.extract_error is not None:
            print(f"archive crawl: the job's articles were not extracted: {result.extract_error}", file=err)
            status = 1
        if result.tables_missing is not None:  # (said, not failed: this job's capture and table are whole)
            print(f"archive crawl: warning: {result.tables_missing}", file=err)
        if result.index_error is not None:
            print(f"archive crawl: the collection's indexes were not brought up to date: {result.index_error}; the "
                  "job's files are whole (`archive verify`), and `archive index` brings them up to date", file=err)
            status = 1
        for problem in result.unindexed:
            print(f"archive crawl: {problem}; the other WARCs are indexed", file=err)
            status = 1
        if result.push_error is not None:
            print(f"archive crawl: push of {collection.name} failed: {result.push_error}; local files are "
                  "intact and the next crawl or `archive push` retries it", file=err)
            status = 1
        elif result.pushed is not None:
            print_push_result(result.pushed, out)
            for said in [*result.pushed.held_back.values(), *result.pushed.stopped.values()]:
                print(f"archive crawl: {said}", file=err)
                status = 1
        if result.interrupted:
            # (stopped by a signal: the collections after it are not begun)
            left = collections[collections.index(collection) + 1:]
            if left:
                print(f"archive crawl: interrupted; not crawled: {', '.join(c.name for c in left)}", file=err)
            return 1
    return status


def _say_earlier_deaths(store: Path, name: str, job_id: str, err: TextIO) -> None:
    """Warn of jobs of the collection, before this one, that died without a manifest: their
    files wait for a repair, which only `archive status` and `archive verify` said."""
    from archive.status import died_jobs
    from archive.store import collection_dir

    coll = collection_dir(store, name)
    died = [job for job in died_jobs(coll) if job != job_id]
    if died:
        print(f"archive crawl: warning: {count(len(died), 'earlier job')} of {name} died without a manifest "
              f"({', '.join(died[:3])}{', ...' if len(died) > 3 else ''}); `archive verify --repair "
              f"{shell_quoted(coll.root)}` closes {'its' if len(died) == 1 else 'their'} files", file=err)


def _say_if_never_again(collection: Any, err: TextIO) -> None:
    """A schedule that fires no more (a year's, passed; a day no month has) is crawled now,
    but `archive schedule` will refuse the collection: say so before the crawl, not after."""
    from archive.config import check_schedule
    from archive.errors import ConfigError

    try:
        check_schedule(collection.settings, f"collection {collection.name!r}", to_come=True)
    except ConfigError as exc:
        print(f"archive crawl: warning: {exc}; `archive schedule` will not run it", file=err)


def _no_seed_fetched(collection: Any, result: Any, err: TextIO) -> bool:
    """Say why a job got none of its seeds (each seed's error: a host that is down, a
    robots.txt that could not be had); whether that was so. A job that finished without a
    page of its site is a failure to whoever runs it on a schedule. (Its log is read only
    when it captured no more than its seed hosts' robots.txt files might be.)"""
    from archive.capture_log import seeds_not_fetched
    from archive.urls import host_of

    if result.counts["captured"] > 2 * len({host_of(seed["url"]) for seed in collection.seeds}):
        return False
    logs = [f for f in result.files if f["kind"] == "capture-log"]
    failed = seeds_not_fetched(result.store / result.collection / logs[0]["path"]) if logs else {}
    if not failed:
        return False
    print(f"archive crawl: no seed of collection {result.collection} could be fetched", file=err)
    for url, why in list(failed.items())[:5]:
        print(f"  {url}: {why}", file=err)
    if len(failed) > 5:
        print(f"  and {len(failed) - 5} more; see the capture log", file=err)
    return True
