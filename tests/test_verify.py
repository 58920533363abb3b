"""verify: clean stores pass; single flipped bytes anywhere are reported with their place."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

from jobs import store_fixtures

from archive.cli import main
from archive.digests import sha256_file
from archive.verify import verify
from archive.warc.reader import check_records

pristine, store = store_fixtures((6, 4))


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def positions(size: int, count: int = 40) -> list[int]:
    return sorted({0, size - 1, *(size * k // count for k in range(count))})


def test_clean_store_collection_manifest_and_warc_verify(store):
    coll = store / "news"
    assert verify(store).ok
    assert verify(coll).ok
    for manifest in (coll / "manifests").glob("*.json"):
        assert verify(manifest).ok
    for warc in (coll / "warcs").glob("*.warc.gz"):
        report = verify(warc)
        assert report.ok and report.records > 0
    report = verify(store)
    assert report.manifests == 2 and report.files == 6


def test_each_byte_flip_in_a_warc_is_reported(pristine, tmp_path):
    warc = min((pristine / "news" / "warcs").glob("*.warc.gz"))
    size = warc.stat().st_size
    members = [r.offset for r in check_records(warc)]
    for offset in positions(size):
        copy = tmp_path / f"flip-{offset}"
        shutil.copytree(pristine, copy)
        target = copy / "news" / "warcs" / warc.name
        flip(target, offset)
        report = verify(copy)
        assert any(p.path == target for p in report.problems), f"flip at {offset} not reported"
        # Alone, without a manifest to compare with, the records themselves give it away,
        # except in the gzip header's mtime/flags/OS bytes, which no reader checks.
        if not any(m + 4 <= offset < m + 10 for m in members):
            alone = verify(target)
            assert alone.problems and all(p.where for p in alone.problems), f"flip at {offset}: {alone.problems}"
        shutil.rmtree(copy)


def test_each_byte_flip_in_a_capture_log_is_reported(pristine, tmp_path):
    log = min((pristine / "news" / "logs").glob("*.captures.jsonl"))
    for offset in positions(log.stat().st_size):
        copy = tmp_path / f"flip-{offset}"
        shutil.copytree(pristine, copy)
        target = copy / "news" / "logs" / log.name
        flip(target, offset)
        problems = verify(copy).problems
        assert any(p.path == target and p.where == "sha256" for p in problems), f"flip at {offset} not reported"
        shutil.rmtree(copy)


def test_each_byte_flip_in_a_manifest_is_reported(pristine, tmp_path):
    first, second = sorted((pristine / "news" / "manifests").glob("*.json"))
    for offset in positions(first.stat().st_size):
        copy = tmp_path / f"flip-{offset}"
        shutil.copytree(pristine, copy)
        target = copy / "news" / "manifests" / first.name
        flip(target, offset)
        problems = verify(copy).problems
        assert any(p.path == target and "sidecar" in p.message for p in problems), f"flip at {offset}"
        # The next manifest's link to it breaks too: the chain is a hash chain.
        assert any(p.path.name == second.name and p.where in ("previous.sha256", "sequence") for p in problems)
        shutil.rmtree(copy)


def test_missing_manifest_breaks_the_chain_and_orphans_files(store):
    coll = store / "news"
    first = min((coll / "manifests").glob("*.json"))
    first.unlink()
    problems = [str(p) for p in verify(store).problems]
    assert any("manifest 1 of the chain is missing" in p for p in problems)
    assert any("not listed in any manifest" in p for p in problems)


def test_an_unlisted_file_gets_repair_suggested_only_where_repair_would_list_it(store, capsys):
    import json

    from archive.repair import repair

    coll = store / "news"
    _, last = sorted((coll / "manifests").glob("*.json"))
    job = json.loads(last.read_text("utf-8"))
    log = coll / next(f["path"] for f in job["files"] if f["kind"] == "capture-log")
    warc = coll / next(f["path"] for f in job["files"] if f["kind"] == "warc")
    # As a job killed before its manifest leaves it: the newest, its job file kept (repair
    # writes it an "interrupted" manifest), and the collection's note of its newest
    # manifest naming the job before it.
    last.unlink()
    (coll / "manifests" / (last.name + ".sha256")).unlink()
    (coll / ".chain-head").unlink()
    said = {Path(p.path).name: p.message for p in verify(coll).problems if p.where is None}
    assert said[log.name] == said[warc.name] == \
        "not listed in any manifest; run `archive verify --repair` if its job was killed"
    repair(coll)
    extra = warc.with_name("extra-" + warc.name)  # a copy of the job's WARC, made after its manifest
    shutil.copyfile(warc, extra)
    said = {Path(p.path).name: p.message for p in verify(coll).problems if p.where is None}
    assert set(said) == {extra.name} and said[extra.name].startswith(
        f"not listed in any manifest, though its job {job['job_id']} has one")
    (coll / "logs" / f"{job['job_id']}.job.json").rename(coll / "job-file-moved-away")
    repaired = sorted((coll / "manifests").glob("*.json"))
    for manifest in repaired:
        if json.loads(manifest.read_text("utf-8"))["job_id"] == job["job_id"]:
            manifest.unlink()
            (coll / "manifests" / (manifest.name + ".sha256")).unlink()
    said = {Path(p.path).name: p.message for p in verify(coll).problems if p.where is None}
    assert said[warc.name] == said[log.name] == (
        "not listed in any manifest; `archive verify --repair`, which lists a killed job's files, cannot name its "
        f"job's file (logs/{job['job_id']}.job.json)")


def test_repair_writes_no_manifest_for_a_job_whose_manifest_the_chain_misses(store, capsys):
    # A manifest lost (deleted, or not pulled) leaves its job as a killed one leaves it: a
    # job file, closed files, no manifest. Its job finished; an "interrupted" manifest
    # written for it would say otherwise, and keep the real one from coming back.
    import json

    coll = store / "news"
    first, _ = sorted((coll / "manifests").glob("*.json"))
    job = json.loads(first.read_text("utf-8"))["job_id"]
    first.unlink()
    before = {p: p.read_bytes() for p in coll.rglob("*") if p.is_file()}
    assert main(["verify", "--repair", str(coll)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"archive verify: {coll}: the manifest chain misses number 1, and job {job} has no manifest")
    assert err.rstrip().endswith(f"move logs/{job}.job.json aside to have the job's files left unlisted; nothing was "
                                 "repaired")
    assert {p: p.read_bytes() for p in coll.rglob("*") if p.is_file()} == before


def test_repair_writes_no_manifest_for_a_job_whose_newest_manifest_was_lost(store, capsys):
    import json

    coll = store / "news"
    _, last = sorted((coll / "manifests").glob("*.json"))
    job = json.loads(last.read_text("utf-8"))["job_id"]
    last.unlink()  # (the collection noted it as its newest: it was written, not never)
    before = {p: p.read_bytes() for p in coll.rglob("*") if p.is_file()}
    assert main(["verify", "--repair", str(coll)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"archive verify: {coll}: job {job} has no manifest, but one was written for it")
    assert {p: p.read_bytes() for p in coll.rglob("*") if p.is_file()} == before


def test_the_newest_manifest_lost_is_said_and_the_next_job_chains_to_it_not_over_it(store, capsys):
    """Verify named only the job's files as unlisted; the next job took the lost manifest's
    sequence, and --repair then wrote the finished job an "interrupted" manifest: a clean
    chain, with a made-up manifest in it."""
    import json

    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    coll = store / "news"
    _, last = sorted((coll / "manifests").glob("*.json"))
    lost = json.loads(last.read_text("utf-8"))
    last.unlink()
    last.with_name(last.name + ".sha256").unlink()
    said = [str(p) for p in verify(store).problems]
    assert (f"{coll / 'manifests'}: the manifest of job {lost['job_id']} (sequence 2), the newest written here "
            "(.chain-head names it), is missing: restore it") in said
    job = CaptureJob(store, one_off("news", urls=["http://127.0.0.1:9/"]), clock=Clock())
    job.record_fetch(fetch("http://127.0.0.1:9/next", b"<p>next</p>", Clock()()))
    job.close()
    new = json.loads((coll / "manifests" / f"{job.job_id}.json").read_text("utf-8"))
    assert new["sequence"] == 3 and new["previous"]["job_id"] == lost["job_id"]
    assert any("manifest 2 of the chain is missing" in p for p in map(str, verify(store).problems))
    assert main(["verify", "--repair", str(store)]) == 1  # (the gap is not filled with a manifest of its own)
    assert not (coll / "manifests" / f"{lost['job_id']}.json").exists()
    capsys.readouterr()


def test_a_file_in_place_of_the_manifests_directory_is_said_and_repair_changes_nothing(store, capsys):
    coll = store / "news"
    shutil.rmtree(coll / "manifests")
    (coll / "manifests").write_text("not a directory")
    problems = [str(p) for p in verify(coll).problems]
    assert problems[0] == f"{coll / 'manifests'}: not a directory: the collection's manifests cannot be read"
    before = {p: p.read_bytes() for p in coll.rglob("*") if p.is_file()}
    assert main(["verify", "--repair", str(coll)]) == 1
    assert capsys.readouterr().err == (f"archive verify: {coll / 'manifests'} is not a directory: move it aside, and "
                                       "repair again; nothing was repaired\n")
    assert {p: p.read_bytes() for p in coll.rglob("*") if p.is_file()} == before


def test_missing_file_is_named_by_its_manifest_entry(store):
    warc = max((store / "news" / "warcs").glob("*.warc.gz"))
    warc.unlink()
    problems = [str(p) for p in verify(store).problems]
    assert any(f"warcs/{warc.name} is missing" in p and "files[0]" in p for p in problems)
    warc.mkdir()  # (a directory where the file was: not "missing")
    problems = [str(p) for p in verify(store).problems]
    assert any(p.endswith(f"files[0]: warcs/{warc.name} is not a file") for p in problems), problems


def test_an_entry_named_like_a_file_but_none_is_one_problem_and_the_rest_is_checked(store, capsys):
    """A broken link or a folder named like a WARC, a log or a manifest stopped verify (and
    status) with one line: a damaged WARC beside it went unsaid."""
    import json

    coll = store / "news"
    damaged = min((coll / "warcs").glob("*.warc.gz"))
    flip(damaged, damaged.stat().st_size // 2)
    strays = [coll / "warcs" / "stray.warc.gz", coll / "logs" / "stray.captures.jsonl", coll / "manifests" / "x.json"]
    strays[0].symlink_to(coll / "nowhere")
    strays[1].mkdir()
    strays[2].mkdir()
    assert main(["verify", str(store)]) == 1
    out = capsys.readouterr().out
    for stray in strays:
        assert f"{stray}: not a file, though named like one of a collection's: move it away\n" in out
    assert f"{damaged}: sha256:" in out
    assert json.loads((coll / "verify-state.json").read_text())["problems"] == out.count(str(coll))
    assert main(["status", "--store", str(store)]) == 1


def test_an_uncompressed_warc_no_manifest_lists_is_a_problem_as_a_gzipped_one_is(store, capsys):
    """A .warc put in the warcs folder (a gunzipped copy, another tool's, or the file a
    gunzip in place leaves) was passed over: verify said OK, or named only the listed file
    gone, while a .warc.gz stray was a problem."""
    import gzip

    coll = store / "news"
    first, second = sorted((coll / "warcs").glob("*.warc.gz"))
    from archive.verify import warcinfo_job_id

    job = warcinfo_job_id(first)
    copy = coll / "warcs" / "copy.warc"
    copy.write_bytes(gzip.decompress(first.read_bytes()))
    assert main(["verify", str(coll)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{copy}: not listed in any manifest: an uncompressed WARC (its warcinfo names job {job}), "
                          "which no job writes (a copy made with gunzip, or another tool's file); `archive verify "
                          "--repair` lists only a job's .warc.gz files: move it out of the collection\n"), out
    assert "\nFAILED: 1 problem; 7 files, " in out, out
    copy.unlink()
    gunzipped = second.with_name(second.name.removesuffix(".gz"))
    gunzipped.write_bytes(gzip.decompress(second.read_bytes()))
    second.unlink()
    problems = {str(p.path): p.message for p in verify(coll).problems if p.where is None}
    assert problems[str(gunzipped)].startswith(
        f"not listed in any manifest: an uncompressed WARC (its warcinfo names job {warcinfo_job_id(gunzipped)}) "
        f"beside warcs/{second.name}, which a manifest lists and is gone (gunzipped in place?)"), problems


def test_an_emptied_warc_is_also_said_not_to_be_what_its_manifest_lists(store):
    warc = min((store / "news" / "warcs").glob("*.warc.gz"))
    warc.write_bytes(b"")
    problems = [str(p) for p in verify(store).problems]
    assert f"{warc}: empty file, no records" in problems
    assert any(p.startswith(f"{warc}: size: file is 0 bytes, manifest says ") for p in problems), problems


def test_cli_exit_codes(store, tmp_path, capsys):
    assert main(["verify", str(store)]) == 0
    assert "OK:" in capsys.readouterr().out
    warc = min((store / "news" / "warcs").glob("*.warc.gz"))
    flip(warc, warc.stat().st_size // 2)
    assert main(["verify", str(store)]) == 1
    out = capsys.readouterr().out
    assert f"{warc}: sha256:" in out and "FAILED" in out
    assert main(["verify", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "plain.txt").write_text("x")
    assert main(["verify", str(tmp_path / "plain.txt")]) == 2
    assert main(["verify"]) == 2


# What a local verify has no use for, and would pay for at every start of the command: push,
# pull, repair and the export's checks, which bring the indexer and its dependencies (several
# tenths of a second), and, for a store whose documents the fast schema checks take, jsonschema.
_NOT_FOR_A_LOCAL_VERIFY = ("archive.storage", "archive.repair", "archive.export", "archive.index", "cdxj_indexer",
                           "jsonschema")


def test_the_command_verifies_a_store_without_importing_what_it_does_not_use(store):
    job = min((store / "news" / "manifests").glob("*.json")).stem
    table = store / "news" / "articles" / f"{job}.jsonl"  # (its record read, and the table hashed)
    table.parent.mkdir()
    table.write_bytes(b'{"headline": "A"}\n')
    table.with_name(f"{job}.derived.json").write_text(json.dumps({"sha256": sha256_file(table)[0]}))
    script = ("import sys; from archive.cli import main; code = main(['verify', sys.argv[1]]); "
              f"print(code, sorted({{m.split('.')[0] + '.' + m.split('.')[1] if m.startswith('archive.') else m "
              f"for m in sys.modules}} & set({_NOT_FOR_A_LOCAL_VERIFY!r})))")
    done = subprocess.run([sys.executable, "-c", script, str(store)], capture_output=True, text=True, timeout=120,
                          check=True)
    assert "OK:" in done.stdout
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout


def test_repair_leaves_a_directory_named_like_an_open_file_and_closes_the_rest(store, tmp_path):
    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    job = CaptureJob(store, one_off("news", urls=["http://127.0.0.1:9/"]), clock=Clock())
    job.record_fetch(fetch("http://127.0.0.1:9/late", b"<p>late</p>", Clock()()))
    crashed = tmp_path / "crashed"
    shutil.copytree(store, crashed)  # what the disk holds if the job died now
    job.close()
    coll = crashed / "news"
    open_warc = next((coll / "warcs").glob("*.warc.gz.open"))
    odd = [coll / "warcs" / "news-20260309120000-00001-x.warc.gz.open", coll / "logs" / "x.captures.jsonl.open"]
    for path in odd:
        path.mkdir()
        (path / "kept").write_text("mine")
    out, err = io.StringIO(), io.StringIO()
    assert main(["verify", "--repair", str(crashed)], out=out, err=err) == 1
    said = out.getvalue()
    assert f"repaired: {open_warc.with_suffix('')}\n" in said and "wrote manifest for interrupted job" in said
    for path in odd:
        assert f"left alone (not a file, so nothing to repair): {path}\n" in said
        assert f"{path}: not a file, though named like one a job left open" in said
        assert (path / "kept").read_text() == "mine"
        shutil.move(path, tmp_path / path.name)
    assert err.getvalue() == "" and main(["verify", str(crashed)], out=io.StringIO()) == 0


def test_a_log_pointing_into_a_warc_gone_before_its_repair_is_a_problem(store):
    """Killed with its files closed and its manifest not yet written, the job's WARC then
    removed: --repair sealed its log in a manifest, and verify said OK, the log's lines
    pointing at nothing."""
    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    coll = store / "news"
    before = set((coll / "warcs").glob("*.warc.gz"))
    job = CaptureJob(store, one_off("news", urls=["http://127.0.0.1:9/"]), clock=Clock())
    job.record_fetch(fetch("http://127.0.0.1:9/late", b"<p>late</p>", Clock()()))
    job.close()
    for path in [coll / "manifests" / f"{job.job_id}.json", coll / "manifests" / f"{job.job_id}.json.sha256",
                 coll / ".chain-head"]:
        path.unlink()  # (as if never written)
    [gone] = set((coll / "warcs").glob("*.warc.gz")) - before
    gone.unlink()
    out = io.StringIO()
    assert main(["verify", "--repair", str(store)], out=out, err=io.StringIO()) == 1
    assert "wrote manifest for interrupted job" in out.getvalue()
    log = coll / "logs" / f"{job.job_id}.captures.jsonl"
    assert (f"{log}: line 1: points into {gone.name}, which is not in the collection nor listed by any "
            "manifest\n") in out.getvalue()
    assert not verify(store).ok


def _revisit_store(tmp_path: Path, poison: str | None) -> tuple[Path, str]:
    """Two jobs of one collection: the second captures the first's bytes under another URL,
    a revisit. ``poison``: the history file the second job reads is made to name, for those
    bytes, a record that does not exist ("missing") or one of other bytes ("other")."""
    import sqlite3
    from datetime import UTC, datetime

    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.history import CollectionHistory
    from archive.job import CaptureJob
    from archive.store import collection_dir

    store, when = tmp_path / "store", datetime(2026, 3, 1, 12, tzinfo=UTC)
    coll = one_off("r", urls=["http://127.0.0.1:9/"])
    first = CaptureJob(store, coll, clock=Clock(when))
    same = first.record_fetch(fetch("http://127.0.0.1:9/a", b"<p>the same bytes</p>" * 20, when))
    other = first.record_fetch(fetch("http://127.0.0.1:9/b", b"<p>other bytes</p>" * 20, when))
    first.close()
    CollectionHistory.load(collection_dir(store, "r"))  # (the history file, up to date)
    if poison is not None:
        record = "<urn:uuid:00000000-0000-0000-0000-000000000000>" if poison == "missing" else \
            other["warc"]["record_id"]
        with sqlite3.connect(store / "r" / "history.sqlite") as db:
            db.execute("UPDATE originals SET record_id = ? WHERE digest = ?", (record, same["payload_digest"]))
    second = CaptureJob(store, coll, clock=Clock(when.replace(day=2)))
    line = second.record_fetch(fetch("http://127.0.0.1:9/c", b"<p>the same bytes</p>" * 20, when.replace(day=2)))
    second.close()
    assert line["revisit"] is not None
    return store, line["revisit"]["refers_to"]


def test_a_revisit_that_refers_to_a_capture_of_its_bytes_verifies(tmp_path):
    store, _ = _revisit_store(tmp_path, None)
    assert verify(store).ok


def test_a_revisit_that_refers_to_no_capture_or_to_other_bytes_is_reported(tmp_path):
    store, refers_to = _revisit_store(tmp_path / "1", "missing")
    problems = [str(p) for p in verify(store).problems]
    assert len(problems) == 1 and problems[0].endswith(
        f": line 1: a revisit of {refers_to}, a record that no capture-log line of the collection records"), problems
    store, refers_to = _revisit_store(tmp_path / "2", "other")
    [problem] = [str(p) for p in verify(store).problems]
    assert "a revisit with payload digest sha1:" in problem and f" of {refers_to}, whose capture-log line says " \
        "sha1:" in problem


def test_a_lost_log_whose_captures_were_revisited_is_a_few_lines_not_one_a_revisit(tmp_path):
    """Its loss was said once by the manifest, and then once for every revisit since."""
    from datetime import UTC, datetime

    from jobs import Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    coll = one_off("r", urls=["http://127.0.0.1:9/"])
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for day in (1, 2):
        job = CaptureJob(tmp_path, coll, clock=Clock(when.replace(day=day)))
        for i in range(8):
            job.record_fetch(fetch(f"http://127.0.0.1:9/{i}", b"<p>page %d</p>" % i * 20, when.replace(day=day)))
        job.close()
        if day == 1:
            lost = tmp_path / "r" / "logs" / f"{job.job_id}.captures.jsonl"
    lost.unlink()
    problems = [str(p) for p in verify(tmp_path).problems]
    assert len(problems) == 3, problems
    assert "is missing" in problems[0] and ": line 1: a revisit of <urn:uuid:" in problems[1]
    assert problems[2].endswith(": lines 2 to 8: 7 more revisits of records that no capture-log line of the "
                                "collection records")


def test_originals_are_read_from_log_lines_however_their_json_is_spaced(tmp_path):
    import json

    from archive.checks import original_digests

    lines = [{"outcome": "captured", "payload_digest": "sha1:A", "warc": {"record_id": "<urn:uuid:a>"}, "revisit": None},
             {"outcome": "captured", "payload_digest": "sha1:A", "warc": {"record_id": "<urn:uuid:r>"},
              "revisit": {"refers_to": "<urn:uuid:a>"}},  # (a revisit is no original)
             {"outcome": "failed", "payload_digest": None, "warc": None, "revisit": None},
             {"outcome": "captured", "payload_digest": "sha1:B", "warc": {"record_id": "<urn:uuid:b>"}}]
    log = tmp_path / "x.captures.jsonl"
    log.write_text(json.dumps(lines[0], separators=(",", ":")) + "\n" + "".join(json.dumps(line) + "\n"
                                                                               for line in lines[1:]))
    wanted = {"<urn:uuid:a>", "<urn:uuid:b>", "<urn:uuid:r>"}
    assert original_digests([log], wanted) == {"<urn:uuid:a>": "sha1:A", "<urn:uuid:b>": "sha1:B"}
    assert original_digests([log], {"<urn:uuid:b>"}) == {"<urn:uuid:b>": "sha1:B"}


def test_an_uncompressed_warc_given_alone_has_its_records_and_digests_checked(store, tmp_path, capsys):
    # "is not a WARC (.warc.gz)", of a WARC another tool wrote, or a job's gunzipped.
    import gzip

    warc = min((store / "news" / "warcs").glob("*.warc.gz"))
    plain = tmp_path / warc.name.removesuffix(".gz")
    plain.write_bytes(gzip.decompress(warc.read_bytes()))
    records = sum(1 for _ in check_records(warc))
    assert main(["verify", str(plain)]) == 0
    assert capsys.readouterr().out == f"OK: 1 file, {records} records, 0 manifests checked; no problems.\n"
    offsets = [r.offset for r in check_records(plain)]
    assert len(offsets) == records and all(not r.problems for r in check_records(plain))
    response = next(r for r in check_records(plain) if r.type == "response")
    flip(plain, response.offset + response.length - 10)  # (in its payload)
    assert main(["verify", str(plain)]) == 1
    out = capsys.readouterr().out
    assert f"{plain}: offset {response.offset}: WARC-Block-Digest mismatch: " in out, out
    assert f"{plain}: offset {response.offset}: WARC-Payload-Digest mismatch: " in out, out
    assert out.count(f"{plain}: offset ") == 2, out  # (the records after it read as before)
    flip(plain, response.offset + response.length - 10)
    whole = plain.read_bytes()
    for cut in (response.offset + 100, response.offset + response.length - 100):  # (in its header, in its block)
        plain.write_bytes(whole[:cut])
        problems = [str(p) for p in verify(plain).problems]
        assert problems == [f"{plain}: offset {response.offset}: file ends inside this record (incomplete)"], problems
    (tmp_path / "junk.warc").write_bytes(b"<html>not a WARC</html>")
    problems = [str(p) for p in verify(tmp_path / "junk.warc").problems]
    said = "not a WARC record (bytes do not start with a WARC version line)"
    assert problems == [f"{tmp_path / 'junk.warc'}: offset 0: {said}"], problems
