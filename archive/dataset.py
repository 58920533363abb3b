"""Reading an exported dataset: article rows, and the archived response behind each one.

    import archive.dataset
    ds = archive.dataset.open("export-dir")
    for row in ds.articles():
        raw = ds.raw_response(row)      # b"HTTP/1.1 200 OK\\r\\n...\\r\\n\\r\\n<html>..." as archived
        record = ds.record(row)         # the WARC record: headers and block
        payload = ds.payload_record(row)  # the record whose payload the row was read from

A row whose capture is a revisit (the server sent bytes captured before, or a 304) points
at the revisit record; its text was read from the original's payload, which
``payload_record`` finds by the revisit's ``WARC-Refers-To-Target-URI`` and ``-Date`` in
the export's index.

WARCs are stored uncompressed in the WACZ, so a record is read by seeking to its offset
inside the zip member; nothing is extracted to disk.
"""

from __future__ import annotations

import builtins
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from archive.errors import UsageError


@dataclass
class WarcRecord:
    headers: dict[str, str]
    block: bytes

    @property
    def http_response(self) -> bytes:
        """The block of a response record: status line, headers, and body as received."""
        return self.block


class Dataset:
    def __init__(self, root: Path):
        self.root = root
        waczs = sorted(root.glob("*.wacz"))
        if not (root / "articles.jsonl").is_file() or len(waczs) != 1:
            raise UsageError(f"{root} is not an export (expected articles.jsonl and one .wacz)")
        self.wacz = waczs[0]
        self._zip = zipfile.ZipFile(self.wacz)
        self._places: dict[tuple[str | None, str, str], tuple[str, int, int, str]] | None = None

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def articles(self) -> Iterator[dict[str, Any]]:
        with builtins.open(self.root / "articles.jsonl", encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)

    def record(self, row: dict[str, Any]) -> WarcRecord:
        src = row["source"]
        record = self._read(src["warc_filename"], src["warc_offset"], src["warc_length"])
        if record.headers.get("WARC-Record-ID") != src["record_id"]:
            raise ValueError(f"{src['warc_filename']} offset {src['warc_offset']} holds "
                             f"{record.headers.get('WARC-Record-ID')}, not {src['record_id']}")
        return record

    def _read(self, filename: str, offset: int, length: int) -> WarcRecord:
        with self._zip.open(f"archive/{filename}") as member:
            member.seek(offset)
            compressed = member.read(length)
        data = zlib.decompressobj(31).decompress(compressed)
        head, _, rest = data.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode("utf-8").partition(":")
            headers[name.strip()] = value.strip()
        block = rest[: int(headers["Content-Length"])]
        return WarcRecord(headers, block)

    def raw_response(self, row: dict[str, Any]) -> bytes:
        """The archived HTTP response (status line, headers, body as the server sent it); for
        a revisit of the same payload, its head with the original's body."""
        record = self.record(row)
        if record.headers.get("WARC-Type") != "revisit" or not record.headers.get("WARC-Profile", "").endswith(
                "/identical-payload-digest"):
            return record.http_response
        original = self.payload_record(row).http_response
        return record.http_response.partition(b"\r\n\r\n")[0] + b"\r\n\r\n" + original.partition(b"\r\n\r\n")[2]

    def payload_record(self, row: dict[str, Any]) -> WarcRecord:
        """The record whose payload the row's text was read from: the row's own, or the
        original its revisit refers to (by the export's index)."""
        record = self.record(row)
        if record.headers.get("WARC-Type") != "revisit":
            return record
        uri, date = record.headers.get("WARC-Refers-To-Target-URI"), record.headers.get("WARC-Refers-To-Date", "")
        stamp = "".join(c for c in date if c.isdigit())[:14]
        place = self._originals().get((uri, stamp, _digest(record.headers.get("WARC-Payload-Digest"))))
        if place is None:
            raise ValueError(f"the original of revisit {row['source']['record_id']} ({uri} at {date}) is not in "
                             f"{self.wacz.name}")
        filename, offset, length, _ = place
        return self._read(filename, offset, length)

    def _originals(self) -> dict[tuple[str | None, str, str], tuple[str, int, int, str]]:
        """Where each response of the export is (file, offset, length, status), by URL,
        14-digit timestamp and payload digest (read once; of several, a 200's: a retried
        5xx may share the second)."""
        if self._places is None:
            self._places = {}
            with self._zip.open("indexes/index.cdxj") as index:
                for line in index:
                    _, stamp, doc = line.decode("utf-8").split(" ", 2)
                    fields = json.loads(doc)
                    if fields.get("mime") == "warc/revisit":
                        continue
                    key = (fields.get("url"), stamp, _digest(fields.get("digest")))
                    if key in self._places and self._places[key][3] == "200":
                        continue
                    self._places[key] = (fields["filename"], int(fields["offset"]), int(fields["length"]),
                                         str(fields.get("status")))
        return self._places


def _digest(value: str | None) -> str:
    """A payload digest as the index and the records write it, alike (``sha1:`` or not)."""
    return (value or "").removeprefix("sha1:").upper()


def open(path: str | Path) -> Dataset:
    return Dataset(Path(path))
