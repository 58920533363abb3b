"""Digest encodings used everywhere in the store.

Record digests are ``sha1:<BASE32>`` (WARC 1.1 §5.8/§5.9 labelled digests, the form pywb and
CDX tools compare for deduplication); file hashes are ``sha256:<lowercase hex>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1 << 20
# The sidecar of a derived file (a WARC's index, a job's article table): what it was made from,
# and the SHA-256 it was made with.
DERIVED_SUFFIX = ".derived.json"


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# The base32 of every 10-bit value, two characters each: a SHA-1's 160 bits are 16 lookups,
# a third of the time of base64.b32encode (written in Python), which every record of a
# capture and of a verify pays twice.
_B32_PAIRS = [a + b for a in _B32 for b in _B32]
_SHA1_SHIFTS = range(150, -1, -10)
# Reading base32 back: its letters, either case, mapped onto the digits int() takes in base
# 32, and every other byte onto "!", which int() refuses (it would otherwise take "_", signs,
# spaces, and 0, 1, 8 and 9, which are not base32). A table of bytes: with bytes.translate the
# comparison costs half what it did with str.translate and a dict, and verify pays it twice
# a record.
_B32_DIGITS = dict(zip((_B32 + _B32.lower()).encode(), b"0123456789abcdefghijklmnopqrstuv" * 2))
_B32_READ = bytes(_B32_DIGITS.get(byte, ord("!")) for byte in range(256))


def b32(digest: bytes) -> str:
    """RFC 4648 base32 of ``digest``, upper case, padded as base64.b32encode pads."""
    if len(digest) != 20:
        return base64.b32encode(digest).decode("ascii")
    n = int.from_bytes(digest, "big")
    pairs = _B32_PAIRS
    return "".join([pairs[(n >> shift) & 0x3FF] for shift in _SHA1_SHIFTS])


def b32_is(value: str, digest: bytes) -> bool:
    """Whether ``value`` (base32, any case, no padding) is ``digest``, a SHA-1's 20 bytes.

    Compared as numbers (``int`` reads the base32 once its letters are mapped onto its
    digits), cheaper than encoding the digest.
    """
    if len(value) != 32 or len(digest) != 20:
        return False
    try:  # (no non-ASCII character is base32, not even "ſ", whose upper case is "S")
        return int(value.encode("ascii").translate(_B32_READ), 32) == int.from_bytes(digest, "big")
    except ValueError:  # not ASCII (UnicodeEncodeError is a ValueError), or not base32
        return False


def sha1_label(hasher: hashlib._Hash) -> str:
    """Format a finished SHA-1 as a WARC labelled digest."""
    return "sha1:" + b32(hasher.digest())


def sha1_of(*parts: bytes | memoryview) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part)
    return sha1_label(h)


def sha256_label(hex_digest: str) -> str:
    return "sha256:" + hex_digest


def sha256_stream(fh: BinaryIO) -> tuple[str, int]:
    """SHA-256 (labelled) and byte count of everything left in ``fh``."""
    h = hashlib.sha256()
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = fh.readinto(buf)
        if not n:
            break
        h.update(view[:n])
        size += n
    return sha256_label(h.hexdigest()), size


def sha256_file(path: Path) -> tuple[str, int]:
    with open(path, "rb") as fh:
        return sha256_stream(fh)


def unlike_its_listing(path: Path, entry: dict[str, Any]) -> str | None:
    """What makes ``path`` other than the file its manifest ``entry`` lists (its size and
    SHA-256), or None. A file changed after its job, its records rewritten to say other
    things (a WARC-Date), is told apart here only: its record digests may all still hold."""
    try:
        digest, size = sha256_file(path)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return unlike_listed(path, digest, size, entry)


def unlike_listed(path: Path, digest: str, size: int, entry: dict[str, Any]) -> str | None:
    """:func:`unlike_its_listing` of a file whose SHA-256 label and size were had already."""
    if digest != entry["sha256"] or size != entry.get("size", size):
        return (f"{path} is not the file its manifest lists ({size} bytes, {digest}; the manifest says "
                f"{entry.get('size')} bytes, {entry['sha256']})")
    return None


def sha256_bytes(data: bytes) -> str:
    return sha256_label(hashlib.sha256(data).hexdigest())


def recorded_sha256(path: Path) -> tuple[Path, str] | None:
    """The sidecar of a derived file (a WARC's index, ``<name>.derived.json``; a job's
    article table, ``<job-id>.derived.json``) and the SHA-256 it records for the file, or
    None where there is none to be read."""
    for sidecar in (path.with_name(path.name + DERIVED_SUFFIX), path.with_name(path.stem + DERIVED_SUFFIX)):
        if sidecar == path or not sidecar.is_file():
            continue
        try:
            recorded = json.loads(sidecar.read_bytes()).get("sha256")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(recorded, str):
            return sidecar, recorded
    return None
