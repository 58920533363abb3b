"""What a job's end pays to merge its index into a long-running collection's merged index.

Writes JOBS per-WARC CDXJ files of LINES lines each (random keys, as a job's captures are
spread over the key space) one after another, compacting after each as a job's end does,
and times each compaction: with the merged files as they are kept (new lines into the
smallest, each merged into the next larger once it holds an eighth of its lines), and
with one merged file rewritten whole at every job's end (``FANOUT`` set beyond reach, as it
was until round 17). Not part of the test suite.

    python benchmarks/index_compaction.py [--jobs 300] [--lines 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from archive.index import merged
from archive.index.cdxj import DERIVED_SUFFIX, index_name, tool_info, write_json
from archive.store import collection_dir


def run(root: Path, jobs: int, lines: int, fanout: int) -> list[float]:
    merged.FANOUT = fanout
    coll = collection_dir(root, "bench")
    coll.indexes.mkdir(parents=True)
    rng = random.Random(1)
    took = []
    for job in range(jobs):
        warc = f"bench-2026{job:010d}-00001-host.warc.gz"
        data = "".join(sorted(
            f"com,example)/{rng.randrange(10**9)}/story 2026{job:010d} "
            f'{{"url": "https://example.com/story", "offset": "{k}", "length": "900", "filename": "{warc}"}}\n'
            for k in range(lines))).encode()
        index = coll.indexes / index_name(Path(warc))
        index.write_bytes(data)
        write_json(index.with_name(index.name + DERIVED_SUFFIX),
                   {"derived_from": [{"path": f"warcs/{warc}", "size": 0, "sha256": ""}], "tool": tool_info(),
                    "lines": lines, "sha256": "sha256:" + hashlib.sha256(data).hexdigest()})
        started = time.perf_counter()
        merged.compact(coll)
        took.append(time.perf_counter() - started)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--lines", type=int, default=2000)
    args = parser.parse_args()
    kept = merged.FANOUT
    print(f"{args.jobs} jobs of {args.lines} index lines each, compacted after each:\n")
    print("| merged files | last 20 job ends: median | their max | all job ends |\n|---|---:|---:|---:|")
    for label, fanout in (("kept as they are", kept), ("one, rewritten at every job's end", 10**15)):
        with tempfile.TemporaryDirectory(prefix="index-compaction-") as tmp:
            took = run(Path(tmp), args.jobs, args.lines, fanout)
        print(f"| {label} | {statistics.median(took[-20:]) * 1000:.0f} ms | {max(took[-20:]) * 1000:.0f} ms | "
              f"{sum(took):.1f} s |")
    merged.FANOUT = kept


if __name__ == "__main__":
    main()
