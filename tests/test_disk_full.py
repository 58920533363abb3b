"""A disk that fills up mid-crawl: the job stops, says so in one line, and every file it
leaves ends with a whole record or line, so it verifies (after ``archive verify --repair``
when not even the manifest fitted).

A full disk is simulated by the file-size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ``
ignored): a write past it fails with ``EFBIG`` exactly as one on a full disk fails with
``ENOSPC``, after the system has taken what fits.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobs import Clock, fetch
from test_capture_worker import _check_log_points_at_records, _manifests
from test_kill import _slow_site
from warcs import read_warc
from wire import response, serve_wire, slow

from archive.cli import main
from archive.config import collection_from_dict, one_off
from archive.errors import CaptureWriteError
from archive.job import CaptureJob
from archive.job_worker import CaptureWorkerError, WorkerJob
from archive.manifest import write_manifest
from archive.store import collection_dir, write_atomic
from archive.verify import verify
from archive.warc.records import make_record
from archive.warc.writer import RotatingWarcFiles

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # (else the write kills the process)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """No file of this process (or of children started meanwhile) grows past ``limit``."""
    saved = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.getsignal(signal.SIGXFSZ)
    _limit_file_size(limit)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, saved)
        signal.signal(signal.SIGXFSZ, handler)


def _page(i: int) -> bytes:
    # Random bytes, so that a record is about as large compressed as it is.
    return b"<html>" + os.urandom(6000).hex().encode() + f"</html>{i}".encode()


def test_a_failed_write_cuts_the_warc_back_to_its_last_whole_record(tmp_path: Path) -> None:
    warcs = RotatingWarcFiles(tmp_path, collection="c", host="h", clock=Clock(),
                              warcinfo=lambda name: make_record("warcinfo", date=WHEN, chunks=(b"x: y\r\n",)))

    def group(i: int):
        return lambda info_id: [make_record("resource", target_uri=f"http://127.0.0.1:9/{i}", date=WHEN,
                                            chunks=(_page(i),), payload_from=0),
                                make_record("metadata", target_uri=f"http://127.0.0.1:9/{i}", date=WHEN,
                                            chunks=(f"n: {i}\r\n".encode(),))]

    written = 0
    with file_size_limit(100_000), pytest.raises(CaptureWriteError, match="could not write .*File too large"):
        for i in range(100):
            warcs.write_group(group(i))
            written += 1
    assert 3 <= written < 20
    open_file = next(tmp_path.glob("*.warc.gz.open"))
    size = open_file.stat().st_size
    assert size < 100_000
    # Nothing more is written, even with room again: it would sit behind the broken group.
    with pytest.raises(CaptureWriteError):
        warcs.write_group(group(999))
    assert open_file.stat().st_size == size
    [closed] = warcs.close()
    assert (closed.size, closed.records) == (size, 1 + 2 * written)
    records = read_warc(closed.path)
    assert [r.type for r in records] == ["warcinfo"] + ["resource", "metadata"] * written
    assert all(r.digest_ok is not False for r in records)


def test_a_warc_whose_warcinfo_does_not_fit_leaves_no_file(tmp_path: Path) -> None:
    warcs = RotatingWarcFiles(tmp_path, collection="c", host="h", clock=Clock(),
                              warcinfo=lambda name: make_record("warcinfo", date=WHEN, chunks=(_page(0),)))
    with file_size_limit(1000), pytest.raises(CaptureWriteError, match="File too large"):
        warcs.write_group(lambda info_id: [])
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # (no empty .open file for verify to report)


@contextmanager
def open_files_limit(limit: int) -> Iterator[None]:
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, saved[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def test_a_warc_that_cannot_be_rotated_stops_the_writer_and_the_full_one_is_kept(tmp_path: Path) -> None:
    warcs = RotatingWarcFiles(tmp_path, collection="c", host="h", clock=Clock(), max_size=1,
                              warcinfo=lambda name: make_record("warcinfo", date=WHEN, chunks=(b"x: y\r\n",)))

    def group(i: int):
        return lambda info_id: [make_record("resource", target_uri=f"http://127.0.0.1:9/{i}", date=WHEN,
                                            chunks=(_page(i),), payload_from=0)]

    warcs.write_group(group(0))
    assert warcs._fh is not None
    # No descriptor numbered from the current file's up: once it is closed, neither the
    # directory (to sync the rename) nor the next file can be opened.
    with open_files_limit(warcs._fh.fileno()), pytest.raises(CaptureWriteError, match="Too many open files"):
        warcs.write_group(group(1))
    with pytest.raises(CaptureWriteError):
        warcs.write_group(group(2))
    [closed] = warcs.close()
    assert not warcs.left_open and not list(tmp_path.glob("*.open"))
    assert [r.type for r in read_warc(closed.path)] == ["warcinfo", "resource"]
    assert closed.size == closed.path.stat().st_size


def test_a_failed_log_write_leaves_whole_lines(tmp_path: Path) -> None:
    job = CaptureJob(tmp_path, one_off("c", urls=["http://127.0.0.1:9/"]), clock=Clock())
    log_path = job.log.path.with_name(job.log.path.name + ".open")
    written = 0
    with file_size_limit(20_000), pytest.raises(CaptureWriteError, match="captures.jsonl.open"):
        for i in range(200):
            job.record_failure(f"http://127.0.0.1:9/gone/{i}", error="ConnectionRefusedError: refused",
                               provenance=fetch("http://127.0.0.1:9/", b"", WHEN).provenance, started=WHEN,
                               duration_ms=1.0)
            written += 1
    assert log_path.read_bytes().count(b"\n") == written == job.log.lines == job.tally.attempts
    assert log_path.read_bytes().endswith(b"\n")
    # A capture after it writes no records either: no line could describe them.
    warc_bytes = sum(p.stat().st_size for p in (tmp_path / "c" / "warcs").iterdir())
    with pytest.raises(CaptureWriteError):
        job.record_fetch(fetch("http://127.0.0.1:9/late", b"<html>late</html>", WHEN))
    assert sum(p.stat().st_size for p in (tmp_path / "c" / "warcs").iterdir()) == warc_bytes
    job.close("capture-failed")
    assert verify(tmp_path).ok


def test_no_half_written_file_is_left_when_a_small_file_does_not_fit(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    with file_size_limit(100), pytest.raises(OSError):
        write_atomic(target, b"x" * 1000)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    # A manifest whose sidecar fitted but which did not: neither is left.
    job = CaptureJob(tmp_path / "store", one_off("c", urls=["http://127.0.0.1:9/"]), clock=Clock())
    job.close()
    coll = collection_dir(tmp_path / "store", "c")
    [doc] = _manifests(coll.root)
    del doc["sequence"], doc["previous"]
    doc["job_id"] = "c-20260301T120000Z-abcd"
    before = sorted(p.name for p in coll.manifests.iterdir())
    with file_size_limit(500), coll.locked(), pytest.raises(OSError):
        write_manifest(coll, doc)
    assert sorted(p.name for p in coll.manifests.iterdir()) == before


def test_the_worker_stops_the_job_when_its_warc_cannot_grow(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with file_size_limit(150_000):  # inherited by the capture worker
        job = WorkerJob(store, one_off("w", urls=["http://127.0.0.1:9/"]))
        try:
            # (its words alone, not the name of the class that carried them)
            with pytest.raises(CaptureWorkerError, match=r": could not write .*warc.gz.open") as raised:
                for i in range(200):
                    job.record_fetch(fetch(f"http://127.0.0.1:9/p/{i}", _page(i), WHEN))
                    job.flush()
            assert "CaptureWriteError" not in str(raised.value)
            assert job.close() is None  # the worker closed the job itself, as it stopped
        finally:
            if job.proc.poll() is None:
                job.proc.kill()
                job.proc.wait(timeout=10)
    coll = store / "w"
    # The manifest is small enough to fit: the worker wrote it.
    [manifest] = _manifests(coll)
    assert (manifest["outcome"], manifest["finish_reason"]) == ("interrupted", "capture-failed")
    lines = _check_log_points_at_records(coll)
    assert 5 < manifest["counts"]["captured"] == len(lines) < 200
    assert not list(coll.rglob("*.open")) and not list(coll.rglob("*.tmp"))
    assert verify(store).ok


def test_archive_crawl_on_a_full_disk_says_so_in_one_line_and_leaves_a_verifiable_job(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with serve_wire(_slow_site(200)) as site:
        done = subprocess.run(
            [sys.executable, "-m", "archive", "crawl", "--url", site.base + "/", "--store", str(store),
             "--collection", "k"],
            capture_output=True, text=True, timeout=120, check=False, preexec_fn=lambda: _limit_file_size(60_000),
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Logging error" not in done.stderr, done.stderr[-3000:]
    [said] = [line for line in done.stderr.splitlines() if "could not write" in line]
    coll = store / "k"
    [manifest] = (coll / "manifests").glob("*.json")  # small enough to fit: written
    assert "File too large" in said and f"in {manifest}" in said
    # Everything it wrote ends with a whole record or line.
    assert not list(coll.rglob("*.open")) and not list(coll.rglob("*.tmp"))
    lines = _check_log_points_at_records(coll)
    assert len([line for line in lines if line["outcome"] == "captured"]) >= 3
    assert verify(store).ok


def test_verify_on_a_full_disk_still_reports_and_warns_that_status_will_not_know(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    CaptureJob(store, one_off("c", urls=["http://127.0.0.1:9/"]), clock=Clock()).close()
    with file_size_limit(10):  # verify-state.json is larger
        code = main(["verify", str(store)])
    out, err = capsys.readouterr()
    assert code == 0 and "OK:" in out
    assert "could not record this verify" in err and "File too large" in err
    assert not (store / "c" / "verify-state.json").exists()
    assert not list((store / "c").glob("*.tmp"))


def test_when_not_even_the_manifest_fits_repair_writes_it_once_there_is_room(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with serve_wire(_slow_site(20)) as site:
        done = subprocess.run(  # 2,000 bytes: the job file fits, a manifest (about 2,400) does not
            [sys.executable, "-m", "archive", "crawl", "--url", site.base + "/", "--store", str(store),
             "--collection", "k"],
            capture_output=True, text=True, timeout=120, check=False, preexec_fn=lambda: _limit_file_size(2_000),
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    [said] = [line for line in done.stderr.splitlines() if "could not write" in line]
    assert f"run `archive verify --repair {store / 'k'}`" in said
    coll = store / "k"
    assert not list(coll.rglob("*.open")) and not list(coll.rglob("*.tmp"))
    assert not list((coll / "manifests").iterdir())
    assert main(["verify", "--repair", str(store)]) == 0
    [manifest] = _manifests(coll)
    assert manifest["outcome"] == "interrupted"
    assert verify(store).ok


def test_repair_with_a_damaged_job_file_closes_the_files_and_says_why_there_is_no_manifest(tmp_path: Path,
                                                                                          capsys) -> None:
    store = tmp_path / "store"
    with serve_wire(_slow_site(20)) as site:
        subprocess.run(  # (as above: the job file fits, the manifest does not)
            [sys.executable, "-m", "archive", "crawl", "--url", site.base + "/", "--store", str(store),
             "--collection", "k"],
            capture_output=True, text=True, timeout=120, check=False, preexec_fn=lambda: _limit_file_size(2_000),
        )
    coll = store / "k"
    [job_file] = (coll / "logs").glob("*.job.json")
    good = job_file.read_bytes()
    job_file.write_text("{not json")
    capsys.readouterr()
    assert main(["verify", "--repair", str(store)]) == 1
    err = capsys.readouterr().err
    assert f"{job_file}: not a readable job file" in err and "Traceback" not in err
    assert not list((coll / "manifests").glob("*.json"))
    job_file.write_bytes(good)  # restored: the manifest follows
    assert main(["verify", "--repair", str(store)]) == 0
    [manifest] = _manifests(coll)
    assert manifest["outcome"] == "interrupted"


def test_a_command_that_runs_out_of_room_says_so_without_a_traceback(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    job = CaptureJob(store, one_off("c", urls=["http://127.0.0.1:9/"]), clock=Clock())
    job.record_fetch(fetch("http://127.0.0.1:9/a", b"<html><body><h1>A</h1><p>" + b"text " * 400 + b"</p></body></html>",
                           WHEN))
    job.close()
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    with file_size_limit(300):  # the articles file is larger
        code = main(["extract", "--store", str(store), "--collection", "c"])
    err = capsys.readouterr().err
    assert code == 1 and "File too large" in err and "Traceback" not in err, err
    assert not list(store.rglob("*.tmp"))
    assert set(before) <= {p.relative_to(store) for p in store.rglob("*")}
    assert verify(store).ok


def test_an_index_that_does_not_fit_leaves_no_half_file(tmp_path: Path) -> None:
    from archive.index.cdxj import index_warc

    store = tmp_path / "store"
    job = CaptureJob(store, one_off("c", urls=["http://127.0.0.1:9/"]), clock=Clock())
    for i in range(30):
        job.record_fetch(fetch(f"http://127.0.0.1:9/story/{i}", _page(i), WHEN))
    job.close()
    [warc] = (store / "c" / "warcs").glob("*.warc.gz")
    out = tmp_path / "indexes"
    with file_size_limit(2_000), pytest.raises(OSError):  # 30 lines of CDXJ are more
        index_warc(warc, out)
    assert list(out.iterdir()) == []
    assert index_warc(warc, out).stat().st_size > 2_000  # with room, it is written


def test_capture_in_the_crawl_process_on_a_full_disk_stops_the_crawl_and_says_why(tmp_path: Path) -> None:
    from archive.crawl import crawl
    from archive.errors import CrawlError

    store = tmp_path / "store"
    with serve_wire(_slow_site(200)) as site, file_size_limit(60_000), \
            pytest.raises(CrawlError, match="could not write .*File too large.*what was captured is closed and in"):
        crawl(store, one_off("k", urls=[site.base + "/"]), overrides={"ARCHIVE_CAPTURE_WORKER": False})
    coll = store / "k"
    [manifest] = _manifests(coll)
    assert (manifest["outcome"], manifest["finish_reason"]) == ("interrupted", "capture-failed")
    assert not list(coll.rglob("*.open")) and not list(coll.rglob("*.tmp"))
    _check_log_points_at_records(coll)
    assert verify(store).ok


def test_a_job_that_cannot_even_start_says_which_file_in_one_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run(  # 500 bytes: not even the job file fits
        [sys.executable, "-m", "archive", "crawl", "--url", "http://127.0.0.1:9/", "--store", str(store),
         "--collection", "k"],
        capture_output=True, text=True, timeout=120, check=False, preexec_fn=lambda: _limit_file_size(500),
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Unhandled error" not in done.stderr, done.stderr[-3000:]
    [said] = done.stderr.strip().splitlines()
    assert "the capture worker did not start" in said and "File too large" in said and ".job.json" in said
    assert not list((store / "k").rglob("*.tmp"))


def test_the_demo_runs_with_less_free_space_than_a_crawl_needs(tmp_path: Path, monkeypatch) -> None:
    """100 MiB free (the disk's own figure replaced: a smaller file system is not to be had
    here): below a crawl's default floor, plenty for the demo's 2 MB."""
    from archive.config import DEFAULTS
    from archive.demo.run import run_demo

    monkeypatch.setattr("archive.store.free_bytes", lambda path: 100 << 20)
    assert DEFAULTS["caps"]["min_free_bytes"] > 100 << 20
    result = run_demo(tmp_path / "store", n_articles=3)
    assert result.crawl.outcome == "finished" and result.verify.ok


def test_the_demo_below_its_floor_names_no_option_it_does_not_have(tmp_path: Path, monkeypatch, capsys) -> None:
    """The demo's floor is fixed; it advised `archive crawl --min-free-bytes`, a flag of
    another command."""
    from archive.cli import main

    monkeypatch.setattr("archive.store.free_bytes", lambda path: 1 << 20)
    assert main(["demo", "--store", str(tmp_path / "store")]) == 1
    err = capsys.readouterr().err
    assert "below caps.min_free_bytes (33,554,432); free some space, or use a store on a disk with room" in err, err
    assert "--min-free-bytes" not in err


def test_a_crawl_is_not_started_below_the_free_space_floor(tmp_path: Path) -> None:
    from archive.crawl import crawl
    from archive.errors import CrawlError
    from archive.store import free_bytes

    store = tmp_path / "store"
    floor = free_bytes(tmp_path) + (10 << 30)
    with pytest.raises(CrawlError, match=r"not started: only [\d,]+ bytes free .*below caps.min_free_bytes"):
        crawl(store, collection_from_dict({"name": "k", "urls": ["http://127.0.0.1:9/"],
                                           "caps": {"min_free_bytes": floor}}))
    assert not (store / "k").exists()  # no job file, no WARC, no log, nor empty folders for them


# A disk of its own for the store: ``shutil.disk_usage`` of a path in it answers as for a
# file system of ARCHIVE_TEST_DISK_SIZE bytes that holds the store and nothing else. The
# real disk's free space moves with whatever else the machine writes meanwhile.
FAKE_DISK = """
import os, shutil
_real = shutil.disk_usage


