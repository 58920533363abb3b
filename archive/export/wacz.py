"""Writing a WACZ 1.1.1 package, byte-identical for the same input.

Entries are sorted, every entry is stored (WARCs must be, for random access; the rest is
small), and every timestamp is the package's ``created`` time, which comes from the data
(the newest capture), not the clock. ``datapackage-digest.json`` holds the SHA-256 of the
exact bytes of ``datapackage.json``, as the WACZ spec asks.
"""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from archive import __version__
from archive.digests import sha256_bytes, sha256_file
from archive.store import replacing

WACZ_VERSION = "1.1.1"


def _json(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _file_sha256(path: Path) -> str:
    return sha256_file(path)[0]


def pages_jsonl(title: str, pages: list[dict[str, Any]]) -> bytes:
    header = {"format": "json-pages-1.0", "id": "pages", "title": title}
    lines = [json.dumps(header, sort_keys=True)] + [json.dumps(p, sort_keys=True, ensure_ascii=False) for p in pages]
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_wacz(out: Path, *, warcs: list[Path], index: bytes, pages: bytes, title: str, description: str,
               created: datetime, main_page: str | None = None) -> dict[str, Any]:
    """Write the package; return its datapackage document."""
    members: dict[str, bytes | Path] = {f"archive/{w.name}": w for w in sorted(warcs)}
    members["indexes/index.cdxj"] = index
    members["pages/pages.jsonl"] = pages
    resources = []
    for name in sorted(members):
        item = members[name]
        data_hash = _file_sha256(item) if isinstance(item, Path) else sha256_bytes(item)
        size = item.stat().st_size if isinstance(item, Path) else len(item)
        resources.append({"name": name.rsplit("/", 1)[-1], "path": name, "hash": data_hash, "bytes": size})
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    package: dict[str, Any] = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "description": description,
        "created": stamp,
        "modified": stamp,
        "software": f"archive-corpus {__version__}",
        "resources": resources,
    }
    if main_page:
        package["mainPageURL"] = main_page
    package_bytes = _json(package)
    members["datapackage.json"] = package_bytes
    members["datapackage-digest.json"] = _json({"path": "datapackage.json", "hash": sha256_bytes(package_bytes)})
    zip_time = created.timetuple()[:6]
    with replacing(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=zip_time)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            item = members[name]
            if isinstance(item, Path):
                with open(item, "rb") as src, zf.open(info, "w", force_zip64=item.stat().st_size > 2**31) as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
            else:
                zf.writestr(info, item)
    return package
