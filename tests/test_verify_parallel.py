"""``archive verify`` on several cores reports exactly what a sequential check reports.

The WARC is cut into parts where records begin; these tests make the parts small, so a
collection of a few hundred records is checked in many parts by two worker processes, and
compare every problem (file, offset, message) with the in-process check.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive import validation
from archive.capture import Fetch, Provenance
from archive.checks import FileChecks, cut_points, warc_part
from archive.config import one_off
from archive.job import CaptureJob
from archive.verify import verify
from archive.warc.reader import check_records

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _fetch(i: int, body: bytes, encoding: bytes | None = None) -> Fetch:
    headers = [(b"Content-Type", b"text/html")]
    if encoding:
        headers.append((b"Content-Encoding", encoding))
    return Fetch(url=f"http://127.0.0.1:9/s/{i}", method="GET", request_headers=[(b"User-Agent", b"t")],
                 request_body=b"", status=200, response_headers=headers, body=body, started=T0, duration_ms=1.0,
                 remote_ip="127.0.0.1", provenance=Provenance(seed="http://127.0.0.1:9/", channel="link", hops="L",
                                                              depth=1))


def _collection(store: Path, bodies: list[tuple[bytes, bytes | None]]) -> Path:
    job = CaptureJob(store, one_off("news", urls=["http://127.0.0.1:9/"]), dedup=False)
    for i, (body, encoding) in enumerate(bodies):
        job.record_fetch(_fetch(i, body, encoding))
    job.close()
    return store / "news"


# Forking is only safe from a single-threaded process, and the test process runs servers
# in threads; so the parallel check runs in a fresh interpreter, with small parts.
_RUN = """
import json, os, sys
from pathlib import Path
import archive.checks as checks
checks.PARALLEL_MIN, checks.PART = int(sys.argv[2]), 16 << 10
checks._cores = lambda: 2
checks._BATCH = 3  # the units dealt out three at a time, as a store of thousands of WARCs is
took = checks._take
def take(queue, calls):
    done = took(queue, calls)
    os.write(1, (json.dumps({"took": len(done)}) + "\\n").encode())  # a line from each lane, in one write
    return done
checks._take = take
from archive.verify import verify
report = verify(Path(sys.argv[1]))
# Children whose results are in are reaped then if they have ended, else at the next run or
# at exit (as here): none is left behind.
checks._reap_exiting()
try:
    os.waitpid(-1, os.WNOHANG)
    left = True
except ChildProcessError:
    left = False
print(json.dumps({"problems": [str(p) for p in report.problems], "records": report.records, "left": left}))
"""


def _verify(path: Path, *, parallel: bool) -> dict:
    done = subprocess.run([sys.executable, "-c", _RUN, str(path), "0" if parallel else str(1 << 60)],
                          capture_output=True, text=True, timeout=120, check=True)
    *lanes, result = [json.loads(line) for line in done.stdout.splitlines()]
    assert result.pop("left") is False  # no child process left unreaped
    # Two lanes, this process and one child process, took the units between them, three
    # at a time: a line from each lane of each batch (one lane for a last batch of one).
    assert (len(lanes) > 2) is parallel, lanes
    if parallel:
        units = sum(lane["took"] for lane in lanes)
        batches = -(-units // 3)
        assert units > 3 and len(lanes) == 2 * batches - (units % 3 == 1), lanes
    return result


def _pages(n: int) -> list[tuple[bytes, bytes | None]]:
    return [((f"<html><p>story {i} " + "words " * (200 + 37 * i % 400) + "</p></html>").encode(), None)
            for i in range(n)]


def test_a_clean_collection_checked_in_parts_is_clean(tmp_path):
    coll = _collection(tmp_path, _pages(150))
    warc = next((coll / "warcs").glob("*.warc.gz"))
    assert len(cut_points(warc, 4)) == 4  # really cut into parts
    report = _verify(coll, parallel=True)
    assert report["problems"] == []
    assert report["records"] == sum(1 for _ in check_records(warc))


def test_damage_in_a_later_part_is_reported_as_in_one_piece(tmp_path):
    coll = _collection(tmp_path, _pages(150))
    warc = next((coll / "warcs").glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    # Inside the compressed data of the record three quarters in (not a gzip header's time or
    # OS byte, which no reader checks)
    record = next(r for r in check_records(warc) if r.offset + r.length > len(data) * 3 // 4)
    spot = record.offset + record.length // 2
    data[spot] ^= 0x55
    warc.write_bytes(bytes(data))
    found = _verify(coll, parallel=True)["problems"]
    assert any("offset" in p for p in found), found
    assert found == _verify(coll, parallel=False)["problems"] == [str(p) for p in verify(coll).problems]


def test_a_cut_inside_a_stored_payload_falls_back_to_one_piece(tmp_path):
    # Bodies stored as sent (already compressed) that end in a gzipped WARC record: to the
    # resynchronising reader, each such ending looks like a record boundary.
    fake = gzip.compress(b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 0\r\n\r\n\r\n\r\n", mtime=0)
    noise = random.Random(7)
    coll = _collection(tmp_path, [(noise.randbytes(20000 + 977 * i) + fake, b"gzip") for i in range(40)])
    warc = next((coll / "warcs").glob("*.warc.gz"))
    starts = {r.offset for r in check_records(warc)}
    points = cut_points(warc, 4)  # as verify cuts it: two parts per worker
    false = [p for p in points if p not in starts]
    assert false, "the test needs a cut that is not a record boundary"
    # The part before a false cut does not end at it: that is how the fallback notices.
    before = max(p for p in points if p < false[0])
    assert warc_part(warc, before, false[0])[2] != false[0]
    report = _verify(coll, parallel=True)
    assert report["problems"] == []
    assert report["records"] == len(starts)


def test_file_checks_run_in_process_for_small_jobs(tmp_path):
    coll = _collection(tmp_path, _pages(3))
    checks = FileChecks()
    result = checks.warc(next((coll / "warcs").glob("*.warc.gz")), hashed=True)
    checks.run()
    checked = result()
    assert checked.units == 1 + 3 * 3 and not checked.problems
    assert checked.sha256 is not None and checked.sha256.startswith("sha256:")


def test_the_log_checks_are_built_by_the_process_that_forks_the_lanes(tmp_path):
    # (a lane's own would die with it, and every run's lanes would build them again)
    coll = _collection(tmp_path, _pages(3))
    validation._fast.cache_clear()
    checks = FileChecks()
    result = checks.log(next((coll / "logs").glob("*.captures.jsonl")), hashed=True)
    assert validation._fast.cache_info().currsize == 1  # planned, not yet run
    checks.run()
    assert result().units == 3 and not result().problems
    assert validation._fast.cache_info().misses == 1


def test_an_empty_warc_is_reported_the_same_in_parallel(tmp_path):
    coll = _collection(tmp_path, _pages(150))
    (coll / "warcs" / "news-empty-00000.warc.gz").write_bytes(b"")
    assert cut_points(coll / "warcs" / "news-empty-00000.warc.gz", 4) == [0]
    found = _verify(coll, parallel=True)["problems"]
    assert any("empty file, no records" in p for p in found), found
    assert found == _verify(coll, parallel=False)["problems"]


_CHILD = """
import fcntl, json, os
from archive import checks
from archive.checks import _Child, _in_lanes

