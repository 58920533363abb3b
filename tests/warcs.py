"""Reading what we wrote through warcio, the independent reader."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive.warc.reader import CheckedRecord, check_records


@dataclass
class Rec:
    file: str
    offset: int
    type: str
    headers: dict[str, str]
    all_headers: list[tuple[str, str]]
    http_headers: list[tuple[str, str]] | None
    status_line: str | None
    payload: bytes
    digest_ok: bool | None
    block: bytes = b""  # the whole block as stored (an HTTP record's head included)

    def h(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def read_warc(path: Path) -> list[Rec]:
    out = []
    with open(path, "rb") as fh:
        blocks = {}
        it = ArchiveIterator(fh, no_record_parse=True)
        for record in it:
            blocks[it.get_record_offset()] = record.raw_stream.read()
        fh.seek(0)
        it = ArchiveIterator(fh, check_digests=True)
        for record in it:
            payload = record.raw_stream.read()
            http = record.http_headers
            out.append(
                Rec(
                    file=path.name,
                    offset=it.get_record_offset(),
                    type=record.rec_type,
                    headers={k.lower(): v for k, v in record.rec_headers.headers},
                    all_headers=list(record.rec_headers.headers),
                    http_headers=list(http.headers) if http else None,
                    status_line=http.protocol + " " + http.statusline if http else None,
                    payload=payload,
                    digest_ok=record.digest_checker.passed,
                    block=blocks[it.get_record_offset()],
                )
            )
    return out


def read_collection(coll: Path) -> tuple[list[Rec], list[dict]]:
    records = []
    for warc in sorted((coll / "warcs").glob("*.warc.gz")):
        records.extend(read_warc(warc))
    lines = []
    for log in sorted((coll / "logs").glob("*.captures.jsonl")):
        lines.extend(json.loads(line) for line in log.read_text().splitlines())
    return records, lines


def fields(block: bytes) -> dict[str, str]:
    out = {}
    for line in block.decode().splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k] = v
    return out


def damage_member(warc: Path, record: CheckedRecord | None = None, count: int = 1) -> CheckedRecord:
    """Flip ``count`` bytes in the middle of ``record``'s gzip member (by default the
    largest one's): inside its compressed data, which its CRC covers, not in a header
    byte that no reader checks. Returns the record."""
    if record is None:
        record = max(check_records(warc), key=lambda r: r.length)
    data = bytearray(warc.read_bytes())
    middle = record.offset + record.length // 2
    data[middle : middle + count] = bytes(b ^ 0xFF for b in data[middle : middle + count])
    warc.write_bytes(bytes(data))
    return record
