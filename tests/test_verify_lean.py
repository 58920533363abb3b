"""verify's lean pass over a WARC (``record_problems``) finds exactly what the full reader
(``check_records``) finds, record by record, on records that are right and on records that
are wrong in every way the reader knows."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from archive.digests import b32, sha1_of
from archive.warc.reader import _USUAL_HEAD, _clean, _whole, check_records, record_problems

HTTP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
BODY = b"<html><body>" + b"news " * 400 + b"</body></html>"


def _record(rtype: str = "response", block: bytes = HTTP_HEAD + BODY, *, payload: bytes | None = BODY,
            content_type: str = "application/http; msgtype=response", extra: str = "",
            block_digest: str | None = None, payload_digest: str | None = None, length: int | None = None,
            version: str = "WARC/1.1", trailer: bytes = b"\r\n\r\n") -> bytes:
    lines = [version, f"WARC-Type: {rtype}", "WARC-Record-ID: <urn:uuid:12345678-1234-1234-1234-123456789abc>",
             "WARC-Date: 2026-03-14T08:30:00Z", "WARC-Target-URI: http://127.0.0.1:9/a", f"Content-Type: {content_type}",
             f"WARC-Block-Digest: {block_digest or sha1_of(block)}"]
    if payload is not None:
        lines.append(f"WARC-Payload-Digest: {payload_digest or sha1_of(payload)}")
    lines.append(f"Content-Length: {len(block) if length is None else length}")
    head = "\r\n".join(lines) + extra + "\r\n\r\n"
    return head.encode() + block + trailer


WRONG = "sha1:" + b32(hashlib.sha1(b"something else").digest())
RECORDS = {
    "response": _record(),
    "request": _record("request", b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", payload=b"",
                       content_type="application/http; msgtype=request"),
    "metadata": _record("metadata", b"via: x\r\n", payload=None, content_type="application/warc-fields"),
    "resource": _record("resource", BODY, content_type="text/html"),
    "warc/1.0": _record(version="WARC/1.0"),
    "warc/0.9": _record(version="WARC/0.9"),
    "lower-case digests": _record(block_digest=sha1_of(HTTP_HEAD + BODY).lower(), payload_digest=sha1_of(BODY).lower()),
    "upper-case label": _record(block_digest="SHA1:" + sha1_of(HTTP_HEAD + BODY)[5:]),
    "other algorithm": _record(block_digest="sha256:" + hashlib.sha256(HTTP_HEAD + BODY).hexdigest()),
    "wrong block digest": _record(block_digest=WRONG),
    "wrong payload digest": _record(payload_digest=WRONG),
    "no block digest": _record().replace(b"WARC-Block-Digest", b"X-Block-Digest"),
    "no record id": _record().replace(b"WARC-Record-ID", b"X-Record-ID"),
    "no date": _record().replace(b"WARC-Date", b"X-Date"),
    "no type": _record().replace(b"WARC-Type", b"X-Type"),
    "names in other case": _record().replace(b"WARC-Block-Digest:", b"warc-BLOCK-digest:"),
    "spaces around a name": _record().replace(b"\r\nWARC-Block-Digest:", b"\r\n WARC-Block-Digest :"),
    "a repeated field": _record(extra="\r\nWARC-Block-Digest: " + WRONG),
    "a line without a colon": _record(extra="\r\nno colon here"),
    "content-length too long": _record(length=len(HTTP_HEAD + BODY) + 1),
    "content-length too short": _record(length=len(HTTP_HEAD + BODY) - 1),
    "content-length not a number": _record().replace(b"Content-Length: ", b"Content-Length: x"),
    "content-length negative": _record(length=-1),
    "content-length with a sign": _record().replace(b"Content-Length: ", b"Content-Length: +"),
    "content-length with an underscore": _record().replace(
        b"Content-Length: %d" % len(HTTP_HEAD + BODY), b"Content-Length: %d_%03d" % divmod(len(HTTP_HEAD + BODY), 1000)),
    "content-length in other digits": _record().replace(b"Content-Length: 2", "Content-Length: \u0662".encode()),
    "content-length of 5,000 digits": _record().replace(b"Content-Length: ", b"Content-Length: " + b"0" * 5000),
    "no trailer": _record(trailer=b""),
    "short trailer": _record(trailer=b"\r\n"),
    "HTTP head not ended": _record(block=b"HTTP/1.1 200 OK\r\nX: y", payload=b""),
    "payload of a non-HTTP block": _record(content_type="text/plain", payload=HTTP_HEAD + BODY),
    "payload digest on a metadata record": _record("metadata", b"via: x\r\n", payload=b"nothing",
                                                   content_type="application/warc-fields"),
    "revisit": _record("revisit", HTTP_HEAD, payload=BODY),
    "non-UTF-8 header": _record().replace(b"127.0.0.1:9/a\r\n", b"127.0.0.1:9/caf\xe9\r\n"),
    "no header end": b"WARC/1.1\r\nWARC-Type: response",
    # Headers laid out otherwise than the usual way, which the lean pass matches in one call:
    # each is parsed line by line instead, and must come out the same.
    "a repeated field, the last right": _record(block_digest=WRONG, extra="\r\nWARC-Block-Digest: " + sha1_of(HTTP_HEAD + BODY)),
    "a repeated field in other case": _record(extra="\r\nwarc-block-digest: " + WRONG),
    "a repeated content-length": _record(extra="\r\nContent-Length: 3"),
    "a digest with a space after it": _record().replace(b"\r\nWARC-Payload-Digest: sha1:", b" \r\nWARC-Payload-Digest: sha1:"),
    "a tab before a value": _record().replace(b"WARC-Type: ", b"WARC-Type:\t"),
    "no space after a colon": _record().replace(b"WARC-Date: ", b"WARC-Date:"),
    "an unknown field": _record(extra="\r\nX-Note: hi"),
    "a field left empty": _record(extra="\r\nWARC-Truncated: "),
}
USUAL = ("response", "request", "metadata", "resource", "warc/1.0", "lower-case digests", "revisit",
         "a repeated field, the last right", "a field left empty")
CLEAN_UNUSUAL = ("a digest with a space after it", "a tab before a value", "no space after a colon", "an unknown field")
UNUSUAL = (*CLEAN_UNUSUAL, "a repeated field in other case")


@pytest.mark.parametrize("name", list(RECORDS))
def test_a_record_is_clean_only_where_the_full_check_finds_nothing(name: str) -> None:
    data = RECORDS[name]
    whole = _whole(data)
    if _clean(data):
        assert whole is not None and whole[1] == []
    if name in USUAL or name in CLEAN_UNUSUAL:
        assert _clean(data), name  # the common records do take the lean path
    # (the usual ones matched in one call, the others parsed line by line)
    usual = _USUAL_HEAD.fullmatch(data, 0, data.find(b"\r\n\r\n") + 2) is not None
    assert usual if name in USUAL else not usual if name in UNUSUAL else True, name


def test_a_warc_of_every_kind_of_record_gets_the_same_findings(tmp_path: Path) -> None:
    warc = tmp_path / "all.warc.gz"
    members = [gzip.compress(data) for data in RECORDS.values()]
    members.insert(3, b"not gzip at all" * 10)  # an unreadable stretch, then a record again
    big = _record(block=HTTP_HEAD + bytes(range(256)) * 400, payload=bytes(range(256)) * 400)
    members.append(gzip.compress(big, compresslevel=0))  # larger than the first window
    members.append(gzip.compress(_record())[:-20])  # the file ends inside a record
    warc.write_bytes(b"".join(members))
    records = list(check_records(warc))
    expected = (len(records), [(r.offset, m) for r in records for m in r.problems], records[-1].offset + records[-1].length)
    assert record_problems(warc) == expected
    assert sum(1 for r in records if r.problems) == 25  # the wrong ones above, the stretch, the cut one
    invalid = [r for r in records if "unreadable record: missing or invalid Content-Length" in r.problems]
    assert len(invalid) == 6  # not a number, negative, a sign, an underscore, other digits, too many
    start = records[5].offset
    part = [r for r in records if r.offset >= start]
    assert record_problems(warc, start) == (len(part), [(r.offset, m) for r in part for m in r.problems], expected[2])
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert record_problems(empty) == (0, [], 0) and list(check_records(empty)) == []
