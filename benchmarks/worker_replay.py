"""The capture worker's CPU a fetch, measured on one crawl's fetches replayed.

In a crawl the worker shares two cores with the crawl process, the page parser and the
site server, and its cost drowns in their noise. Here one archiving crawl of the benchmark
site is run once, with every frame the crawl process sends the worker kept in a file; the
frames are then fed to the worker's loop (``archive.job_worker.serve``) in fresh processes,
each into a store of its own, and the CPU each takes from the first fetch to the job's
close is divided by the fetches. The same frames go to every variant, so two checkouts'
workers are compared on the same work (``--against CHECKOUT``), interleaved.

    python benchmarks/worker_replay.py [--articles 500] [--reps 5] [--against CHECKOUT]

Not part of the test suite; the site is served on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Put in the crawl process by a sitecustomize module: every frame the crawl process writes
# to the worker's pipe goes to TEE_FRAMES too.
_TEE = textwrap.dedent("""\
    import os
    if os.environ.get("TEE_FRAMES"):
        import archive.job_worker as _worker
        _real, _out = _worker.write_parts, open(os.environ["TEE_FRAMES"], "ab")

        def _teed(fd, parts):
            _out.write(b"".join(parts))
            _out.flush()
            return _real(fd, parts)

        _worker.write_parts = _teed
    """)


def record_frames(articles: int, work: Path) -> Path:
    """One archiving crawl of a site of ``articles``; the file of the frames it sent."""
    sys.path.insert(0, str(HERE))
    from run import Site, collection_doc

    tee = work / "tee"
    tee.mkdir()
    (tee / "sitecustomize.py").write_text(_TEE)
    frames = work / "frames"
    site = Site(articles)
    try:
        spec = {"collection": collection_doc(site.base_url, concurrency=8), "log_file": str(work / "crawl.log"),
                "archive_store": str(work / "store")}
        (work / "spec.json").write_text(json.dumps(spec))
        env = dict(os.environ, TEE_FRAMES=str(frames),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(tee), str(ROOT), os.environ.get("PYTHONPATH")])))
        done = subprocess.run([sys.executable, str(HERE / "plain_crawl.py"), str(work / "spec.json")], env=env,
                              capture_output=True, text=True, timeout=1800, check=False)
    finally:
        site.close()
    if done.returncode != 0 or not frames.is_file():
        raise SystemExit(f"the crawl that records the frames failed:\n{done.stderr[-3000:]}")
    return frames


def replay(frames: Path) -> None:
    """In a process of its own: feed ``frames`` to the worker's loop, into a fresh store, and
    print the CPU a fetch (µs) as JSON: the CPU of the whole replay less that of a job with
    no fetch (its start and close), over the fetches. A job with no fetch runs first, once
    unmeasured, so that what is imported and cached on first use is in neither measure."""
    import io
    import time

    from archive.job_worker import _FETCH_FIELDS, frame, read_frame, serve

    opening: list[bytes] = []
    fetches: list[bytes] = []
    with open(frames, "rb") as source:
        while True:
            try:
                message, body = read_frame(source)
            except EOFError:
                break
            if message[0] == "open":
                message[1].update(log_file=None, job_id=None)
                opening = [message]  # type: ignore[list-item]
            elif message[0] != "close":
                if message[0] == "fetch" and len(message[1]) != len(_FETCH_FIELDS):
                    raise SystemExit("these frames were recorded by a checkout whose fetches have other fields")
                fetches.append(b"".join(frame(message, body)))
    null = os.open(os.devnull, os.O_WRONLY)

    def run(with_fetches: bool) -> float:
        (kind, spec), = opening  # type: ignore[misc]
        store = tempfile.mkdtemp(prefix="replay-store-", dir=frames.parent)
        feed = b"".join([*frame((kind, dict(spec, store=store))), *(fetches if with_fetches else []),
                         *frame(("close", "finished", []))])
        t0 = time.process_time()
        serve(io.BufferedReader(io.BytesIO(feed)), null)  # type: ignore[arg-type]
        return time.process_time() - t0

    run(False)
    empty = run(False)
    whole = run(True)
    print(json.dumps({"fetches": len(fetches), "us_a_fetch": (whole - empty) / len(fetches) * 1e6}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=500, help="articles of the site crawled once (default 500)")
    parser.add_argument("--reps", type=int, default=5, help="replays of each variant (default 5)")
    parser.add_argument("--against", metavar="CHECKOUT", help="another checkout's worker, replayed on the same frames")
    parser.add_argument("--replay", metavar="FRAMES", help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", help="where the crawl and the replays write (default: a temporary folder)")
    args = parser.parse_args()
    if args.replay:
        replay(Path(args.replay))
        return
    variants = [("this checkout", ROOT)] + ([(f"{args.against}", Path(args.against).resolve())] if args.against else [])
    with tempfile.TemporaryDirectory(prefix="worker-replay-", dir=args.work_dir) as tmp:
        frames = record_frames(args.articles, Path(tmp))
        results: dict[str, list[float]] = {name: [] for name, _ in variants}
        for rep in range(args.reps):
            for name, code in variants[rep % len(variants):] + variants[:rep % len(variants)]:
                env = dict(os.environ, PYTHONPATH=str(code))
                done = subprocess.run([sys.executable, str(HERE / "worker_replay.py"), "--replay", str(frames)],
                                      env=env, capture_output=True, text=True, timeout=1800, check=False)
                if done.returncode != 0:
                    raise SystemExit(f"the replay of {name} failed:\n{done.stderr[-3000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                results[name].append(row["us_a_fetch"])
                print(f"rep {rep + 1} {name}: {row['us_a_fetch']:.1f} µs of CPU a fetch ({row['fetches']} fetches)",
                      flush=True)
    print(f"\nthe capture worker's CPU a fetch, {args.reps} replays of one crawl's fetches (median [min, max]):")
    for name, values in results.items():
        print(f"- {name}: {statistics.median(values):.1f} µs [{min(values):.1f}, {max(values):.1f}]")
    if args.against:
        mine, theirs = (statistics.median(results[name]) for name, _ in variants)
        print(f"- this checkout ÷ {args.against}: {mine / theirs:.3f}")


if __name__ == "__main__":
    main()
