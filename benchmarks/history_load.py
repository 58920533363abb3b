"""What a crawl pays at its start for the history of a long-running collection.

A collection run every half hour collects capture logs for months; every crawl (its crawl
process and its capture worker both) needs what they hold: the latest capture of every
URL and the original record of every payload. This measures, each in a fresh process,
reading every log into memory (as before ``history.sqlite``), building the history file
from scratch (once), loading it when it is up to date, and loading it after one more job,
with the peak RSS of each process. Not part of the test suite.

    python benchmarks/history_load.py [--jobs 2000] [--lines 200]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

URLS = 20_000  # distinct URLs the logs keep coming back to


def _line(job: int, i: int) -> dict[str, object]:
    url = f"https://news.example/section/{(job * 37 + i) % URLS}/a-fairly-long-article-slug"
    return {"job_id": f"c-{job}", "url": url, "outcome": "captured", "status": 200,
            "started": f"2026-01-01T00:00:{i % 60:02d}.000000Z", "payload_digest": f"sha1:{job:016d}{i:016d}",
            "etag": f'"{job}-{i}"', "last_modified": None, "truncated": None, "revisit": None,
            "warc": {"filename": f"c-{job}.warc.gz", "offset": i * 1000, "length": 900,
                     "record_id": f"<urn:uuid:00000000-0000-0000-{job:04d}-{i:012d}>"}}


def _write_logs(logs: Path, first: int, jobs: int, lines: int) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    for job in range(first, first + jobs):
        with open(logs / f"c-2026{job:08d}.captures.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(_line(job, i), separators=(",", ":")) + "\n" for i in range(lines))


def _measure(kind: str, root: str) -> None:
    """In a fresh process: load the history ``kind``'s way; print seconds and peak RSS."""
    from archive.history import CollectionHistory
    from archive.store import CollectionDir

    coll = CollectionDir(Path(root))
    t0 = time.perf_counter()
    if kind == "memory":
        history = CollectionHistory()
        for path in sorted(coll.logs.glob("*.captures.jsonl")):
            history.add_log(path)
    else:
        history = CollectionHistory.load(coll)
    took = time.perf_counter() - t0
    keys = [f"https://news.example/section/{i}/a-fairly-long-article-slug" for i in range(0, URLS, 10)]
    t0 = time.perf_counter()
    found = sum(history.urls.get(key) is not None for key in keys)
    lookup = (time.perf_counter() - t0) / len(keys)
    print(json.dumps({"seconds": took, "lookup_us": lookup * 1e6, "found": found,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run(kind: str, root: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--measure", kind, str(root)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000, help="closed capture logs (default 2000)")
    parser.add_argument("--lines", type=int, default=200, help="captures a log (default 200)")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(*args.measure)
        return
    root = Path(tempfile.mkdtemp(prefix="bench-history-"))
    try:
        _write_logs(root / "logs", 0, args.jobs, args.lines)
        rows = [("every log read into memory", _run("memory", root)),
                ("history.sqlite built from scratch", _run("file", root)),
                ("history.sqlite up to date", _run("file", root))]
        _write_logs(root / "logs", args.jobs, 1, args.lines)
        rows.append(("history.sqlite, one job more", _run("file", root)))
        size = (root / "history.sqlite").stat().st_size
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.jobs} capture logs of {args.lines} lines ({args.jobs * args.lines:,} captures, {URLS:,} URLs); "
          f"history.sqlite {size / 2**20:.0f} MiB; each a fresh process:\n")
    print("| load | seconds | a URL looked up | peak RSS |\n|---|---:|---:|---:|")
    for name, row in rows:
        print(f"| {name} | {row['seconds']:.2f} | {row['lookup_us']:.1f} µs | {row['rss_mb']:.0f} MiB |")
    memory, warm = rows[0][1], rows[2][1]
    print(f"\nup to date ÷ into memory: {warm['seconds'] / memory['seconds']:.3f} of the time, "
          f"{warm['rss_mb'] / memory['rss_mb']:.2f} of the peak RSS")


if __name__ == "__main__":
    main()
