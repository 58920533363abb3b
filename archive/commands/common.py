"""Shared pieces of the command modules: argument types, options, output helpers."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import time
from typing import Any, Self, TextIO
from urllib.parse import urlsplit


class CommandSays(logging.Formatter):
    """What the library logs while a command runs (a damaged line of a log passed over, an
    index built again), worded as the command's own warnings: ``archive crawl: warning:
    ...``. Without it, Python's last resort printed the bare message, which said nothing of
    who said it."""

    def __init__(self, command: str):
        super().__init__()
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        return f"archive {self.command}: {record.levelname.lower()}: {record.getMessage()}"


def library_warnings(command: str, err: TextIO) -> logging.Handler:
    """A handler that says the library's warnings (and worse) on ``err`` as ``command``'s."""
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(CommandSays(command))
    return handler


def given(text: str) -> str:
    """A path or address that is not the empty string (which would mean the current
    directory, or every interface)."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def http_url(text: str) -> str:
    if not re.match(r"^https?://[^\s/]+", text, re.IGNORECASE):  # ("HTTPS://" is the same scheme)
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    try:
        urlsplit(text).port  # noqa: B018 (read for the ValueError of a port out of range)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid URL ({exc})") from None
    return text


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def port(text: str) -> int:
    value = non_negative(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return value


def collection_name(text: str) -> str:
    from archive.store import COLLECTION_NAME

    if not COLLECTION_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a collection name (lower-case letters, digits and dashes)")
    return text


def shell_quoted(path: object) -> str:
    """``path`` as a POSIX shell reads it back, in text any terminal takes: a name that is
    not UTF-8 (a file system takes any bytes; Python holds them as surrogates, which a UTF-8
    stream refuses) in bash's ``$'...'``, its bytes escaped."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "$'" + "".join(chr(b) if 0x20 <= b < 0x7F and b not in b"'\\" else f"\\x{b:02x}"
                              for b in os.fsencode(text)) + "'"
    return shlex.quote(text)


def store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=given, metavar="DIR", help="store directory (default $ARCHIVE_STORE, else ./archive-store)")


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
    from archive.capture_log import error_count
    from archive.store import CollectionDir

    counts = result.counts
    coll = result.store / result.collection
    warcs = [f for f in result.files if f["kind"] == "warc"]
    print(f"Job {result.job_id} {result.outcome}: {count(counts['captured'], 'response')} captured, "
          f"{count(error_count(counts), 'error')}, "
          f"{counts['robots_disallowed']} refused by robots.txt, {human_bytes(counts['bytes'])} of bodies.", file=out)
    crawl_log = CollectionDir(coll).crawl_log(result.job_id)
    bad = counts.get("bad_documents", 0)
    if bad:  # (a feed that is an HTML page or gone to the home page: a job of no articles, else unsaid)
        print(f"  {bad} feed{'s or sitemaps' if bad > 1 else ' or sitemap'} could not be read: see \"bad document\" "
              f"in {crawl_log}", file=out)
    pages = getattr(result, "html_sitemaps", 0)
    if pages:  # (a site's /sitemap.html given as its sitemap)
        print(f"  {count(pages, 'sitemap')} {'was an HTML page' if pages == 1 else 'were HTML pages'}, read as "
              f"{'a page' if pages == 1 else 'pages'}: see \"is an HTML page\" in {crawl_log}", file=out)
    elsewhere = getattr(result, "out_of_scope", 0)
    if elsewhere:  # (a feed on feeds.example.com of articles on www.example.com: a job of no articles)
        what = "feed item or sitemap entry" if elsewhere == 1 else "feed items or sitemap entries"
        print(f"  {elsewhere} {what} on hosts out of the scope not fetched: see \"out of the scope\" in "
              f"{crawl_log} (scope.allow_hosts takes a host in)", file=out)
    print(f"  WARCs     {coll / 'warcs'}/ ({count(len(warcs), 'file')}, "
          f"{human_bytes(sum(f['size'] for f in warcs))})", file=out)
    for f in result.files:
        if f["kind"] == "capture-log":
            print(f"  log       {coll / f['path']}", file=out)
    print(f"  manifest  {result.manifest}", file=out)
    if result.articles is not None:
        print(f"  articles  {result.articles} ({count(result.article_count, 'article')})", file=out)
    print(f"Verify it:  archive verify {shlex.quote(str(coll))}", file=out)


def print_report(report: Any, out: TextIO) -> None:
    for problem in report.problems:
        print(problem, file=out)
    for note in report.notes:
        print(f"note: {note}", file=out)
    summary = (f"{count(report.files, 'file')}, {count(report.records, 'record')}, "
               f"{count(report.manifests, 'manifest')} checked")
    lost = getattr(report, "lost", 0)
    if lost:
        summary += f"; {count(lost, 'file')} stated lost"
    if report.ok:
        print(f"OK: {summary}; no problems.", file=out)
    else:
        print(f"FAILED: {count(len(report.problems), 'problem')}; {summary}.", file=out)


def remember_verify(collections: list[Any], report: Any, err: TextIO, command: str = "verify") -> None:
    """Record, for `archive status`, what a verify of ``collections`` found; say so where
    that cannot be (the verify itself stands), as ``command`` says its warnings."""
    from datetime import UTC, datetime

    from archive.status import record_verify

    for problem in record_verify(collections, [p.path for p in report.problems], datetime.now(UTC)):
        print(f"archive {command}: warning: could not record this verify for archive status: {problem}", file=err)


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def is_s3_url(text: str) -> bool:
    """Whether a command's PATH names a bucket (``s3://BUCKET/PREFIX``), not a local path."""
    return text.startswith("s3://")


def endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", metavar="URL", type=http_url,
                        help="S3-compatible endpoint (MinIO, Ceph, R2...); default $AWS_ENDPOINT_URL, else AWS")


class TransferBar:
    """A tqdm bar of bytes sent or received, on stderr; the library only calls ``start``/``update``."""

    def __init__(self, stream: TextIO, verb: str):
        self.stream = stream
        self.verb = verb
        self.bar: Any = None

    def start(self, total: int) -> None:
        from tqdm import tqdm

        if total > 0:
            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=self.verb,
                            file=self.stream, leave=False, mininterval=0.5)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
