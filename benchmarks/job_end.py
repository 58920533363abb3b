"""What a whole job costs in a collection that has run for a long time.

A collection crawled every half hour has some 17,500 jobs after a year; what each new job
pays must not grow with them. This writes a collection of many small jobs with the capture
job itself (real WARCs, logs and manifests), indexes it as the crawls would have, then runs
one-page crawls of a page served on 127.0.0.1, each in a fresh process as `archive crawl` and
`archive schedule` run them, and times each crawl whole and in parts: the crawl process
(start-up, the crawl, its capture worker's close and manifest), the extraction of the job's
articles, and the update of the indexes and catalog. Not part of the test suite.

    python benchmarks/job_end.py [--jobs 2000] [--pages 3] [--crawls 5] [--store DIR]

With ``--store`` the collection is written there once and used again by later runs (each
crawl adds a job to it); copies of one store let two versions of the code be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NAME = "long"  # (the collection catalog_update.write_job writes)
PAGE = (b"<html><head><title>Today</title></head><body><article><h1>A headline of today</h1>"
        + b"<p>Some words of the article's body, as a news page has them.</p>" * 40 + b"</article></body></html>")

# Run in a fresh process: one crawl, timed whole and in parts.
_ONE_CRAWL = """
import json, sys, time
import archive.extract, archive.index
from archive import crawl as crawling
from archive.config import collection_from_dict
spent = {"extract": 0.0, "index": 0.0}
def timed(module, name, key):
    real = getattr(module, name)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - t0
    setattr(module, name, wrapper)
timed(archive.index, "update_indexes", "index")
timed(archive.extract, "extract_job", "extract")
store, url, name = sys.argv[1:4]
collection = collection_from_dict({"name": name, "urls": [url], "scope": {"max_depth": 0}, "obey_robots": False})
t0 = time.perf_counter()
result = crawling.crawl(store, collection)
whole = time.perf_counter() - t0
print(json.dumps(dict(spent, whole=whole, crawl=whole - spent["extract"] - spent["index"], outcome=result.outcome)))
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *_: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000, help="jobs the collection has run (default 2000)")
    parser.add_argument("--pages", type=int, default=3, help="pages each of those captured (default 3)")
    parser.add_argument("--crawls", type=int, default=5, help="one-page crawls timed (default 5)")
    parser.add_argument("--store", type=Path, help="write the collection here once, and use it again later")
    args = parser.parse_args()
    from catalog_update import write_job  # (this directory is the script's: first on sys.path)

    store = args.store or Path(tempfile.mkdtemp(prefix="bench-job-end-"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        manifests = store / NAME / "manifests"
        if not manifests.is_dir():
            from archive.index import update_indexes
            from archive.store import collection_dir

            t0 = time.perf_counter()
            for number in range(args.jobs):
                write_job(store, number, args.pages, start=datetime(2025, 1, 1, tzinfo=UTC))
            update_indexes(collection_dir(store, NAME))
            print(f"{args.jobs} jobs of {args.pages} pages written and indexed in {time.perf_counter() - t0:.0f} s")
        jobs = len(list(manifests.glob("*.json")))
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        runs = []
        for _ in range(args.crawls):
            out = subprocess.run([sys.executable, "-c", _ONE_CRAWL, str(store), url, NAME], check=True,
                                 stdout=subprocess.PIPE, env=dict(os.environ, PYTHONHASHSEED="0")).stdout
            runs.append(json.loads(out.decode().strip().splitlines()[-1]))
    finally:
        server.shutdown()
        if args.store is None:
            shutil.rmtree(store, ignore_errors=True)
    if not runs:
        return
    print(f"\none-page crawls of a collection of {jobs} jobs, each in a fresh process; medians of {len(runs)} (s):\n")
    print("| whole crawl | crawl process | extraction | indexes and catalog |\n|---:|---:|---:|---:|")
    print("| " + " | ".join(f"{statistics.median(r[k] for r in runs):.3f}"
                            for k in ("whole", "crawl", "extract", "index")) + " |")
    if any(r["outcome"] != "finished" for r in runs):
        print("\n(not every crawl finished: " + ", ".join(r["outcome"] for r in runs) + ")")


if __name__ == "__main__":
    main()
