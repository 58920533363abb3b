"""The ``archive`` command: a thin layer that parses, calls the library, and prints.

Library errors (:mod:`archive.errors`) become one-line messages and exit codes here:
0 success, 1 problems found or the job failed, 2 usage or configuration errors.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from archive import __version__
from archive.errors import ArchiveError, UsageError

EXAMPLES = {
    "demo": "example: archive demo --store /tmp/demo-store",
    "crawl": "example: archive crawl --url https://news.example/ --store archive-store --max-pages 200 --depth 2",
    "extract": "example: archive extract --store archive-store --collection demo",
    "verify": "example: archive verify archive-store/demo    (or a manifest, a WARC, a store; --repair closes a killed job)",
}


def _http_url(text: str) -> str:
    if not re.match(r"^https?://[^\s/]+", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _collection_name(text: str) -> str:
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,63}$", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a collection name (lower-case letters, digits and dashes)")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archive", description="Capture news into verifiable WARC files.")
    parser.add_argument("--version", action="version", version=f"archive {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    def store_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", metavar="DIR", help="store directory (default $ARCHIVE_STORE, else ./archive-store)")

    demo = command("demo", "Crawl the bundled local news site (no network) and verify the result.")
    store_option(demo)

    crawl = command("crawl", "Crawl collections (from a TOML file) or seeds given as flags into WARC files.")
    crawl.add_argument("config", nargs="?", metavar="CONFIG.toml", help="collections file (see docs/collections.md)")
    crawl.add_argument("--collection", action="append", type=_collection_name, default=[], metavar="NAME",
                       help="with CONFIG: the collections to run (repeatable, default all); "
                            "without: the name of the one-off collection (default: default)")
    crawl.add_argument("--url", action="append", type=_http_url, default=[], metavar="URL", help="seed page (repeatable)")
    crawl.add_argument("--feed", action="append", type=_http_url, default=[], metavar="URL",
                       help="RSS or Atom feed to take article links from (repeatable)")
    crawl.add_argument("--sitemap", action="append", type=_http_url, default=[], metavar="URL",
                       help="sitemap or sitemap index (repeatable)")
    crawl.add_argument("--max-pages", type=_positive, metavar="N", help="stop after N pages")
    crawl.add_argument("--depth", type=_positive, metavar="N", help="follow links at most N hops from a seed or feed item")
    crawl.add_argument("--warc-max-bytes", type=_positive, metavar="N",
                       help="start a new WARC file once one reaches N bytes (default 1000000000)")
    store_option(crawl)

    extract = command("extract", "Re-derive the article table of a collection from its WARCs (offline).")
    extract.add_argument("--collection", type=_collection_name, required=True, metavar="NAME")
    store_option(extract)

    verify = command("verify", "Check digests, files against manifests, the manifest chain and the schemas.")
    verify.add_argument("path", metavar="PATH", help="a store, a collection directory, a manifest or a WARC")
    verify.add_argument("--repair", action="store_true", help="first close files a killed job left open")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(out)
        return 2
    handler = {"demo": cmd_demo, "crawl": cmd_crawl, "extract": cmd_extract, "verify": cmd_verify}[args.command]
    try:
        return handler(args, out, err)
    except UsageError as exc:
        print(f"archive {args.command}: error: {exc}", file=err)
        return 2
    except ArchiveError as exc:
        print(f"archive {args.command}: {exc}", file=err)
        return 1
    except KeyboardInterrupt:
        print(f"archive {args.command}: interrupted", file=err)
        return 130


# -- output helpers ------------------------------------------------------------------------


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class ProgressLine:
    """Live progress on stderr: rewritten in place on a terminal, a line every 5 s elsewhere."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, snap: dict[str, Any]) -> None:
        rate = snap["pages"] / snap["elapsed"] if snap["elapsed"] > 0 else 0.0
        text = (f"pages {snap['pages']}  errors {snap['errors']}  {human_bytes(snap['bytes'])}  "
                f"{rate:.1f} pages/s")
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if snap.get("final") else ""))
            self.stream.flush()
        elif snap.get("final") or time.monotonic() - self.last >= 5:
            self.last = time.monotonic()
            print(text, file=self.stream, flush=True)


