"""A listed file gone for good: its loss stated once, then said on every verify, never a
failure; a statement of other bytes excuses nothing."""

from __future__ import annotations

import json
import shutil

from archive.cli import main
from archive.verify import verify
from tests.jobs import store_fixtures

pristine, store = store_fixtures((3, 3))


def _first_job_file(store, folder, suffix):
    return min((store / "news" / folder).glob(f"*{suffix}"))


def test_a_lost_warc_fails_verify_until_its_loss_is_stated_then_is_a_note(store, capsys):
    coll = store / "news"
    warc = _first_job_file(store, "warcs", ".warc.gz")
    listed = next(f for m in sorted((coll / "manifests").glob("*.json"))
                  for f in json.loads(m.read_text())["files"] if f["path"] == f"warcs/{warc.name}")
    warc.unlink()
    assert main(["verify", str(coll)]) == 1
    said = capsys.readouterr().out
    assert (f"warcs/{warc.name} is missing: restore it (`archive pull` if it was pushed), or, if it is gone for "
            f"good, state it: `archive verify {coll} --accept-loss warcs/{warc.name} --reason TEXT`") in said

    assert main(["verify", str(coll), "--accept-loss", f"warcs/{warc.name}", "--reason",
                 "the disk  failed;\nno copy was pushed", "--operator", "J. Archivist"]) == 0
    said = capsys.readouterr().out
    statement = json.loads((coll / "lost" / f"{warc.name}.json").read_text())
    assert {k: statement[k] for k in ("path", "size", "sha256", "kind")} == {k: listed[k] for k in
                                                                             ("path", "size", "sha256", "kind")}
    assert statement["reason"] == "the disk failed; no copy was pushed" and statement["operator"] == "J. Archivist"
    assert statement["listed_by"]["manifest"].startswith("manifests/news-")
    assert f"note: {warc}: lost, stated lost on " in said and "by J. Archivist: the disk failed" in said
    assert said.strip().endswith("1 file stated lost; no problems.")

    assert main(["status", "--store", str(store)]) == 0
    assert f"lost       1 file stated lost for good (see {coll}/lost/)" in capsys.readouterr().out


def test_a_loss_is_stated_only_of_a_listed_file_that_is_gone_and_once(store, capsys):
    coll = store / "news"
    warc = _first_job_file(store, "warcs", ".warc.gz")
    cases = [
        (["--accept-loss", f"warcs/{warc.name}", "--reason", "x"],
         f"{warc} is there: a statement of loss is for a file that is gone"),
        (["--accept-loss", "warcs/nothing.warc.gz", "--reason", "x"], "no manifest of"),
        (["--accept-loss", f"warcs/{warc.name}"], "--accept-loss needs --reason"),
        (["--accept-loss", f"warcs/{warc.name}", "--reason", "  "], "--reason must say why"),
        (["--reason", "x"], "--reason and --operator go with --accept-loss"),
    ]
    for args, message in cases:
        assert main(["verify", str(coll), *args]) == 2, args
        assert message in capsys.readouterr().err, args
    manifest = min((coll / "manifests").glob("*.json"))
    assert main(["verify", str(coll), "--accept-loss", f"manifests/{manifest.name}", "--reason", "x"]) == 2
    assert f"{manifest.name} is a manifest: a statement of loss is for a file a manifest lists" in \
        capsys.readouterr().err
    assert main(["verify", str(store.parent), "--accept-loss", warc.name, "--reason", "x"]) == 2
    assert "--accept-loss takes the collection's directory" in capsys.readouterr().err
    assert not (coll / "lost").exists()

    warc.unlink()
    assert main(["verify", str(coll), "--accept-loss", str(warc), "--reason", "gone"]) == 0  # (a path to it will do)
    before = (coll / "lost" / f"{warc.name}.json").read_bytes()
    capsys.readouterr()
    assert main(["verify", str(coll), "--accept-loss", warc.name, "--reason", "again"]) == 2
    assert "exists already: its loss was stated before" in capsys.readouterr().err
    assert (coll / "lost" / f"{warc.name}.json").read_bytes() == before


def test_a_warc_pushed_away_is_not_lost(store, capsys):
    coll = store / "news"
    warc = _first_job_file(store, "warcs", ".warc.gz")
    listed = next(f for m in sorted((coll / "manifests").glob("*.json"))
                  for f in json.loads(m.read_text())["files"] if f["path"] == f"warcs/{warc.name}")
    (coll / "remote").mkdir()
    (coll / "remote" / f"{warc.name}.json").write_text(json.dumps(
        {"path": listed["path"], "size": listed["size"], "sha256": listed["sha256"], "url": "s3://b/x"}))
    warc.unlink()
    assert main(["verify", str(coll), "--accept-loss", warc.name, "--reason", "x"]) == 2
    assert "`archive pull` brings it back" in capsys.readouterr().err


