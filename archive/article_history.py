"""``archive history URL``: every capture of a URL and what changed between versions.

Captures come from the capture logs (time, status, payload digest, new content or
revisit); versions from the article tables; between consecutive distinct versions, the
headline change and a unified diff of the body paragraphs.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.errors import UsageError
from archive.history import lost_warcs
from archive.jsonl import rows_skipping_bad
from archive.store import CollectionDir, no_store
from archive.urls import canonicalize, host_of, same_escapes


def _collections(store: Path) -> list[CollectionDir]:
    if not store.is_dir():
        raise UsageError(no_store(store))
    return [CollectionDir(p) for p in sorted(store.iterdir()) if (p / "logs").is_dir()]


def _kind(line: dict[str, Any]) -> str:
    if line["outcome"] != "captured":
        return line["outcome"]
    if line.get("revisit"):
        return "revisit (" + line["revisit"]["profile"].rsplit("/", 1)[-1] + ")"
    return "new content"


def url_history(store: Path, url: str, collection: str | None = None) -> dict[str, Any]:
    """Captures and versions of ``url`` in every collection of ``store`` (or in
    ``collection`` alone), oldest first."""
    try:
        target = canonicalize(url)
    except ValueError as exc:  # (a bracketed host that is no address, a port out of range)
        raise UsageError(f"{url!r} is not a valid URL ({exc})") from None
    if urlsplit(target).scheme not in ("http", "https") or not host_of(target):
        raise UsageError(f"{url!r} is not an absolute http(s) URL")  # (nothing else is ever captured)
    target = same_escapes(target)  # (a URL typed with "%c3%a9" is the page captured as "%C3%A9")
    captures: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    collections = _collections(Path(store))
    if collection is not None:
        collections = [coll for coll in collections if coll.name == collection]
        if not collections:
            raise UsageError(f"{collection!r} is not a collection of {store}")
    for coll in collections:
        gone = lost_warcs(coll)  # (their captures are in the logs, their versions in the tables, their bytes nowhere)
        # A read view: a damaged line is skipped with a warning, the rest still shown
        # (`archive verify` names every damaged line).
        for log in sorted(coll.logs.glob("*.captures.jsonl")):
            for line in rows_skipping_bad(log, "capture-log"):
                if same_escapes(line["url"]) != target:
                    continue
                captures.append({
                    "collection": coll.name, "job_id": line["job_id"], "time": line["started"],
                    "status": line.get("status"), "payload_digest": line.get("payload_digest"),
                    "kind": _kind(line), "record_id": (line.get("warc") or {}).get("record_id"),
                    "error": line.get("error"), "lost": (line.get("warc") or {}).get("filename") in gone,
                })
        versions.extend(dict(row, collection=coll.name, lost=row["source"]["warc_filename"] in gone)
                        for row in _versions_of(coll, target))
    captures.sort(key=lambda c: c["time"])
    versions.sort(key=lambda v: (v["collection"], v.get("version", 1)))
    out_versions = []
    previous: dict[str, Any] | None = None
    for row in versions:
        entry = {
            "collection": row["collection"], "version": row.get("version", 1), "status": row["status"],
            "record_id": row["source"]["record_id"], "capture_time": row["source"]["capture_time"],
            "headline": row["headline"], "word_count": row["word_count"], "changes": None, "lost": row["lost"],
            "url": row["url"],
        }
        # (a withdrawn version has no text to compare; one back after it is compared with
        # the last text there was)
        if row["status"] == "withdrawn":
            out_versions.append(entry)
            continue
        if previous is not None and previous["collection"] == row["collection"]:
            entry["changes"] = changes(previous, row)
        out_versions.append(entry)
        previous = row
    return {"url": target, "captures": captures, "versions": out_versions}


def _versions_of(coll: CollectionDir, target: str) -> list[dict[str, Any]]:
    """The rows of the articles at ``target`` (a row's URL or canonical URL) in ``coll``'s
    tables, with their versions at other URLs: after a move (:mod:`archive.moves`), and
    before it, where the article came to ``target`` from another URL."""
    tables = sorted(coll.articles.glob("*.jsonl")) if coll.articles.is_dir() else []
    ids: set[str] = set()
    rows = []
    for path in tables:  # (in the order of their jobs: an article's later URLs after its first)
        for row in rows_skipping_bad(path, "article"):
            if (row["article_id"] in ids or same_escapes(row["url"]) == target
                    or same_escapes(row["canonical_url"]) == target):
                ids.add(row["article_id"])
                rows.append(row)
    if any(row["article_id"] != hashlib.sha1(row["canonical_url"].encode("utf-8")).hexdigest() for row in rows):
        # (an article that moved here: its versions at the URLs before, read again)
        rows = [row for path in tables for row in rows_skipping_bad(path, "article") if row["article_id"] in ids]
    return rows


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Headline before/after (when it changed) and a unified diff of body paragraphs."""
    headline = None if old["headline"] == new["headline"] else {"from": old["headline"], "to": new["headline"]}
    body = list(difflib.unified_diff(
        old["body"].split("\n\n"), new["body"].split("\n\n"),
        fromfile=f"version {old.get('version', 1)}", tofile=f"version {new.get('version', 1)}", lineterm="", n=0,
    ))
    return {"headline": headline, "body_diff": body}
