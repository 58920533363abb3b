"""Checking an export directory or a single ``.wacz``: hashes, signature, records.

Called by ``archive verify`` for a directory holding ``datapackage.json`` and a ``.wacz``,
or for a ``.wacz`` file. Every problem is named with the file and what is wrong.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from archive.export.signing import (
    SIGNATURE_FILE,
    check_signature,
    key_fingerprint,
    signer_fingerprint,
)
from archive.export.wacz import _file_sha256
from archive.jsonl import numbered_rows
from archive.warc.reader import check_records


class Placed(NamedTuple):
    """Of a WACZ's response or revisit record, what an article row's ``source`` says of it."""

    length: int
    record_id: str | None
    payload_digest: str | None
    type: str


def check_export(root: Path, report: Any, key: Any = None) -> None:
    """``key``: the public key (Ed25519) the export must be signed with, if one is given."""
    raw = (root / "datapackage.json").read_bytes()
    package = _object(raw)
    if package is None:
        report.add(root / "datapackage.json", None, "not a JSON object")
        return
    report.manifests += 1
    records: dict[str, dict[int, Placed] | None] | None = None
    wacz = None
    for index, res in _resources(package, report, root / "datapackage.json", ""):
        path = root / res["path"]
        if not path.is_file():
            report.add(root / "datapackage.json", f"resources[{index}]", f"{res['path']} is missing")
            continue
        report.files += 1
        if path.stat().st_size != res.get("bytes"):
            report.add(path, "bytes", f"file is {path.stat().st_size} bytes, datapackage.json says {res.get('bytes')}")
        actual = _file_sha256(path)
        if actual != res.get("hash"):
            report.add(path, "hash", f"file hashes to {actual}, datapackage.json says {res.get('hash')}")
        if path.suffix == ".wacz":
            records = check_wacz(path, report)
            wacz = path
    if records is not None and wacz is not None and (root / "articles.jsonl").is_file():
        _check_rows(root, records, report, wacz.name)
    sig = root / SIGNATURE_FILE
    if not sig.is_file():
        if key is not None:
            report.add(root, None, f"not signed (no {SIGNATURE_FILE}), but --key asks for a signature by "
                                   f"{key_fingerprint(key)}")
        else:
            report.notes.append(f"{root}: not signed (no {SIGNATURE_FILE})")
        return
    doc = _object(sig.read_bytes())
    if doc is None:
        report.add(sig, None, "not a JSON object")
        return
    found = check_signature(raw, doc)
    for problem in found:
        report.add(sig, None, problem)
    if found:
        return
    signer = signer_fingerprint(doc)
    if key is not None and signer != key_fingerprint(key):
        report.add(sig, None, f"signed by {signer}, not by the key --key names ({key_fingerprint(key)})")
    elif key is None:
        # (the signature holds its key: anyone could have signed anything; only a key the
        # archive published, compared here or with --key, says who)
        report.notes.append(f"{root}: signed by {signer}; check that this is the key its archive publishes "
                            "(`archive verify --key FILE.pub`)")


def check_wacz(path: Path, report: Any) -> dict[str, dict[int, Placed] | None] | None:
    """Check a WACZ; give the records of its WARCs (by file name, then offset; None for a
    WARC it lists that it does not hold or that cannot be read, a problem said), or None
    where it cannot be read."""
    records: dict[str, dict[int, Placed] | None] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            _check_members(zf, path, report, records)
    except _UNREADABLE as exc:
        # (a damaged directory reads as another zip version, a method or an encryption that
        # zipfile has not, as well as a bad zip)
        report.add(path, None, f"not a readable zip: {exc}")
        return None
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        # (its directory says a member starts before the file does: a seek there fails)
        report.add(path, None, f"not a readable zip: its directory points outside the file ({exc.strerror})")
        return None
    return records


# What zipfile raises for a damaged zip or member (an OSError of a seek outside the file
# aside: see check_wacz).
_UNREADABLE = (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError)


def _check_members(zf: zipfile.ZipFile, path: Path, report: Any,
                   records: dict[str, dict[int, Placed] | None]) -> None:
    names = set(zf.namelist())
    for needed in ("datapackage.json", "datapackage-digest.json"):
        if needed not in names:
            report.add(path, needed, "missing from the package")
            return
    package_bytes = zf.read("datapackage.json")
    digest = _object(zf.read("datapackage-digest.json"))
    actual = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    if digest is None:
        report.add(path, "datapackage-digest.json", "not a JSON object")
    elif digest.get("hash") != actual:
        report.add(path, "datapackage-digest.json", f"says {digest.get('hash')}, datapackage.json hashes to {actual}")
    package = _object(package_bytes)
    if package is None:
        report.add(path, "datapackage.json", "not a JSON object")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for _, res in _resources(package, report, path, "datapackage.json "):
            name = res["path"]
            if name.endswith(".warc.gz"):
                records[PurePosixPath(name).name] = None  # (until its records are read)
            if name not in names:
                report.add(path, name, "listed in datapackage.json but not in the package")
                continue
            h = hashlib.sha256()
            target = Path(tmp) / Path(name).name if name.endswith(".warc.gz") else None
            try:
                with zf.open(name) as member, open(target or os.devnull, "wb") as out:
                    while chunk := member.read(1 << 20):
                        h.update(chunk)
                        out.write(chunk)
            except _UNREADABLE as exc:
                report.add(path, name, f"damaged inside the zip: {exc}")
                # (a WARC stored as it is, as an export stores its WARCs: its records are
                # read from the bytes the zip holds, the damage named by the record it is in,
                # and the rows of the others checked)
                if target is None or not _stored_bytes(path, zf.getinfo(name), target):
                    continue
            else:
                if "sha256:" + h.hexdigest() != res.get("hash"):
                    report.add(path, name,
                               f"hashes to sha256:{h.hexdigest()}, datapackage.json says {res.get('hash')}")
            if target is not None:
                held = records[PurePosixPath(name).name] = {}
                for record in check_records(target):
                    report.records += 1
                    if record.type in ("response", "revisit"):  # (what rows point at; only what they need)
                        fields = record.fields
                        held[record.offset] = Placed(record.length, fields.get("warc-record-id"),
                                                     fields.get("warc-payload-digest"), record.type)
                    for problem in record.problems:
                        report.add(path, f"{name} offset {record.offset}", problem)
                target.unlink()


def _stored_bytes(path: Path, info: zipfile.ZipInfo, target: Path) -> bool:
    """Copy the bytes a member stored without compression holds, as they are, from the zip
    ``path`` to ``target``; False where it is not stored so, or its local header (where its
    bytes begin) is not the one its directory entry names."""
    if info.compress_type != zipfile.ZIP_STORED:
        return False
    try:
        with open(path, "rb") as fh, open(target, "wb") as out:
            fh.seek(info.header_offset)
            head = fh.read(30)
            if len(head) < 30 or head[:4] != b"PK\x03\x04":
                return False
            name_length, extra_length = struct.unpack("<HH", head[26:30])
            if fh.read(name_length) != info.filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
                return False
            fh.seek(extra_length, os.SEEK_CUR)
            left = info.compress_size
            while left > 0 and (chunk := fh.read(min(left, 1 << 20))):
                out.write(chunk)
                left -= len(chunk)
    except (OSError, UnicodeEncodeError):
        return False
    return True


def _check_rows(root: Path, records: dict[str, dict[int, Placed] | None], report: Any, wacz: str) -> None:
    """The article table against itself and the WACZ: each line an article row as its schema
    says, the Parquet file the same rows, and each row's ``source`` the record it names (file,
    offset, length, record id, payload digest), a revisit's with its original in the package.
    Hashes tell a file is as it was listed; these, that what was listed holds together.

    The rows whose records are in a WARC the WACZ (``wacz``: its name) lists but does not
    hold whole, a problem said already, are one problem for each such WARC, with the
    numbers of their lines: one damaged WARC named hundreds of rows, a line each."""
    table = root / "articles.jsonl"
    rows = []
    for number, row in numbered_rows(table, "article"):
        if isinstance(row, str):
            report.add(table, f"line {number}", row)
        else:
            rows.append((number, row))
    payloads = {r.payload_digest for held in records.values() if held for r in held.values() if r.type == "response"}
    unread: dict[str, list[int]] = {}
    for number, row in rows:
        src = row["source"]
        held = records.get(src["warc_filename"], {})
        if held is None:
            unread.setdefault(src["warc_filename"], []).append(number)
            continue
        record = held.get(src["warc_offset"])
        if record is None:
            problem = f"source points at no record of the package ({src['warc_filename']} @ {src['warc_offset']})"
        elif record.length != src["warc_length"]:
            problem = f"source.warc_length is {src['warc_length']}, the record there is {record.length} bytes"
        elif record.record_id != src["record_id"]:
            problem = f"source.record_id is {src['record_id']}, the record there is {record.record_id}"
        elif record.payload_digest != src["payload_digest"]:
            problem = f"source.payload_digest is {src['payload_digest']}, the record there says {record.payload_digest}"
        elif record.type == "revisit" and src["payload_digest"] not in payloads:
            problem = "its record is a revisit whose original (a response of that payload) is not in the package"
        else:
            continue
        report.add(table, f"line {number}", problem)
    for name, numbers in unread.items():
        lines = f"{len(numbers)} line" + ("" if len(numbers) == 1 else "s")
        report.add(table, _spans(numbers), f"{lines} of the table point into {name}, which {wacz} does not hold "
                                           "whole (above): their records cannot be checked")
    parquet = root / "articles.parquet"
    if parquet.is_file():
        import pyarrow
        import pyarrow.parquet

        try:
            # (a file object: pyarrow takes a path with a colon, "exp:1/...", for a URI)
            with open(parquet, "rb") as f:
                columns = pyarrow.parquet.read_table(f).to_pylist()
        except (pyarrow.ArrowException, OSError) as exc:
            report.add(parquet, None, f"cannot be read: {exc}")
            return
        listed = [row for _, row in rows]
        if len(columns) != len(listed):
            report.add(parquet, None, f"holds {len(columns)} row{'' if len(columns) == 1 else 's'}, "
                                      f"articles.jsonl {len(listed)}")
        else:
            differ = next((i for i, (a, b) in enumerate(zip(columns, listed, strict=True)) if a != b), None)
            if differ is not None:
                report.add(parquet, f"row {differ + 1}", f"differs from line {rows[differ][0]} of articles.jsonl")


def _spans(numbers: list[int]) -> str:
    """Line numbers in runs: "lines 1-40, 42, 45-50"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    spans = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
    return f"line{'s' if len(numbers) > 1 else ''} {spans}"


