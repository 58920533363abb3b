"""What the end of a job costs in a collection that has run for a long time.

After each job ``archive crawl`` indexes the job's WARCs, merges the indexes and brings
the catalog up to date. This writes a collection of many jobs with the capture job itself
(real WARCs, logs and manifests of small HTML pages), indexes it, adds one job more, and
times that job's index update against building the catalog from scratch, which is what
every job's end did before the catalog took in new files alone. Not part of the test suite.

    python benchmarks/catalog_update.py [--jobs 300] [--pages 100]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

SITE = "http://news.example"


def write_job(store: Path, number: int, pages: int, *, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
    """Job ``number`` of collection ``long``, run half an hour after the one before it from
    ``start``, by the capture job itself: ``pages`` small HTML pages (also used by
    ``job_end.py``)."""
    from archive.capture import Fetch, Provenance
    from archive.config import one_off
    from archive.job import CaptureJob

    when = start + timedelta(minutes=30 * number)
    job = CaptureJob(store, one_off("long", urls=[SITE + "/"]), clock=lambda: when, dedup=False)
    for i in range(pages):
        url = f"{SITE}/section/{(number * 7 + i) % 5000}"
        body = (f"<html><head><title>Page {i} of job {number}</title></head><body>"
                f"<p>{'words ' * 200}</p></body></html>").encode()
        job.record_fetch(Fetch(
            url=url, method="GET", request_headers=[(b"Host", b"news.example")], request_body=b"", status=200,
            response_headers=[(b"Content-Type", b"text/html"), (b"Content-Length", str(len(body)).encode())],
            body=body, started=when, duration_ms=5.0, protocol="HTTP/1.1", reason="OK",
            remote_ip="127.0.0.1", provenance=Provenance(SITE + "/", "link", None, None, SITE + "/", "L", 1, url)))
    job.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=300, help="jobs the collection has run (default 300)")
    parser.add_argument("--pages", type=int, default=100, help="pages a job captures (default 100)")
    args = parser.parse_args()

    from archive.catalog import build_catalog
    from archive.index import update_indexes
    from archive.store import collection_dir

    store = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    try:
        t0 = time.perf_counter()
        for number in range(args.jobs):
            write_job(store, number, args.pages)
        coll = collection_dir(store, "long")
        update_indexes(coll)
        print(f"{args.jobs} jobs of {args.pages} pages written and indexed in {time.perf_counter() - t0:.0f} s")
        write_job(store, args.jobs, args.pages)
        t0 = time.perf_counter()
        update_indexes(coll)
        after_job = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_catalog(coll)
        scratch = time.perf_counter() - t0
    finally:
        shutil.rmtree(store, ignore_errors=True)
    print(f"\n| after one job more | seconds |\n|---|---:|\n| index update (new WARC indexed, merged index, catalog "
          f"takes in the new files) | {after_job:.2f} |\n| the catalog built from scratch | {scratch:.2f} |")
    print(f"\nindex update ÷ catalog from scratch: {after_job / scratch:.3f}")


if __name__ == "__main__":
    main()
