"""Benchmarks against the peers: plain Scrapy, ``archive crawl``, ``wget --warc-file``,
``archive verify`` against a bare read, and ``archive extract``. Not part of the test suite.

    python benchmarks/run.py [--articles 2000] [--reps 3] [--memory-check]

It generates the deterministic demo news site (``archive.demo.DemoSite``, 30-60 KB pages,
feeds, sitemaps), serves its pre-rendered bytes from ``benchmarks/site_server.py`` on
127.0.0.1 in a process of its own, and measures in one run, repetitions interleaved
because shared machines are noisy, the order turning each repetition (plain, archive, wget;
archive, wget, plain; wget, plain, archive; ...) so that no crawl always follows the same
one; medians are reported. Results go to stdout and to the marked block of
``docs/performance.md`` (``--no-write`` to skip), with a description of the machine.

Each crawl runs under a small wrapper process (``--measure KIND``) whose only child is the
crawl process, so the wrapper's ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the peak RSS
of that crawl process (for ``archive crawl``: the ``python -m archive.crawl`` child; the
maximum over the tree's processes, not their sum). verify and extract are measured in a
fresh process each too, as the commands run, not in this one, which grows as it goes (a
forked verify lane pays for every MB of its parent).

pages/s of the two Scrapy crawls is counted from ``spider_opened`` to ``spider_closed``
(for ``archive crawl`` up to the final progress report, which comes after the WARCs and
log are closed and the manifest written), so interpreter start-up, which is the same for
both, is left out; the wall time of the whole process is reported too. ``archive crawl``
runs through the library call ``archive.crawl.crawl(..., extract=False)``; the index
update that ``crawl()`` does after the crawl process ends is not in pages/s and is
reported on its own line, as is article extraction (``extract_job``). wget is timed over
its whole process (it has no start-up to speak of).

``--memory-check`` instead serves a larger site and compares the peak RSS of a
10,000-page ``archive crawl`` with that of a 1,000-page one (plain Scrapy alongside).
``--pairs N`` measures only the crawl ratio, from N interleaved pairs (``--against
CHECKOUT`` adds another checkout's ``archive crawl`` to each pair, for a before/after).
``--instructions`` counts instead what each crawl process executes a page, under valgrind:
a figure the machine's load hardly moves, for changes too small for time to show.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- benchmark results: begin -->", "<!-- benchmark results: end -->"
MEM_BEGIN, MEM_END = "<!-- memory check: begin -->", "<!-- memory check: end -->"
TIME_LIMIT = 3600.0  # seconds any one measured process may run


# -- the site ------------------------------------------------------------------------------


class Site:
    """The benchmark site server, in its own process; it stops when we close its stdin."""

    def __init__(self, articles: int):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "site_server.py"), "--articles", str(articles)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line:
            self.close()
            raise SystemExit("the benchmark site server did not start")
        self.base_url, self.routes = line[0], int(line[1])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def collection_doc(base_url: str, *, concurrency: int, max_pages: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "bench", "urls": [base_url + "/"], "feeds": [base_url + "/feed.xml"],
        "sitemaps": [base_url + "/sitemap.xml"], "politeness": {"concurrency_per_host": concurrency},
    }
    if max_pages is not None:
        doc["scope"] = {"max_pages": max_pages}
    return doc


# -- one measured crawl, in a wrapper process ------------------------------------------------


def _measure(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one crawl as our only child, or verify or extract in this process; return the
    numbers (called in the wrapper process)."""
    if kind == "verify":
        return _verify_vs_bare(Path(spec["collection"]))
    if kind == "extract":
        return _extract(Path(spec["collection"]), Path(spec["manifest"]))
    work = Path(spec["work"])
    t0 = time.monotonic()
    if kind == "plain":
        spec_file = work / "plain.json"
        spec_file.write_text(json.dumps({"collection": spec["collection"], "log_file": str(work / "plain.log")}))
        done = subprocess.run([sys.executable, str(HERE / "plain_crawl.py"), str(spec_file)], capture_output=True,
                              text=True, timeout=TIME_LIMIT, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["wall"] = time.monotonic() - t0
    elif kind == "archive":
        from archive.config import collection_from_dict
        from archive.crawl import crawl

        final: dict[str, Any] = {}

        def progress(snapshot: dict[str, Any]) -> None:
            if snapshot.get("final"):
                final.update(snapshot, received=time.monotonic())

        crawled = crawl(work / "store", collection_from_dict(spec["collection"]), progress=progress, extract=False)
        end = time.monotonic()
        result = {"pages": crawled.counts["captured"], "bytes": crawled.counts["bytes"], "elapsed": final["elapsed"],
                  "cpu": final["cpu"], "worker_cpu": final["worker_cpu"],
                  "worker_rss_kb": final["worker_peak_rss_kb"] or 0,
                  "wall": final["received"] - t0, "after_crawl": end - final["received"],
                  "manifest": str(crawled.manifest), "outcome": crawled.outcome}
    elif kind == "wget":
        cmd = ["wget", "--recursive", "--level=inf", f"--warc-file={work / 'wget'}", "--no-verbose",
               f"--directory-prefix={work / 'files'}", spec["base_url"] + "/"]
        done = subprocess.run(cmd, capture_output=True, timeout=TIME_LIMIT, check=False)
        wall = time.monotonic() - t0
        if done.returncode not in (0, 8):  # 8: the server answered some requests with an error
            raise RuntimeError(f"wget exited {done.returncode}: {done.stderr[-2000:]!r}")
        pages, size = _wget_responses(work / "wget.warc.gz")
        result = {"pages": pages, "bytes": size, "elapsed": wall, "wall": wall}
    else:
        raise ValueError(kind)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["maxrss_kb"] = children.ru_maxrss
    # Every process of the crawl (crawl process, page parser, capture worker), start-up included.
    result["tree_cpu"] = children.ru_utime + children.ru_stime
    return result


def _wget_responses(warc: Path) -> tuple[int, int]:
    """Response records in wget's WARC and the bytes of their blocks (HTTP head and body)."""
    from archive.warc.reader import check_records

    pages = size = 0
    for record in check_records(warc):
        if record.type == "response":
            pages += 1
            size += int(record.fields.get("content-length", 0))
    return pages, size


def measure(kind: str, spec: dict[str, Any], *, code: Path | None = None) -> dict[str, Any]:
    """Run ``_measure`` in a fresh wrapper process, so RUSAGE_CHILDREN sees this crawl only
    (and verify and extract run in a process of their own). ``code``: another checkout of
    the project whose packages the crawl's processes import instead of this one's."""
    env = None if code is None else dict(os.environ, PYTHONPATH=str(code))
    done = subprocess.run([sys.executable, __file__, "--measure", kind, json.dumps(spec)], capture_output=True,
                          text=True, timeout=TIME_LIMIT + 60, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- verify against a bare read ----------------------------------------------------------------

_WINDOW = 16 << 10


def bare_read(paths: list[Path]) -> int:
    """Decompress every gzip member of each WARC (and read the other files); nothing else.

    Returns the number of uncompressed bytes. Input is fed in 16 KiB zero-copy windows of a
    memory map, the cheapest way to walk members from Python: what follows a member's end
    in its last window is copied by zlib, so a larger window costs more for the many small
    members (64 KiB was 8 % slower; 8, 12, 20, 24 and 32 KiB no faster than 16).
    """
    total = 0
    for path in paths:
        if not path.name.endswith(".gz"):
            total += len(path.read_bytes())
            continue
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            total += _inflate_members(mm)
    return total


def _inflate_members(mm: mmap.mmap) -> int:
    total = 0
    with memoryview(mm) as view:
        size, pos = len(mm), 0
        while pos < size:
            inflater = zlib.decompressobj(31)
            cursor = pos
            while not inflater.eof and cursor < size:
                with view[cursor:cursor + _WINDOW] as window:
                    total += len(inflater.decompress(window))
                    cursor += len(window)
            pos = cursor - len(inflater.unused_data)
    return total


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


# -- reporting -----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    from importlib import metadata

    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    wget = subprocess.run(["wget", "--version"], capture_output=True, text=True, check=False).stdout.split("\n", 1)[0]
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Scrapy": metadata.version("scrapy"),
        "Twisted": metadata.version("twisted"),
        "wget": wget.removesuffix(".").strip(),
    }


def med(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


_NAMES = {"plain": "plain Scrapy", "archive": "`archive crawl`", "wget": "wget"}


def _spread(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], digits: int) -> str:
    """The range of the ratio within each repetition (the crawls of one repetition ran one
    after the other): on a shared machine single repetitions stray far from the median."""
    each = sorted((a["pages"] / a["elapsed"]) / (b["pages"] / b["elapsed"]) for a, b in zip(ours, theirs, strict=False))
    if len(each) < 2:
        return ""
    return (f"; single repetitions {each[0]:.{digits}f} to {each[-1]:.{digits}f}, "
            f"their median {statistics.median(each):.{digits}f}")


def render_results(args: argparse.Namespace, site: Site, runs: dict[str, list[dict[str, Any]]],
                   verify_rows: list[dict[str, float]], extract_rows: list[dict[str, float]]) -> str:
    lines = [(f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `python benchmarks/run.py "
              f"--articles {args.articles} --reps {args.reps}`; site of {args.articles} articles "
              f"({site.routes} routes, 30-60 KB pages), concurrency {args.concurrency} per host; "
              f"medians of {args.reps} interleaved repetitions, the order turning; the crawls write to "
              f"{args.work_dir or tempfile.gettempdir()}."), "",
             "| | pages | pages/s | MB/s | peak RSS | wall (s) |", "|---|---:|---:|---:|---:|---:|"]
    names = {"plain": "1. plain Scrapy (stores nothing)", "archive": "2. `archive crawl`",
             "wget": "3. `wget --recursive --warc-file`"}
    for kind, rows in runs.items():
        if not rows:
            continue
        pps = statistics.median(r["pages"] / r["elapsed"] for r in rows)
        mbs = statistics.median(r["bytes"] / r["elapsed"] / 1e6 for r in rows)
        lines.append(f"| {names[kind]} | {med(rows, 'pages'):.0f} | {pps:.1f} | {mbs:.2f} | "
                     f"{med(rows, 'maxrss_kb') / 1024:.0f} MiB | {med(rows, 'wall'):.1f} |")
    lines.append("")
    ratio = {k: statistics.median(r["pages"] / r["elapsed"] for r in rows) for k, rows in runs.items() if rows}
    if "plain" in ratio and "archive" in ratio:
        lines.append(f"- **2 ÷ 1** (archive ÷ plain Scrapy, pages/s): **{ratio['archive'] / ratio['plain']:.3f}** "
                     f"(target ≥ 0.95){_spread(runs['archive'], runs['plain'], 3)}")
    cpu = {k: statistics.median(r["cpu"] / r["pages"] * 1000 for r in rows)
           for k, rows in runs.items() if rows and "cpu" in rows[0]}
    if "plain" in cpu and "archive" in cpu:
        # CPU time is much steadier than wall time on a shared machine.
        worker_rows = [r["worker_cpu"] / r["pages"] * 1000 for r in runs["archive"] if r.get("worker_cpu")]
        worker = (f"; its capture worker, on another core, {statistics.median(worker_rows):.2f} ms"
                  if worker_rows else "")
        lines.append(f"- CPU of the crawl process per page, spider opened to closed: plain Scrapy "
                     f"{cpu['plain']:.2f} ms, `archive crawl` {cpu['archive']:.2f} ms (**{cpu['plain'] / cpu['archive']:.3f}**"
                     f" of plain's pages per CPU second){worker}")
    tree = {k: statistics.median(r["tree_cpu"] / r["pages"] * 1000 for r in rows)
            for k, rows in runs.items() if rows and "tree_cpu" in rows[0]}
    if tree:
        lines.append("- CPU of all of a crawl's processes per page, start-up included (the crawl process, "
                     "its page parser and, for `archive crawl`, its capture worker; wget is one process): "
                     + ", ".join(f"{_NAMES[k]} {v:.2f} ms" for k, v in tree.items()))
    if "wget" in ratio and "archive" in ratio:
        lines.append(f"- **2 ÷ 3** (archive ÷ wget, pages/s): **{ratio['archive'] / ratio['wget']:.2f}** (target > 1)"
                     f"{_spread(runs['archive'], runs['wget'], 2)}")
    if runs.get("archive"):
        lines.append(f"- after the crawl process ended, `crawl()` spent a median "
                     f"{med(runs['archive'], 'after_crawl'):.2f} s (process exit and index update; "
                     "not in pages/s)")
    if verify_rows:
        v, b = med(verify_rows, "verify_mbs"), med(verify_rows, "bare_mbs")
        lines.append(f"- **4**: `archive verify` of the collection {v:.1f} MB/s, bare read (zlib over each gzip "
                     f"member, plus reading the log) {b:.1f} MB/s, on {med(verify_rows, 'mb'):.1f} MB of files "
                     f"({med(verify_rows, 'raw_mb'):.1f} MB uncompressed): **{v / b:.2f}×** (target ≥ 0.5)")
        vw, bw = med(verify_rows, "verify_warcs_mbs"), med(verify_rows, "bare_warcs_mbs")
        lines.append(f"- **4, WARCs only**: `archive verify FILE.warc.gz` for each WARC (every record's digests, the "
                     f"file's SHA-256 against its manifest) {vw:.1f} MB/s, bare read {bw:.1f} MB/s: **{vw / bw:.2f}×**")
    if extract_rows:
        lines.append(f"- **5**: `archive extract`: {med(extract_rows, 'articles'):.0f} articles in "
                     f"{med(extract_rows, 'seconds'):.1f} s, **{med(extract_rows, 'rate'):.1f} articles/s**")
    lines += ["", "Machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()) + "."]
    return "\n".join(lines)


def write_block(text: str, begin: str, end: str) -> None:
    doc = DOC.read_text("utf-8") if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n\n{MEM_BEGIN}\n{MEM_END}\n"
    if begin not in doc:
        doc += f"\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{begin}\n{text}\n{end}{tail}", "utf-8")


# -- the runs ------------------------------------------------------------------------------


def run_main(args: argparse.Namespace) -> None:
    site = Site(args.articles)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in ("plain", "archive", "wget") if k not in args.skip}
    verify_rows: list[dict[str, float]] = []
    extract_rows: list[dict[str, float]] = []
    print(f"site {site.base_url}: {site.routes} routes", flush=True)
    try:
        kinds = list(runs)
        for rep in range(args.reps):
            for kind in kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]:
                with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-", dir=args.work_dir) as tmp:
                    spec = {"work": tmp, "base_url": site.base_url,
                            "collection": collection_doc(site.base_url, concurrency=args.concurrency)}
                    row = measure(kind, spec)
                    runs[kind].append(row)
                    print(f"rep {rep + 1} {kind:8} pages {row['pages']:6d}  {row['pages'] / row['elapsed']:7.1f} "
                          f"pages/s  {row['bytes'] / row['elapsed'] / 1e6:6.2f} MB/s  "
                          f"rss {row['maxrss_kb'] / 1024:5.0f} MiB  wall {row['wall']:6.1f} s", flush=True)
                    if kind == "archive":
                        coll = Path(tmp) / "store" / "bench"
                        if "verify" not in args.skip:
                            verify_rows.append(measure("verify", {"collection": str(coll)}))
                            print("         verify {verify_mbs:.1f} MB/s, bare read {bare_mbs:.1f} MB/s".format(
                                **verify_rows[-1]), flush=True)
                        if "extract" not in args.skip:
                            extract_rows.append(measure("extract", {"collection": str(coll),
                                                                    "manifest": row["manifest"]}))
                            print("         extract {articles:.0f} articles, {rate:.1f} articles/s".format(
                                **extract_rows[-1]), flush=True)
    finally:
        site.close()
    text = render_results(args, site, runs, verify_rows, extract_rows)
    print("\n" + text)
    if not args.no_write:
        write_block(text, BEGIN, END)
        print(f"\nwritten to {DOC}")