def print_crawl_summary(result: Any, out: TextIO) -> None:
    counts = result.counts
    coll = result.store / result.collection
    warcs = [f for f in result.files if f["kind"] == "warc"]
    errors = counts["failed"] + sum(n for s, n in counts["by_status"].items() if int(s) >= 400)
    print(f"Job {result.job_id} {result.outcome}: {counts['captured']} responses captured, {errors} errors, "
          f"{counts['robots_disallowed']} refused by robots.txt, {human_bytes(counts['bytes'])} of bodies.", file=out)
    print(f"  WARCs     {coll / 'warcs'}/ ({_count(len(warcs), 'file')}, "
          f"{human_bytes(sum(f['size'] for f in warcs))})", file=out)
    for f in result.files:
        if f["kind"] == "capture-log":
            print(f"  log       {coll / f['path']}", file=out)
    print(f"  manifest  {result.manifest}", file=out)
    if result.articles is not None:
        print(f"  articles  {result.articles} ({_count(result.article_count, 'article')})", file=out)
    print(f"Verify it:  archive verify {coll}", file=out)


def print_report(report: Any, out: TextIO) -> None:
    for problem in report.problems:
        print(problem, file=out)
    for note in report.notes:
        print(f"note: {note}", file=out)
    summary = (f"{_count(report.files, 'file')}, {_count(report.records, 'record')}, "
               f"{_count(report.manifests, 'manifest')} checked")
    if report.ok:
        print(f"OK: {summary}; no problems.", file=out)
    else:
        print(f"FAILED: {_count(len(report.problems), 'problem')}; {summary}.", file=out)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# -- commands ---------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.demo.run import run_demo
    from archive.store import resolve_store

    store = resolve_store(args.store)
    print(f"Serving the bundled demo news site on 127.0.0.1 and crawling it into {store} ...", file=out, flush=True)
    result = run_demo(store, progress=ProgressLine(err))
    print(f"The demo site ({result.articles} articles, feeds, sitemaps, a few broken links) was at {result.site_url}.",
          file=out)
    print_crawl_summary(result.crawl, out)
    print("Verification:", file=out)
    print_report(result.verify, out)
    print("Next: inspect a capture log line with", file=out)
    print(f"  head -n 3 {store / 'demo' / 'logs'}/*.captures.jsonl", file=out)
    return 0 if result.verify.ok else 1


def cmd_crawl(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.config import load_collections, one_off, with_overrides
    from archive.crawl import crawl
    from archive.store import resolve_store

    overrides = {"max_pages": args.max_pages, "max_depth": args.depth, "warc_max_bytes": args.warc_max_bytes}
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
    status = 0
    for collection in collections:
        result = crawl(store, collection, progress=ProgressLine(err))
        print_crawl_summary(result, out)
        if result.outcome != "finished":
            status = 1
    return status


def cmd_extract(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.extract import extract_collection
    from archive.store import resolve_store

    written = extract_collection(resolve_store(args.store), args.collection)
    for path, rows in written:
        print(f"{path}: {_count(rows, 'article')}", file=out)
    print(f"{_count(len(written), 'job')}, {_count(sum(r for _, r in written), 'article')} extracted.", file=out)
    return 0


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.repair import repair
    from archive.verify import verify

    path = Path(args.path)
    if args.repair:
        if not path.is_dir():
            raise UsageError("--repair takes a store or a collection directory")
        fixed = repair(path)
        for name in fixed.closed:
            print(f"repaired: {name}", file=out)
        for manifest in fixed.manifests:
            print(f"wrote manifest for interrupted job: {manifest}", file=out)
        for name in fixed.skipped_live:
            print(f"left alone (job still running): {name}", file=out)
        if fixed.dropped_bytes:
            print(f"dropped {fixed.dropped_bytes} bytes of incomplete records", file=out)
    report = verify(path)
    print_report(report, out)
    return 0 if report.ok else 1
