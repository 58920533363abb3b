"""Where a replayed capture came from: revisit resolution and the ``prov_`` document."""

from __future__ import annotations

import logging
from typing import Any

from archive.index import CdxjEntry, find_original
from archive.index.records import ArchivedRecord, find_metadata, warc_fields
from archive.store import CollectionDir

log = logging.getLogger(__name__)


def resolve_revisit(coll: CollectionDir, revisit: ArchivedRecord, entry: CdxjEntry, *,
                    head_only: bool = False) -> ArchivedRecord | None:
    """The record holding the payload a revisit refers to, or None when it is not in the store
    (:func:`archive.index.find_original`); ``head_only``: its headers alone, its payload unread."""
    return find_original(coll, revisit.warc("WARC-Refers-To-Target-URI") or entry.url,
                         revisit.warc("WARC-Refers-To-Date"), revisit.warc("WARC-Payload-Digest") or entry.digest,
                         head_only=head_only)


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