def _verify_vs_bare(coll: Path) -> dict[str, float]:
    from archive.verify import verify

    files = sorted(coll.glob("warcs/*.warc.gz")) + sorted(coll.glob("logs/*.captures.jsonl"))
    mb = sum(p.stat().st_size for p in files) / 1e6
    warcs = [p for p in files if p.name.endswith(".warc.gz")]
    warc_mb = sum(p.stat().st_size for p in warcs) / 1e6
    rows = []
    for _ in range(3):  # interleaved, best-of-three each: the files are in the page cache
        t_verify, report = timed(lambda: verify(coll))
        if not report.ok:
            raise RuntimeError(f"verify found problems: {report.problems[:3]}")
        t_bare, raw = timed(lambda: bare_read(files))
        t_warcs, _ = timed(lambda: [verify(p) for p in warcs])
        t_bare_warcs, _ = timed(lambda: bare_read(warcs))
        rows.append((t_verify, t_bare, raw, t_warcs, t_bare_warcs))
    best = [min(r[i] for r in rows) for i in range(5)]
    return {"mb": mb, "raw_mb": rows[0][2] / 1e6, "verify_mbs": mb / best[0], "bare_mbs": mb / best[1],
            "warc_mb": warc_mb, "verify_warcs_mbs": warc_mb / best[3], "bare_warcs_mbs": warc_mb / best[4]}


