from __future__ import annotations

import argparse
import json
import re
import textwrap
from typing import TextIO

from archive.commands.common import collection_name, store_option

NAME = "history"
HELP = "Every capture of a URL, and what changed between the versions of its article."
EXAMPLE = "example: archive history https://news.example/2026/03/14/story --store archive-store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL")
    store_option(parser)
    parser.add_argument("--collection", type=collection_name, metavar="NAME",
                        help="this collection only (default: every collection of the store)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


# Characters that would act on the terminal instead of showing: controls (a headline's
# newline, an escape sequence) and the overrides of the text's direction.
_ACTING = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _shown(text: str | None) -> str:
    """``text`` to print on a line: each acting character as its escape (``\\n``, ``\\u202e``)."""
    return _ACTING.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text or "")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.article_history import url_history
    from archive.store import resolve_store

    history = url_history(resolve_store(args.store), args.url, args.collection)
    if args.json:
        json.dump(history, out, indent=2, sort_keys=True)
        out.write("\n")
        return 0 if history["captures"] else 1
    print(history["url"], file=out)
    if not history["captures"]:
        print("  never captured", file=out)
        return 1
    for c in history["captures"]:
        digest = (c["payload_digest"] or "")[:17]
        lost = "  (its WARC is stated lost)" if c["lost"] else ""
        print(f"  {c['time']}  {c['status'] or '---'}  {digest:<17}  {c['kind']:<38} {c['job_id']}{lost}", file=out)
    # (versions run within a collection: where the URL is in several, each says which)
    several = len({v["collection"] for v in history["versions"]}) > 1
    for v in history["versions"]:
        label = "withdrawn" if v["status"] == "withdrawn" else f"{v['word_count']} words"
        label += "; its capture in a WARC stated lost" if v["lost"] else ""
        of = f" of {v['collection']}" if several else ""
        label += f"; at {v['url']}" if v["url"] != history["url"] else ""  # (an article that moved)
        print(f"Version {v['version']}{of} ({v['capture_time']}, {label}): {_shown(v['headline'])}", file=out)
        changes = v["changes"]
        if not changes:
            continue
        if changes["headline"]:
            print(f"  headline: {changes['headline']['from']!r} -> {changes['headline']['to']!r}", file=out)
        for line in changes["body_diff"]:
            for i, part in enumerate(textwrap.wrap(_shown(line), 100) or [""]):
                print(("    " if i == 0 else "      ") + part, file=out)
    return 0
