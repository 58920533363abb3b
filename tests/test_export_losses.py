"""Export and extract of a collection one of whose files is gone for good, its loss stated
(`archive verify --accept-loss`): what remains is exported and extracted, what was lost is
said, no row points at nothing, and a file missing without a statement still stops both."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_export import _article, _job

from archive.cli import main
from archive.extract import extract_after_job, extract_collection
from archive.index import update_indexes
from archive.store import collection_dir
from archive.verify import verify


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Day 1: stories 0, 1, 2. Day 5: story 1 edited, story 3 new. Day 9: story 0 the same
    (a revisit, no row), story 1 as on day 1 (a revisit of day 1's capture, a row: the edit
    undone), story 2 gone (404: a withdrawn row)."""
    store = tmp_path_factory.mktemp("lossy")
    _job(store, 1, {f"/a/{i}": (200, _article(i)) for i in range(3)})
    _job(store, 5, {"/a/1": (200, _article(1, " (updated)")), "/a/3": (200, _article(3))})
    _job(store, 9, {"/a/0": (200, _article(0)), "/a/1": (200, _article(1)), "/a/2": (404, b"gone")})
    update_indexes(collection_dir(store, "ds"))  # (where extraction finds the original of day 9's Story 1)
    extract_collection(store, "ds")
    return store


@pytest.fixture
def store(pristine, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(pristine, copy)
    return copy


def _day_one(store: Path, folder: str, suffix: str) -> Path:
    return min((store / "ds" / folder).glob(f"*{suffix}"))


def _lose(store: Path, path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path.unlink()
    coll = store / "ds"
    assert main(["verify", str(coll), "--accept-loss", str(path.relative_to(coll)), "--reason", "the disk failed",
                 "--operator", "J. Archivist"]) == 0
    capsys.readouterr()


def _tables(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((store / "ds" / "articles").iterdir())}


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "articles.jsonl").read_text().splitlines()]


def test_the_store_has_a_row_of_a_revisit_and_a_withdrawal(pristine, tmp_path):
    rows = _rows(Path(main(["export", "--store", str(pristine), "--collection", "ds", "--out",
                            str(tmp_path / "out")]) == 0 and tmp_path / "out"))
    assert len(rows) == 7  # 3 on day 1, 2 on day 5, 2 on day 9
    assert sorted((r["headline"], r["status"]) for r in rows if r["job_id"].startswith("ds-20260309")) == [
        ("Story 1", "captured"), ("Story 2", "withdrawn")]


def test_an_export_leaves_out_a_lost_warc_and_what_needs_it_and_says_so(store, tmp_path, capsys):
    warc = _day_one(store, "warcs", ".warc.gz")
    _lose(store, warc, capsys)
    out = tmp_path / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out)]) == 0
    assert "Exported 3 captures and 3 articles" in capsys.readouterr().out
    rows = _rows(out)
    # Day 1's rows point into the lost WARC, day 9's Story 1 at a revisit of a capture in it:
    # left out. Day 5's and the withdrawal (its 404 is in day 9's WARC) stay.
    assert sorted((r["headline"], r["status"]) for r in rows) == [
        ("Story 1 (updated)", "captured"), ("Story 2", "withdrawn"), ("Story 3", "captured")]
    assert all(r["source"]["warc_filename"] != warc.name for r in rows)
    report = verify(out)
    assert report.ok, [str(p) for p in report.problems]
    sheet = (out / "DATASHEET.md").read_text()
    assert "## Files stated lost" in sheet
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert f"- `warcs/{warc.name}` (warc, " in sheet and f"stated lost on {day} by J. Archivist: the disk failed" in sheet
    assert "- Article rows: 4\n" in sheet
    assert "- Captures the capture logs record in the lost WARC files: 3\n" in sheet
    assert "in a lost one): 2\n" in sheet  # (day 9's revisits of stories 0 and 1)
    # The statuses are of the captures exported, as without a loss: not of those left out.
    [statuses] = [line for line in sheet.splitlines() if line.startswith("- HTTP statuses: ")]
    assert sum(int(n) for _, n in re.findall(r"(\d+): (\d+)", statuses)) == 3, statuses
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out), "--to", "2026-03-01"]) == 2
    said = capsys.readouterr().err
    assert "no captures match --to 2026-03-01" in said and said.strip().endswith(
        "; 1 file of the collection is stated lost, and what was in it is not exported")
    assert verify(out).ok  # (the export before is as it was)


def test_a_filtered_exports_jobs_table_counts_the_captures_it_holds_not_those_left_out(store, tmp_path, capsys):
    warc = _day_one(store, "warcs", ".warc.gz")
    _lose(store, warc, capsys)
    out = tmp_path / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out), "--from", "2026-03-01"]) == 0
    sheet = (out / "DATASHEET.md").read_text()
    jobs = dict(re.findall(r"^\| (ds-\S+) \| .* \| (\d+) \|$", sheet, re.MULTILINE))
    # Day 1's captures were all in the lost WARC: none in the export, so not a job "with
    # captures in this export". Day 9's revisits of day 1 are left out: its 404 alone is in.
    assert sorted((job[3:11], int(n)) for job, n in jobs.items()) == [("20260305", 2), ("20260309", 1)], sheet
    assert sum(int(n) for n in jobs.values()) == 3 and "Exported 3 captures" in capsys.readouterr().out
    assert "the lost files' captures included" not in sheet


def test_an_export_of_a_collection_that_lost_a_capture_log(store, tmp_path, capsys):
    _lose(store, _day_one(store, "logs", ".captures.jsonl"), capsys)
    out = tmp_path / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out)]) == 0
    assert len(_rows(out)) == 7  # (every WARC is there: no row is lost)
    assert verify(out).ok
    sheet = (out / "DATASHEET.md").read_text()
    assert "captures.jsonl` (capture-log, " in sheet and "- Article rows: 0\n" in sheet
    assert "The fetch attempts a lost capture log recorded are not in the counts" in sheet