def _extract(coll: Path, manifest: Path) -> dict[str, float]:
    from archive.extract import extract_job
    from archive.store import CollectionDir

    doc = json.loads(manifest.read_text("utf-8"))
    seconds, (_, count) = timed(lambda: extract_job(CollectionDir(coll), doc))
    return {"articles": count, "seconds": seconds, "rate": count / seconds}


def memory_check(args: argparse.Namespace) -> None:
    """Peak RSS of a 10,000-page crawl against a 1,000-page crawl of the same site."""
    site = Site(args.memory_articles)
    rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    print(f"site {site.base_url}: {site.routes} routes", flush=True)
    try:
        for _ in range(args.memory_reps):
            for pages in (1000, 10_000):
                for kind in ("plain", "archive"):
                    with tempfile.TemporaryDirectory(prefix=f"bench-mem-{kind}-", dir=args.work_dir) as tmp:
                        spec = {"work": tmp, "base_url": site.base_url,
                                "collection": collection_doc(site.base_url, concurrency=args.concurrency,
                                                             max_pages=pages)}
                        row = measure(kind, spec)
                        rows.setdefault((kind, pages), []).append(row)
                        worker = f" (+ worker {row['worker_rss_kb'] / 1024:.0f} MiB)" if row.get("worker_rss_kb") else ""
                        print(f"{kind:8} max_pages {pages:6d}: {row['pages']:6d} responses, "
                              f"rss {row['maxrss_kb'] / 1024:.0f} MiB{worker}, "
                              f"{row['pages'] / row['elapsed']:.1f} pages/s", flush=True)
    finally:
        site.close()
    lines = [(f"Memory check of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `python benchmarks/run.py "
              f"--memory-check` (site of {args.memory_articles} articles, {site.routes} routes; `max_pages` 1,000 "
              f"and 10,000; page requisites and feeds/sitemaps come on top; medians of {args.memory_reps})."), "",
             "| | responses, 1k | peak RSS, 1k | responses, 10k | peak RSS, 10k | ratio |",
             "|---|---:|---:|---:|---:|---:|"]
    for kind, label in (("plain", "plain Scrapy"), ("archive", "`archive crawl`")):
        small, big = rows[(kind, 1000)], rows[(kind, 10_000)]
        r1, r10 = med(small, "maxrss_kb"), med(big, "maxrss_kb")
        lines.append(f"| {label} | {med(small, 'pages'):.0f} | {r1 / 1024:.0f} MiB | {med(big, 'pages'):.0f} | "
                     f"{r10 / 1024:.0f} MiB | **{r10 / r1:.2f}** |")
    small, big = rows[("archive", 1000)], rows[("archive", 10_000)]
    if all(r.get("worker_rss_kb") for r in small + big):
        # The capture worker is a process of its own; add its peak to the crawl process's
        # (the two peaks need not coincide, so this overstates a little).
        r1 = med(small, "maxrss_kb") + med(small, "worker_rss_kb")
        r10 = med(big, "maxrss_kb") + med(big, "worker_rss_kb")
        lines.append(f"| `archive crawl` + its capture worker | {med(small, 'pages'):.0f} | {r1 / 1024:.0f} MiB | "
                     f"{med(big, 'pages'):.0f} | {r10 / 1024:.0f} MiB | **{r10 / r1:.2f}** |")
    lines += ["", "Target: `archive crawl` ratio ≤ 1.2."]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_block(text, MEM_BEGIN, MEM_END)
        print(f"\nwritten to {DOC}")


