"""How fast is a URL lookup in a merged CDXJ of a million captures?

Synthesises a sorted 1,000,000-line CDXJ (pywb format, realistic SURT keys and JSON) in a
temporary directory, then times lookups of random present and absent URLs through
``archive.index.lookup`` (binary search with seeks; the file is never loaded) and, for
comparison, one linear scan. Not part of the test suite.

    python benchmarks/index_lookup.py [--lines N] [--lookups N]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from archive.index.cdxj import parse_line, url_key
from archive.index.lookup import lines_for_key

SECTIONS = ["world", "business", "science", "culture", "sport", "opinion"]


def synthesise(path: Path, n: int, rng: random.Random) -> list[str]:
    hosts = [f"news{k}.example" for k in range(200)]
    urls = []
    for i in range(n):
        urls.append(f"https://{rng.choice(hosts)}/{rng.choice(SECTIONS)}/2026/03/{i % 28 + 1:02d}/story-{i}")
    lines = []
    for i, url in enumerate(urls):
        ts = f"2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(10**6):06d}"
        fields = {"url": url, "mime": "text/html", "status": "200", "digest": f"sha1:{i:032d}",
                  "length": str(rng.randrange(1000, 90000)), "offset": str(rng.randrange(10**9)),
                  "filename": f"news-20260301000000-{i % 500:05d}-host.warc.gz"}
        lines.append(f"{url_key(url)} {ts} {json.dumps(fields)}\n")
    lines.sort()
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(lines)
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "merged.cdxj"
        start = time.perf_counter()
        urls = synthesise(path, args.lines, rng)
        print(f"synthesised {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - start:.1f} s")
        present = [rng.choice(urls) for _ in range(args.lookups)]
        absent = [u + "-missing" for u in present]
        for label, probes in (("present", present), ("absent", absent)):
            start = time.perf_counter()
            found = 0
            for url in probes:
                found += sum(1 for line in lines_for_key(path, url_key(url)) if parse_line(line))
            elapsed = time.perf_counter() - start
            print(f"{label:7s}: {len(probes)} lookups, {found} captures found, "
                  f"{elapsed / len(probes) * 1e6:.0f} µs per lookup")
        start = time.perf_counter()
        key = url_key(present[0]).encode() + b" "
        with open(path, "rb") as fh:
            scanned = sum(1 for line in fh if line.startswith(key))
        print(f"one linear scan for comparison: {time.perf_counter() - start:.2f} s ({scanned} found)")


if __name__ == "__main__":
    main()