class Odd(Exception):
    def __reduce__(self):
        raise TypeError("will not pickle")

class TwoArgs(Exception):  # pickles, but does not come back: its constructor wants two
    def __init__(self, what, where):
        super().__init__(f"{what} at {where}")

def fails(path):
    return open(path, "rb")

def dies():
    os.kill(os.getpid(), 9)

def odd():
    raise Odd("odd failure")

def two_args():
    raise TwoArgs("two", "args")

def run(work):
    children = []
    _Child.start(work, children)
    try:
        return children[0].results()
    finally:
        children[0].reap()

out = {"ok": run(lambda: [divmod(7, 2), len("abc")])}
for name, work in (("missing", lambda: fails("/nonexistent/x.warc.gz")), ("killed", dies), ("odd", odd),
                   ("two_args", two_args)):
    try:
        run(work)
    except Exception as exc:
        out[name] = [type(exc).__name__, str(exc)]

# The queue: every unit made once, by one lane or the other, in a pipe of any size.
calls = [(pow, (i, 2)) for i in range(3000)]
out["lanes"] = _in_lanes(calls, list(range(3000)), 2) == {i: i * i for i in range(3000)}
pipe = os.pipe
def small_pipe():  # a pipe of one page (as Linux gives when a user has used up pipe memory)
    read, write = pipe()
    fcntl.fcntl(write, 1031, 4096)  # F_SETPIPE_SZ
    return read, write
checks.os.pipe = small_pipe
out["small_pipe"] = _in_lanes(calls, list(range(3000)), 2) == {i: i * i for i in range(3000)}
print(json.dumps(out))
"""


def test_a_child_process_failing_is_an_error_in_the_parent():
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60, check=True)
    out = json.loads(done.stdout)
    assert out["ok"] == [[3, 1], 3]
    assert out["missing"][0] == "FileNotFoundError" and "/nonexistent/x.warc.gz" in out["missing"][1]
    assert out["killed"] == ["RuntimeError", "a checking process ended without its results (killed by signal 9)"]
    assert out["odd"][0] == "RuntimeError" and "odd failure" in out["odd"][1]
    assert out["two_args"][0] == "RuntimeError" and "TwoArgs: two at args" in out["two_args"][1]
    assert out["lanes"] is True
    assert out["small_pipe"] is True


def test_a_process_allowed_one_core_checks_in_one_lane():
    if shutil.which("taskset") is None:
        pytest.skip("needs taskset (util-linux)")
    script = "from archive.checks import _default_workers; print(_default_workers(1 << 40))"
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "1"


def test_lanes_grow_with_the_bytes_to_check_up_to_the_cores():
    script = ("import archive.checks as c; c._cores = lambda: 64; "
              "print([c._default_workers(n << 20) for n in (7, 8, 12, 30, 500)])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[1, 2, 3, 7, 64]"  # under 8 MB one lane; then one per 4 MB


def test_an_uncompressed_warc_holding_a_gzipped_warc_in_a_payload_is_not_cut_inside_it(tmp_path):
    # A WARC archived from the web, as a record's payload: its gzip member, which inflates to a
    # WARC record, was taken for where a record of the file begins, and the part from there
    # was read as records of its own.
    import io

    from warcio.warcwriter import WARCWriter

    inner = io.BytesIO()
    WARCWriter(inner, gzip=True).write_record(WARCWriter(inner).create_warc_record(
        "http://example.test/", "resource", payload=io.BytesIO(b"x" * 100), warc_content_type="text/plain"))
    plain = tmp_path / "other.warc"
    with open(plain, "wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        for i, payload in enumerate([random.Random(1).randbytes(3 << 20), inner.getvalue(),
                                     random.Random(2).randbytes(3 << 20)]):
            writer.write_record(writer.create_warc_record(f"http://example.test/{i}", "resource",
                                                          payload=io.BytesIO(payload),
                                                          warc_content_type="application/octet-stream"))
    assert cut_points(plain, 8) == [0]
    checks = FileChecks(workers=2)
    result = checks.warc(plain, hashed=False)
    checks.run()
    assert result().problems == [] and result().units == 3
