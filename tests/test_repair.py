"""``archive verify --repair`` cuts only a damaged tail, as a crash leaves one: damage with
good records or lines after it is kept in place and said, so that nothing good is lost."""

from __future__ import annotations

import json
import os
import random
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobs import Clock, fetch, run_job

from archive.cli import main
from archive.config import one_off
from archive.job import CaptureJob
from archive.manifest import write_manifest
from archive.store import CollectionDir
from archive.verify import verify

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAGES = 6


def _killed_job(store: Path) -> tuple[Path, Path]:
    """A job that recorded PAGES fetches and died without closing anything (a child process
    that ends with ``os._exit``, so its locks go and its files stay open): its open WARC and
    open capture log."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            job = CaptureJob(store, one_off("c", urls=["http://127.0.0.1:9/"]), clock=Clock())
            for i in range(PAGES):
                job.record_fetch(fetch(f"http://127.0.0.1:9/p/{i}", b"<p>page %d</p>" % i * 40, WHEN))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    [warc] = (store / "c" / "warcs").glob("*.warc.gz.open")
    [log] = (store / "c" / "logs").glob("*.captures.jsonl.open")
    return warc, log


def _members(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each gzip member of a WARC."""
    data, pos, out = path.read_bytes(), 0, []
    while pos < len(data):
        inflater = zlib.decompressobj(31)
        inflater.decompress(data[pos:])
        end = len(data) - len(inflater.unused_data)
        out.append((pos, end - pos))
        pos = end
    return out


