"""Article body extraction on real pages: the Zyte (Scrapinghub) article-extraction-benchmark.

    git clone https://github.com/scrapinghub/article-extraction-benchmark
    python benchmarks/extraction_quality.py article-extraction-benchmark

Not part of the test suite, and the pages are not ours to ship: the benchmark's 181 news
pages (``html/*.html.gz``) and their true bodies (``ground-truth.json``) are read from a
checkout of it. Each page goes through what ``archive extract`` does to a body (w3lib's
decoding, ``archive.metadata.parse_html``, ``archive.extract._main_text``), and, for
comparison, through trafilatura called as that benchmark calls it (the HTML text, comments
excluded). Scored as the benchmark scores: the multisets of 4-word shingles of the true
and extracted text give a page's true and false positives and negatives, as shares of the
page's shingles; precision and recall are their means over the pages, F1 their harmonic
mean; accuracy is the share of pages whose words are exactly the true ones. ± is the
standard deviation over 1,000 bootstrap samples of the pages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

_WORD = re.compile(r"\w+")


def _shingles(text: str, size: int = 4) -> Counter[tuple[str, ...]]:
    words = _WORD.findall(text)
    return Counter(tuple(words[i:i + size]) for i in range(max(1, len(words) - size + 1)) if words[i:i + size])


def page_counts(truth: str, found: str) -> tuple[float, float, float]:
    """True positives, false positives, false negatives of one page, as shares of its shingles."""
    want, got = _shingles(truth), _shingles(found)
    tp = sum((want & got).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else tp / (tp + fp) if tp + fp else 0.0


def _recall(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else tp / (tp + fn) if tp + fn else 0.0


def scores(counts: list[tuple[float, float, float]], exact: list[bool]) -> dict[str, float]:
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return {"f1": 2 * precision * recall / (precision + recall), "precision": precision, "recall": recall,
            "accuracy": statistics.mean(exact)}


def evaluate(truth: dict[str, str], found: dict[str, str], samples: int = 1000) -> dict[str, tuple[float, float]]:
    """Each score with its bootstrap standard deviation."""
    keys = sorted(truth)
    counts = [page_counts(truth[k], found[k]) for k in keys]
    exact = [_WORD.findall(truth[k]) == _WORD.findall(found[k]) for k in keys]
    rng = random.Random(0)
    drawn = []
    for _ in range(samples):
        pick = [rng.randrange(len(keys)) for _ in keys]
        drawn.append(scores([counts[i] for i in pick], [exact[i] for i in pick]))
    whole = scores(counts, exact)
    return {name: (value, statistics.stdev(d[name] for d in drawn)) for name, value in whole.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a checkout of scrapinghub/article-extraction-benchmark")
    args = parser.parse_args(argv)
    truth_file = args.checkout / "ground-truth.json"
    pages = sorted((args.checkout / "html").glob("*.html.gz"))
    if not truth_file.is_file() or not pages:
        print(f"{args.checkout} has no ground-truth.json and html/*.html.gz: is it a checkout of "
              "scrapinghub/article-extraction-benchmark?", file=sys.stderr)
        return 2

    import trafilatura
    from w3lib.encoding import html_to_unicode

    from archive.extract import _main_text
    from archive.metadata import parse_html

    truth = {key: doc.get("articleBody") or "" for key, doc in json.loads(truth_file.read_text("utf-8")).items()}
    texts = {}
    for path in pages:
        key = path.name.removesuffix(".html.gz")
        if key in truth:
            texts[key] = html_to_unicode(None, gzip.decompress(path.read_bytes()))[1]

    def ours(text: str) -> str:
        tree = parse_html(text)
        return "" if tree is None else _main_text(tree, None)

    def theirs(text: str) -> str:
        return trafilatura.extract(text, include_comments=False) or ""

    extractors: dict[str, Callable[[str], str]] = {"archive extract": ours, "trafilatura, defaults": theirs}
    print(f"{len(texts)} pages of {args.checkout}")
    print(f"{'':24} {'F1':>14} {'precision':>14} {'recall':>14} {'accuracy':>14} {'ms a page':>10}")
    for name, extract in extractors.items():
        t0 = time.perf_counter()
        found = {key: extract(text) for key, text in texts.items()}
        ms = (time.perf_counter() - t0) / len(texts) * 1000
        result = evaluate({k: truth[k] for k in texts}, found)
        cells = " ".join(f"{v:.3f} ± {sd:.3f}".rjust(14) for v, sd in result.values())
        print(f"{name:24} {cells} {ms:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
