"""Ranges and HEAD of a large archived video through `archive replay`: answered from as much
of the record as they need, counted in the bytes the replay process reads."""

from __future__ import annotations

import gzip
import http.client
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from jobs import Clock, fetch
from replay_helpers import get, stop

from archive.config import one_off
from archive.index import update_indexes
from archive.job import CaptureJob
from archive.replay.ranges import READ_FIRST
from archive.store import collection_dir
from archive.warc.reader import check_records

SITE = "http://news.test"
MB = 1 << 20
VIDEO = random.Random(7).randbytes(8 * MB)  # (as a video's: nothing for gzip to take out)
TEXT = b"".join(b"line %d of a long log\n" % i for i in range(300_000))  # several MB, gzip-encoded as sent


def _store(root: Path) -> Path:
    coll = one_off("news", urls=[SITE + "/"])
    job = CaptureJob(root, coll, clock=Clock(datetime(2026, 3, 1, 12, tzinfo=UTC)))
    for path, body, head in [
        ("/media/clip.mp4", VIDEO, [(b"Content-Type", b"video/mp4"), (b"ETag", b'"clip-1"')]),
        ("/media/untyped", VIDEO, None),
        ("/logs/big.txt", gzip.compress(TEXT, mtime=0), [(b"Content-Type", b"text/plain"),
                                                         (b"Content-Encoding", b"gzip")]),
    ]:
        head = head or []
        job.record_fetch(fetch(SITE + path, body, datetime(2026, 3, 1, 12, tzinfo=UTC), headers=head, seed=SITE + "/"))
    job.close()
    # The same video again under another address: a revisit, served from the record above.
    job = CaptureJob(root, coll, clock=Clock(datetime(2026, 3, 2, 12, tzinfo=UTC)))
    job.record_fetch(fetch(SITE + "/media/clip-copy.mp4", VIDEO, datetime(2026, 3, 2, 12, tzinfo=UTC),
                           headers=[(b"Content-Type", b"video/mp4")], seed=SITE + "/"))
    job.close()
    update_indexes(collection_dir(root, "news"))
    return root