def pairs(args: argparse.Namespace) -> None:
    """The crawl ratio alone, from many interleaved pairs: plain Scrapy, then ``archive
    crawl`` (and, with ``--against``, ``archive crawl`` of another checkout), the order of
    the archiving crawls turning. Each pair ran back to back, so its ratio is less exposed
    to the machine's drift than a ratio of medians; the spread of the pairs is printed with
    their median. Nothing is written."""
    site = Site(args.articles)
    variants: list[tuple[str, Path | None]] = [("archive", None)]
    if args.against:
        variants.append((f"archive of {args.against}", Path(args.against).resolve()))
    rows: dict[str, list[dict[str, Any]]] = {"plain": [], **{name: [] for name, _ in variants}}
    print(f"site {site.base_url}: {site.routes} routes", flush=True)
    try:
        for rep in range(args.pairs):
            turned = variants[rep % len(variants):] + variants[:rep % len(variants)]
            for name, code in [("plain", None), *turned]:
                with tempfile.TemporaryDirectory(prefix="bench-pair-", dir=args.work_dir) as tmp:
                    spec = {"work": tmp, "base_url": site.base_url,
                            "collection": collection_doc(site.base_url, concurrency=args.concurrency)}
                    row = measure("plain" if name == "plain" else "archive", spec, code=code)
                rows[name].append(row)
                print(f"pair {rep + 1} {name:10} {row['pages'] / row['elapsed']:7.1f} pages/s  "
                      f"{row['cpu'] / row['pages'] * 1e3:.3f} ms CPU a page", flush=True)
    finally:
        site.close()
    print(f"\n{args.pairs} pairs, site of {args.articles} articles, concurrency {args.concurrency} per host "
          "(medians, quartiles in brackets):")
    plain = rows["plain"]
    for name, _ in variants:
        ours = rows[name]
        speed = [(a["pages"] / a["elapsed"]) / (b["pages"] / b["elapsed"]) for a, b in zip(ours, plain, strict=True)]
        cpu = [(b["cpu"] / b["pages"]) / (a["cpu"] / a["pages"]) for a, b in zip(ours, plain, strict=True)]
        extra = [(a["cpu"] / a["pages"] - b["cpu"] / b["pages"]) * 1e6 for a, b in zip(ours, plain, strict=True)]
        print(f"- {name} ÷ plain Scrapy: pages/s {_quartiles(speed, 3)}; in CPU a page {_quartiles(cpu, 3)}; "
              f"the crawl process's extra CPU a page {_quartiles(extra, 0)} µs")
    if args.against:
        this, other = rows["archive"], rows[variants[1][0]]
        diff = [(b["cpu"] / b["pages"] - a["cpu"] / a["pages"]) * 1e6 for a, b in zip(this, other, strict=True)]
        print(f"- {variants[1][0]} less this checkout, CPU a page: {_quartiles(diff, 0)} µs; "
              f"this checkout used less in {sum(d > 0 for d in diff)} of {len(diff)} pairs")


