"""The capture worker (archive.job_worker): the crawl process sends, the worker records.

Real processes throughout: crawls of local wire servers through ``crawl()`` and the
``archive crawl`` command, the process tree ``archive crawl`` -> ``python -m archive.crawl``
-> ``python -m archive.job_worker`` found in /proc and one of its members killed, and the
results read back with warcio and checked with ``archive verify``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import site_routes
from jobs import fetch
from test_kill import _slow_site, _start, _wait_for_group_to_die, _wait_for_lines
from warcs import read_collection, read_warc
from wire import free_port, response, serve_wire

from archive.cli import main
from archive.config import collection_from_dict, one_off
from archive.crawl import crawl
from archive.digests import sha256_file
from archive.job_worker import (
    BATCH_SECONDS,
    LOST,
    WORKER_NICE,
    CaptureWorkerError,
    WorkerJob,
    flat_fetch,
    read_frame,
    unflat_fetch,
    write_frame,
)
from archive.verify import verify

# -- processes -------------------------------------------------------------------------------


def _group(pgid: int) -> dict[int, list[str]]:
    """Live (not zombie) processes of a process group: pid -> command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            argv = (stat.parent / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found[int(stat.parent.name)] = argv
    return found


def _find(pgid: int, module: str, timeout: float = 10) -> int:
    """The pid of ``python -m <module>`` in the group (exactly one must be running)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid, argv in _group(pgid).items() if "-m" in argv and module in argv]
        if len(pids) == 1:
            return pids[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"expected one `python -m {module}` in group {pgid}, found {pids}")
        time.sleep(0.05)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Whatever happened in the test, leave no process of the crawl behind."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
    _wait_for_group_to_die(proc.pid)


@pytest.fixture
def slow_site() -> Iterator[Any]:
    # 400 pages, 20 ms each: a crawl that is still running when a process is killed.
    with serve_wire(_slow_site()) as server:
        yield server


# -- what a collection holds -------------------------------------------------------------------


def _one_error_line(stderr: str) -> str:
    """The command's error: one line of its own, and no traceback anywhere."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("archive crawl:")]
    assert len(lines) == 1, stderr
    return lines[0]


def _check_log_points_at_records(coll: Path) -> list[dict[str, Any]]:
    """Every capture-log line that names a record names one that is in a WARC, as warcio reads it."""
    records, lines = read_collection(coll)
    at = {(r.file, r.offset): r for r in records}
    assert all(r.digest_ok is not False for r in records)
    for line in lines:
        if line.get("warc") is None:
            continue
        w = line["warc"]
        record = at.get((w["filename"], w["offset"]))
        assert record is not None, f"{line['url']}: no record at {w['filename']}:{w['offset']}"
        assert record.h("WARC-Record-ID") == w["record_id"]
        assert record.type in ("response", "revisit") and record.h("WARC-Target-URI") == line["url"]
    return lines


def _manifests(coll: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((coll / "manifests").glob("*.json"))]


# -- 1. worker and in-process capture record the same ------------------------------------------


def test_worker_and_in_process_capture_record_the_same(tmp_path: Path) -> None:
    routes = site_routes()
    del routes["/slow"]  # a 404 instead of a 1 s timeout: the comparison needs no waiting
    routes["/bad-feed"] = response("200 OK", [("Content-Type", "application/rss+xml")], b"<rss><channel><item>")
    refused = f"http://127.0.0.1:{free_port()}/"
    results: dict[str, dict[str, Any]] = {}
    with serve_wire(routes) as site:
        for mode, overrides in (("worker", {}), ("in-process", {"ARCHIVE_CAPTURE_WORKER": False})):
            store = tmp_path / mode
            coll = collection_from_dict({"name": "t", "urls": [site.base + "/", refused],
                                         "feeds": [site.base + "/bad-feed"], "caps": {"timeout": 5.0}})
            snapshots: list[dict[str, Any]] = []
            result = crawl(store, coll, overrides={"RETRY_TIMES": 0, **overrides}, progress=snapshots.append,
                           extract=False)
            report = verify(store)
            assert report.ok, [str(p) for p in report.problems]
            assert not list(store.rglob("*.open"))
            lines = _check_log_points_at_records(store / "t")
            records, _ = read_collection(store / "t")
            [manifest] = _manifests(store / "t")
            crawl_log = (store / "t" / "logs" / f"{result.job_id}.crawl.log").read_text()
            results[mode] = {
                "lines": Counter((l["url"], l["outcome"], l["status"], l.get("payload_digest"), l.get("error"),
                                  l["channel"], l["hops"], l["depth"], l["via"], l["robots"], l.get("mime"),
                                  l.get("response_bytes"), l.get("truncated")) for l in lines),
                "records": Counter((r.type, r.h("WARC-Target-URI"), r.status_line, r.h("WARC-Payload-Digest"),
                                    r.h("Content-Length") if r.type != "metadata" else None)
                                   for r in records if r.type in ("request", "response", "revisit")),
                "manifest": (manifest["outcome"], manifest["finish_reason"], manifest["counts"]),
                "final": {k: v for k, v in snapshots[-1].items() if k not in ("job_id", "elapsed", "cpu", "worker_cpu", "worker_peak_rss_kb")},
                # (in the crawl log's own format: Scrapy's date, the worker's module named)
                "worker_said": re.search(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d \[archive\.job_worker\] INFO: "
                                         rf"capture worker: job {result.job_id} closed", crawl_log, re.MULTILINE)
                is not None,
            }
    worker, in_process = results["worker"], results["in-process"]
    assert worker["worker_said"] and not in_process["worker_said"]  # the setting took effect
    assert worker["lines"] == in_process["lines"]
    assert worker["records"] == in_process["records"]
    assert worker["manifest"] == in_process["manifest"]
    outcome, reason, counts = worker["manifest"]
    assert (outcome, reason) == ("finished", "finished")
    # Something of every kind went through: responses, failures, robots, a bad document.
    # (One URL is disallowed by the site's robots.txt, the other seed since its robots.txt
    # could not be fetched: RFC 9309, the whole site disallowed.)
    assert counts["captured"] >= 10 and counts["robots_disallowed"] == 2
    assert counts["failed"] >= 1 and set(counts["by_error"]) == {"DownloadConnectionRefusedError"}, counts
    assert counts["bad_documents"] == 1
    # The crawl process's own count (for progress) agrees with the worker's log.
    assert worker["final"] == in_process["final"]
    assert worker["final"]["pages"] == counts["captured"] and worker["final"]["final"] is True


# -- 2. the crawl process killed alone ---------------------------------------------------------


def test_crawl_process_killed_alone_the_worker_closes_the_job(slow_site: Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = _start(store, slow_site.base)
    try:
        _wait_for_lines(store, 40)
        crawler = _find(proc.pid, "archive.crawl")
        _find(proc.pid, "archive.job_worker")  # running, and not what is killed
        os.kill(crawler, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        # The worker outlives the command; it must finish on its own, and soon.
        _wait_for_group_to_die(proc.pid, timeout=30)
    finally:
        _kill_group(proc)
    assert proc.returncode == 1
    line = _one_error_line(err.decode())
    assert "the crawl process died (exit code -9)" in line

    coll = store / "k"
    assert not list(store.rglob("*.open"))
    [manifest] = _manifests(coll)
    assert manifest["outcome"] == "interrupted" and manifest["finish_reason"] == LOST == "crawler-lost"
    assert manifest["job_id"] in line
    report = verify(store)  # no repair needed
    assert report.ok, [str(p) for p in report.problems]
    listed = {f["path"] for f in manifest["files"]}
    assert {f"warcs/{p.name}" for p in (coll / "warcs").iterdir()} <= listed
    lines = _check_log_points_at_records(coll)
    captured = [l for l in lines if l["outcome"] == "captured"]
    assert manifest["counts"]["captured"] == len(captured) >= 40
    assert len(captured) < 300  # killed mid-crawl (the site has 401 pages and robots.txt)
    assert "the crawl process went away" in (coll / "logs" / f"{manifest['job_id']}.crawl.log").read_text()


# -- 3. the worker killed alone ----------------------------------------------------------------


def test_worker_killed_alone_stops_the_crawl_and_repair_closes_the_rest(
        slow_site: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    coll = store / "k"
    proc = _start(store, slow_site.base)
    try:
        _wait_for_lines(store, 40)
        worker = _find(proc.pid, "archive.job_worker")
        requested = len(slow_site.requests)
        os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - killed
        requested_after = len(slow_site.requests) - requested
        _wait_for_group_to_die(proc.pid)
    finally:
        _kill_group(proc)
    assert proc.returncode == 1
    line = _one_error_line(err.decode())
    job_id = json.loads(next((coll / "logs").glob("*.job.json")).read_text())["job_id"]
    assert job_id in line and "the capture worker stopped" in line and "archive verify --repair" in line
    # Stopped soon: about 340 pages were left. Captures reach the worker in batches sent at
    # least every quarter second (archive.job_worker.BATCH_SECONDS), so the crawl notices
    # within about that much fetching (some 50 pages of this site), plus what is in flight.
    assert took < 20
    assert requested_after < 150, requested_after
    assert "capture failed, closing the crawl" in (coll / "logs" / f"{job_id}.crawl.log").read_text()

    closed = sorted((coll / "warcs").glob("*.warc.gz"))
    # (The worker may have died between closing one file and opening the next: no .open WARC.)
    assert len(closed) >= 2 and len(list((coll / "warcs").glob("*.open"))) <= 1
    assert list((coll / "logs").glob("*.captures.jsonl.open"))
    sums = {}
    for warc in closed:  # intact by our reader and by warcio
        report = verify(warc)
        assert report.ok and report.records > 0, [str(p) for p in report.problems]
        assert all(r.digest_ok is not False for r in read_warc(warc))
        sums[warc.name] = sha256_file(warc)[0]
    assert not verify(store).ok  # the leftovers are reported until repaired

    capsys.readouterr()
    assert main(["verify", "--repair", str(store)]) == 0
    out = capsys.readouterr().out
    assert "wrote manifest for interrupted job" in out and "OK:" in out
    assert not list(store.rglob("*.open"))
    assert {p.name: sha256_file(p)[0] for p in closed} == sums  # repair left closed files alone
    [manifest] = _manifests(coll)
    assert manifest["outcome"] == "interrupted" and manifest["job_id"] == job_id
    listed = {f["path"]: f for f in manifest["files"]}
    assert all(listed[f"warcs/{name}"]["sha256"] == sha for name, sha in sums.items())
    assert main(["verify", str(store)]) == 0
    lines = _check_log_points_at_records(coll)
    assert 40 <= manifest["counts"]["captured"] == sum(l["outcome"] == "captured" for l in lines) < 200


# -- 4. framing ---------------------------------------------------------------------------------


def _reader(fd: int) -> tuple[threading.Thread, list[tuple[tuple[Any, ...], bytes]], list[BaseException]]:
    """A thread reading frames from ``fd`` until end of input."""
    got: list[tuple[tuple[Any, ...], bytes]] = []
    errors: list[BaseException] = []

    def run() -> None:
        # Signals for the writer (main thread) must not land here.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
        try:
            with open(fd, "rb") as stream:
                time.sleep(0.2)  # let the writer fill the pipe and block first
                while True:
                    try:
                        got.append(read_frame(stream))
                    except EOFError:
                        return
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got, errors


def test_frames_of_several_mb_round_trip_byte_exact_through_a_pipe() -> None:
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    bodies = [os.urandom(6 << 20), b"", b"x", bytes(range(256)) * 8192, os.urandom(100_000)]
    messages = [("fetch", {"url": f"http://127.0.0.1:9/{i}", "started": when, "headers": [(b"A", b"b")]}, i)
                for i in range(len(bodies))]
    r, w = os.pipe()
    thread, got, errors = _reader(r)
    # Signals while the writer is blocked on a full pipe interrupt os.writev part-way;
    # write_frame must then write the rest, in order.
    interrupts = 0

    def count(*_: Any) -> None:
        nonlocal interrupts
        interrupts += 1

    previous = signal.signal(signal.SIGUSR2, count)
    stop = threading.Event()
    main_thread = threading.main_thread().ident
    assert main_thread == threading.get_ident()

    def poke() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
        while not stop.wait(0.01):
            signal.pthread_kill(main_thread, signal.SIGUSR2)

    poker = threading.Thread(target=poke, daemon=True)
    poker.start()
    try:
        for message, body in zip(messages, bodies, strict=True):
            write_frame(w, message, body)
    finally:
        stop.set()
        poker.join(timeout=5)
        signal.signal(signal.SIGUSR2, previous)
        os.close(w)
    thread.join(timeout=30)
    assert not thread.is_alive(), "the reader did not see the end of input"
    assert not errors, errors
    assert interrupts > 0
    assert [m for m, _ in got] == messages
    assert [len(b) for _, b in got] == [len(b) for b in bodies]
    assert [hashlib.sha256(b).hexdigest() for _, b in got] == [hashlib.sha256(b).hexdigest() for b in bodies]


def _frame_bytes(message: tuple[Any, ...], body: bytes) -> bytes:
    """Exactly what write_frame puts on the wire."""
    r, w = os.pipe()
    chunks: list[bytes] = []

    def drain() -> None:
        while data := os.read(r, 1 << 16):
            chunks.append(data)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    write_frame(w, message, body)
    os.close(w)
    thread.join(timeout=10)
    os.close(r)
    return b"".join(chunks)


def _read_all(data: bytes) -> list[tuple[tuple[Any, ...], bytes] | type[EOFError]]:
    """Frames read from a pipe holding ``data`` and then closed; EOFError marks where reading ended."""
    r, w = os.pipe()
    assert len(data) < 60_000  # fits the pipe: no reader thread needed
    os.write(w, data)
    os.close(w)
    out: list[tuple[tuple[Any, ...], bytes] | type[EOFError]] = []
    with open(r, "rb") as stream:
        while True:
            try:
                out.append(read_frame(stream))
            except EOFError:
                out.append(EOFError)
                return out


def test_a_fetch_travels_flat_and_comes_back_equal() -> None:
    import pickle
    from datetime import timedelta, timezone

    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    starts = [base + timedelta(microseconds=n) for n in (0, 1, 499_999, 999_999, 86_399_999_999)]
    starts += [datetime(2026, 3, 1, 13, 0, 0, 7, tzinfo=timezone(timedelta(hours=1))),  # not UTC: sent as it is
               datetime(2026, 3, 1, 12, 0, 0, 7)]  # naive
    for started in starts:
        f = fetch("http://127.0.0.1:9/a", b"body", started, headers=[(b"Content-Type", b"text/html")])
        f.provenance.source_id, f.reconstructed, f.remote_ip = "guid-1", ("content-length",), "127.0.0.1"
        flat = pickle.loads(pickle.dumps(flat_fetch(f), protocol=pickle.HIGHEST_PROTOCOL))
        back = unflat_fetch(flat, f.body)
        assert back == f and back.started.tzinfo == f.started.tzinfo and back.started.utcoffset() == f.started.utcoffset()


def test_a_truncated_frame_raises_eof_error() -> None:
    message, body = ("fetch", {"url": "http://127.0.0.1:9/x", "n": 1}), os.urandom(20_000)
    frame = _frame_bytes(message, body)
    assert frame.endswith(body)
    head_and_meta = len(frame) - len(body)
    assert _read_all(frame) == [(message, body), EOFError]
    assert _read_all(b"") == [EOFError]
    for cut in (1, 7, head_and_meta - 1, head_and_meta, head_and_meta + 1, len(frame) - 1):
        assert _read_all(frame[:cut]) == [EOFError], f"cut at {cut} of {len(frame)}"
        # A whole frame before the cut one is still read.
        assert _read_all(frame + frame[:cut]) == [(message, body), EOFError], f"cut at {cut}"
    bodiless = _frame_bytes(("close", "finished", []), b"")
    assert _read_all(bodiless) == [(("close", "finished", []), b""), EOFError]
    assert _read_all(bodiless[:-1]) == [EOFError]


# -- the worker process on its own ---------------------------------------------------------------


def test_worker_keeps_what_it_received_when_input_ends_mid_frame(tmp_path: Path) -> None:
    """The crawl process dying in the middle of sending a response: the worker records the
    whole ones, drops the cut one, and closes the job as interrupted."""
    store = tmp_path / "store"
    worker_log = tmp_path / "worker.log"
    collection = one_off("w", urls=["http://127.0.0.1:9/"])
    to_worker, from_main = os.pipe()
    from_worker, to_main = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "archive.job_worker", str(to_worker), str(to_main)],
                            pass_fds=(to_worker, to_main), start_new_session=True)
    os.close(to_worker)
    os.close(to_main)
    try:
        with open(from_worker, "rb") as replies:
            write_frame(from_main, ("open", {"store": str(store), "collection": collection.effective(),
                                             "job_id": None, "spider": "news", "operator": None,
                                             "log_file": str(worker_log)}))
            (kind, ready), _ = read_frame(replies)
            assert kind == "ready", ready
            when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
            bodies = [b"<html>small</html>", os.urandom(3 << 20), b"<html>" + b"x" * 50_000 + b"</html>"]
            for i, body in enumerate(bodies):
                f = fetch(f"http://127.0.0.1:9/page/{i}", body, when,
                          headers=[(b"Content-Type", b"text/html"), (b"Content-Length", str(len(body)).encode())])
                write_frame(from_main, ("fetch", flat_fetch(f)), f.body)
            # The fourth response, cut off half-way through its body.
            cut = fetch("http://127.0.0.1:9/page/cut", b"y" * 40_000, when)
            frame = _frame_bytes(("fetch", flat_fetch(cut)), cut.body)
            os.write(from_main, frame[: len(frame) - 20_000])
            os.close(from_main)
            from_main = -1
            assert proc.wait(timeout=30) == 1
            with pytest.raises(EOFError):  # no reply: nobody asked it to close
                read_frame(replies)
    finally:
        if from_main != -1:
            os.close(from_main)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    coll = store / "w"
    [manifest] = _manifests(coll)
    assert manifest["job_id"] == ready["job_id"]
    assert (manifest["outcome"], manifest["finish_reason"]) == ("interrupted", "crawler-lost")
    assert manifest["counts"]["captured"] == 3
    assert verify(store).ok
    lines = _check_log_points_at_records(coll)
    assert [l["url"] for l in lines] == [f"http://127.0.0.1:9/page/{i}" for i in range(3)]
    records, _ = read_collection(coll)
    payloads = {r.h("WARC-Target-URI"): r.payload for r in records if r.type == "response"}
    assert [payloads[f"http://127.0.0.1:9/page/{i}"] for i in range(3)] == bodies
    assert "the crawl process went away" in worker_log.read_text()


def test_worker_job_records_a_large_body_and_closes(tmp_path: Path) -> None:
    """WorkerJob, the crawl side, against the real worker: the calls, in order, byte-exact."""
    store = tmp_path / "store"
    worker_log = tmp_path / "crawl.log"
    job = WorkerJob(store, one_off("w", urls=["http://127.0.0.1:9/"]), log_file=str(worker_log))
    try:
        when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        big = os.urandom(5 << 20)
        job.record_fetch(fetch("http://127.0.0.1:9/big", big, when))
        job.record_failure("http://127.0.0.1:9/gone", error="ConnectionRefusedError: refused",
                           provenance=fetch("http://127.0.0.1:9/", b"", when).provenance, started=when,
                           duration_ms=2.0)
        job.record_fetch(fetch("http://127.0.0.1:9/small", b"<html>small</html>", when))
        # It yields the CPU to the crawl.
        assert os.getpriority(os.PRIO_PROCESS, job.proc.pid) == max(WORKER_NICE, os.nice(0))
        manifest = job.close()
        assert manifest is not None and job.close() == manifest  # once
        assert job.proc.returncode == 0
    finally:
        if job.proc.poll() is None:
            job.proc.kill()
            job.proc.wait(timeout=10)
    doc = json.loads(manifest.read_text())
    assert (doc["outcome"], doc["job_id"]) == ("finished", job.job_id)
    assert doc["counts"]["captured"] == 2 and doc["counts"]["failed"] == 1
    # (the crawl process counts for its progress reports what the log's lines count, but the
    # user agents, which only the worker reads from the request heads)
    assert job.tally.as_dict() == {k: v for k, v in doc["counts"].items() if k != "bad_documents"} | {
        "by_user_agent": {}}
    assert doc["counts"]["by_user_agent"] == {"test-agent": 2}
    lines = _check_log_points_at_records(store / "w")
    assert [(l["url"], l["outcome"]) for l in lines] == [
        ("http://127.0.0.1:9/big", "captured"), ("http://127.0.0.1:9/gone", "failed"),
        ("http://127.0.0.1:9/small", "captured")]
    records, _ = read_collection(store / "w")
    [payload] = [r.payload for r in records if r.type == "response" and r.h("WARC-Target-URI") == "http://127.0.0.1:9/big"]
    assert payload == big
    assert verify(store).ok
    # Its last words reach the log: the worker exits without the interpreter's teardown,
    # after flushing its log.
    assert f"job {job.job_id} closed; 3 captures" in worker_log.read_text()


def test_a_worker_that_cannot_start_says_why(tmp_path: Path) -> None:
    store = tmp_path / "not-a-directory"
    store.write_text("a file where the store should be")
    with pytest.raises(CaptureWorkerError, match="did not start: cannot create .* is a file, not a folder$"):
        WorkerJob(store, one_off("w", urls=["http://127.0.0.1:9/"]))


def test_a_batch_reaches_the_disk_when_flushed_or_when_it_is_old(tmp_path: Path) -> None:
    """Captures are batched on the crawl side; flush() (the extension's timer) or the next
    call after BATCH_SECONDS sends them, so a slow crawl's captures are not held back."""
    store = tmp_path / "store"
    job = WorkerJob(store, one_off("w", urls=["http://127.0.0.1:9/"]))
    log = next((store / "w" / "logs").glob("*.captures.jsonl.open"))

    def lines_within(seconds: float, n: int) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if log.read_bytes().count(b"\n") >= n:
                return True
            time.sleep(0.02)
        return False

    try:
        when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        job.record_fetch(fetch("http://127.0.0.1:9/a", b"<html>a</html>", when))
        assert not lines_within(0.5, 1)  # a small capture waits in the batch
        job.flush()
        assert lines_within(5, 1)
        job.record_fetch(fetch("http://127.0.0.1:9/b", b"<html>b</html>", when))
        time.sleep(BATCH_SECONDS + 0.05)
        job.record_fetch(fetch("http://127.0.0.1:9/c", b"<html>c</html>", when))  # the batch is old: sent
        assert lines_within(5, 3)
        assert job.close() is not None
    finally:
        if job.proc.poll() is None:
            job.proc.kill()
            job.proc.wait(timeout=10)


def test_a_capture_the_worker_cannot_record_is_lost_alone(tmp_path: Path) -> None:
    """As in the crawl process (where Scrapy logs the error and goes on), one capture the
    log schema refuses is not written to the log; the job goes on, closes and verifies."""
    store = tmp_path / "store"
    job = WorkerJob(store, one_off("w", urls=["http://127.0.0.1:9/"]))
    try:
        when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        bad = fetch("http://127.0.0.1:9/bad", b"<html>bad</html>", when)
        bad.status = 1000  # no HTTP status: the capture-log schema refuses the line
        job.record_fetch(bad)
        job.record_fetch(fetch("http://127.0.0.1:9/good", b"<html>good</html>", when))
        manifest = job.close()
        assert manifest is not None and job.failure is None
        with pytest.raises(CaptureWorkerError, match="closed"):
            job.record_fetch(fetch("http://127.0.0.1:9/late", b"<html>late</html>", when))
    finally:
        if job.proc.poll() is None:
            job.proc.kill()
            job.proc.wait(timeout=10)
    lines = _check_log_points_at_records(store / "w")
    assert [l["url"] for l in lines] == ["http://127.0.0.1:9/good"]
    assert json.loads(manifest.read_text())["outcome"] == "finished"
    assert verify(store).ok


def test_a_message_that_cannot_be_sent_is_lost_alone_and_the_job_still_closes(tmp_path: Path) -> None:
    """Messages are pickled when their batch goes, by whichever call sends it (a capture, the
    crawl's timer, close): one that cannot be pickled is logged and dropped there, and
    neither the captures batched with it nor the close go with it."""
    store = tmp_path / "store"
    job = WorkerJob(store, one_off("w", urls=["http://127.0.0.1:9/"]))
    try:
        when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        job.record_fetch(fetch("http://127.0.0.1:9/before", b"<html>before</html>", when))
        unpicklable = fetch("http://127.0.0.1:9/odd", b"<html>odd</html>", when)
        unpicklable.provenance.seed = lambda: "not a value"  # type: ignore[assignment]
        job.record_fetch(unpicklable)
        job.record_fetch(fetch("http://127.0.0.1:9/after", b"<html>after</html>", when))
        manifest = job.close()
        assert manifest is not None and job.failure is None
    finally:
        if job.proc.poll() is None:
            job.proc.kill()
            job.proc.wait(timeout=10)
    lines = _check_log_points_at_records(store / "w")
    assert [l["url"] for l in lines] == ["http://127.0.0.1:9/before", "http://127.0.0.1:9/after"]
    assert json.loads(manifest.read_text())["outcome"] == "finished"
    assert verify(store).ok