@contextmanager
def _replay_process(store: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """``archive replay`` of ``store`` in a process of its own, and its base URL; stopped
    after (its stderr is then read by ``communicate``)."""
    proc = subprocess.Popen([sys.executable, "-m", "archive", "replay", "--store", str(store), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc, re.search(r"(http://127\.0\.0\.1:\d+)/", proc.stdout.readline()).group(1)
    finally:
        stop(proc)


def _film(root: Path, film: bytes) -> None:
    """A capture of ``film``, a video at /media/film.mp4 on 1 March 2026, indexed."""
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    job = CaptureJob(root, one_off("news", urls=[SITE + "/"]), clock=Clock(when))
    job.record_fetch(fetch(SITE + "/media/film.mp4", film, when, headers=[(b"Content-Type", b"video/mp4")],
                           seed=SITE + "/"))
    job.close()
    update_indexes(collection_dir(root, "news"))


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    if not Path("/proc/self/io").is_file():
        pytest.skip("needs /proc/<pid>/io to count what the replay process reads")
    with _replay_process(_store(tmp_path_factory.mktemp("ranges"))) as (proc, base):
        assert get(base, "/news/")[0] == 200  # (what a first request reads once: catalog, indexes)
        yield {"base": base, "pid": proc.pid}
    assert "Traceback" not in proc.communicate()[1]


def _read_by(pid: int) -> int:
    """Bytes the process has read so far (files and sockets: ``rchar``)."""
    text = Path(f"/proc/{pid}/io").read_text()
    return int(re.search(r"^rchar: (\d+)$", text, re.MULTILINE).group(1))


def _asked(replay, target: str, method: str = "GET", headers: dict[str, str] | None = None):
    """The answer to one request, and the bytes the replay process read to give it."""
    before = _read_by(replay["pid"])
    status, got, body = get(replay["base"], target, method, headers)
    return status, got, body, _read_by(replay["pid"]) - before


def test_head_of_a_large_video_reads_no_more_of_its_payload_than_its_get_reads_before_answering(replay):
    target = "/news/2026id_/http://news.test/media/clip.mp4"
    status, headers, body, read = _asked(replay, target, "HEAD")
    assert (status, body, headers["content-length"], headers["accept-ranges"]) == (200, b"", str(len(VIDEO)), "bytes")
    assert read < READ_FIRST + MB // 4  # (the whole record is 8 MB)
    status, whole_headers, whole, _ = _asked(replay, target)
    assert status == 200 and whole == VIDEO
    assert headers == {k: v for k, v in whole_headers.items() if k != "date"} | {"date": headers["date"]}
    for target in ["/news/2026/http://news.test/media/clip.mp4", "/news/2026/http://news.test/media/clip-copy.mp4",
                   "/news/2026/http://news.test/media/untyped"]:
        status, headers, _, read = _asked(replay, target, "HEAD")
        assert (status, headers["content-length"]) == (200, str(len(VIDEO))) and read < READ_FIRST + MB // 4, target


def test_a_range_of_a_large_video_reads_its_record_no_further_than_the_range(replay):
    for url in ["http://news.test/media/clip.mp4", "http://news.test/media/clip-copy.mp4"]:  # (and its revisit)
        target = f"/news/2026/{url}"
        status, headers, body, read = _asked(replay, target, headers={"Range": "bytes=1000-1999"})
        assert (status, headers["content-range"], body) == (206, f"bytes 1000-1999/{len(VIDEO)}", VIDEO[1000:2000])
        assert headers["content-type"] == "video/mp4" and read < MB // 4, url
        status, _, body, read = _asked(replay, target, headers={"Range": f"bytes={3 * MB}-{3 * MB + 99}"})
        assert (status, body) == (206, VIDEO[3 * MB:3 * MB + 100])
        assert read < 3 * MB + MB // 4, url  # (inflated up to the range, not past it)


def test_many_ranges_of_a_large_video_are_its_bytes(replay):
    size, pick = len(VIDEO), random.Random(3)
    asked = [(f"bytes={a}-{a + n}", a, min(a + n, size - 1))
             for a, n in [(pick.randrange(size), pick.randrange(1, 300_000)) for _ in range(12)]]
    asked += [("bytes=0-", 0, size - 1), ("bytes=-1", size - 1, size - 1), (f"bytes={size - 5}-{size + 9}", size - 5,
                                                                             size - 1),
              ("bytes=0-0", 0, 0), (f"bytes=-{size + 1}", 0, size - 1)]
    for target in ["/news/2026id_/http://news.test/media/clip.mp4", "/news/2026/http://news.test/media/untyped",
                   "/news/2026/http://news.test/media/clip-copy.mp4"]:
        for header, first, last in asked:
            status, headers, body, _ = _asked(replay, target, headers={"Range": header})
            assert status == 206 and headers["content-range"] == f"bytes {first}-{last}/{size}", (target, header)
            assert body == VIDEO[first:last + 1] and headers["content-length"] == str(last - first + 1)
        for header in [f"bytes={size}-", "bytes=-0"]:
            status, headers, body, _ = _asked(replay, target, headers={"Range": header})
            assert (status, headers["content-range"], body) == (416, f"bytes */{size}", b""), (target, header)
        status, _, body, _ = _asked(replay, target, headers={"Range": "bytes=0-1,5-6"})
        assert (status, body) == (200, VIDEO)


def test_if_range_of_a_large_video_keeps_to_its_etag(replay):
    target = "/news/2026id_/http://news.test/media/clip.mp4"
    status, _, body, _ = _asked(replay, target, headers={"Range": "bytes=10-19", "If-Range": '"clip-1"'})
    assert (status, body) == (206, VIDEO[10:20])
    status, _, body, _ = _asked(replay, target, headers={"Range": "bytes=10-19", "If-Range": '"clip-2"'})
    assert (status, body) == (200, VIDEO)


def test_a_range_of_a_gzip_encoded_capture_is_of_its_decoded_text(replay):
    status, headers, body, _ = _asked(replay, "/news/2026/http://news.test/logs/big.txt",
                                      headers={"Range": "bytes=100000-100099"})
    assert (status, body, headers["content-range"]) == (206, TEXT[100000:100100], f"bytes 100000-100099/{len(TEXT)}")
    assert "content-encoding" not in headers
    status, headers, body, _ = _asked(replay, "/news/2026/http://news.test/logs/big.txt", "HEAD")
    assert (status, headers["content-length"], body) == (200, str(len(TEXT)), b"")
    status, headers, body, _ = _asked(replay, "/news/2026id_/http://news.test/logs/big.txt",
                                      headers={"Range": "bytes=0-1"})
    assert (status, body, headers["content-encoding"]) == (206, b"\x1f\x8b", "gzip")


def test_a_player_that_leaves_after_the_first_bytes_of_the_whole_video_is_let_go(replay):
    host, port = replay["base"].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/news/2026id_/http://news.test/media/clip.mp4", headers={"Range": "bytes=0-"})
    response = conn.getresponse()
    assert response.status == 206 and response.read(4096) == VIDEO[:4096]
    conn.close()  # (the fixture's end finds no traceback for it in the replay's output)
    assert get(replay["base"], "/news/2026id_/http://news.test/media/clip.mp4", headers={"Range": "bytes=5-9"})[2] \
        == VIDEO[5:10]


def test_a_range_past_damage_in_a_capture_is_taken_from_the_next_closest(tmp_path):
    from warcs import damage_member

    from archive.replay import serve_in_thread

    pages = {}
    for day in (9, 12):
        when = datetime(2026, 3, day, 12, tzinfo=UTC)
        pages[day] = random.Random(day).randbytes(150_000).hex().encode("ascii")
        job = CaptureJob(tmp_path, one_off("news", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
        job.record_fetch(fetch(SITE + "/large.txt", pages[day], when, headers=[(b"Content-Type", b"text/plain")],
                               seed=SITE + "/"))
        job.close()
    update_indexes(collection_dir(tmp_path, "news"))
    damage_member(max((tmp_path / "news" / "warcs").glob("*.warc.gz")), count=20)  # day 12's, in its middle
    with serve_in_thread(tmp_path) as base:
        target = "/news/20260312id_/http://news.test/large.txt"
        status, headers, body = get(base, target, headers={"Range": "bytes=0-99"})  # (before the damage)
        assert (status, body) == (206, pages[12][:100])
        status, headers, body = get(base, target, headers={"Range": "bytes=-100"})  # (its CRC read: it fails)
        assert (status, body) == (206, pages[9][-100:])
        assert headers["memento-datetime"] == "Mon, 09 Mar 2026 12:00:00 GMT"


@pytest.mark.parametrize("length", [150_000, 3 * MB], ids=["small", "large"])
def test_head_of_a_capture_damaged_before_its_first_bytes_answers_as_get_does_from_the_next_closest(tmp_path, length):
    # HEAD read the damaged record's headers alone and answered from it, while GET passed it
    # over for the capture of the day before: another Memento-Datetime, another ETag.
    from archive.replay import serve_in_thread

    for day in (9, 12):
        when = datetime(2026, 3, day, 12, tzinfo=UTC)
        job = CaptureJob(tmp_path, one_off("news", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
        job.record_fetch(fetch(SITE + "/data.bin", random.Random(day).randbytes(length), when,
                               headers=[(b"Content-Type", b"application/octet-stream"), (b"ETag", f'"day-{day}"'.encode())],
                               seed=SITE + "/"))
        job.close()
    update_indexes(collection_dir(tmp_path, "news"))
    warc = max((tmp_path / "news" / "warcs").glob("*.warc.gz"))  # day 12's
    [record] = [r for r in check_records(warc) if r.type == "response"]
    # 70 KB flipped within what a GET reads before its answer (a stored block's head with them,
    # which then does not inflate; the small one's CRC fails at its end in any case).
    data = bytearray(warc.read_bytes())
    at = record.offset + min(record.length // 2, READ_FIRST // 4)
    data[at:at + 70_000] = bytes(b ^ 0xFF for b in data[at:at + 70_000])
    warc.write_bytes(bytes(data))
    with serve_in_thread(tmp_path) as base:
        for target in ["/news/20260312id_/http://news.test/data.bin", "/news/20260312/http://news.test/data.bin"]:
            status, got, body = get(base, target)
            assert status == 200 and got["etag"] == '"day-9"' and len(body) == length
            status, head, body = get(base, target, "HEAD")
            assert (status, body) == (200, b"")
            assert {k: v for k, v in head.items() if k != "date"} == {k: v for k, v in got.items() if k != "date"}


def _peak_kb(pid: int) -> int:
    """The most memory the process has held so far (its resident set's high-water mark), in KB."""
    return int(re.search(r"^VmHWM:\s*(\d+) kB$", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE).group(1))


def test_a_whole_large_capture_is_sent_as_it_is_read_not_held_whole(tmp_path):
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc/<pid>/status to see what the replay process holds")
    film = random.Random(11).randbytes(60 * MB)
    _film(tmp_path, film)
    with _replay_process(tmp_path) as (proc, base):
        assert get(base, "/news/")[0] == 200
        before = _peak_kb(proc.pid)
        for target in ["/news/2026id_/http://news.test/media/film.mp4", "/news/2026/http://news.test/media/film.mp4"]:
            status, headers, body = get(base, target)
            assert (status, headers["content-length"], headers["content-type"]) == (200, str(len(film)), "video/mp4")
            assert body == film, target
        assert _peak_kb(proc.pid) - before < 12 * 1024  # (read whole, it was held three times over: 180 MB)
    assert "Traceback" not in proc.communicate()[1]


def test_an_answer_that_meets_damage_once_sent_is_cut_off_and_said_in_the_log(tmp_path):
    from warcs import damage_member

    film = VIDEO[:4 * MB]
    _film(tmp_path, film)
    warc = next((tmp_path / "news" / "warcs").glob("*.warc.gz"))
    # 70 KB of the member's middle flipped, the head of a stored block with them, which then
    # does not inflate (bytes flipped in a block's data alone are found by the CRC only, at the end).
    offset = damage_member(warc, count=70_000).offset
    target = "/news/2026id_/http://news.test/media/film.mp4"
    with _replay_process(tmp_path) as (proc, base):
        host, port = base.removeprefix("http://").split(":")
        for asked in [{"Range": "bytes=0-"}, {"Range": f"bytes={MB // 2}-{len(film) - 2}"}, {}]:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", target, headers=asked)
            response = conn.getresponse()
            first = int(asked.get("Range", "bytes=0-")[6:].partition("-")[0])
            assert response.status in (200, 206) and int(response.getheader("Content-Length")) > 3 * MB
            with pytest.raises(http.client.IncompleteRead) as short:
                response.read()
            conn.close()
            got = short.value.partial
            assert MB // 2 < len(got) < 3 * MB and got == film[first:first + len(got)], asked
        # Met before anything is sent: a 502 saying what is damaged, where.
        status, _, body = get(base, target, headers={"Range": f"bytes={len(film) - 100}-"})
        assert status == 502 and f"offset {offset} of warcs/{warc.name} is damaged".encode() in body
        assert str(tmp_path).encode() not in body  # (the server's paths are its own)
    log = proc.communicate()[1]
    cut = [line for line in log.splitlines() if " cut off after " in line]
    assert len(cut) == 3 and all(f"from {warc.name} at offset {offset}" in line and "is damaged" in line
                                 for line in cut), log
    # (each with its time: a server left running is read back by it)
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WARNING: replay of ", line) for line in cut), cut
    assert "Traceback" not in log
