"""Where a replayed capture came from: revisit resolution and the ``prov_`` document."""

from __future__ import annotations

import logging
from typing import Any

from warcio.timeutils import iso_date_to_timestamp

from archive.errors import StoreError
from archive.index import CdxjEntry, lookup_url
from archive.index.records import ArchivedRecord, find_metadata, read_record, warc_fields
from archive.store import CollectionDir

log = logging.getLogger(__name__)


def resolve_revisit(coll: CollectionDir, revisit: ArchivedRecord, entry: CdxjEntry) -> ArchivedRecord | None:
    """The record holding the payload a revisit refers to, or None when it is not in the store.

    WARC 1.1 §6.7: ``WARC-Refers-To-Target-URI`` and ``-Date`` name the original; failing
    those, any earlier capture with the same payload digest will do (dedup within a
    collection crosses URLs).
    """
    uri = revisit.warc("WARC-Refers-To-Target-URI") or entry.url
    date = revisit.warc("WARC-Refers-To-Date")
    digest = revisit.warc("WARC-Payload-Digest") or entry.digest
    candidates = [e for e in lookup_url(coll, uri) if not e.is_revisit]
    wanted_ts = iso_date_to_timestamp(date) if date else None
    ranked = sorted(candidates, key=lambda e: (e.timestamp != wanted_ts, e.digest != digest))
    choice = next((e for e in ranked if e.timestamp == wanted_ts or e.digest == digest), None)
    if choice is None and digest:
        from archive.catalog import by_digest

        rows = by_digest(coll, digest)
        if rows:
            row = rows[0]
            choice = CdxjEntry(row["urlkey"], row["timestamp"],
                               {"url": row["url"], "filename": row["filename"], "offset": row["offset"],
                                "length": row["length"], "digest": row["digest"], "mime": row["mime"]})
    if choice is None:
        return None
    try:
        return read_record(coll, choice.filename, choice.offset, choice.length)
    except StoreError as exc:
        log.warning("revisit original unreadable: %s", exc)
        return None


def _record_doc(record: ArchivedRecord) -> dict[str, Any]:
    return {"filename": record.filename, "offset": record.offset, "length": record.length,
            "type": record.rec_type, "warc_headers": dict(record.warc_headers),
            "http_status": record.status}


def provenance(coll: CollectionDir, entry: CdxjEntry, record: ArchivedRecord,
               original: ArchivedRecord | None) -> dict[str, Any]:
    """The ``prov_`` document: the record, its metadata record's fields, its capture-log line."""
    from archive.catalog import log_line

    record_id = record.warc("WARC-Record-ID") or ""
    meta = find_metadata(coll, entry.filename, entry.offset, record_id)
    return {
        "collection": coll.name,
        "url": entry.url,
        "timestamp": entry.timestamp,
        "capture_time": record.warc("WARC-Date"),
        "index": entry.fields,
        "record": _record_doc(record),
        "revisit_of": _record_doc(original) if original is not None else None,
        "metadata": warc_fields(meta.payload) if meta is not None else None,
        "metadata_record": ({"record_id": meta.warc("WARC-Record-ID"), "filename": meta.filename,
                             "offset": meta.offset} if meta is not None else None),
        "capture_log": log_line(coll, entry.filename, entry.offset),
    }
