"""Publication dates, authors and headlines on real pages: the evaluation sets of htmldate and trafilatura.

    git clone https://github.com/adbar/htmldate
    git clone https://github.com/adbar/trafilatura
    python benchmarks/metadata_quality.py --htmldate htmldate --trafilatura trafilatura

Not part of the test suite, and the pages are not ours to ship: they are read from checkouts
of those projects (``tests/eval_default.json`` and ``tests/eval_mediacloud_2020.json`` of
htmldate, ``tests/evaldata.json`` of trafilatura, with the pages they name). Each page goes
through what ``archive extract`` does for its metadata (``page_metadata``, then
``infer_missing`` as ``article_row`` calls it, as of a capture at ``CAPTURED``), and, for comparison, through htmldate
alone (its default, extensive search, the original date) and trafilatura's
``extract_metadata``; and through ``article_row``, to count the pages given a row. A date
counts as right when its day is the day the set gives (the sets give the day the page
shows, so a UTC time past midnight counts as wrong); an author list when it names the same
people as the set, in any order, ignoring case; a headline when it has the same words,
ignoring case.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing import Pool
from pathlib import Path
from typing import Any

CAPTURED = "2026-11-26T12:00:00Z"
LATEST_DAY = "2026-11-27"  # (as archive's inference allows: the capture's day in any zone)


def _pages(htmldate: Path | None, trafilatura: Path | None) -> Iterator[dict[str, Any]]:
    """(set, url, path, true date, true authors) of every page of the evaluation sets."""
    if htmldate is not None:
        tests = htmldate / "tests"
        for name in ("eval_mediacloud_2020.json", "eval_default.json"):
            for url, item in json.loads((tests / name).read_text("utf-8")).items():
                date = item.get("date")
                if isinstance(date, float) and math.isnan(date):
                    date = None
                path = next((tests / d / item["file"] for d in ("test_set", "cache", "eval")
                             if (tests / d / item["file"]).is_file()), None)
                if path is not None:
                    yield {"set": "htmldate", "url": url, "path": str(path), "date": date, "authors": None}
    if trafilatura is not None:
        tests = trafilatura / "tests"
        for url, item in json.loads((tests / "evaldata.json").read_text("utf-8")).items():
            if "date" not in item and "author" not in item:
                continue
            path = next((tests / d / item["file"] for d in ("cache", "eval") if (tests / d / item["file"]).is_file()),
                        None)
            authors = item.get("author")
            if isinstance(authors, str):
                authors = [a.strip() for a in authors.split(";") if a.strip()]
            if path is not None:
                yield {"set": "trafilatura", "url": url, "path": str(path), "date": item.get("date") or None,
                       "authors": authors or None, "title": item.get("title") or None}


def _run(page: dict[str, Any]) -> dict[str, Any]:
    """What each method finds on one page."""
    from htmldate import find_date
    from trafilatura import extract_metadata
    from w3lib.encoding import html_to_unicode

    from archive.extract import Capture, article_row, infer_missing, is_listing
    from archive.metadata import page_metadata, parse_html

    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    body = Path(page["path"]).read_bytes()
    text = html_to_unicode(None, body)[1]
    out = dict(page)
    try:
        out["row"] = article_row(Capture(url=page["url"], body=body, content_type="text/html", warc_filename="x.warc.gz",
                                         offset=0, length=1, record_id="<urn:uuid:0>", payload_digest="sha1:" + "A" * 32,
                                         capture_time=CAPTURED, truncated=None), "job") is not None
    except Exception as exc:  # noqa: BLE001 -- counted: one such page stops a job's extraction
        out["row"] = f"{type(exc).__name__}: {exc}"
    tree = parse_html(text)
    if tree is None:
        return out
    declared = page_metadata(tree, page["url"])
    # (as article_row asks: the text of a page that lists no others is searched for a date)
    infer_missing(declared, tree, page["url"], CAPTURED,
                  listing=not declared["is_article"] and is_listing(page["url"], tree))
    out["archive"] = (declared.get("published"), declared.get("authors") or [], declared.get("headline"))

    def guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 -- a method that fails on a page finds nothing there
            return None

    date = guarded(find_date, text, url=page["url"], extensive_search=True, original_date=True,
                   max_date=LATEST_DAY)
    out["htmldate"] = (date, [], None)
    found = guarded(extract_metadata, text, default_url=page["url"])
    out["trafilatura"] = (None, [], None) if found is None else (
        found.date, [a.strip() for a in (found.author or "").split(";") if a.strip()], found.title)
    return out


def _words(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def _people(names: list[str]) -> set[str]:
    return {" ".join(name.lower().split()) for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--htmldate", type=Path, help="a checkout of adbar/htmldate")
    parser.add_argument("--trafilatura", type=Path, help="a checkout of adbar/trafilatura")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    if args.htmldate is None and args.trafilatura is None:
        parser.error("give --htmldate, --trafilatura or both")
    try:
        pages = list(_pages(args.htmldate, args.trafilatura))
    except (OSError, ValueError, KeyError) as exc:
        print(f"not a checkout with the evaluation sets: {exc}", file=sys.stderr)
        return 2
    with Pool(args.processes) as pool:
        results = pool.map(_run, pages, chunksize=8)
    methods = ("archive", "htmldate", "trafilatura")
    given = Counter("row" if r.get("row") is True else "none" if r.get("row") is False else "error" for r in results)
    print(f"article rows: {given['row']} of {len(results)} pages given one ({given['error']} raised); the sets hold "
          "articles and blog posts, and some other pages")
    for name in ("htmldate", "trafilatura"):
        rows = [r for r in results if r["set"] == name and r["date"] and "archive" in r]
        if not rows:
            continue
        print(f"publication dates, {name}'s set: {len(rows)} pages (right / wrong / none)")
        for method in methods:
            tally: Counter[str] = Counter()
            for r in rows:
                found = r[method][0]
                tally["none" if not found else "right" if found[:10] == r["date"][:10] else "wrong"] += 1
            print(f"  {method:12} {tally['right']:5} / {tally['wrong']:4} / {tally['none']:4}   "
                  f"{tally['right'] / len(rows):.1%}")
    rows = [r for r in results if r["set"] == "trafilatura" and "archive" in r and "date" in r]
    named = [r for r in rows if r["authors"]]
    unnamed = [r for r in rows if not r["authors"]]
    if named:
        print(f"authors, trafilatura's set: {len(named)} pages naming some (right / wrong / none), "
              f"and of {len(unnamed)} naming none, how many are given some")
        for method in ("archive", "trafilatura"):
            tally = Counter("none" if not r[method][1] else
                            "right" if _people(r[method][1]) == _people(r["authors"]) else "wrong" for r in named)
            extra = sum(bool(r[method][1]) for r in unnamed)
            print(f"  {method:12} {tally['right']:5} / {tally['wrong']:4} / {tally['none']:4}   "
                  f"{tally['right'] / len(named):.1%}; {extra} given where none")
    titled = [r for r in rows if r.get("title")]
    if titled:
        print(f"headlines, trafilatura's set: {len(titled)} pages (the same words, ignoring case / other / none)")
        for method in ("archive", "trafilatura"):
            tally = Counter("none" if not r[method][2] else
                            "right" if _words(r[method][2]) == _words(r["title"]) else "wrong" for r in titled)
            print(f"  {method:12} {tally['right']:5} / {tally['wrong']:4} / {tally['none']:4}   "
                  f"{tally['right'] / len(titled):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
