"""archive schedule and archive status: due runs, locks, failures, SIGTERM, and the status view."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wire import response, serve_wire, slow

from archive.cli import main
from archive.config import load_collections
from archive.schedule import CollectionLock, Scheduler, is_due

YEARLY = "0 0 1 1 *"  # fired last on 1 January: due once for a new collection, then not again this year


def config(tmp_path, base, schedule=YEARLY, extra=""):
    path = tmp_path / "collections.toml"
    path.write_text(f'[[collection]]\nname = "sched"\nurls = ["{base}/"]\nschedule = "{schedule}"\n'
                    f'scope = {{ page_requisites = false }}\n{extra}')
    return path


def run(*args):
    return subprocess.run([sys.executable, "-m", "archive", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def _slow_pages(pages):
    """A front page linking ``pages`` pages that answer after 50 ms each: a crawl that lasts."""
    links = "".join(f'<a href="/p/{i}">{i}</a>' for i in range(pages)).encode()
    routes = {"/": response("200 OK", [("Content-Type", "text/html")], b"<html>" + links + b"</html>")}
    for i in range(pages):
        routes[f"/p/{i}"] = slow(0.05, response("200 OK", [("Content-Type", "text/html")], f"<p>{i}</p>".encode()))
    return routes


def test_once_runs_what_is_due_then_nothing_until_the_next_fire(wire_site, tmp_path):
    cfg, store = config(tmp_path, wire_site.base), tmp_path / "store"
    first = run("schedule", str(cfg), "--store", str(store), "--once")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "sched: started job" in first.stdout and "sched: job finished" in first.stdout
    assert len(list((store / "sched" / "manifests").glob("*.json"))) == 1
    second = run("schedule", str(cfg), "--store", str(store), "--once")
    assert second.returncode == 0 and "started" not in second.stdout
    assert len(list((store / "sched" / "manifests").glob("*.json"))) == 1
    collection = load_collections(cfg)[0]
    assert not is_due(collection, store, datetime.now(UTC))
    assert is_due(collection, store, datetime(datetime.now(UTC).year + 1, 1, 1, 0, 0, 1, tzinfo=UTC))


def test_a_running_job_blocks_a_second_one_and_a_dead_holders_lock_is_taken_over(wire_site, tmp_path):
    cfg, store = config(tmp_path, wire_site.base), tmp_path / "store"
    held = CollectionLock.take(store, "sched")
    assert held is not None
    blocked = run("schedule", str(cfg), "--store", str(store), "--once")
    assert "already running; skipped" in blocked.stdout
    assert not (store / "sched" / "manifests").exists()
    held.close()  # as when its process dies: the kernel drops the lock, the file stays
    assert (store / "sched" / ".schedule.lock").exists()
    taken = run("schedule", str(cfg), "--store", str(store), "--once")
    assert "sched: job finished" in taken.stdout


def test_a_failing_job_is_reported_and_others_still_run(wire_site, tmp_path):
    store = tmp_path / "store"
    path = tmp_path / "collections.toml"
    path.write_text(f'[[collection]]\nname = "broken"\nurls = ["{wire_site.base}/"]\nschedule = "{YEARLY}"\n'
                    f'[[collection]]\nname = "fine"\nurls = ["{wire_site.base}/final"]\nschedule = "{YEARLY}"\n')
    (store / "broken").mkdir(parents=True)
    (store / "broken" / "warcs").write_text("not a directory")  # the job cannot write its WARCs
    proc = run("schedule", str(path), "--store", str(store), "--once")
    assert proc.returncode == 1
    assert "broken: job FAILED" in proc.stdout and "fine: job finished" in proc.stdout


@pytest.mark.parametrize(("once", "signum"), [
    ([], signal.SIGTERM), ([], signal.SIGINT), (["--once"], signal.SIGTERM), (["--once"], signal.SIGINT),
    ([], signal.SIGHUP),  # (a closed terminal, a service's "reload": it killed the scheduler, its job left on)
])
def test_sigterm_or_sigint_stops_the_scheduler_after_its_jobs_close_their_files(tmp_path, once, signum):
    with serve_wire(_slow_pages(200)) as server:
        cfg, store = config(tmp_path, server.base), tmp_path / "store"
        proc = subprocess.Popen([sys.executable, "-m", "archive", "schedule", str(cfg), "--store", str(store), *once],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((store / "sched" / "logs").glob("*.captures.jsonl.open")
                                                        if (store / "sched" / "logs").exists() else []):
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signum)  # to the scheduler alone, as `kill` sends it
        out, err = proc.communicate(timeout=60)
    assert "scheduler stopped" in out and "sched: job stopped with the scheduler (exit 1); see " in out, out + err
    # (it said which collections it runs, and, unless run by a timer, that it was stopped:
    # `archive status` reads it)
    (heart,) = (store / ".schedulers").glob("*.json")
    said = json.loads(heart.read_text())
    since = datetime.fromisoformat(said["collections"]["sched"].pop("since"))  # (when it took the collection on)
    assert said["collections"] == {"sched": {"schedule": YEARLY, "timezone": None}}
    assert since <= datetime.fromisoformat(said["seen"])
    assert said["pid"] == proc.pid and said["once"] == bool(once)
    assert (said["stopped"] is None) == bool(once)
    # A stop asked for and carried out is no failure (the manifest says the job was interrupted).
    assert "FAILED" not in out and proc.returncode == 0
    job = int(out.split("(pid ", 1)[1].split(")", 1)[0])
    with pytest.raises(ProcessLookupError):  # waited for, not left running on its own
        os.kill(job, 0)
    manifest = json.loads(next((store / "sched" / "manifests").glob("*.json")).read_text())
    assert manifest["outcome"] == "interrupted"
    assert not list(store.rglob("*.open"))


def test_status_shows_last_job_next_run_and_verify(wire_site, tmp_path, capsys):
    cfg, store = config(tmp_path, wire_site.base), tmp_path / "store"
    assert main(["schedule", str(cfg), "--store", str(store), "--once"]) == 0
    capsys.readouterr()
    assert main(["status", "--store", str(store)]) == 0
    assert "verify     never run" in capsys.readouterr().out
    assert main(["verify", str(store)]) == 0
    capsys.readouterr()
    assert main(["status", "--store", str(store), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["collection"] == "sched" and row["jobs"] == 1 and row["running"] == []
    assert row["last_job"]["outcome"] == "finished" and row["last_job"]["pages"] > 0
    assert row["next_run"] == f"{datetime.now(UTC).year + 1}-01-01T00:00:00+00:00"
    assert row["verify"]["ok"] is True and row["failed_start"] is None
    warc = next((store / "sched" / "warcs").glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[100] ^= 0xFF  # (a flip: a byte written over could be the one already there)
    warc.write_bytes(bytes(data))
    assert main(["verify", str(store)]) == 1
    assert main(["status", "--store", str(store)]) == 1
    assert "verify     FAILED" in capsys.readouterr().out
    # A damaged state file: status still reports the rest, and says what it cannot know.
    state = store / "sched" / "verify-state.json"
    for damaged in ("{x", "[1]", "{}"):
        state.write_text(damaged)
        assert main(["status", "--store", str(store)]) == 0
        out = capsys.readouterr().out
        assert f"verify     unknown: {state} is unreadable; run archive verify" in out and "next run" in out
    state.unlink()
    state.mkdir()  # (a folder in its place is no record of a verify either: not "never run")
    assert main(["status", "--store", str(store)]) == 0
    assert f"verify     unknown: {state} is unreadable; run archive verify" in capsys.readouterr().out


def test_status_exits_1_when_it_shows_a_damaged_manifest_or_a_failed_verify(tmp_path, capsys):
    """It exited 0 whatever it showed: a cron job or a monitor running it learnt nothing."""
    from jobs import Clock, run_job

    manifest = run_job(tmp_path, 1, Clock()).closed_manifest
    assert main(["verify", str(tmp_path)]) == 0
    assert main(["status", "--store", str(tmp_path)]) == 0
    capsys.readouterr()
    sidecar = manifest.with_name(manifest.name + ".sha256")
    sidecar.rename(tmp_path / sidecar.name)
    assert main(["verify", str(tmp_path)]) == 1
    capsys.readouterr()
    assert main(["status", "--store", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "  verify     FAILED at " in out and out.endswith(" (1 problem)\n")  # (not "1 problems")
    (tmp_path / sidecar.name).rename(sidecar)
    assert main(["verify", str(tmp_path)]) == 0
    manifest.write_text("{not json\n")
    for json_too in ([], ["--json"]):
        capsys.readouterr()
        assert main(["status", "--store", str(tmp_path), *json_too]) == 1
    assert main(["status", "--store", str(tmp_path)]) == 1
    assert f"  DAMAGED    {manifest}: not valid JSON; run archive verify\n" in capsys.readouterr().out


def test_status_of_a_folder_that_is_no_store_says_so(tmp_path, capsys):
    # An empty folder is a store whose first crawl has not run; one that holds other things
    # is more likely a --store that names the wrong folder.
    assert main(["status", "--store", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"no collections in {tmp_path}\n"
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "photos").mkdir()
    assert main(["status", "--store", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (f"no collections in {tmp_path} (it holds 2 entries, none a folder with "
                                       "manifests/ or warcs/: is it the store?)\n")


def test_status_takes_the_schedule_of_a_first_job_still_running_and_one_run_out_is_no_damage(tmp_path):
    from archive.status import collection_status
    from archive.store import CollectionDir

    coll = CollectionDir(tmp_path / "store" / "sched")
    coll.logs.mkdir(parents=True)
    job = {"job_id": "sched-20260301T120000Z-abcd", "started": "2026-03-01T12:00:00+00:00",
           "config": {"schedule": "0 9 * * *", "timezone": "UTC"}}
    (coll.logs / f"{job['job_id']}.job.json").write_text(json.dumps(job))  # (its first job: no manifest yet)
    now = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    assert collection_status(coll, now)["next_run"] == "2026-03-02T09:00:00+00:00"
    job["config"]["schedule"] = "0 0 1 1 * 0 2020"  # (a year's schedule, run out: nothing to come, nothing wrong)
    (coll.logs / f"{job['job_id']}.job.json").write_text(json.dumps(job))
    row = collection_status(coll, now)
    assert row["next_run"] is None and row["damaged"] == []
    assert row["died"] == []  # (no capture log: nothing of it for --repair to close, so not said to need it)


def test_status_says_a_scheduled_run_long_due_and_not_started_was_missed(tmp_path, capsys):
    """A scheduler that died (a reboot, a kill) left status showing the next run as if it
    would come: a monitor reading it learnt nothing for as long as nothing ran."""
    from zoneinfo import ZoneInfo

    from jobs import Clock, fetch

    from archive.job import CaptureJob
    from archive.schedule import Scheduler, previous_fire, schedulers_of
    from archive.status import collection_status
    from archive.store import CollectionDir

    store = tmp_path / "store"
    cfg = config(tmp_path, "http://127.0.0.1:9", schedule="0 9 1 3 *")  # (9:00 on 1 March)
    clock = Clock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    job = CaptureJob(store, load_collections(cfg)[0], clock=clock)
    job.record_fetch(fetch("http://127.0.0.1:9/a", b"<p>a</p>", clock()))
    job.close()
    coll = CollectionDir(store / "sched")

    def status(hour: int, minute: int) -> dict | None:
        return collection_status(coll, datetime(2026, 3, 1, hour, minute, tzinfo=UTC),
                                 schedulers_of(store).get("sched"))["missed"]

    # Crawled by hand, with no scheduler that runs it: its schedule is no run missed.
    assert status(9, 20) is None
    assert main(["status", "--store", str(store)]) == 0
    assert "(as its last job's schedule has it; no `archive schedule` runs it)\n" in capsys.readouterr().out

    scheduler = Scheduler(cfg, load_collections(cfg), store, report=lambda _: None)

    def beat(hour: int, minute: int, stopped: bool = False) -> None:
        scheduler.clock = lambda: datetime(2026, 3, 1, hour, minute, tzinfo=UTC)
        scheduler.beat(stopped)

    beat(8, 30)
    assert status(8, 30) is None and status(9, 5) is None  # (not due yet; due, but only just)
    missed = status(9, 20)  # its scheduler last seen at 8:30: killed, or its machine lost
    assert missed["due"] == "2026-03-01T09:00:00+00:00" and missed["scheduler"]["running"] is False
    assert missed["scheduler"]["config"] == os.path.abspath(cfg) and missed["scheduler"]["stopped"] is None
    beat(9, 19)
    assert status(9, 20)["scheduler"]["running"] is True  # (alive, but could not start it)
    beat(9, 19, stopped=True)
    assert status(9, 20)["scheduler"]["stopped"] == "2026-03-01T09:19:00+00:00"
    # said by the command (now, months on), which exits 1 for it as for a run that did not start
    due = previous_fire("0 9 1 3 *", ZoneInfo("UTC"), datetime.now(UTC))
    assert main(["status", "--store", str(store)]) == 1
    heart = next((store / ".schedulers").glob("*.json"))
    assert (f"  MISSED     the run due at {due.isoformat()} has not started: the scheduler of {os.path.abspath(cfg)} "
            f"(pid {os.getpid()} on ") in capsys.readouterr().out
    assert main(["status", "--store", str(coll.root)]) == 1  # (the collection's folder given as the store)
    assert "  MISSED     " in capsys.readouterr().out
    assert main(["status", "--store", str(store), "--json"]) == 1
    (row,) = json.loads(capsys.readouterr().out)
    assert row["missed"]["scheduler"]["file"] == str(heart)
    # One run by a timer (cron's, systemd's) looks once and ends: the timer is asked after.
    scheduler = Scheduler(cfg, load_collections(cfg), store, report=lambda _: None)
    scheduler.once = True
    scheduler.clock = lambda: datetime.now(UTC) - timedelta(minutes=15)  # (a look long enough ago to tell)
    scheduler.beat()
    assert main(["status", "--store", str(store)]) == 1
    assert "run by a timer (`--once`), last looked at " in capsys.readouterr().out  # (since it was due)
    scheduler.clock = lambda: datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    scheduler.beat(stopped=True)  # (its last look before the run was due)
    assert main(["status", "--store", str(store)]) == 1
    assert "as a timer runs it (`--once`): is the timer still running it" in capsys.readouterr().out
    # The scheduler tried (its output file for the run): not missed.
    (coll.logs / "schedule-20260301T090001Z.out").write_text("")
    assert status(9, 20) is None


def test_a_missed_run_is_judged_by_the_schedule_the_scheduler_runs_and_a_file_edited_by_hand_says_nothing(
        tmp_path, capsys):
    """The newest job's schedule is not the one its scheduler runs once the collections
    file is changed: a daily schedule made weekly was a run missed every day."""
    from jobs import Clock, fetch

    from archive.job import CaptureJob
    from archive.schedule import Scheduler, schedulers_of
    from archive.status import collection_status
    from archive.store import CollectionDir

    store = tmp_path / "store"
    cfg = config(tmp_path, "http://127.0.0.1:9", schedule="0 9 1 3 *")
    clock = Clock(datetime(2026, 2, 1, 8, 0, tzinfo=UTC))
    job = CaptureJob(store, load_collections(cfg)[0], clock=clock)  # (its last job: a month before)
    job.record_fetch(fetch("http://127.0.0.1:9/a", b"<p>a</p>", clock()))
    job.close()
    coll = CollectionDir(store / "sched")
    later = config(tmp_path, "http://127.0.0.1:9", schedule="0 9 1 4 *")  # (the file as it is now: April)
    Scheduler(later, load_collections(later), store, clock=lambda: datetime(2026, 3, 1, 9, 19, tzinfo=UTC),
              report=lambda _: None).beat()
    row = collection_status(coll, datetime(2026, 3, 1, 9, 20, tzinfo=UTC), schedulers_of(store).get("sched"))
    assert row["missed"] is None and row["next_run"] == "2026-04-01T09:00:00+00:00"
    # A schedule of every two minutes has always fired a moment ago: the run missed is the
    # first one after the last job, however long ago.
    often = config(tmp_path, "http://127.0.0.1:9", schedule="*/2 * * * *")
    Scheduler(often, load_collections(often), store, clock=lambda: datetime(2026, 2, 1, 8, 3, tzinfo=UTC),
              report=lambda _: None).beat()
    row = collection_status(coll, datetime(2026, 3, 1, 9, 21, tzinfo=UTC), schedulers_of(store).get("sched"))
    assert row["missed"]["due"] == "2026-02-01T08:02:00+00:00"
    assert row["next_run"] == "2026-03-01T09:22:00+00:00"
    (job_file,) = coll.logs.glob("*.job.json")  # (moved aside: its manifest says when it began too)
    job_file.rename(tmp_path / job_file.name)
    row = collection_status(coll, datetime(2026, 3, 1, 9, 21, tzinfo=UTC), schedulers_of(store).get("sched"))
    assert row["missed"]["due"] == "2026-02-01T08:02:00+00:00"
    Scheduler(later, load_collections(later), store, clock=lambda: datetime(2026, 3, 1, 9, 19, tzinfo=UTC),
              report=lambda _: None).beat()
    # A file edited by hand into what no scheduler writes is passed over, never a traceback.
    (heart,) = (store / ".schedulers").glob("*.json")
    doc = json.loads(heart.read_text())
    for edit in ({"seen": "2026-03-01T09:19:00"}, {"seen": 5}, {"collections": ["sched"]}, {"stopped": "2026-03-01"},
                 {"collections": {"sched": {"schedule": 5}}}):
        heart.write_text(json.dumps(dict(doc, **edit)))
        assert schedulers_of(store) == {}, edit
        assert main(["status", "--store", str(store)]) == 0, edit
    capsys.readouterr()
    # A collections file that schedules nothing any more takes back what its scheduler said.
    heart.write_text(json.dumps(doc))
    later.write_text('[[collection]]\nname = "sched"\nurls = ["http://127.0.0.1:9/"]\n')
    assert main(["schedule", str(later), "--store", str(store), "--once"]) == 2
    assert not heart.exists()


def test_a_collection_whose_scheduler_died_before_its_first_job_is_listed_and_missed(tmp_path, capsys):
    """A collection that no job ever ran had no folder (status did not list it) and no last
    start, so on a schedule of every few minutes its run had always just fired: a scheduler
    killed before the first job was never said to have missed one."""
    from archive.schedule import Scheduler, schedulers_of
    from archive.status import collection_status, store_status
    from archive.store import CollectionDir

    store = tmp_path / "store"
    store.mkdir()
    cfg = config(tmp_path, "http://127.0.0.1:9", schedule="*/5 * * * *")

    def beat(hour: int, minute: int, scheduler: Scheduler | None = None) -> Scheduler:
        scheduler = scheduler or Scheduler(cfg, load_collections(cfg), store, report=lambda _: None)
        scheduler.clock = lambda: datetime(2026, 3, 1, hour, minute, 30, tzinfo=UTC)
        scheduler.beat()
        return scheduler

    def missed(hour: int, minute: int) -> dict | None:
        (row,) = store_status(store, datetime(2026, 3, 1, hour, minute, tzinfo=UTC))
        assert row["collection"] == "sched" and row["jobs"] == 0 and row["scheduled_by"] is not None
        return row["missed"]

    scheduler = beat(8, 1)  # (a new collection is due at once: the run of 8:00 is its to start)
    assert missed(8, 11) is None  # (ten minutes from when it took the collection on)
    beat(8, 15, scheduler)  # (the same scheduler, a beat later: it began at 8:01 all the same)
    assert missed(8, 12)["due"] == "2026-03-01T08:00:00+00:00"
    assert missed(9, 58)["due"] == "2026-03-01T08:00:00+00:00"  # (the first run missed, hours on)
    assert main(["status", "--store", str(store)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("sched: 0 jobs\n") and "  MISSED     the run due at " in out
    # A scheduler started again later is the one whose runs count.
    beat(9, 57)
    assert missed(10, 7) is None and missed(10, 8)["due"] == "2026-03-01T09:55:00+00:00"
    # (a collection's folder given as the store lists itself only)
    coll = CollectionDir(store / "sched")
    coll.logs.mkdir(parents=True)
    assert collection_status(coll, datetime(2026, 3, 1, 10, 11, tzinfo=UTC),
                             schedulers_of(store)["sched"])["missed"] is not None


def test_a_second_scheduler_of_one_collections_file_on_one_store_is_warned_of(tmp_path):
    """Two schedulers of one file (a service and a cron line, say) shared the file in which
    each says it runs, unsaid: one wrote it under the other's temporary name, and one of
    them failed to, with ENOENT."""
    store = tmp_path / "store"
    cfg = config(tmp_path, "http://127.0.0.1:9", schedule="*/5 * * * *")
    other = subprocess.Popen(["sleep", "60"])
    try:
        said: list[str] = []
        first = Scheduler(cfg, load_collections(cfg), store, report=said.append)
        first.beat()
        heart = next((store / ".schedulers").glob("*.json"))
        doc = json.loads(heart.read_text())
        assert said == []  # (its own file: no other)
        heart.write_text(json.dumps(dict(doc, pid=other.pid)))  # (as another process of this host left it)
        Scheduler(cfg, load_collections(cfg), store, report=said.append).beat()
        assert len(said) == 1 and said[0].startswith(f"warning: another scheduler of {os.path.abspath(cfg)} seems "
                                                     f"to run on this store (pid {other.pid} on "), said
        assert not list((store / ".schedulers").glob(".*.tmp"))
        for gone in ({"pid": other.pid, "stopped": doc["seen"]}, {"pid": other.pid, "once": True},
                     {"pid": other.pid, "seen": "2026-01-01T00:00:00+00:00"}, {"pid": 2 ** 22 + 7}):
            said.clear()
            heart.write_text(json.dumps(dict(doc, **gone)))  # (stopped, a timer's look, long gone, no such process)
            Scheduler(cfg, load_collections(cfg), store, report=said.append).beat()
            assert said == [], gone
    finally:
        other.kill()
        other.wait()


def test_the_repeat_of_a_local_time_the_clocks_going_back_make_is_no_run_missed(tmp_path):
    # Berlin's 02:32 came twice on 25 October 2026 (00:32 and 01:32 UTC); the scheduler ran it
    # at the first and, as cron does, not at the repeat: the day after, that repeat was taken
    # for the first run missed, a day past.
    from jobs import Clock, fetch

    from archive.job import CaptureJob
    from archive.schedule import Scheduler, schedulers_of
    from archive.status import collection_status
    from archive.store import CollectionDir

    store = tmp_path / "store"
    cfg = config(tmp_path, "http://127.0.0.1:9", schedule="32 2 * * *", extra='timezone = "Europe/Berlin"\n')
    clock = Clock(datetime(2026, 10, 25, 0, 32, tzinfo=UTC))
    job = CaptureJob(store, load_collections(cfg)[0], clock=clock)
    job.record_fetch(fetch("http://127.0.0.1:9/a", b"<p>a</p>", clock()))
    job.close()
    Scheduler(cfg, load_collections(cfg), store, clock=lambda: datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
              report=lambda _: None).beat()
    coll = CollectionDir(store / "sched")
    for now, missed in ((datetime(2026, 10, 26, 1, 33, tzinfo=UTC), None),
                        (datetime(2026, 10, 26, 1, 50, tzinfo=UTC), "2026-10-26T01:32:00+00:00")):
        row = collection_status(coll, now, schedulers_of(store).get("sched"))
        assert (row["missed"] or {}).get("due") == missed, now
    # A job file edited to have started in year 1, west of UTC: no date before it, no traceback.
    (job_file,) = coll.logs.glob("*.job.json")
    job_file.write_text(json.dumps(dict(json.loads(job_file.read_text()), started="0001-01-01T00:00:00+00:00")))
    cfg.write_text(cfg.read_text().replace("Europe/Berlin", "America/New_York"))
    Scheduler(cfg, load_collections(cfg), store, report=lambda _: None).beat()
    assert collection_status(coll, datetime(2026, 10, 26, 1, 50, tzinfo=UTC), schedulers_of(store).get("sched"))


def test_the_next_run_shown_is_not_the_repeat_of_a_local_time_the_clocks_going_back_make(tmp_path):
    # Berlin's 02:32 of 25 October 2026 came at 00:32 UTC and again at 01:32; the job ran at
    # the first, and status then showed the repeat as the next run, a run no scheduler makes
    # (and the scheduler woke for it).
    from jobs import Clock, fetch

    from archive.job import CaptureJob
    from archive.schedule import Scheduler, schedulers_of
    from archive.status import collection_status
    from archive.store import CollectionDir

    store = tmp_path / "store"
    cfg = config(tmp_path, "http://127.0.0.1:9", schedule="32 2 * * *", extra='timezone = "Europe/Berlin"\n')
    job = CaptureJob(store, load_collections(cfg)[0], clock=Clock(datetime(2026, 10, 25, 0, 32, tzinfo=UTC)))
    job.record_fetch(fetch("http://127.0.0.1:9/a", b"<p>a</p>", datetime(2026, 10, 25, 0, 32, 1, tzinfo=UTC)))
    job.close()
    between = datetime(2026, 10, 25, 0, 50, tzinfo=UTC)
    scheduler = Scheduler(cfg, load_collections(cfg), store, clock=lambda: between, report=lambda _: None)
    scheduler.beat()
    day_after = datetime(2026, 10, 26, 1, 32, tzinfo=UTC)
    assert scheduler.next_wakeup() == day_after
    coll = CollectionDir(store / "sched")
    for scheduled_by in (None, schedulers_of(store).get("sched")):  # (the last job's schedule, the scheduler's)
        row = collection_status(coll, between, scheduled_by)
        assert (row["next_run"], row["missed"]) == (day_after.isoformat(), None)


@pytest.mark.parametrize("schedule", ["61 * * * *", "* * * * * R", "H * * * *", "0 H/2 * * *"])
def test_bad_schedule_is_a_config_error(tmp_path, schedule):
    # (R and H are drawn by croniter anew each time it is asked: several runs a period)
    cfg = config(tmp_path, "http://127.0.0.1:9", schedule=schedule)
    proc = run("schedule", str(cfg), "--store", str(tmp_path / "s"), "--once")
    assert proc.returncode == 2 and "not a valid cron expression" in proc.stderr
    assert os.path.exists(tmp_path / "s") is False


@pytest.mark.parametrize("schedule", ["0 0 30 2 *", "0 0 31 4 *", "0 0 1 1 * 0 2020"])
def test_a_schedule_that_never_fires_is_a_config_error_not_a_traceback(tmp_path, schedule):
    cfg = config(tmp_path, "http://127.0.0.1:9", schedule=schedule)
    for once in (["--once"], []):
        proc = run("schedule", str(cfg), "--store", str(tmp_path / "s"), *once)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().endswith(f"schedule: {schedule!r} never fires: no date to come matches it")


def test_a_schedule_that_has_not_fired_yet_is_not_due(tmp_path):
    year = datetime.now(UTC).year + 2
    cfg, store = config(tmp_path, "http://127.0.0.1:9", schedule=f"0 0 1 1 * 0 {year}"), tmp_path / "store"
    proc = run("schedule", str(cfg), "--store", str(store), "--once")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "done\n", "")
    assert is_due(load_collections(cfg)[0], store, datetime(year, 1, 1, 0, 0, 1, tzinfo=UTC))


def test_a_collection_whose_last_date_has_passed_is_left_out_and_the_others_run(wire_site, tmp_path):
    # A year's schedule beside others: it had crashed the scheduler when its last fire came,
    # and had the file refused at every start after.
    path = tmp_path / "collections.toml"
    path.write_text(f'[[collection]]\nname = "once"\nurls = ["{wire_site.base}/"]\nschedule = "0 0 1 1 * 0 2020"\n'
                    f'[[collection]]\nname = "yearly"\nurls = ["{wire_site.base}/final"]\nschedule = "{YEARLY}"\n')
    proc = run("schedule", str(path), "--store", str(tmp_path / "store"), "--once")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{path}: collection 'once': schedule: '0 0 1 1 * 0 2020' never fires: no date to come matches it; not " \
           "scheduled" in proc.stdout
    assert "yearly: job finished" in proc.stdout and "once: started" not in proc.stdout
    # One whose last date passes while the scheduler runs is let go with a line, not a traceback.
    year = datetime.now(UTC).year + 1
    path.write_text(f'[[collection]]\nname = "once"\nurls = ["{wire_site.base}/"]\nschedule = "0 0 1 1 * 0 {year}"\n'
                    f'[[collection]]\nname = "yearly"\nurls = ["{wire_site.base}/final"]\nschedule = "{YEARLY}"\n')
    said: list[str] = []
    now = datetime(year, 6, 1, tzinfo=UTC)
    scheduler = Scheduler(path, load_collections(path), tmp_path / "store", clock=lambda: now, report=said.append)
    assert scheduler.next_wakeup() == datetime(year + 1, 1, 1, tzinfo=UTC)
    assert said == [f"once: schedule '0 0 1 1 * 0 {year}' has no date to come; no longer scheduled"]
    assert [c.name for c in scheduler.collections] == ["yearly"]


def test_a_local_time_the_autumn_change_of_clocks_repeats_fires_once_unless_its_hour_is_a_wildcard():
    from zoneinfo import ZoneInfo

    from archive.schedule import previous_fire

    berlin = ZoneInfo("Europe/Berlin")  # (02:00-03:00 comes twice on 25 October 2026: 00:00 and 01:00 UTC)
    after_both = datetime(2026, 10, 25, 1, 45, tzinfo=UTC)
    assert previous_fire("30 2 * * *", berlin, after_both) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert previous_fire("0 * * * *", berlin, after_both) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert previous_fire("0 0 1 1 * 0 2020", berlin, after_both) == datetime(2019, 12, 31, 23, 0, tzinfo=UTC)


def test_is_due_reads_the_logs_again_only_once_they_have_changed(tmp_path, monkeypatch):
    from archive import schedule

    cfg, store = config(tmp_path, "http://127.0.0.1:9"), tmp_path / "store"
    [collection] = load_collections(cfg)
    logs = store / "sched" / "logs"
    logs.mkdir(parents=True)
    reads = []
    real = schedule.last_start
    monkeypatch.setattr(schedule, "last_start", lambda *a: reads.append(1) or real(*a))
    memo: dict = {}
    now = datetime.now(UTC)
    assert is_due(collection, store, now, memo) and is_due(collection, store, now, memo)
    assert len(reads) == 1  # (nothing changed in logs/: not listed again)
    (logs / "sched-20990101T000000Z-abcd.job.json").write_text(json.dumps({"started": now.isoformat()}))
    assert not is_due(collection, store, now, memo) and len(reads) == 2


def test_a_fire_time_its_own_running_job_lets_pass_is_said_once(tmp_path):
    routes = {"/": slow(3.0, response("200 OK", [("Content-Type", "text/html")], b"<p>slow</p>"))}
    with serve_wire(routes) as server:
        cfg, store = config(tmp_path, server.base, schedule="* * * * *"), tmp_path / "store"
        now = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
        said: list[str] = []
        scheduler = Scheduler(cfg, load_collections(cfg), store, clock=lambda: now, report=said.append)
        assert scheduler.start_due() == ["sched"]
        now = datetime(2026, 3, 1, 12, 1, 30, tzinfo=UTC)
        assert scheduler.start_due() == [] and scheduler.start_due() == []
        scheduler.reap(block=True)
        assert scheduler.start_due() == ["sched"]  # (as said: once the other has ended)
        scheduler.reap(block=True)
    assert said[1:3] == [("sched: due, but its job started for an earlier time is still running; the next starts once "
                          "it ends"), "sched: job finished"]


def test_a_job_the_disk_has_no_room_for_is_said_by_the_scheduler_itself(tmp_path):
    # (the job would say it in its output file, on the very disk that has no room)
    cfg = config(tmp_path, "http://127.0.0.1:9", extra=f"caps = {{ min_free_bytes = {1 << 52} }}\n")
    said: list[str] = []
    scheduler = Scheduler(cfg, load_collections(cfg), tmp_path / "store", report=said.append)
    assert scheduler.start_due() == [] and scheduler.failures == 1
    [line] = said
    assert line.startswith("sched: job not started: only ") and "below caps.min_free_bytes" in line
    assert line.endswith("; it runs again at its next scheduled time")
    assert scheduler.start_due() == [] and len(said) == 1  # (once a fire time)


def test_a_scheduler_whose_output_reader_goes_away_goes_on(wire_site, tmp_path):
    # (`archive schedule ... | head -1`: a BrokenPipeError had killed it, its job left on)
    cfg, store = config(tmp_path, wire_site.base), tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "archive", "schedule", str(cfg), "--store", str(store), "--once"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"sched: started job")
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert b"Traceback" not in proc.stderr.read()
    assert len(list((store / "sched" / "manifests").glob("*.json"))) == 1


def test_a_job_whose_scheduler_is_killed_stops_and_keeps_its_collection_locked_until_it_has(tmp_path):
    with serve_wire(_slow_pages(300)) as server:
        cfg, store = config(tmp_path, server.base), tmp_path / "store"
        proc = subprocess.Popen([sys.executable, "-m", "archive", "schedule", str(cfg), "--store", str(store)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        job = int(proc.stdout.readline().split("(pid ", 1)[1].split(")", 1)[0])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((store / "sched" / "logs").glob("*.captures.jsonl.open")):
            time.sleep(0.1)
        proc.kill()
        proc.wait()
        # The job holds the collection's lock as well: no second job while it closes.
        assert CollectionLock.take(store, "sched") is None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(job, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the job of a killed scheduler crawled on")
    manifest = json.loads(next((store / "sched" / "manifests").glob("*.json")).read_text())
    assert manifest["outcome"] == "interrupted" and not list(store.rglob("*.open"))
    assert CollectionLock.take(store, "sched") is not None


def test_a_job_that_cannot_start_is_tried_once_a_fire_time_not_every_few_seconds(wire_site, tmp_path, capsys):
    from test_disk_full import file_size_limit

    cfg, store = config(tmp_path, wire_site.base), tmp_path / "store"
    [collection] = load_collections(cfg)
    now = datetime.now(UTC)
    said: list[str] = []
    scheduler = Scheduler(cfg, [collection], store, clock=lambda: now, report=said.append)
    # A full disk for the job: its job file (about 1.3 KB) cannot be written, so the store
    # holds no trace of the attempt and the collection stays due.
    with file_size_limit(500):
        assert scheduler.start_due() == ["sched"]
        scheduler.reap(block=True)
    assert scheduler.failures == 1 and "sched: job FAILED" in said[-1]
    assert not list((store / "sched" / "logs").glob("*.job.json"))
    assert scheduler.start_due() == [] and len(said) == 2
    # Nor by a scheduler started afresh (as cron runs `--once`): the attempt is in the store.
    assert not is_due(collection, store, now)
    assert Scheduler(cfg, [collection], store, clock=lambda: now, report=said.append).start_due() == []
    # archive status says so, and where to read why.
    assert main(["status", "--store", str(store)]) == 1
    [failed] = [line for line in capsys.readouterr().out.splitlines() if "FAILED" in line]
    output = failed.rsplit("see ", 1)[1]
    assert "did not start a job" in failed and "File too large" in Path(output).read_text()
    # Its next fire time: tried again, and with room it runs.
    next_year = datetime(now.year + 1, 1, 1, 0, 0, 1, tzinfo=UTC)
    scheduler.clock = lambda: next_year
    assert scheduler.start_due() == ["sched"]
    scheduler.reap(block=True)
    assert "sched: job finished" in said[-1]


def test_a_collection_the_scheduler_cannot_prepare_is_reported_and_the_scheduler_goes_on(wire_site, tmp_path):
    cfg, store = config(tmp_path, wire_site.base), tmp_path / "store"
    [collection] = load_collections(cfg)
    (store / "sched").mkdir(parents=True)
    (store / "sched" / "logs").write_text("a file where the logs directory goes")
    said: list[str] = []
    scheduler = Scheduler(cfg, [collection], store, report=said.append)
    assert scheduler.start_due() == [] and scheduler.failures == 1
    assert len(said) == 1 and said[0].startswith(f"sched: could not start a job: {store / 'sched' / 'logs'} is a file, "
                                                 "not a folder;")
    assert "runs again at its next scheduled time" in said[0]
    assert scheduler.start_due() == [] and len(said) == 1  # not again for this fire time
    assert CollectionLock.take(store, "sched") is not None  # its lock was let go


def test_the_collections_file_is_read_again_when_it_changes(wire_site, tmp_path):
    cfg, store = config(tmp_path, wire_site.base), tmp_path / "store"
    good = cfg.read_bytes()
    said: list[str] = []
    scheduler = Scheduler(cfg, load_collections(cfg), store, report=said.append)
    # Broken while the scheduler runs: said once, and no job started (each would fail reading it).
    cfg.write_bytes(good.replace(b"schedule =", b"schedule = = "))
    assert scheduler.start_due() == [] and scheduler.start_due() == []
    assert len(said) == 1 and said[0].startswith(f"{cfg}: invalid TOML") and said[0].endswith("until the file is fixed")
    cfg.unlink()
    assert scheduler.start_due() == []
    assert said[-1] == f"{cfg}: cannot read (No such file or directory); no job is started until the file is fixed"
    # Fixed: the collection, due all along, runs.
    cfg.write_bytes(good)
    assert scheduler.start_due() == ["sched"]
    scheduler.reap(block=True)
    assert said[-3:-1] == [f"{cfg} read again: sched scheduled collection(s)", said[-2]] and "job finished" in said[-1]
    # One put in its place runs (due at once, as a new collection is), the other no longer.
    cfg.write_bytes(good.replace(b'"sched"', b'"other"'))
    assert scheduler.start_due() == ["other"] and said[-2] == f"{cfg} read again: other scheduled collection(s)"
    scheduler.reap(block=True)
    assert [c.name for c in scheduler.collections] == ["other"] and scheduler.failures == 0
    # None left with a schedule: the loop waits for one to come.
    cfg.write_bytes(good.replace(b'schedule = "0 0 1 1 *"', b""))
    assert scheduler.start_due() == [] and said[-1] == f"{cfg} read again: no scheduled collection(s)"
    assert scheduler.next_wakeup() is None


def test_last_start_is_the_newest_readable_job_file(tmp_path):
    from archive.schedule import last_start
    from archive.store import collection_dir

    coll = collection_dir(tmp_path, "k")
    coll.logs.mkdir(parents=True)
    for job_id, started in [("k-20260101T000000Z-aaaa", "2026-01-01T00:00:00.5+00:00"),
                            ("k-20260201T000000Z-bbbb", "2026-02-01T00:00:00.25+00:00")]:
        (coll.logs / f"{job_id}.job.json").write_text(json.dumps({"started": started}))
    assert last_start(coll) == datetime(2026, 2, 1, 0, 0, 0, 250000, tzinfo=UTC)
    (coll.logs / "k-20260301T000000Z-cccc.job.json").write_text("{not json")  # a job killed as it began
    assert last_start(coll) == datetime(2026, 2, 1, 0, 0, 0, 250000, tzinfo=UTC)


def test_a_job_stamped_ahead_by_a_clock_does_not_keep_the_collection_from_being_due(tmp_path):
    # A clock that ran ahead for one job (then was set right) must not stop the schedule
    # until the date that job wrote.
    from archive.store import collection_dir

    cfg, store = config(tmp_path, "http://127.0.0.1:9", schedule="0 * * * *"), tmp_path / "store"
    [collection] = load_collections(cfg)
    coll = collection_dir(store, "sched")
    coll.logs.mkdir(parents=True)
    now = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)

    def job(job_id: str, started: str) -> None:
        (coll.logs / f"{job_id}.job.json").write_text(json.dumps({"started": started}))

    job("sched-20261127T110000Z-aaaa", "2026-11-27T11:00:00+00:00")
    assert is_due(collection, store, now)  # fired at 12:00; the last job began at 11:00
    job("sched-20990101T000000Z-bbbb", "2099-01-01T00:00:00+00:00")
    (coll.logs / "schedule-20990101T000000Z.out").write_text("")
    assert is_due(collection, store, now)
    job("sched-20261127T120000Z-cccc", "2026-11-27T12:00:01+00:00")
    assert not is_due(collection, store, now)


def test_a_job_whose_id_holds_a_time_ahead_is_taken_by_when_it_started_and_the_runs_after_it_did_not_fail(
        tmp_path, capsys):
    # A job id given by hand (ARCHIVE_JOB_ID) dated ahead of the clock sorted after every job
    # since: status took it for the newest job and each scheduled run after it for a run that
    # never started its job (FAILED, exit 1), for ever.
    from jobs import Clock, fetch, run_job

    from archive.config import one_off
    from archive.job import CaptureJob
    from archive.schedule import newest_job, output_path
    from archive.store import collection_dir

    now = datetime.now(UTC).replace(microsecond=0)
    job = CaptureJob(tmp_path, one_off("news", urls=["http://127.0.0.1:9/"]), job_id="news-20990101T000000Z-abcd",
                     clock=Clock(now - timedelta(hours=2)))
    job.record_fetch(fetch("http://127.0.0.1:9/a", b"<p>a</p>", now - timedelta(hours=2)))
    job.close()
    coll = collection_dir(tmp_path, "news")
    output_path(coll, now - timedelta(hours=1)).write_text("")  # (the scheduler's run, an hour later)
    ran = run_job(tmp_path, 1, Clock(now - timedelta(hours=1)))
    assert newest_job(coll, now)[1]["job_id"] == ran.job_id
    assert main(["status", "--store", str(tmp_path)]) == 0
    assert "FAILED" not in capsys.readouterr().out
    # The newest job is the one that began last, whatever its id says.
    output_path(coll, now - timedelta(minutes=30)).write_text("")
    (coll.logs / "news-20990101T000000Z-abcd.job.json").write_text(json.dumps(
        {"job_id": "news-20990101T000000Z-abcd", "started": (now - timedelta(minutes=20)).isoformat()}))
    assert newest_job(coll, now)[1]["job_id"] == "news-20990101T000000Z-abcd"


def test_a_scheduled_run_still_starting_is_no_failed_start(tmp_path, capsys):
    # The scheduler writes the run's output file, then starts the job, whose job file comes a
    # second or so later: status, run in between, said FAILED and exited 1.
    from jobs import Clock, run_job

    from archive.schedule import CollectionLock, output_path
    from archive.store import collection_dir

    run_job(tmp_path, 1, Clock())
    coll = collection_dir(tmp_path, "news")
    output = output_path(coll, datetime.now(UTC))
    output.write_text("")
    lock = CollectionLock.take(tmp_path, "news")
    try:
        assert main(["status", "--store", str(tmp_path)]) == 0
        assert "FAILED" not in capsys.readouterr().out
    finally:
        lock.close()
    assert main(["status", "--store", str(tmp_path)]) == 1  # (once no run holds the collection: it failed)
    assert f"see {output}" in capsys.readouterr().out


def test_verifies_ending_at_once_each_record_their_result(tmp_path):
    # (one name for both new files: one verify renamed the other's away, which then said it
    # could not record its result)
    import threading

    from jobs import Clock, run_job

    from archive.status import record_verify
    from archive.store import collection_dir

    run_job(tmp_path, 1, Clock())
    coll = collection_dir(tmp_path, "news")
    said: list[list[str]] = []
    start = threading.Barrier(8)

    def record() -> None:
        start.wait()
        for _ in range(50):
            said.append(record_verify([coll], [], datetime.now(UTC)))

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(said) == 400 and not any(said)
    assert json.loads((coll.root / "verify-state.json").read_text())["ok"] is True
    assert not list(coll.root.glob("*.tmp"))


def test_a_crawl_of_a_collection_whose_schedule_never_fires_again_says_so_and_crawls(wire_site, tmp_path):
    # (crawled now, as asked; but `archive schedule` would refuse the file, which is better heard before)
    cfg = config(tmp_path, wire_site.base, schedule="0 0 30 2 *")
    proc = run("crawl", str(cfg), "--store", str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "archive crawl: warning: collection 'sched': schedule: '0 0 30 2 *' never fires: no date to come matches " \
           "it; `archive schedule` will not run it" in proc.stderr
    assert "finished" in proc.stdout
    proc = run("crawl", str(config(tmp_path, wire_site.base, schedule="0 * * * *")), "--store",
               str(tmp_path / "store"))
    assert proc.returncode == 0 and "warning" not in proc.stderr
