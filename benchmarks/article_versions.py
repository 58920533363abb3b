"""What a job's extraction pays at its end for the article versions of a long-running collection.

Each job's extraction compares the articles it finds against the latest version of every
article the collection's earlier jobs extracted. This builds a collection of JOBS article
tables of ROWS rows each (the rows of the bundled demo site's articles, 3 KB each, with
made-up article ids) and measures, each in a fresh process with its peak RSS: reading every
earlier table into memory (as before ``article_versions.sqlite``, and still where the file
cannot be used), building the file from scratch (once), using it up to date, and using it
after one job more. Not part of the test suite.

    python benchmarks/article_versions.py [--jobs 1000] [--rows 30]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _sample() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The article rows and the manifest of a demo crawl (a fresh store, the bundled site,
    no network)."""
    from archive.demo.run import run_demo

    with tempfile.TemporaryDirectory() as tmp:
        run_demo(Path(tmp) / "store")
        coll = Path(tmp) / "store" / "demo"
        table = next((coll / "articles").glob("*.jsonl"))
        manifest = json.loads(next((coll / "manifests").glob("*.json")).read_text("utf-8"))
        return [json.loads(line) for line in table.read_text("utf-8").splitlines()], manifest


def _write_jobs(root: Path, first: int, jobs: int, rows: int, sample: tuple[list[dict[str, Any]], dict[str, Any]]
                ) -> None:
    from archive.manifest import encode
    from archive.store import collection_dir

    coll = collection_dir(root, "bench")
    coll.articles.mkdir(parents=True, exist_ok=True)
    coll.manifests.mkdir(parents=True, exist_ok=True)
    articles, manifest = sample
    for job in range(first, first + jobs):
        job_id = f"bench-2026{job // 86400 % 10000:04d}T{job % 1000000:06d}Z-{job % 65536:04x}"
        lines = []
        for k in range(rows):
            row = dict(articles[k % len(articles)], job_id=job_id,
                       article_id=hashlib.sha1(f"{job}-{k}".encode()).hexdigest())
            lines.append(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
        (coll.articles / f"{job_id}.jsonl").write_text("".join(lines), "utf-8")
        # (only the manifest's sequence is read; it must still be one the schema takes)
        (coll.manifests / f"{job_id}.json").write_bytes(encode(dict(manifest, job_id=job_id, sequence=job + 1)))


def _measure(root: str, sequence: int) -> None:
    """In a fresh process: the versions before job ``sequence`` (from the file where it can
    give them, else from the tables); seconds and peak RSS."""
    from archive.extract import versions_before
    from archive.store import CollectionDir

    coll = CollectionDir(Path(root))
    started = time.perf_counter()
    versions = versions_before(coll, sequence)
    took = time.perf_counter() - started
    print(json.dumps({"seconds": took, "articles": len(versions), "file": type(versions).__name__ != "dict",
                      "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run(root: Path, sequence: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--measure", str(root), str(sequence)],
                          capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(args.measure[0], int(args.measure[1]))
        return
    sample = _sample()
    with tempfile.TemporaryDirectory(prefix="article-versions-") as tmp:
        store = Path(tmp) / "store"
        _write_jobs(store, 0, args.jobs, args.rows, sample)
        root = store / "bench"
        size = sum(p.stat().st_size for p in (root / "articles").glob("*.jsonl"))
        print(f"{args.jobs} article tables of {args.rows} rows ({size / 1e6:.0f} MB); each a fresh process:\n")
        results = {}
        results["file built from scratch"] = _run(root, args.jobs + 1)
        results["file up to date"] = _run(root, args.jobs + 1)
        _write_jobs(store, args.jobs, 1, args.rows, sample)
        results["file, one job more"] = _run(root, args.jobs + 2)
        # The file holds every job: asked for the versions before the last, it cannot give
        # them, and the tables are read as before it existed.
        results["every earlier table read into memory"] = _run(root, args.jobs + 1)
        print("| versions before the next job | seconds | peak RSS |\n|---|---:|---:|")
        for name, row in results.items():
            assert row["file"] == (name != "every earlier table read into memory"), (name, row)
            print(f"| {name} | {row['seconds']:.3f} | {row['rss_mib']:.0f} MiB |")
        shutil.rmtree(store)


if __name__ == "__main__":
    main()