def _object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` parsed, if it is a JSON object."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # (UnicodeDecodeError included)
        return None
    return doc if isinstance(doc, dict) else None


def _resources(package: dict[str, Any], report: Any, path: Path, where: str) -> list[tuple[int, dict[str, Any]]]:
    """The resources a data package lists with a file name and a hash; each of the others is
    a problem, named by ``where`` (how ``path`` holds the data package) and its field."""
    resources = package.get("resources")
    if not isinstance(resources, list):
        report.add(path, f"{where}resources", "missing or not a list")
        return []
    listed = []
    for index, res in enumerate(resources):
        at = f"{where}resources[{index}]"
        if not isinstance(res, dict):
            report.add(path, at, "not an object")
        elif "path" not in res or "hash" not in res:
            report.add(path, f"{at}.{'path' if 'path' not in res else 'hash'}", "missing")
        elif not isinstance(res["path"], str) or not _relative(res["path"]):
            report.add(path, f"{at}.path", f"{res['path']!r} is not a file name inside the package")
        elif not isinstance(res["hash"], str):
            report.add(path, f"{at}.hash", f"{res['hash']!r} is not a string")
        else:
            listed.append((index, res))
    return listed


def _relative(name: str) -> bool:
    # (a path out of the export, "/etc/passwd" or "../x", would have another file checked)
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts
