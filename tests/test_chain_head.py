"""The head of a collection's manifest chain: a new manifest links to the newest one as it
was written, and finds one the last write did not know of."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from jobs import Clock, fetch, run_job

from archive.cli import main
from archive.config import one_off
from archive.job import CaptureJob
from archive.manifest import HEAD
from archive.verify import verify


def _chain(coll: Path) -> list[dict]:  # type: ignore[type-arg]
    docs = [json.loads(p.read_bytes()) for p in (coll / "manifests").glob("*.json")]
    return sorted(docs, key=lambda d: d["sequence"])


def test_a_manifest_changed_where_it_lies_is_not_vouched_for_by_the_next(tmp_path):
    clock = Clock()
    run_job(tmp_path, 1, clock)
    second = run_job(tmp_path, 1, clock).closed_manifest
    written = second.read_bytes()
    # Changed in place, at the same length: the directory does not change.
    at = written.index(b'"outcome": "') + len(b'"outcome": "')
    with open(second, "r+b") as fh:
        fh.seek(at)
        fh.write(b"F" if written[at:at + 1] != b"F" else b"G")
    run_job(tmp_path, 1, clock)
    third = _chain(tmp_path / "news")[2]
    assert third["previous"] == {"job_id": second.stem, "sha256": "sha256:" + hashlib.sha256(written).hexdigest()}
    problems = [str(p) for p in verify(tmp_path).problems]
    assert any(second.name in p and "sidecar" in p for p in problems), problems
    assert any("previous.sha256" in p for p in problems), problems


def test_a_manifest_the_last_write_did_not_know_of_is_found(tmp_path):
    clock = Clock()
    coll = tmp_path / "news"
    run_job(tmp_path, 1, clock)
    run_job(tmp_path, 1, clock)
    older = (coll / HEAD).read_bytes()
    newest = run_job(tmp_path, 1, clock).closed_manifest
    # A store put back from a copy made after the second job (its note of the head with
    # it), and the third job's manifest then restored from the bucket.
    (coll / HEAD).write_bytes(older)
    run_job(tmp_path, 1, clock)
    chain = _chain(coll)
    assert [d["sequence"] for d in chain] == [1, 2, 3, 4]
    assert chain[3]["previous"]["job_id"] == newest.stem
    assert verify(tmp_path).ok


def test_a_newest_manifest_gone_is_linked_to_so_the_gap_stays_until_it_is_put_back(tmp_path):
    """The next job took the lost manifest's sequence and linked to the one before: the gap
    closed over (and --repair then wrote the lost job a made-up manifest), or a fork once
    the lost one was put back."""
    clock = Clock()
    coll = tmp_path / "news"
    run_job(tmp_path, 1, clock)
    run_job(tmp_path, 1, clock)
    third = run_job(tmp_path, 1, clock).closed_manifest
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in (third, third.with_name(third.name + ".sha256")):
        shutil.move(path, aside / path.name)
    run_job(tmp_path, 1, clock)
    fourth = _chain(coll)[-1]
    assert fourth["sequence"] == 4 and fourth["previous"]["job_id"] == third.stem
    assert any("manifest 3 of the chain is missing" in str(p) for p in verify(tmp_path).problems)
    for path in aside.iterdir():
        shutil.move(path, coll / "manifests" / path.name)
    assert verify(tmp_path).ok


@pytest.mark.parametrize("content", [b"garbage\n", b"", b'{"sequence": 1}', b"[]", None], ids=[
    "not-json", "empty", "no-job", "no-object", "a-folder"])
def test_a_note_of_the_head_that_cannot_be_read_is_a_problem_naming_it(tmp_path, capsys, content):
    """It alone tells the newest manifest lost: damaged, it let that loss (and repair's
    made-up manifest for the job) go unsaid, and verify said OK."""
    run_job(tmp_path, 1, Clock())
    head = tmp_path / "news" / HEAD
    head.unlink()
    if content is None:
        head.mkdir()
    else:
        head.write_bytes(content)
    assert main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{head}: ") and "not a note of the newest manifest written here" in out
    assert [p.path for p in verify(tmp_path).problems] == [head]


def test_a_note_of_the_head_naming_a_manifest_not_in_the_chain_is_a_problem(tmp_path):
    clock = Clock()
    run_job(tmp_path, 1, clock)
    newest = run_job(tmp_path, 1, clock).closed_manifest
    head = tmp_path / "news" / HEAD
    note = json.loads(head.read_bytes())
    head.write_text(json.dumps(dict(note, job_id="news-20260301T000000Z-0000")))
    problems = [str(p) for p in verify(tmp_path).problems]
    assert problems == [(f"{head}: notes the manifest of job news-20260301T000000Z-0000 (sequence 2) as the newest "
                         "written here, and it is not there: restore it (`archive pull`); if it never was, the note "
                         "is damaged: remove it, and the next manifest written is noted")]
    # The newest manifest changed where it lies, its sidecar written again to match: only
    # the note still has the bytes as written.
    head.write_text(json.dumps(note))
    changed = newest.read_bytes().replace(b'"outcome": "finished"', b'"outcome": "interrupted"')
    newest.write_bytes(changed)
    newest.with_name(newest.name + ".sha256").write_text(f"{hashlib.sha256(changed).hexdigest()}  {newest.name}\n")
    problems = [str(p) for p in verify(tmp_path).problems]
    assert len(problems) == 1 and problems[0].startswith(f"{head}: notes {newest.name} as the newest manifest written "
                                                         f"here, sequence 2 hashing to {note['sha256']}, but it is "
                                                         "sequence 2 hashing to sha256:")


def test_no_note_of_the_head_and_a_job_running_are_no_problems(tmp_path):
    """No note: a store restored by `archive pull` (no dot file is pushed), or one deleted
    (it is derived); a running job's manifest still to come."""
    clock = Clock()
    run_job(tmp_path, 1, clock)
    run_job(tmp_path, 1, clock)
    (tmp_path / "news" / HEAD).unlink()
    assert verify(tmp_path).ok
    job = CaptureJob(tmp_path, one_off("news", urls=["http://127.0.0.1:9/"]), clock=clock)
    job.record_fetch(fetch("http://127.0.0.1:9/story/9", b"<p>story</p>", clock()))
    assert verify(tmp_path).ok
    job.close()
    assert (tmp_path / "news" / HEAD).is_file() and verify(tmp_path).ok
    job = CaptureJob(tmp_path, one_off("news", urls=["http://127.0.0.1:9/"]), clock=clock)
    assert verify(tmp_path).ok
    job.close()
    assert verify(tmp_path).ok


def test_with_the_newest_manifest_lost_extract_export_and_status_say_so(tmp_path, capsys):
    # The only manifest lost: the collection read as one of no jobs ("0 jobs", "0 articles
    # extracted", exit 0), or as no collection at all.
    store = tmp_path / "store"
    manifest = run_job(store, 2, Clock()).closed_manifest
    manifest.unlink()
    lost = f"{manifest}: the newest manifest written here (.chain-head names it) is missing"
    assert main(["extract", "--store", str(store), "--collection", "news"]) == 1
    assert "is missing: restore it" in capsys.readouterr().err
    assert not (store / "news" / "articles").exists()
    assert main(["export", "--store", str(store), "--collection", "news", "--out", str(tmp_path / "out")]) == 1
    assert "is missing: restore it" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main(["status", "--store", str(store)]) == 1
    assert f"DAMAGED    {lost}; restore it with `archive pull`" in capsys.readouterr().out


def test_a_job_that_ends_while_the_manifests_are_read_is_no_problem(tmp_path, monkeypatch):
    # The manifests are read, then a job ends (its manifest, then the note of it), then the
    # note is read: it names a manifest that is not among those read, yet is there.
    import archive.verify as verifying
    from archive.store import CollectionDir

    clock = Clock()
    run_job(tmp_path, 1, clock)
    read = verifying.check_manifests

    def and_then_a_job_ends(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = read(*args, **kwargs)
        run_job(tmp_path, 1, clock)
        return found

    monkeypatch.setattr(verifying, "check_manifests", and_then_a_job_ends)
    assert verifying.first_manifest_problem(CollectionDir(tmp_path / "news")) is None
    report = verify(tmp_path)
    assert not [p for p in report.problems if HEAD in str(p)], [str(p) for p in report.problems]


def test_a_verify_that_a_job_ending_meanwhile_misled_checks_the_collection_again(tmp_path, monkeypatch):
    # The manifests read, then a job ends (its files closed, its manifest written), then the
    # files are listed: its files are "not listed in any manifest", and verify said FAILED of
    # a collection being crawled on a schedule.
    import archive.verify as verifying

    clock = Clock()
    run_job(tmp_path, 1, clock)
    read = verifying.local_manifests
    ended = []

    def and_then_a_job_ends(coll):  # type: ignore[no-untyped-def]
        found = read(coll)
        if not ended:
            ended.append(run_job(tmp_path, 1, clock).job_id)
        return found

    monkeypatch.setattr(verifying, "local_manifests", and_then_a_job_ends)
    report = verify(tmp_path)
    assert ended and report.ok, [str(p) for p in report.problems]
    assert report.manifests == 2


def test_the_sidecar_of_a_running_jobs_manifest_being_written_is_no_problem(tmp_path):
    # A job writes its manifest's sidecar, then its manifest: between the two, verify said the
    # manifest was lost, and advised moving the sidecar aside.
    job = CaptureJob(tmp_path, one_off("news", urls=["http://127.0.0.1:9/"]), clock=Clock())
    job.record_fetch(fetch("http://127.0.0.1:9/a", b"<html>a</html>", job.clock()))
    sidecar = tmp_path / "news" / "manifests" / f"{job.job_id}.json.sha256"
    sidecar.write_text(f"{'0' * 64}  {job.job_id}.json\n")
    report = verify(tmp_path)
    assert not [p for p in report.problems if sidecar.name in str(p)], [str(p) for p in report.problems]
    assert f"{sidecar}: the manifest of running job {job.job_id} is being written" in report.notes
    sidecar.unlink()
    job.close()
    assert verify(tmp_path).ok


def test_a_job_that_closes_its_files_while_they_are_checked_is_no_problem(tmp_path, monkeypatch):
    # The open WARC and log listed, then the job ended (renamed them, wrote its manifest),
    # then they were checked: "not a file, though named like one a job left open".
    import archive.verify as verifying

    job = CaptureJob(tmp_path, one_off("news", urls=["http://127.0.0.1:9/"]), clock=Clock())
    job.record_fetch(fetch("http://127.0.0.1:9/a", b"<html>a</html>", job.clock()))
    checks = []
    run = verifying.FileChecks.run

    def the_job_ends_first(self):  # type: ignore[no-untyped-def]
        if not checks:
            checks.append(job.close())
        checks.append(None)
        return run(self)

    monkeypatch.setattr(verifying.FileChecks, "run", the_job_ends_first)
    report = verify(tmp_path)
    assert report.ok, [str(p) for p in report.problems]
    assert len(checks) == 2  # (checked once: nothing it found had to be checked again)
