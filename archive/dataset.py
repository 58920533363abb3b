"""Reading an exported dataset: article rows, and the archived response behind each one.

    import archive.dataset
    ds = archive.dataset.open("export-dir")
    for row in ds.articles():
        raw = ds.raw_response(row)      # b"HTTP/1.1 200 OK\\r\\n...\\r\\n\\r\\n<html>..." as archived
        record = ds.record(row)         # the WARC record: headers and block

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
from typing import Any

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

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def articles(self) -> Iterator[dict[str, Any]]:
        with builtins.open(self.root / "articles.jsonl", encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)

    def record(self, row: dict[str, Any]) -> WarcRecord:
        src = row["source"]
        with self._zip.open(f"archive/{src['warc_filename']}") as member:
            member.seek(src["warc_offset"])
            compressed = member.read(src["warc_length"])
        data = zlib.decompressobj(31).decompress(compressed)
        head, _, rest = data.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode("utf-8").partition(":")
            headers[name.strip()] = value.strip()
        block = rest[: int(headers["Content-Length"])]
        if headers.get("WARC-Record-ID") != src["record_id"]:
            raise ValueError(f"{src['warc_filename']} offset {src['warc_offset']} holds "
                             f"{headers.get('WARC-Record-ID')}, not {src['record_id']}")
        return WarcRecord(headers, block)

    def raw_response(self, row: dict[str, Any]) -> bytes:
        """The archived HTTP response (status line, headers, body as the server sent it)."""
        return self.record(row).http_response


def open(path: str | Path) -> Dataset:
    return Dataset(Path(path))
