"""Choosing the captures of an export and copying their records, byte for byte.

Records are copied as the gzip members they are (WARC 1.1 Annex D: one member per record),
so every digest and record id stays what the crawler wrote. A capture brings its request
and metadata records along; a revisit brings the record it refers to, even from outside the
selected dates (otherwise it could not be replayed). Each output WARC begins with the
warcinfo of its source file and keeps the source's name; the new offsets are returned so
article pointers can be remapped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from archive.digests import unlike_listed
from archive.errors import StoreError
from archive.warc.reader import CheckedRecord, check_records

log = logging.getLogger(__name__)


@dataclass
class SourceFile:
    path: Path
    warcinfo: CheckedRecord | None = None
    records: list[CheckedRecord] = field(default_factory=list)


@dataclass
class Selection:
    """Record ids chosen, and where every record of the collection lives. ``matched``: the
    captures the filter took, which ``chosen`` holds with what they need."""

    files: dict[str, SourceFile]
    by_id: dict[str, tuple[str, CheckedRecord]]
    chosen: set[str] = field(default_factory=set)
    matched: set[str] = field(default_factory=set)
    # Revisits the filter took whose original is in no WARC read, left out (see select)
    unfounded: set[str] = field(default_factory=set)


_KEPT = ("warc-type", "warc-record-id", "warc-date", "warc-target-uri", "warc-concurrent-to", "warc-refers-to")


def scan(warcs: list[Path], listed: dict[Path, dict] | None = None, *, doing: str = "") -> Selection:
    """Every record of ``warcs``, checked (one damaged stops the export, naming it). A WARC in
    ``listed`` (its manifest entry) is hashed as its records are read, in the same pass, and
    must be the file that entry lists: ``doing`` says what is then not done."""
    files: dict[str, SourceFile] = {}
    by_id: dict[str, tuple[str, CheckedRecord]] = {}
    for path in warcs:
        source = SourceFile(path)
        entry = (listed or {}).get(path)
        hasher = hashlib.sha256() if entry is not None else None
        for record in check_records(path, hasher=hasher):
            if not record.complete or record.problems:
                raise StoreError(f"{path}: offset {record.offset}: {'; '.join(record.problems)}; "
                                 "run `archive verify` before exporting")
            if record.type == "warcinfo" and source.warcinfo is None:
                source.warcinfo = record
                continue
            # (only the fields an export reads of it: a collection's every record is held)
            record.fields = {name: record.fields[name] for name in _KEPT if name in record.fields}
            source.records.append(record)
            by_id[record.record_id] = (path.name, record)
        if hasher is not None and entry is not None:
            # (the records' own digests would not tell a WARC whose WARC-Dates were rewritten)
            unlike = unlike_listed(path, "sha256:" + hasher.hexdigest(), path.stat().st_size, entry)
            if unlike is not None:
                raise StoreError(f"{unlike}: {doing}")
        files[path.name] = source
    return Selection(files, by_id)


def select(selection: Selection, keep: Callable[[CheckedRecord], bool], *, originals_lost: bool = False) -> Selection:
    """Choose captures (response/revisit records) that ``keep`` accepts, with what they need.
    ``originals_lost``: WARCs of the collection are gone for good (their loss stated), and a
    revisit whose original is in none of those read may have been of a capture in one: it
    is left out (``unfounded``), as it could not be replayed nor an article row of it traced."""
    concurrent: dict[str, list[str]] = {}
    for _, record in selection.by_id.values():
        target = record.fields.get("warc-concurrent-to")
        if target and record.type in ("request", "metadata"):
            concurrent.setdefault(target, []).append(record.record_id)
    todo = [rid for rid, (_, r) in selection.by_id.items() if r.type in ("response", "revisit") and keep(r)]
    if originals_lost:
        selection.unfounded.update(rid for rid in todo if selection.by_id[rid][1].type == "revisit"
                                   and selection.by_id[rid][1].fields.get("warc-refers-to") not in selection.by_id)
        todo = [rid for rid in todo if rid not in selection.unfounded]
    selection.matched.update(todo)
    while todo:
        rid = todo.pop()
        if rid in selection.chosen:
            continue
        selection.chosen.add(rid)
        selection.chosen.update(concurrent.get(rid, []))
        record = selection.by_id[rid][1]
        if record.type == "revisit":
            original = record.fields.get("warc-refers-to")
            if original in selection.by_id:
                todo.append(original)
            else:
                log.warning("revisit %s refers to %s, which is not in this collection", rid, original)
    return selection


def write_selected(selection: Selection, out_dir: Path) -> dict[tuple[str, int], tuple[int, int]]:
    """Copy the chosen records into ``out_dir``; map (file, old offset) to (new offset, length)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    moved: dict[tuple[str, int], tuple[int, int]] = {}
    for name, source in sorted(selection.files.items()):
        records = [r for r in source.records if r.record_id in selection.chosen]
        if not records:
            continue
        with open(source.path, "rb") as src, open(out_dir / name, "wb") as dst:
            for record in ([source.warcinfo] if source.warcinfo else []) + records:
                src.seek(record.offset)
                moved[(name, record.offset)] = (dst.tell(), record.length)
                dst.write(src.read(record.length))
    return moved