# -- instructions: the crawl processes' work, counted ---------------------------------------

def _counted(kind: str, base_url: str, concurrency: int, work: Path, code: Path | None) -> tuple[int, int]:
    """Instructions the crawl process of ``kind`` (plain or archive) executed in one crawl
    of the site at ``base_url``, counted by valgrind, and the responses it got. Only a crawl
    that finished (and, for archive, closed its job with a manifest) is counted."""
    spec = {"collection": collection_doc(base_url, concurrency=concurrency), "log_file": str(work / "crawl.log")}
    if kind == "archive":
        spec["archive_store"] = str(work / "store")
    spec_file = work / "spec.json"
    spec_file.write_text(json.dumps(spec), "utf-8")
    # (a fixed hash seed: one source of variation between two counts fewer)
    env = dict(os.environ, PYTHONHASHSEED="0", **({"PYTHONPATH": str(code)} if code is not None else {}))
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                             str(HERE / "plain_crawl.py"), str(spec_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIME_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # (with its page parser and capture worker)
        proc.communicate()
        raise SystemExit(f"{kind} under valgrind took over {TIME_LIMIT:.0f} s: count a smaller site "
                         "(--instructions ARTICLES)") from None
    # valgrind's summary of the process it started (a child forked without exec has its own)
    found = re.search(rf"^=={proc.pid}== Collected : (\d+)", err, re.MULTILINE)
    try:
        result = json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0 and out.strip() else {}
    except json.JSONDecodeError:
        result = {}
    if found is None or result.get("finish_reason") != "finished" or (kind == "archive" and not result.get("manifest")):
        raise RuntimeError(f"{kind} under valgrind did not finish (exit {proc.returncode}, "
                           f"{ {k: result.get(k) for k in ('finish_reason', 'manifest')} }):\n{err[-4000:]}")
    return int(found.group(1)), result["pages"]


def instructions(args: argparse.Namespace) -> None:
    """The crawl ratio in instructions: what each crawl process executes a page, counted by
    valgrind (callgrind), which varies far less with the machine's load than time does. Each
    crawl is counted on two sites, of ``--instructions`` articles and an eighth of that;
    the difference over the difference in pages leaves start-up and the end of the crawl out.
    Instructions are not time: they leave out what the CPU's caches cost, and under valgrind
    the crawl runs about fifty times slower, so its timers (the batches sent to the capture
    worker every quarter second among them) fire more often a page than they would."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is missing: apt-get install -y valgrind")
    large = args.instructions
    sizes = (large // 8, large)
    variants: list[tuple[str, str, Path | None]] = [("plain", "plain", None), ("archive", "archive", None)]
    if args.against:
        variants.append((f"archive of {args.against}", "archive", Path(args.against).resolve()))
    counts: dict[str, list[tuple[int, int]]] = {name: [] for name, _, _ in variants}
    for articles in sizes:
        site = Site(articles)
        try:
            for name, kind, code in variants:
                with tempfile.TemporaryDirectory(prefix="bench-count-", dir=args.work_dir) as tmp:
                    counted = _counted(kind, site.base_url, args.concurrency, Path(tmp), code)
                counts[name].append(counted)
                print(f"{articles:5d} articles  {name:10} {counted[1]:6d} pages  {counted[0] / 1e9:7.3f} G instructions",
                      flush=True)
        finally:
            site.close()
    print(f"\ninstructions of the crawl process a page, sites of {sizes[0]} and {sizes[1]} articles, "
          f"concurrency {args.concurrency} per host:")
    per_page: dict[str, float] = {}
    for name, _, _ in variants:
        (small_ir, small_pages), (large_ir, large_pages) = counts[name]
        per_page[name] = (large_ir - small_ir) / (large_pages - small_pages)
    plain = per_page["plain"]
    for name, _, _ in variants:
        line = f"- {name}: {per_page[name] / 1e6:.3f} M a page"
        if name != "plain":
            line += (f"; plain Scrapy ÷ {name}: **{plain / per_page[name]:.3f}**, "
                     f"{(per_page[name] - plain) / 1e3:.0f} k instructions a page more")
        print(line)
    if args.against:
        other = per_page[variants[2][0]]
        print(f"- {variants[2][0]} less this checkout: {(other - per_page['archive']) / 1e3:.0f} k instructions a page "
              "(two counts of one crawl differ by up to about 0.3 %, some 25 k: a difference under 40 k is noise)")


def _quartiles(values: list[float], digits: int) -> str:
    if len(values) < 4:
        return f"{statistics.median(values):.{digits}f}"
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return f"{q2:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]"


def _default_work_dir() -> str | None:
    """A memory file system if there is one with room: on a disk, wget's mirror of 3,164
    files written and deleted again in every repetition made each repetition slower than
    the one before (725 down to 454 pages/s over five, on a virtual machine's disk), which
    measures the disk's housekeeping, not the crawlers; on /dev/shm its rate holds."""
    shm = Path("/dev/shm")
    try:
        if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 4 << 30:
            return str(shm)
    except OSError:
        pass
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000, help="articles of the demo site (default 2000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each measurement (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrency per host of both Scrapy crawls")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["plain", "archive", "wget", "verify", "extract"], help="leave a measurement out")
    parser.add_argument("--memory-check", action="store_true", help="compare peak RSS of 10,000 vs 1,000 pages")
    parser.add_argument("--memory-articles", type=int, default=7000, help="site size for --memory-check")
    parser.add_argument("--memory-reps", type=int, default=1, help="repetitions for --memory-check")
    parser.add_argument("--pairs", type=int, default=0,
                        help="only the crawl ratio, from this many interleaved pairs of plain Scrapy and archive crawl")
    parser.add_argument("--instructions", type=int, nargs="?", const=1000, default=None, metavar="ARTICLES",
                        help="only the crawl ratio in instructions a page, counted by valgrind on sites of "
                             "ARTICLES (default 1000) and an eighth of that")
    parser.add_argument("--against", metavar="CHECKOUT",
                        help="with --pairs or --instructions: also the archive crawl of another checkout of the "
                             "project (before/after)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {DOC.relative_to(ROOT)}")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", default=_default_work_dir(),
                        help="where the crawls write (default: /dev/shm if it has room, else the temporary directory)")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(_measure(args.measure[0], json.loads(args.measure[1]))))
        return
    if args.instructions is not None and args.instructions < 80:
        raise SystemExit("--instructions ARTICLES: at least 80 (the smaller site has an eighth of them)")
    if args.against and not (args.pairs or args.instructions is not None):
        raise SystemExit("--against goes with --pairs N or --instructions")
    if args.work_dir is not None:
        try:
            Path(args.work_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SystemExit(f"--work-dir {args.work_dir}: {exc.strerror or exc}") from None
    if args.against and not (Path(args.against) / "archive" / "crawl.py").is_file():
        raise SystemExit(f"--against {args.against}: not a checkout of this project (no archive/crawl.py)")
    if args.pairs:
        pairs(args)
        return
    if args.instructions is not None:
        instructions(args)
        return
    if shutil.which("wget") is None and "wget" not in args.skip:
        raise SystemExit("wget is missing: apt-get install -y wget, or pass --skip wget")
    if args.memory_check:
        memory_check(args)
    else:
        run_main(args)


if __name__ == "__main__":
    main()
