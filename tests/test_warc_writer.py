"""The writer alone: rotation, streaming without copies, truncation marks, determinism."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcs import read_warc

from archive.capture import Fetch, Provenance
from archive.config import collection_from_dict
from archive.job import CaptureJob
from archive.warc.records import make_record
from archive.warc.writer import WarcWriter

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _fetch(i: int, body: bytes, **kw) -> Fetch:
    return Fetch(url=f"http://127.0.0.1:9/{i}", method="GET", request_headers=[(b"User-Agent", b"t")],
                 request_body=b"", status=200, response_headers=[(b"Content-Type", b"text/html")], body=body,
                 started=T0, duration_ms=1.0, provenance=Provenance(), **kw)


def _job(tmp_path: Path, **caps) -> CaptureJob:
    coll = collection_from_dict({"name": "w", "urls": ["http://127.0.0.1:9/"], "caps": caps})
    return CaptureJob(tmp_path, coll)


def test_files_rotate_at_the_size_cap_and_never_split_a_capture(tmp_path):
    job = _job(tmp_path, warc_max_bytes=3000)
    for i in range(12):
        job.record_fetch(_fetch(i, (f"page {i} " * 200).encode()))
    job.close()
    warcs = sorted((tmp_path / "w" / "warcs").glob("*.warc.gz"))
    assert len(warcs) >= 4
    serials = [int(p.name.split("-")[2]) for p in warcs]
    assert serials == list(range(1, len(warcs) + 1))
    for warc in warcs:
        recs = read_warc(warc)
        assert recs[0].type == "warcinfo" and recs[0].h("WARC-Filename") == warc.name
        types = [r.type for r in recs[1:]]
        assert len(types) % 3 == 0 and types[:3] == ["response", "request", "metadata"]
        ids = {r.h("WARC-Record-ID") for r in recs}
        for r in recs[1:]:
            assert r.h("WARC-Concurrent-To") in ids  # the linked record is in the same file
            assert r.h("WARC-Warcinfo-ID") == recs[0].h("WARC-Record-ID")


def test_a_30mb_body_is_written_without_another_copy_in_memory(tmp_path):
    body = bytes(range(256)) * (30 * 1024 * 1024 // 256)
    job = _job(tmp_path)
    tracemalloc.start()
    job.record_fetch(_fetch(0, body))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    job.close()
    assert peak < 8 * 1024 * 1024, f"capture allocated {peak} bytes for a {len(body)}-byte body"
    recs = read_warc(next((tmp_path / "w" / "warcs").glob("*.warc.gz")))
    assert recs[1].payload == body


def test_truncated_bodies_are_marked(tmp_path):
    job = _job(tmp_path)
    job.record_fetch(_fetch(0, b"partial", truncated="length"))
    job.record_fetch(_fetch(1, b"cut", truncated="disconnect"))
    job.close()
    recs = [r for r in read_warc(next((tmp_path / "w" / "warcs").glob("*.warc.gz"))) if r.type == "response"]
    assert [r.h("WARC-Truncated") for r in recs] == ["length", "disconnect"]


def test_writing_is_deterministic_given_ids_and_dates():
    def write() -> bytes:
        buf = io.BytesIO()
        writer = WarcWriter(buf)
        ids = iter(f"<urn:uuid:00000000-0000-0000-0000-00000000000{i}>" for i in range(10))
        rec = make_record("resource", target_uri="http://x/", date=T0, content_type="text/plain",
                          chunks=(b"hello",), payload_from=0, record_id=lambda: next(ids))
        writer.write(rec)
        return buf.getvalue()

    assert write() == write()
    text = __import__("gzip").decompress(write())
    assert b"WARC-Date: 2026-01-02T03:04:05.678901Z\r\n" in text
    assert text.endswith(b"hello\r\n\r\n")


def test_compressed_payloads_are_stored_not_deflated_again(tmp_path):
    import gzip as gz
    import os as _os

    body = gz.compress(_os.urandom(20000))
    job = _job(tmp_path)
    fetch = _fetch(0, body)
    fetch.response_headers = [(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")]
    job.record_fetch(fetch)
    job.record_fetch(_fetch(1, b"<p>plain text</p>" * 2000))
    job.close()
    warc = next((tmp_path / "w" / "warcs").glob("*.warc.gz"))
    recs = [r for r in read_warc(warc) if r.type == "response"]
    assert recs[0].payload == body and recs[1].payload == b"<p>plain text</p>" * 2000
    raw = warc.read_bytes()
    # The stored member is about the size of its content; the text one shrinks a lot.
    assert len(raw) > len(body) and len(raw) < len(body) + 8000


def test_verify_resyncs_on_records_not_on_gzip_bytes_inside_stored_payloads(tmp_path):
    import gzip as gz

    from archive.verify import verify
    from archive.warc.reader import check_records

    job = _job(tmp_path)
    for i in range(3):
        fetch = _fetch(i, gz.compress(f"<p>page {i}</p>".encode() * 500))
        fetch.response_headers = [(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")]
        job.record_fetch(fetch)
    job.close()
    warc = next((tmp_path / "w" / "warcs").glob("*.warc.gz"))
    records = list(check_records(warc))
    first_response = next(r for r in records if r.type == "response")
    data = bytearray(warc.read_bytes())
    data[first_response.offset + 40] ^= 0xFF  # inside the member, before its stored gzip payload
    warc.write_bytes(bytes(data))
    report = verify(warc)
    record_problems = [p.where for p in report.problems if p.where and p.where.startswith("offset")]
    assert record_problems == [f"offset {first_response.offset}"]  # one damaged record, no phantom ones
    assert any(p.where == "sha256" for p in report.problems)  # and the file no longer matches its manifest
    assert report.records == len(records)


def test_base32_of_digests_is_rfc4648_base32() -> None:
    import base64
    import hashlib
    import random

    from archive.digests import b32, b32_is, sha1_label

    rng = random.Random(7)
    samples = [bytes(20), b"\xff" * 20, bytes(range(20))] + [rng.randbytes(20) for _ in range(500)]
    samples += [b"", b"\x01", rng.randbytes(32), rng.randbytes(19), rng.randbytes(21)]  # other lengths
    for digest in samples:
        assert b32(digest) == base64.b32encode(digest).decode("ascii"), digest.hex()
        assert b32_is(b32(digest).lower(), digest) is (len(digest) == 20)  # read back: SHA-1s only
    assert sha1_label(hashlib.sha1(b"abc")) == "sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5"


@pytest.mark.parametrize("declared,differs", [
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5", False),
    ("SHA1:vgmt4nsha2awvor6evyxqugcnsonbwe5", False),  # any case
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE4", True),  # last character
    ("sha1:AGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5", True),  # first character
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE", True),  # too short
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5A", True),  # too long
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBW_5", True),  # int() would take "_" between digits
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBW05", True),  # "0" is an int digit, not base32
    ("sha1:+GMT4NSHA2AWVOR6EVYXQUGCNSONBWE5", True),
    ("sha1: VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5", True),
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5====", True),
    ("sha256:0000", False),  # other algorithms are not checked
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNſONBWE5", True),  # "ſ".upper() is "S"
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE\u0665", True),  # an Arabic-Indic digit five
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE\ufffd", True),  # a byte that was not UTF-8
    ("sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE\x00", True),
])
def test_declared_sha1_is_compared_exactly(declared: str, differs: bool) -> None:
    import hashlib

    from archive.warc.reader import _differs

    assert _differs(declared, hashlib.sha1(b"abc")) is differs


def test_members_of_every_kind_read_back_with_independent_readers(tmp_path):
    """Small records deflated in one call, a large one in slices, a compressed payload in
    stored blocks: each member is a gzip member on its own that zlib and warcio read."""
    import gzip as gz
    import zlib

    text = b"".join(f"<p>paragraph {i} of a long article</p>\n".encode() for i in range(40_000))  # > 1 MiB
    packed = gz.compress(text[:50_000])
    buf = io.BytesIO()
    writer = WarcWriter(buf)
    members = []
    for chunks, compressible in (((b"small",), True), ((text[:1000], text[1000:]), True), ((packed,), False)):
        rec = make_record("resource", target_uri="http://127.0.0.1:9/", date=T0, content_type="text/html",
                          chunks=chunks, payload_from=0)
        rec.compressible = compressible
        members.append((writer.write(rec), b"".join(chunks)))
    raw = buf.getvalue()
    for (offset, length), payload in members:
        member = zlib.decompressobj(31)
        block = member.decompress(raw[offset : offset + length])
        assert member.eof and not member.unused_data  # exactly one whole member
        assert block.endswith(b"\r\n\r\n" + payload + b"\r\n\r\n")
    (_, large_length), _ = members[1]
    (_, stored_length), _ = members[2]
    assert large_length < len(text) / 5  # deflated, and well
    assert stored_length > len(packed)  # stored as it is, not deflated again
    path = tmp_path / "kinds.warc.gz"
    path.write_bytes(raw)
    assert [(r.payload, r.digest_ok) for r in read_warc(path)] == [(p, True) for _, p in members]


def test_record_ids_are_random_version_4_uuids_and_never_repeat_across_a_fork():
    import os
    import uuid

    from archive.warc.records import new_record_id

    ids = [new_record_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for rid in ids:
        assert rid.startswith("<urn:uuid:") and rid.endswith(">")
        parsed = uuid.UUID(rid[10:-1])
        assert str(parsed) == rid[10:-1] and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    new_record_id()  # ids are made in batches: the parent holds spare ones now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids must not be the parent's spares
        try:
            os.write(write, " ".join(new_record_id() for _ in range(5)).encode())
        finally:
            os._exit(0)  # never back into pytest
    os.close(write)
    child = os.read(read, 4096).decode().split()
    os.close(read)
    os.waitpid(pid, 0)
    parent = [new_record_id() for _ in range(5)]
    assert len(child) == 5 and not set(child) & set(parent)


def test_header_values_with_line_breaks_never_span_lines():
    from archive.warc.records import warc_fields

    rec = make_record("resource", target_uri="http://127.0.0.1:9/a\r\nWARC-Type: forged", date=T0,
                      content_type="text/plain\r", chunks=(b"x",), payload_from=0,
                      extra=[("X-Note", "one\ntwo")])
    head = rec.header_bytes().decode()
    lines = head.split("\r\n")
    assert lines[-2:] == ["", ""] and all("\r" not in line and "\n" not in line for line in lines)
    assert [line for line in lines if line.startswith("WARC-Type")] == ["WARC-Type: resource"]
    assert "WARC-Target-URI: http://127.0.0.1:9/a  WARC-Type: forged" in lines
    assert "X-Note: one two" in lines
    assert warc_fields([("a", "1\r\n2"), ("b", None), ("c", False)]) == b"a: 1  2\r\nc: false\r\n"
    assert warc_fields([]) == b""
    for stray in ("\r", "\n"):  # each alone, in a record of its own
        rec = make_record("resource", target_uri=f"http://127.0.0.1:9/{stray}x", date=T0, chunks=(b"x",))
        assert b"WARC-Target-URI: http://127.0.0.1:9/ x\r\n" in rec.header_bytes()
        assert warc_fields([("a", f"1{stray}2")]) == b"a: 1 2\r\n"


def test_warc_dates_are_the_instant_in_utc_even_in_a_daylight_saving_fold():
    from zoneinfo import ZoneInfo

    from archive.warc.records import warc_date

    zone = ZoneInfo("America/New_York")
    first, second = (datetime(2024, 11, 3, 1, 30, tzinfo=zone, fold=fold) for fold in (0, 1))
    assert first == second  # Python compares them equal; they are an hour apart
    assert (warc_date(first), warc_date(second)) == ("2024-11-03T05:30:00.000000Z", "2024-11-03T06:30:00.000000Z")
    assert warc_date(T0) == warc_date(T0.astimezone(zone)) == "2026-01-02T03:04:05.678901Z"


def test_the_writer_refuses_a_level_its_deflate_does_not_have():
    with pytest.raises(ValueError, match="0 to 3"):
        WarcWriter(io.BytesIO(), level=6)


def test_a_new_warc_and_log_are_locked_before_their_names_appear(tmp_path, monkeypatch):
    """Made, then locked: for that moment they were empty files a dead job had left open,
    which a `verify --repair` run then removed from under the job."""
    import os

    import archive.store
    from archive.store import is_locked

    named: list[tuple[str, bool]] = []
    link = os.link

    def naming(src, dst):
        named.append((os.path.basename(dst), is_locked(src)))  # (as repair would find it, the moment it has a name)
        return link(src, dst)

    monkeypatch.setattr(archive.store.os, "link", naming)
    job = _job(tmp_path)
    job.record_fetch(_fetch(0, b"<p>page</p>"))
    assert sorted(name.split(".", 1)[1] for name, _ in named) == ["captures.jsonl.open", "warc.gz.open"], named
    assert job.log._fh.name == str(job.log.open_path)  # (its name, not the hidden one it was made under)
    assert all(locked for _, locked in named), named
    job.close()
    assert [p for p in tmp_path.rglob(".*.new")] == []  # (no name left behind)
