"""How long does `archive index` take to rebuild a collection, on one core and on all?

Crawls the benchmark news site (``benchmarks/site_server.py`` on 127.0.0.1) into a temporary
store with WARCs rotated every ``--warc-mb`` MB, then rebuilds the collection's indexes
(every WARC checked by the checking reader, then indexed by cdxj-indexer, and merged; the
catalog left out) in a fresh process each time, allowed one core and then all of them,
interleaved with webrecorder's cdxj-indexer alone over the same WARCs (pywb's indexer, one
process, no check and no merge). Prints the medians and their ratios. Not part of the test
suite.

    python benchmarks/index_rebuild.py [--articles 2000] [--warc-mb 4] [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Site, collection_doc  # (the benchmark harness beside this file)

from archive.runtime import usable_cores

# Run in a fresh interpreter: lanes are forked only from a process without other threads.
_REBUILD = """
import sys, time
from pathlib import Path
import archive.checks as checks
checks._cores = lambda: int(sys.argv[2])
from archive.index import update_indexes
from archive.store import collection_dir
started = time.perf_counter()
result = update_indexes(collection_dir(Path(sys.argv[1]), "bench"), rebuild=True, catalog=False)
assert not result.unindexed, result.unindexed
print(time.perf_counter() - started)
"""
_INDEXER = """
import sys, time
from cdxj_indexer.main import CDXJIndexer
started = time.perf_counter()
CDXJIndexer(sys.argv[1], sys.argv[2:], sort=True).process_all()
print(time.perf_counter() - started)
"""


def timed(script: str, *args: str) -> float:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=3600,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--warc-mb", type=int, default=4, help="WARC rotation size (default 4)")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    from archive.config import collection_from_dict
    from archive.crawl import crawl

    cores = usable_cores()
    with tempfile.TemporaryDirectory(prefix="index-rebuild-") as tmp:
        site = Site(args.articles)
        try:
            doc = collection_doc(site.base_url, concurrency=8)
            doc["caps"] = {"warc_max_bytes": args.warc_mb << 20}
            crawl(Path(tmp) / "store", collection_from_dict(doc), extract=False)
        finally:
            site.close()
        warcs = sorted((Path(tmp) / "store" / "bench" / "warcs").glob("*.warc.gz"))
        size = sum(w.stat().st_size for w in warcs)
        print(f"{len(warcs)} WARCs, {size / 1e6:.1f} MB; rebuilt on 1 core and on {cores}, interleaved")
        store = str(Path(tmp) / "store")
        runs: dict[str, list[float]] = {"1 core": [], f"{cores} cores": [], "cdxj-indexer": []}
        for _ in range(args.reps):
            runs["1 core"].append(timed(_REBUILD, store, "1"))
            runs[f"{cores} cores"].append(timed(_REBUILD, store, str(cores)))
            runs["cdxj-indexer"].append(timed(_INDEXER, str(Path(tmp) / "plain.cdxj"), *map(str, warcs)))
        medians = {name: statistics.median(times) for name, times in runs.items()}
        for name, took in medians.items():
            print(f"{name:>14}: {took:.2f} s, {size / took / 1e6:.0f} MB/s")
        print(f"`archive index` on {cores} cores is {medians['1 core'] / medians[f'{cores} cores']:.2f}x as fast "
              f"as on 1; cdxj-indexer alone / `archive index`: {medians['cdxj-indexer'] / medians['1 core']:.2f} "
              f"(1 core), {medians['cdxj-indexer'] / medians[f'{cores} cores']:.2f} ({cores} cores)")


if __name__ == "__main__":
    main()