def test_a_statement_of_other_bytes_excuses_nothing(store, capsys):
    coll = store / "news"
    warc = _first_job_file(store, "warcs", ".warc.gz")
    warc.unlink()
    assert main(["verify", str(coll), "--accept-loss", warc.name, "--reason", "gone"]) == 0
    statement_path = coll / "lost" / f"{warc.name}.json"
    statement = json.loads(statement_path.read_text())
    statement["sha256"] = "sha256:" + "0" * 64  # (a statement copied from another store, or edited)
    statement_path.write_text(json.dumps(statement))
    problems = [str(p) for p in verify(coll).problems]
    assert any(f"warcs/{warc.name} is missing" in p for p in problems), problems
    assert f"{statement_path}: states the loss of warcs/{warc.name}, which no manifest here lists with that size " \
           "and SHA-256: it excuses nothing" in problems
    statement_path.write_text("[]")
    assert f"{statement_path}: not a statement of loss (not a JSON object)" in [str(p) for p in verify(coll).problems]
    for junk in ("[]", "{}", '{"path": null}', "not json"):  # (status counts no loss of these, and says no traceback)
        (coll / "lost" / "None.json").write_text(junk)
        statement_path.write_text(junk)
        assert main(["status", "--store", str(store)]) == 0
        assert "  lost  " not in capsys.readouterr().out
        assert any(str(p).startswith(f"{statement_path}: ") for p in verify(coll).problems), junk  # (no traceback)
    statement_path.write_text(json.dumps({**statement, "size": str(statement["size"])}))
    assert main(["status", "--store", str(store)]) == 0  # (a statement that excuses nothing is no loss to show)
    assert "  lost  " not in capsys.readouterr().out


def test_a_statement_copied_over_another_files_excuses_only_the_file_it_names(store, capsys):
    from archive.index import stated_lost
    from archive.store import collection_dir

    coll = store / "news"
    first, second = sorted((coll / "warcs").glob("*.warc.gz"))
    second.unlink()
    assert main(["verify", str(coll), "--accept-loss", second.name, "--reason", "gone"]) == 0
    first.unlink()  # (and a statement of the second copied in as the first's)
    shutil.copy(coll / "lost" / f"{second.name}.json", coll / "lost" / f"{first.name}.json")
    assert list(stated_lost(collection_dir(store, "news"))) == [second.name]
    problems = [str(p) for p in verify(coll).problems]
    assert any(f"warcs/{first.name} is missing" in p for p in problems), problems
    capsys.readouterr()
    assert main(["status", "--store", str(store)]) == 0
    assert "lost       1 file stated lost" in capsys.readouterr().out


def test_a_lost_file_back_again_is_checked_as_any_other(store, pristine, capsys):
    coll = store / "news"
    warc = _first_job_file(store, "warcs", ".warc.gz")
    warc.unlink()
    assert main(["verify", str(coll), "--accept-loss", warc.name, "--reason", "gone"]) == 0
    shutil.copy(pristine / "news" / "warcs" / warc.name, warc)
    report = verify(coll)
    assert report.ok and report.lost == 0
    assert any(n.startswith(f"{warc}: stated lost on ") and n.endswith("it is here again, and checked")
               for n in report.notes)
    capsys.readouterr()
    assert main(["status", "--store", str(store)]) == 0  # (no loss to show: it is back)
    assert "  lost  " not in capsys.readouterr().out
    with open(warc, "r+b") as fh:  # (and damage in it is found as in any file)
        fh.seek(200)
        fh.write(b"\0\0\0\0")
    assert not verify(coll).ok


def test_a_lost_capture_log_leaves_revisits_of_its_captures_on_a_note(store):
    coll = store / "news"
    log = _first_job_file(store, "logs", ".captures.jsonl")
    log.unlink()
    problems = [str(p) for p in verify(coll).problems]
    assert any("a record that no capture-log line of the collection records" in p for p in problems), problems
    assert main(["verify", str(coll), "--accept-loss", f"logs/{log.name}", "--reason", "deleted by mistake"]) == 0
    report = verify(coll)
    assert report.ok and report.lost == 1
    assert any("3 revisit(s) of records that no capture log here records" in n
               and f"perhaps recorded by logs/{log.name}, stated lost" in n for n in report.notes), report.notes