def disk_usage(path):
    root, size = os.environ["ARCHIVE_TEST_DISK_ROOT"], int(os.environ["ARCHIVE_TEST_DISK_SIZE"])
    if not os.path.abspath(path).startswith(root):
        return _real(path)
    used = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                used += os.path.getsize(os.path.join(folder, name))
            except OSError:  # (renamed or gone meanwhile)
                pass
    return shutil._ntuple_diskusage(size, used, max(0, size - used))
"""


def test_a_crawl_stops_whole_when_free_space_falls_below_the_floor(tmp_path: Path, monkeypatch) -> None:
    """The crawl process (and its parent) see the store on a disk of its own (FAKE_DISK, by a
    ``sitecustomize`` on PYTHONPATH): 2 MiB above the floor when the crawl starts."""
    import importlib
    import shutil

    from archive.crawl import crawl
    from archive.errors import CrawlError

    pages = 300
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/": response("200 OK", [("Content-Type", "text/html")],
                            b"<html><body>" + "".join(f'<a href="/p/{i}">{i}</a>' for i in range(pages)).encode()
                            + b"</body></html>")}
    for i in range(pages):  # 30 KB that do not compress: the WARC grows by as much a page
        routes[f"/p/{i}"] = slow(0.05, response("200 OK", [("Content-Type", "application/octet-stream")],
                                                os.urandom(30_000)))
    store = tmp_path / "store"
    store.mkdir()
    floor = 1 << 30
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "fake_disk.py").write_text(FAKE_DISK, "utf-8")
    (site_dir / "sitecustomize.py").write_text("import shutil, fake_disk\nshutil.disk_usage = fake_disk.disk_usage\n",
                                               "utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site_dir), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("ARCHIVE_TEST_DISK_ROOT", str(store))
    monkeypatch.setenv("ARCHIVE_TEST_DISK_SIZE", str(floor + (2 << 20)))  # about 60 pages of room
    monkeypatch.syspath_prepend(str(site_dir))
    monkeypatch.setattr(shutil, "disk_usage", importlib.import_module("fake_disk").disk_usage)
    said = "below caps.min_free_bytes.*what was captured is closed and in"
    with serve_wire(routes) as site, pytest.raises(CrawlError, match=said):
        crawl(store, collection_from_dict({"name": "k", "urls": [site.base + "/"],
                                               "caps": {"min_free_bytes": floor}}))
    coll = store / "k"
    [manifest] = _manifests(coll)
    assert (manifest["outcome"], manifest["finish_reason"]) == ("interrupted", "disk-low")
    assert 60 <= manifest["counts"]["captured"] < pages
    _check_log_points_at_records(coll)
    assert verify(store).ok


def test_the_floor_is_set_on_the_command_line_too(tmp_path: Path, capsys) -> None:
    from archive.config import one_off as made
    from archive.store import free_bytes

    floor = free_bytes(tmp_path) + (10 << 30)
    assert main(["crawl", "--url", "http://127.0.0.1:9/", "--store", str(tmp_path / "store"),
                 "--min-free-bytes", str(floor)]) == 1
    err = capsys.readouterr().err
    assert "not started" in err and f"({floor:,})" in err and "--min-free-bytes" in err
    assert made("x", urls=["http://127.0.0.1:9/"], min_free_bytes=0).caps["min_free_bytes"] == 0


def test_a_warc_that_cannot_even_be_cut_back_is_left_for_repair(tmp_path: Path) -> None:
    # The disk fills up mid-group, and cutting the file back to its last whole record fails
    # too (a disk that fails outright: the one thing here not done for real). The file's end
    # may hold half a group, so the job writes no manifest over it; repair closes it.
    store = tmp_path / "store"
    job = CaptureJob(store, one_off("c", urls=["http://127.0.0.1:9/"]), clock=Clock())

    def fail(*_: object) -> int:
        raise OSError(errno.EIO, "Input/output error")

    written = 0
    said = "File too large, nor cut it back to its last whole record: Input/output error"
    with file_size_limit(100_000), pytest.raises(CaptureWriteError, match=said):
        for i in range(100):
            job.record_fetch(fetch(f"http://127.0.0.1:9/p/{i}", _page(i), WHEN))
            written += 1
            job.warcs._fh.truncate = fail  # (the file object's own method, on this one file)
    with pytest.raises(CaptureWriteError, match=r"left open .*run `archive verify --repair"):
        job.close()
    [torn] = job.warcs.left_open
    assert torn.name.endswith(".warc.gz.open")
    size = torn.stat().st_size
    coll = store / "c"
    assert not list((coll / "manifests").glob("*.json"))
    assert main(["verify", "--repair", str(store)]) == 0
    assert not list(coll.rglob("*.open"))
    [manifest] = _manifests(coll)
    assert manifest["outcome"] == "interrupted"
    lines = _check_log_points_at_records(coll)
    assert 3 <= written == manifest["counts"]["captured"] == len(lines) < 20
    closed = torn.with_name(torn.name.removesuffix(".open"))
    assert closed.stat().st_size < size  # the half-written group is gone
    records = read_warc(closed)
    assert [r.type for r in records] == ["warcinfo"] + ["response", "request", "metadata"] * written
    assert verify(store).ok


def test_a_warc_that_cannot_be_renamed_at_its_close_says_why(tmp_path: Path) -> None:
    # A store made read-only mid-crawl, or something in the way of the WARC's own name: the
    # message said the WARC was left open, not why, and the crawl log alone held the error.
    store = tmp_path / "store"
    job = CaptureJob(store, one_off("c", urls=["http://127.0.0.1:9/"]), clock=Clock())
    job.record_fetch(fetch("http://127.0.0.1:9/p/0", _page(0), WHEN))
    [open_warc] = (store / "c" / "warcs").glob("*.warc.gz.open")
    final = open_warc.with_name(open_warc.name.removesuffix(".open"))
    final.mkdir()
    (final / "in-the-way").write_bytes(b"")
    with pytest.raises(CaptureWriteError) as raised:
        job.close()
    said = str(raised.value)
    assert f"left open {open_warc} (could not rename it to {final.name}: " in said, said
    assert "run `archive verify --repair" in said
    (final / "in-the-way").unlink()
    final.rmdir()
    assert main(["verify", "--repair", str(store)]) == 0 and verify(store).ok


def test_keygen_takes_an_out_ending_in_key_for_the_prefix(tmp_path: Path, capsys) -> None:
    assert main(["keygen", "--out", str(tmp_path / "k.key")]) == 0  # (wrote k.key.key and k.key.pub)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key", "k.pub"]


def test_keygen_on_a_full_disk_leaves_neither_half_a_key_nor_one_of_the_pair(tmp_path: Path, capsys) -> None:
    with file_size_limit(50):  # a private key is about 119 bytes of PEM
        code = main(["keygen", "--out", str(tmp_path / "k")])
    err = capsys.readouterr().err
    assert code == 1 and "File too large" in err and "Traceback" not in err, err
    assert str(tmp_path / "k.key") in err
    assert not list(tmp_path.iterdir())  # so the same command can simply be run again
    # The public key cannot be written (a stopped keygen left its temporary file): the
    # private key, written already, is taken back, since a key without its pair is no use.
    (tmp_path / "k.pub.tmp").write_bytes(b"")
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 2
    assert "k.pub.tmp exists" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["k.pub.tmp"]
    (tmp_path / "k.pub.tmp").unlink()
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key", "k.pub"]


def test_a_crawl_into_a_read_only_store_is_one_line_and_writes_nothing(tmp_path):
    from jobs import run_job
    from test_replay import _read_only, _state

    store = tmp_path / "store"
    run_job(store, 1, Clock())
    before = _state(store)
    prefix = _read_only(store)
    try:
        if os.geteuid() == 0 and not prefix:
            pytest.skip("root, and no read-only mount can be made here")
        proc = subprocess.run([*prefix, sys.executable, "-m", "archive", "crawl", "--store", str(store), "--collection",
                               "news", "--url", "http://127.0.0.1:9/", "--min-free-bytes", "0"],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        for path in [store, *store.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    why = "Read-only file system" if prefix else "Permission denied"
    assert (proc.returncode, proc.stderr) == (1, f"archive crawl: cannot write in {store / 'news' / 'warcs'}: {why}\n")
    assert _state(store) == before