def test_a_missing_warc_without_a_statement_is_refused_as_before(store, tmp_path, capsys):
    warc = _day_one(store, "warcs", ".warc.gz")
    warc.unlink()
    out = tmp_path / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out)]) == 1
    said = capsys.readouterr().err
    assert f"{warc} is listed by a manifest but is missing, and was not pushed away: restore it" in said
    assert f"--accept-loss warcs/{warc.name} --reason TEXT` states its loss" in said
    assert said.rstrip().endswith("nothing was exported") and len(said.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["extract", "--store", str(store), "--collection", "ds"]) == 1
    assert "No such file or directory" in capsys.readouterr().err


def test_a_statement_of_other_bytes_excuses_nothing_in_export(store, tmp_path, capsys):
    warc = _day_one(store, "warcs", ".warc.gz")
    _lose(store, warc, capsys)
    statement = store / "ds" / "lost" / f"{warc.name}.json"
    doc = json.loads(statement.read_text())
    statement.write_text(json.dumps(dict(doc, size=doc["size"] + 1)))
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(tmp_path / "out")]) == 1
    assert "is listed by a manifest but is missing" in capsys.readouterr().err


def test_extract_keeps_the_tables_made_before_the_loss(store, capsys):
    before = _tables(store)
    warc = _day_one(store, "warcs", ".warc.gz")
    _lose(store, warc, capsys)
    assert main(["extract", "--store", str(store), "--collection", "ds"]) == 0
    said = capsys.readouterr()
    assert "Traceback" not in said.err
    notes = [line for line in said.out.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2, said.out
    assert f"warcs/{warc.name} stated lost; its article table, made before the loss, is kept as it was (3 rows)" \
        in notes[0]
    # Day 9's Story 1 was read from day 1's capture, which cannot be read again: its table stays.
    assert "the originals of 1 of its revisits are in files stated lost" in notes[1]
    assert _tables(store) == before
    assert verify(store / "ds").ok


def test_extract_without_a_table_made_before_the_loss_says_what_it_lacks(store, capsys):
    warc = _day_one(store, "warcs", ".warc.gz")
    for table in (store / "ds" / "articles").iterdir():
        table.unlink()
    _lose(store, warc, capsys)
    assert main(["extract", "--store", str(store), "--collection", "ds"]) == 0
    said, err = capsys.readouterr()
    assert "note: job ds-20260301" in said and "the articles in it cannot be extracted" in said
    # Day 9's revisit of day 1's Story 1: one note for the job, no warning of its own.
    assert "note: job ds-20260309" in said and "the originals of 1 of its revisits were not found" in said
    assert "is not in the store" not in err and "unreadable" not in err, err
    job = _day_one(store, "manifests", ".json").stem
    derived = json.loads((store / "ds" / "articles" / f"{job}.derived.json").read_text())
    assert derived["rows"] == 0 and derived["derived_from"] == []
    assert [d["path"] for d in derived["lost"]] == [f"warcs/{warc.name}"]
    assert verify(store / "ds").ok
    out = store.parent / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out)]) == 0
    assert verify(out).ok


@pytest.mark.parametrize("how", ["at-the-jobs-end", "archive-extract"])
def test_an_article_captured_again_whole_after_its_version_was_lost_has_a_row(store, tmp_path, capsys, how):
    _lose(store, _day_one(store, "warcs", ".warc.gz"), capsys)
    # Story 0, as on day 1 (its only version, whose capture is lost; day 9 a revisit of it),
    # captured again, and stored whole, as its original is lost.
    _job(store, 12, {"/a/0": (200, _article(0))})
    coll = collection_dir(store, "ds")
    manifest = json.loads(max(coll.manifests.glob("*.json")).read_text())
    if how == "at-the-jobs-end":
        extract_after_job(coll, manifest)
    else:
        assert main(["extract", "--store", str(store), "--collection", "ds"]) == 0
    [row] = [json.loads(line) for line in (coll.articles / f"{manifest['job_id']}.jsonl").read_text().splitlines()]
    # The same version as day 1's (no edit), which it stands for now: one row of it.
    assert (row["headline"], row["version"], row["previous_version"]) == ("Story 0", 1, None)
    out = tmp_path / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out)]) == 0
    assert [(r["headline"], r["job_id"]) for r in _rows(out) if r["headline"] == "Story 0"] == [
        ("Story 0", manifest["job_id"])]
    assert verify(out).ok and verify(coll.root).ok


def test_history_says_which_captures_and_versions_are_in_a_warc_stated_lost(store, capsys):
    _lose(store, _day_one(store, "warcs", ".warc.gz"), capsys)
    assert main(["history", "http://news.test/a/0", "--store", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Day 1's capture and its version, then day 9's revisit of it (no version of its own).
    assert [line.endswith("(its WARC is stated lost)") for line in lines[1:3]] == [True, False], lines
    assert lines[3].startswith("Version 1 (2026-03-01") and "its capture in a WARC stated lost" in lines[3], lines
    assert main(["history", "http://news.test/a/0", "--store", str(store), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["lost"] for c in doc["captures"]] == [True, False] and [v["lost"] for v in doc["versions"]] == [True]


def test_extract_passes_over_a_lost_capture_log(store, capsys):
    before = _tables(store)
    log = _day_one(store, "logs", ".captures.jsonl")
    _lose(store, log, capsys)
    assert main(["extract", "--store", str(store), "--collection", "ds"]) == 0
    assert f"logs/{log.name} stated lost; its article table, made before the loss, is kept" in capsys.readouterr().out
    assert _tables(store) == before
