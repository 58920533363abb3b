from __future__ import annotations

import argparse
from typing import TextIO

from archive.commands.common import (
    ProgressLine,
    port,
    print_crawl_summary,
    print_report,
    remember_verify,
    store_option,
)
from archive.errors import UsageError

NAME = "demo"
HELP = "Crawl the bundled local news site (no network) and verify the result."
EXAMPLE = "example: archive demo --store /tmp/demo-store;  archive demo --serve --port 8000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    store_option(parser)
    parser.add_argument("--serve", action="store_true",
                        help="only serve the demo site on 127.0.0.1 until stopped (Ctrl-C), to crawl it yourself")
    parser.add_argument("--port", type=port, default=None, help="port for --serve (default 8000; 0: any free one)")


def _serve(port_number: int, out: TextIO) -> int:
    import signal
    import threading

    from archive.demo.server import serve
    from archive.demo.site import DemoSite

    site = DemoSite()
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        with serve(site, host="127.0.0.1", port=port_number) as base_url:
            print(f"Serving the bundled demo news site ({len(site.articles)} articles) at {base_url}/ until stopped "
                  f"(Ctrl-C). Crawl it with:\n  archive crawl --url {base_url}/ --collection local", file=out,
                  flush=True)
            stopped.wait()
    except OSError as exc:  # (the port is taken, say)
        raise UsageError(f"cannot serve on 127.0.0.1:{port_number}: {exc.strerror or exc}") from None
    return 0


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.demo.run import DEMO_COLLECTION, run_demo
    from archive.store import collection_dir, resolve_store

    if args.serve:
        return _serve(8000 if args.port is None else args.port, out)
    if args.port is not None:
        raise UsageError("--port is for --serve; the demo crawl serves its site on a free port of its own")
    store = resolve_store(args.store)
    print(f"Serving the bundled demo news site on 127.0.0.1 and crawling it into {store} ...", file=out, flush=True)
    result = run_demo(store, progress=ProgressLine(err))
    print(f"The demo site ({result.articles} articles, feeds, sitemaps, a few broken links) was at {result.site_url}.",
          file=out)
    print_crawl_summary(result.crawl, out)
    print("Verification:", file=out)
    print_report(result.verify, out)
    remember_verify([collection_dir(store, DEMO_COLLECTION)], result.verify, err, "demo")  # (as `archive verify` does)
    print("Next: inspect a capture log line with", file=out)
    print(f"  head -n 3 {store / 'demo' / 'logs'}/*.captures.jsonl", file=out)
    return 0 if result.verify.ok else 1