def _repair(store: Path, capsys) -> tuple[int, str]:
    code = main(["verify", "--repair", str(store)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out


def test_damage_in_the_middle_of_a_warc_is_kept_and_the_records_after_it_too(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    warc, _ = _killed_job(store)
    members = _members(warc)
    data = bytearray(warc.read_bytes())
    offset, length = members[4]  # a record of the second fetch
    data[offset + length // 2] ^= 0xFF
    torn = len(data) - members[-1][1] // 2  # and a torn last record, as the kill leaves
    warc.write_bytes(bytes(data[:torn]))
    code, out = _repair(store, capsys)
    closed = warc.with_name(warc.name.removesuffix(".open"))
    assert closed.is_file() and not warc.exists()
    assert f"damage kept, since good records follow it (verify reports it): {closed.name}: offset {offset}: " in out
    # Everything but the torn record is there: the good records after the damage were not cut away.
    assert closed.stat().st_size == members[-1][0]
    assert closed.read_bytes()[offset + length:] == bytes(data[offset + length:members[-1][0]])
    assert code == 1  # verify reports the damaged record, and no other
    problems = [str(p) for p in verify(store).problems if closed.name in str(p)]
    assert problems and all(f"offset {offset}" in p or f"@{offset}" in p or f": {offset}" in p for p in problems), problems


def test_only_a_torn_tail_is_cut_and_nothing_is_said_of_damage(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    warc, log = _killed_job(store)
    members = _members(warc)
    with open(warc, "r+b") as fh:
        fh.truncate(members[-3][0] + 10)  # within the last fetch's response record
    with open(log, "ab") as fh:
        fh.write(b"\0" * 50 + b"\n" + b'{"url": "http://127.0.0.1:9/p/0", "warc"')  # junk, then a torn line
    code, out = _repair(store, capsys)
    assert code == 0 and "damage kept" not in out
    [closed_log] = (store / "c" / "logs").glob("*.captures.jsonl")
    lines = closed_log.read_text("utf-8").splitlines()
    assert len(lines) == PAGES - 1  # the last fetch's record was torn: its line goes too
    assert verify(store).ok


def test_bad_lines_in_the_middle_of_a_log_are_kept_with_the_good_lines_after_them(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    _, log = _killed_job(store)
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) == PAGES
    bad_warc = json.loads(lines[3])
    bad_warc["warc"] = "somewhere"
    lines[1:1] = [b"[1, 2]\n"]  # JSON, but not a line of a capture log
    lines[3:3] = [b"not json at all\n"]
    lines[5:5] = [json.dumps(bad_warc).encode() + b"\n"]
    log.write_bytes(b"".join(lines))
    code, out = _repair(store, capsys)
    [closed_log] = (store / "c" / "logs").glob("*.captures.jsonl")
    assert closed_log.read_bytes() == b"".join(lines)  # nothing cut: every line is followed by good ones
    said = [line for line in out.splitlines() if line.startswith("damage kept")]
    assert [s.split(".captures.jsonl: ")[1] for s in said][:2] == ["line 2: not a JSON object", "line 4: not JSON"]
    assert said[2].split(".captures.jsonl: ")[1].startswith("line 6: does not match the capture-log schema (warc")
    assert code == 1  # and verify names the lines too
    assert not verify(store).ok


def test_an_open_warc_no_record_of_which_reads_whole_is_kept_unless_it_is_a_torn_first_write(tmp_path: Path,
                                                                                              capsys) -> None:
    store = tmp_path / "store"
    warc, _ = _killed_job(store)
    data = warc.read_bytes()
    first = _members(warc)[0]
    closed = warc.with_name(warc.name.removesuffix(".open"))
    # The same records uncompressed, and bytes that are no WARC at all: not a crash's doing.
    for kept in (zlib.decompressobj(31).decompress(data[: first[1]]) * 3, random.Random(5).randbytes(5000)):
        warc.write_bytes(kept)
        code, out = _repair(store, capsys)
        assert code == 1 and not warc.exists() and closed.read_bytes() == kept
        assert (f"{closed.name}: offset 0: no record reads whole, and these {len(kept)} bytes are not a write cut "
                "short: kept as they are") in out
        closed.rename(warc)
    # The first record cut short, as a crash during the first write leaves it: nothing to keep.
    warc.write_bytes(data[: first[1] // 2])
    code, out = _repair(store, capsys)
    assert not warc.exists() and not closed.exists()


def test_a_finished_job_whose_manifest_is_lost_but_its_sidecar_is_left_gets_no_made_up_manifest(tmp_path: Path,
                                                                                                  capsys) -> None:
    """With the collection's .chain-head gone or damaged, repair took the job for a killed
    one: it wrote it an `interrupted` manifest over the sidecar, and verify then said OK."""
    store = tmp_path / "store"
    manifest = run_job(store, 2, Clock()).closed_manifest
    sidecar = manifest.with_name(manifest.name + ".sha256")
    kept, noted = manifest.read_bytes(), sidecar.read_bytes()
    manifest.unlink()
    (store / "news" / ".chain-head").write_text("garbage\n")
    code = main(["verify", str(store)])
    out = capsys.readouterr().out
    assert code == 1 and f"{sidecar}: the sidecar of a manifest that is not there, {manifest.name}" in out
    assert "restore the manifest from a copy (`archive pull`)" in out
    # (repair named only for a write a kill cut short, once the sidecar is moved aside)
    assert out.count("--repair") == out.count("move the sidecar aside, and `archive verify --repair`") == 1
    code = main(["verify", "--repair", str(store)])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert f"job {manifest.stem} has no manifest, but the sidecar of one is there" in captured.err
    assert "Restore it from a copy (`archive pull`)" in captured.err and "nothing was repaired" in captured.err
    assert not manifest.exists() and sidecar.read_bytes() == noted
    manifest.write_bytes(kept)  # (as `archive pull` puts it back, and lets go the note)
    (store / "news" / ".chain-head").unlink()
    assert verify(store).ok


def test_no_manifest_is_written_over_the_sidecar_of_one_lost(tmp_path: Path) -> None:
    store = tmp_path / "store"
    manifest = run_job(store, 1, Clock()).closed_manifest
    sidecar = manifest.with_name(manifest.name + ".sha256")
    doc, noted = json.loads(manifest.read_bytes()), sidecar.read_bytes()
    manifest.unlink()
    coll = CollectionDir(store / "news")
    with coll.locked(), pytest.raises(FileExistsError, match="manifests are written once"):
        write_manifest(coll, dict(doc, outcome="interrupted"))
    assert not manifest.exists() and sidecar.read_bytes() == noted


def test_a_sidecar_left_by_a_manifest_write_cut_short_is_reported_and_moved_aside_before_a_repair(tmp_path: Path,
                                                                                                  capsys) -> None:
    # As a repair killed between the sidecar and the manifest leaves them: nothing in the
    # store tells it from a manifest lost since, so repair writes none until the sidecar goes.
    store = tmp_path / "store"
    _killed_job(store)
    assert _repair(store, capsys)[0] == 0
    [manifest] = (store / "c" / "manifests").glob("*.json")
    sidecar = manifest.with_name(manifest.name + ".sha256")
    manifest.unlink()
    (store / "c" / ".chain-head").unlink()  # (noted after the manifest is written, so not yet)
    code = main(["verify", str(store)])
    out = capsys.readouterr().out
    assert code == 1 and (f"{sidecar}: the sidecar of a manifest that is not there, {manifest.name} (removed, or its "
                          "write did not finish)") in out
    assert main(["verify", "--repair", str(store)]) == 1
    assert f"move {sidecar.name} aside" in capsys.readouterr().err and not manifest.exists()
    sidecar.rename(tmp_path / sidecar.name)
    assert _repair(store, capsys)[0] == 0 and manifest.is_file()
    assert verify(store).ok


def test_a_repaired_job_is_said_to_have_finished_at_its_last_fetch_not_at_the_repair(tmp_path: Path, capsys) -> None:
    """Its manifest said the repair's time: `archive status` then showed it as ending after
    jobs that ran after it."""
    store = tmp_path / "store"
    _, log = _killed_job(store)
    last = max(json.loads(line)["started"] for line in log.read_text().splitlines())
    assert _repair(store, capsys)[0] == 0
    [manifest] = (store / "c" / "manifests").glob("*.json")
    doc = json.loads(manifest.read_text())
    assert doc["finished"] == max(last, doc["started"]) and doc["finished"] < datetime.now(UTC).isoformat()
    assert doc["finish_reason"].startswith(f"repaired at {datetime.now(UTC).year}-")


def test_status_names_a_job_that_died_without_a_manifest_until_it_is_repaired(tmp_path: Path, capsys) -> None:
    """Status showed the job before it as the last, and `running: []`: nothing said that one
    had died."""
    store = tmp_path / "store"
    _, log = _killed_job(store)
    job = log.name.split(".")[0]
    assert main(["status", "--store", str(store)]) == 1
    assert (f"  DIED       {job}: it has no manifest; `archive verify --repair {store / 'c'}` closes its files\n"
            in capsys.readouterr().out)
    assert _repair(store, capsys)[0] == 0
    assert main(["status", "--store", str(store), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["died"] == [] and row["last_job"]["job_id"] == job


def test_status_shows_as_last_job_the_one_started_last_not_one_repaired_after_it(tmp_path: Path, capsys) -> None:
    """A job killed, the next one run by the schedule, the first repaired a week on: its
    manifest comes last in the chain, and status showed the killed job as the last one, its
    schedule as the next run's."""
    store = tmp_path / "store"
    _killed_job(store)
    later = CaptureJob(store, one_off("c", urls=["http://127.0.0.1:9/"]),
                       clock=Clock(start=WHEN.replace(hour=13)))
    later.record_fetch(fetch("http://127.0.0.1:9/p/0", b"<p>page 0</p>" * 40, WHEN.replace(hour=13)))
    later.close()
    assert _repair(store, capsys)[0] == 0
    assert main(["status", "--store", str(store), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["jobs"] == 2 and row["last_job"]["job_id"] == later.job_id and row["last_job"]["outcome"] == "finished"


def test_export_of_a_job_just_repaired_names_extract_not_a_crawl_still_extracting(tmp_path: Path, capsys) -> None:
    """A repair writes a manifest and extracts nothing: an export just after it said the
    job's crawl might still be extracting and to export again in a moment, which would
    never help."""
    store = tmp_path / "store"
    _killed_job(store)
    assert _repair(store, capsys)[0] == 0
    assert main(["export", "--store", str(store), "--collection", "c", "--out", str(tmp_path / "out")]) == 1
    said = capsys.readouterr().err
    assert "may still be extracting" not in said and "`archive extract --collection c" in said, said
    assert main(["extract", "--store", str(store), "--collection", "c"]) == 0


def test_a_crawl_warns_of_an_earlier_job_of_its_collection_that_died_without_a_manifest(tmp_path: Path,
                                                                                         capsys) -> None:
    """The next crawl ran and exited 0 without a word of the killed job's files waiting for a
    repair; only status and verify said so."""
    from wire import response, serve_wire

    store = tmp_path / "store"
    _, log = _killed_job(store)
    dead = log.name.split(".")[0]
    routes = {"/": response("200 OK", [("Content-Type", "text/html")], b"<p>front</p>")}
    with serve_wire(routes) as site:
        assert main(["crawl", "--url", site.base + "/", "--collection", "c", "--store", str(store)]) == 0
    assert (f"archive crawl: warning: 1 earlier job of c died without a manifest ({dead}); `archive verify --repair "
            f"{store / 'c'}` closes its files\n") in capsys.readouterr().err
    assert _repair(store, capsys)[0] == 0
    with serve_wire(routes) as site:
        assert main(["crawl", "--url", site.base + "/", "--collection", "c", "--store", str(store)]) == 0
    assert "died" not in capsys.readouterr().err


def test_a_log_pointing_into_a_warc_left_open_is_not_said_to_point_at_nothing(tmp_path: Path) -> None:
    """A WARC whose close failed (a full disk) stays under its .open name while the job's log
    closes: the log's lines point at a file that is there."""
    store = tmp_path / "store"
    warc, log = _killed_job(store)
    log.rename(log.with_name(log.name.removesuffix(".open")))  # (the log closed, the WARC not)
    problems = [str(p) for p in verify(store).problems]
    assert any(p.startswith(f"{warc}: incomplete file of a job that did not finish") for p in problems), problems
    assert not any("points into" in p for p in problems), problems


def test_an_open_warc_of_a_job_that_has_a_manifest_is_left_alone_and_said_to_be_no_part_of_it(tmp_path: Path,
                                                                                               capsys) -> None:
    # A copy of a closed job's WARC under an open name: repair closed it, and verify then
    # reported a WARC no manifest lists, which repair said it could not help.
    job = run_job(tmp_path, 2, Clock())
    coll = tmp_path / "news"
    [warc] = (coll / "warcs").glob("*.warc.gz")
    stray = warc.with_name(warc.name.replace(".warc.gz", "-copy.warc.gz.open"))
    stray.write_bytes(warc.read_bytes()[:-100])
    said = (f"an open WARC of job {job.job_id}, whose manifest does not list it (a copy, or a file left open from "
            "before the job ended)")
    assert main(["verify", "--repair", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"left alone: {stray}: {said}; move it out of the collection" in out
    assert f"{stray}: {said}; `archive verify --repair` leaves it: move it out of the collection" in out
    assert stray.exists() and sorted(p.name for p in (coll / "warcs").iterdir()) == sorted([warc.name, stray.name])
    stray.unlink()
    assert verify(tmp_path).ok
