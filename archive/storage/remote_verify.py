"""``archive verify s3://bucket/prefix``: a pushed store checked where it lies.

The manifests are read from the bucket and run through the same sidecar, schema and chain
checks as a local store (:func:`archive.verify.check_manifests`). Every object named by a
manifest must exist with the manifest's size and its ``x-amz-meta-sha256``; every other object
must carry an ``x-amz-meta-sha256``, but one whose loss a statement in the bucket states
(``<collection>/lost/<name>.json``, of the size and SHA-256 the manifest lists), which is a note;
a statement of other bytes excuses nothing. With ``deep`` every object is streamed and hashed (to
nowhere: nothing is written to disk). Record digests inside WARCs are not re-computed here;
``archive pull`` then ``archive verify DIR`` does that.
"""

from __future__ import annotations

import json
import logging
import posixpath
from typing import Any

from archive.digests import sha256_bytes
from archive.errors import UsageError
from archive.losses import excusing_nothing, named_for, of_the_listed, said
from archive.manifest import SIDECAR
from archive.storage.s3 import MAX_ATTEMPTS, Bucket, ObjectInfo, S3Location, parse_s3_url
from archive.verify import ManifestFile, Report, check_manifests, listed_entries, parse_manifest

log = logging.getLogger(__name__)


def verify_remote(url: str, *, deep: bool = False, endpoint_url: str | None = None,
                  max_attempts: int = MAX_ATTEMPTS) -> Report:
    location = parse_s3_url(url)
    bucket = Bucket(location, endpoint_url, max_attempts=max_attempts)
    bucket.check()
    base = location.key("")
    objects = {o.key: o for o in bucket.list(base + "/" if base else "")}
    collections = _collections(base, objects)
    if not collections:
        raise UsageError(f"{location.url()} holds neither a store nor a collection "
                         "(no <collection>/manifests/ or <collection>/warcs/ objects)")
    report = Report()
    for coll in collections:
        _check_collection(bucket, location, coll, objects, report, deep)
    report.notes.append("record digests inside WARCs are checked by `archive verify` on a pulled store")
    return report


def _collections(base: str, objects: dict[str, ObjectInfo]) -> list[str]:
    """Key prefixes of the collections under ``base`` (``base`` itself if it is one)."""
    found: set[str] = set()
    for key in objects:
        head, _, _ = key.rpartition("/")
        parent, _, sub = head.rpartition("/")
        if sub in ("manifests", "warcs") and (parent == base or posixpath.dirname(parent) == base):
            found.add(parent)
    return sorted(found)


def _check_collection(bucket: Bucket, location: S3Location, coll: str, objects: dict[str, ObjectInfo],
                      report: Report, deep: bool) -> None:
    manifests: list[ManifestFile] = []
    for key in sorted(k for k in objects if posixpath.dirname(k) == f"{coll}/manifests" and k.endswith(".json")):
        sidecar = bucket.read(key + SIDECAR).decode("utf-8", "replace") if key + SIDECAR in objects else None
        manifests.append(parse_manifest(location.url(key), posixpath.basename(key), bucket.read(key), sidecar))
    docs = check_manifests(manifests, report)
    stated = _statements(bucket, location, coll, objects, report)
    listed: set[str] = set()
    entries: dict[str, dict[str, Any]] = {}
    for m, index, entry in listed_entries(docs):
        key = f"{coll}/{entry['path']}"
        listed.add(key)
        entries[entry["path"]] = entry
        statement = stated.get(f"{coll}/lost/{posixpath.basename(entry['path'])}.json")
        if statement is not None and not of_the_listed(statement, entry):
            statement = None
        if key not in objects:
            if statement is not None:
                report.notes.append(f"{location.url(key)}: lost, {said(statement)}")
                report.lost += 1
            else:
                report.add(m.label, f"files[{index}]", f"{entry['path']} is missing from the bucket")
            continue
        if statement is not None:
            report.notes.append(f"{location.url(key)}: {said(statement)}; it is in the bucket, and checked")
        _check_object(bucket, location, key, report, deep, expect=(entry.get("size"), entry.get("sha256")))
    for key, statement in stated.items():
        entry = entries.get(str(statement.get("path")))
        if entry is None:  # (its statement goes up before the manifest that lists the file)
            report.notes.append(f"{location.url(key)}: states the loss of {statement.get('path')}, which no manifest "
                                "in the bucket lists (a push cut short, or its job has not finished)")
        elif not of_the_listed(statement, entry) or not named_for(posixpath.basename(key), statement):
            report.add(location.url(key), None, excusing_nothing(statement))
    for key in sorted(objects):
        if not key.startswith(coll + "/") or key in listed:
            continue
        if posixpath.dirname(key) == f"{coll}/warcs":
            report.notes.append(f"{location.url(key)}: not named by any manifest in the bucket "
                                "(a push cut short, or its job has not finished)")
        # (a statement of loss was read whole, and its bytes checked, already)
        _check_object(bucket, location, key, report, deep and not _is_statement(coll, key), expect=None)


def _is_statement(coll: str, key: str) -> bool:
    return posixpath.dirname(key) == f"{coll}/lost" and key.endswith(".json")


def _statements(bucket: Bucket, location: S3Location, coll: str, objects: dict[str, ObjectInfo],
                report: Report) -> dict[str, dict[str, Any]]:
    """The collection's statements of loss in the bucket, by key: each read whole, and
    believed only if its bytes are its ``x-amz-meta-sha256`` (one without is a problem
    :func:`_check_object` says) and it is a JSON object."""
    found: dict[str, dict[str, Any]] = {}
    for key in sorted(k for k in objects if _is_statement(coll, k)):
        info = bucket.head(key)
        if info is None or info.sha256 is None:
            continue  # (said by _check_object)
        raw = bucket.read(key)
        actual = sha256_bytes(raw)
        if actual != info.sha256:
            report.add(location.url(key), "sha256", f"object hashes to {actual}, x-amz-meta-sha256 says "
                                                    f"{info.sha256}: a statement of loss that excuses nothing")
            continue
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            report.add(location.url(key), None, "not a statement of loss (not a JSON object)")
            continue
        found[key] = doc
    return found


def _check_object(bucket: Bucket, location: S3Location, key: str, report: Report, deep: bool,
                  expect: tuple[object, object] | None) -> None:
    report.files += 1
    label = location.url(key)
    info = bucket.head(key)
    if info is None:
        report.add(label, None, "vanished while being verified")
        return
    if info.sha256 is None:
        report.add(label, "x-amz-meta-sha256", "missing; the object cannot be checked against its manifest")
    if expect is not None:
        size, sha = expect
        if info.size != size:
            report.add(label, "size", f"object is {info.size} bytes, manifest says {size}")
        if info.sha256 is not None and info.sha256 != sha:
            report.add(label, "x-amz-meta-sha256", f"says {info.sha256}, manifest says {sha}")
    if deep:
        actual, _ = bucket.stream(key, None)
        wanted = expect[1] if expect is not None else info.sha256
        if wanted is not None and actual != wanted:
            source = "manifest" if expect is not None else "x-amz-meta-sha256"
            report.add(label, "sha256", f"object hashes to {actual}, {source} says {wanted}")
