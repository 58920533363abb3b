"""The benchmark harness still runs: each of its modes, on a site small enough to take
seconds. What it measures is not checked here (speed is measured by the harness, not
asserted by tests); that it can measure at all is, since nothing else runs it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.mark.parametrize("mode", ["whole run", "pairs"])
def test_the_harness_measures_every_crawl(mode, tmp_path):
    if mode == "pairs":
        out = _run(str(BENCHMARKS / "run.py"), "--pairs", "1", "--articles", "30", "--no-write",
                   "--work-dir", str(tmp_path))
        assert re.search(r"pair 1 plain +[\d.]+ pages/s", out) and re.search(r"pair 1 archive +[\d.]+ pages/s", out)
        assert re.search(r"archive ÷ plain Scrapy: pages/s [\d.]+", out)
        return
    skip = [] if shutil.which("wget") else ["--skip", "wget"]
    out = _run(str(BENCHMARKS / "run.py"), "--reps", "1", "--articles", "30", "--no-write", "--work-dir",
               str(tmp_path), *skip)
    assert re.search(r"\*\*2 ÷ 1\*\* \(archive ÷ plain Scrapy, pages/s\): \*\*[\d.]+\*\*", out), out
    assert re.search(r"\*\*4\*\*: `archive verify` of the collection [\d.]+ MB/s", out), out
    assert re.search(r"\*\*5\*\*: `archive extract`: 30 articles", out), out


def test_the_worker_replay_measures(tmp_path):
    out = _run(str(BENCHMARKS / "worker_replay.py"), "--articles", "20", "--reps", "1", "--work-dir", str(tmp_path))
    assert re.search(r"- this checkout: [\d.]+ µs", out), out
