from __future__ import annotations

import argparse
from typing import TextIO

from archive.commands.common import ProgressLine, print_crawl_summary, print_report, store_option

NAME = "demo"
HELP = "Crawl the bundled local news site (no network) and verify the result."
EXAMPLE = "example: archive demo --store /tmp/demo-store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    store_option(parser)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
