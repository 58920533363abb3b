"""A crawl killed with SIGKILL leaves closed files valid; --repair closes the rest.
SIGTERM finishes gracefully: files closed, manifest written as interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wire import response, serve_wire, slow

from archive.cli import main
from archive.verify import verify


def _slow_site(pages: int = 400):
    links = "".join(f'<a href="/p/{i}">story {i}</a>' for i in range(pages)).encode()
    routes = {
        "/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
        "/": response("200 OK", [("Content-Type", "text/html")], b"<html><body>" + links + b"</body></html>"),
    }
    for i in range(pages):
        body = (f"<html><body><h1>Story {i}</h1>" + "<p>words words words</p>" * 60 + "</body></html>").encode()
        routes[f"/p/{i}"] = slow(0.02, response("200 OK", [("Content-Type", "text/html")], body))
    return routes


def _start(store: Path, base: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "archive", "crawl", "--url", base + "/", "--store", str(store), "--collection", "k",
         "--warc-max-bytes", "20000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )


def _wait_for_lines(store: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = list((store / "k" / "logs").glob("*.captures.jsonl.open")) if (store / "k" / "logs").exists() else []
        if logs and logs[0].read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.05)
    raise AssertionError("crawl did not get going")


def _group_alive(pgid: int) -> bool:
    """Any process of the group still running (zombies hold no files, so they do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _wait_for_group_to_die(pgid: int, timeout: float = 10) -> None:
    """The crawl child dies on its own schedule; its file locks go only when it is gone."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            raise AssertionError("the killed crawl's processes are still there")
        time.sleep(0.05)


@pytest.fixture
def slow_site():
    with serve_wire(_slow_site()) as server:
        yield server


def test_sigkill_leaves_closed_files_valid_and_repair_closes_the_rest(slow_site, tmp_path, capsys):
    store = tmp_path / "store"
    proc = _start(store, slow_site.base)
    _wait_for_lines(store, 60)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    _wait_for_group_to_die(proc.pid)
    warcs = store / "k" / "warcs"
    closed = sorted(warcs.glob("*.warc.gz"))
    # A WARC is opened when its first record comes: a kill just after a rotation finds none.
    assert len(closed) >= 2 and len(list(warcs.glob("*.open"))) <= 1
    for warc in closed:
        report = verify(warc)
        assert report.ok, [str(p) for p in report.problems]
    opened = sorted(store.rglob("*.open"))
    assert any(p.name.endswith(".captures.jsonl.open") for p in opened)  # the log is open until the end

    assert main(["verify", str(store)]) == 1
    out = capsys.readouterr().out
    for path in opened:
        kind = "log" if path.name.endswith(".captures.jsonl.open") else "file"
        assert f"{path}: incomplete {kind} of a job that did not finish" in out
    assert "archive verify --repair" in out

    assert main(["verify", "--repair", str(store)]) == 0
    out = capsys.readouterr().out
    assert "repaired:" in out and "wrote manifest for interrupted job" in out
    assert not list(store.rglob("*.open"))
    manifest = json.loads(next((store / "k" / "manifests").glob("*.json")).read_text())
    assert manifest["outcome"] == "interrupted"
    assert {f["path"] for f in manifest["files"]} >= {f"warcs/{p.name}" for p in warcs.glob("*.warc.gz")}
    assert manifest["counts"]["captured"] >= 60


def test_sigterm_closes_files_and_writes_the_manifest(slow_site, tmp_path):
    store = tmp_path / "store"
    proc = _start(store, slow_site.base)
    _wait_for_lines(store, 30)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err.decode()
    assert b"interrupted" in out
    assert not list(store.rglob("*.open"))
    manifest = json.loads(next((store / "k" / "manifests").glob("*.json")).read_text())
    assert manifest["outcome"] == "interrupted" and manifest["finish_reason"] == "shutdown"
    assert verify(store).ok


def _manifest_of_k(store: Path) -> dict:  # type: ignore[type-arg]
    [manifest] = (store / "k" / "manifests").glob("*.json")
    return json.loads(manifest.read_text())


def test_a_crawl_whose_command_is_killed_stops_too_and_closes_its_job_as_interrupted(slow_site, tmp_path):
    # Killed alone, the command left its crawl process to crawl on unseen to the end, and to
    # write tracebacks of a broken pipe to a terminal no one reads.
    store = tmp_path / "store"
    proc = _start(store, slow_site.base)
    _wait_for_lines(store, 5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _wait_for_group_to_die(proc.pid, timeout=30)
    doc = _manifest_of_k(store)
    assert doc["outcome"] == "interrupted" and doc["counts"]["captured"] < 400
    assert b"Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    assert verify(store).ok


def test_a_sigint_to_the_command_alone_stops_the_crawl(slow_site, tmp_path):
    # (no terminal: nobody else sent the crawl process the SIGINT)
    store = tmp_path / "store"
    proc = _start(store, slow_site.base)
    _wait_for_lines(store, 5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 1
    assert _manifest_of_k(store)["outcome"] == "interrupted"


def test_a_collections_file_crawl_stopped_by_sigterm_begins_no_further_collection(slow_site, tmp_path):
    store, config = tmp_path / "store", tmp_path / "collections.toml"
    config.write_text("".join(f'[[collection]]\nname = "{name}"\nurls = ["{slow_site.base}/"]\n' for name in ("k", "l")))
    proc = subprocess.Popen([sys.executable, "-m", "archive", "crawl", str(config), "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for_lines(store, 5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "archive crawl: interrupted; not crawled: l" in err
    assert _manifest_of_k(store)["outcome"] == "interrupted" and not (store / "l").exists()


def test_a_polite_crawl_stopped_by_sigterm_drops_the_requests_waiting_for_their_turn(slow_site, tmp_path):
    # Scrapy fetched every request waiting in the downloader before closing, one per delay:
    # sixteen at 2 s took half a minute (at a site's Crawl-delay of 30 s, eight minutes).
    store, cfg = tmp_path / "store", tmp_path / "collections.toml"
    cfg.write_text(f'[[collection]]\nname = "k"\nurls = ["{slow_site.base}/"]\n'
                   "politeness = { delay = 2.0, concurrency_per_host = 1 }\n")
    proc = subprocess.Popen([sys.executable, "-m", "archive", "crawl", str(cfg), "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    _wait_for_lines(store, 3)
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    out, err = proc.communicate(timeout=120)
    assert time.monotonic() - stopped < 10, "the waiting requests were fetched before the crawl closed"
    assert proc.returncode == 1 and b"interrupted" in out, err.decode()
    lines = [json.loads(line) for line in next((store / "k" / "logs").glob("*.captures.jsonl")).read_text().splitlines()]
    assert len(lines) <= 6 and _manifest_of_k(store)["outcome"] == "interrupted" and verify(store).ok


def _crawl_process_started(pid: int) -> bool:
    """Whether the command ``pid`` has started its crawl process (``python -m archive.crawl``)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return False
    for child in children:
        try:
            if b"archive.crawl" in Path(f"/proc/{child}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize("how", ["SIGTERM to the command", "Ctrl-C"])
@pytest.mark.parametrize("after", [0.0, 0.3])
def test_a_crawl_stopped_as_it_starts_closes_its_job_as_interrupted(slow_site, tmp_path, after, how):
    """A SIGTERM that came while the crawl process was still loading (before Scrapy's own
    handlers were in place) killed it, and the command said the crawl process had died; a
    Ctrl-C then was lost, and the crawl ran to its end."""
    store = tmp_path / "store"
    proc = _start(store, slow_site.base)
    deadline = time.monotonic() + 20
    while not _crawl_process_started(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(after)
    if how == "Ctrl-C":
        os.killpg(proc.pid, signal.SIGINT)  # (the terminal's: to every process of the group)
    else:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"died" not in err and b"interrupted" in out, err.decode()
    assert _manifest_of_k(store)["outcome"] == "interrupted"
    assert verify(store).ok
