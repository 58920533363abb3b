"""Manifests that parse but are not what a job writes: verify names them, and the commands
that build on every job (extract, export, index, status) say so instead of failing midway
or leaving a job out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from jobs import store_fixtures

from archive.cli import main
from archive.config import config_hash
from archive.manifest import encode

pristine, store = store_fixtures((3,))


def _edit(store: Path, change, *, rehash_config: bool = False) -> Path:  # type: ignore[no-untyped-def]
    """Change the collection's manifest and write its sidecar to match, as someone covering
    their tracks would; with ``rehash_config`` its config_sha256 too."""
    manifest = next((store / "news" / "manifests").glob("*.json"))
    doc = json.loads(manifest.read_bytes())
    change(doc)
    if rehash_config:
        doc["config_sha256"] = config_hash(doc["config"])
    raw = encode(doc)
    manifest.write_bytes(raw)
    manifest.with_name(manifest.name + ".sha256").write_text(f"{hashlib.sha256(raw).hexdigest()}  {manifest.name}\n")
    return manifest


def _schedule(doc: dict) -> None:  # type: ignore[type-arg]
    doc["config"]["schedule"] = "every tuesday"


def test_verify_finds_a_config_changed_after_the_job(store, capsys):  # type: ignore[no-untyped-def]
    manifest = _edit(store, _schedule)
    assert main(["verify", str(store / "news")]) == 1
    out = capsys.readouterr().out
    assert f"{manifest}: config_sha256: does not match the manifest's config" in out
    assert f"{manifest}: config/schedule: 'every tuesday' is not a valid cron expression" in out


def test_a_schedule_no_job_could_run_with(store, capsys):  # type: ignore[no-untyped-def]
    manifest = _edit(store, _schedule, rehash_config=True)
    assert main(["verify", str(store / "news")]) == 1
    out = capsys.readouterr().out
    assert "config_sha256" not in out
    assert f"{manifest}: config/schedule: 'every tuesday' is not a valid cron expression" in out
    _edit(store, lambda doc: doc["config"].update(schedule="0 6 * * *", timezone="Mars/Phobos"), rehash_config=True)
    assert main(["verify", str(store / "news")]) == 1
    assert f"{manifest}: config/timezone: 'Mars/Phobos' is not a known IANA time zone" in capsys.readouterr().out
    # status reports the rest, and what it could not read.
    assert main(["status", "--store", str(store)]) == 1
    out = capsys.readouterr().out
    assert "last job" in out and "next run   not scheduled" in out
    assert f"DAMAGED    {manifest}: config: schedule '0 6 * * *' in time zone 'Mars/Phobos' cannot be read" in out


def test_commands_that_build_on_every_job_refuse_a_manifest_of_wrong_types(store, capsys, caplog):  # type: ignore[no-untyped-def]
    def wrong_types(doc: dict) -> None:  # type: ignore[type-arg]
        doc["counts"]["captured"] = "many"
        doc["files"][0]["size"] = "big"

    manifest = _edit(store, wrong_types)
    problem = f"{manifest} is not a readable manifest: counts/captured: 'many' is not of type 'integer' (and 1 more)"
    articles = store / "news" / "articles"
    before = {p.name: p.read_bytes() for p in articles.iterdir()} if articles.is_dir() else {}

    assert main(["extract", "--store", str(store), "--collection", "news"]) == 1
    err = capsys.readouterr().err
    assert f"archive extract: {problem}; run `archive verify`; no article table was rewritten" in err
    assert ({p.name: p.read_bytes() for p in articles.iterdir()} if articles.is_dir() else {}) == before

    out_dir = store.parent / "dataset"
    assert main(["export", "--store", str(store), "--collection", "news", "--out", str(out_dir)]) == 1
    err = capsys.readouterr().err
    assert f"archive export: {problem}; run `archive verify`; nothing was exported" in err
    assert not out_dir.exists()

    # status names it and goes on; the job it cannot read is counted, not described.
    assert main(["status", "--store", str(store)]) == 1
    out = capsys.readouterr().out
    assert "news: 1 job\n" in out and "last job" not in out
    damaged = problem.replace(" is not a readable manifest:", ":")
    assert f"DAMAGED    {damaged}; run archive verify" in out
    assert main(["status", "--store", str(store), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)[0]["damaged"] == [damaged]

    # An index only finds records: the WARC is indexed all the same, hashed without the manifest.
    caplog.clear()
    assert main(["index", "--store", str(store), "--collection", "news"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    said = [r.getMessage() for r in caplog.records if "is not a readable manifest" in r.getMessage()]
    assert said == [(f"{manifest} is not a readable manifest (counts/captured: 'many' is not of type 'integer' (and 1 "
                    "more)): run `archive verify`")]  # (once, not once a reading)
    assert list((store / "news" / "indexes").glob("*.cdxj"))
    assert main(["verify", str(store / "news")]) == 1
    assert f"{manifest}: counts/captured: 'many' is not of type 'integer'" in capsys.readouterr().out


def test_a_manifest_nested_too_deeply_to_parse_is_damaged_not_a_traceback(store, capsys):  # type: ignore[no-untyped-def]
    manifest = next((store / "news" / "manifests").glob("*.json"))
    manifest.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    assert main(["status", "--store", str(store)]) == 1
    out = capsys.readouterr().out
    assert f"DAMAGED    {manifest}: (top level): nested too deeply to be read; run archive verify" in out
    assert main(["verify", str(store / "news")]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert main(["extract", "--store", str(store), "--collection", "news"]) == 1
    err = capsys.readouterr().err
    assert f"archive extract: {manifest} is not a readable manifest: (top level): nested too deeply to be read" in err
    # Not JSON at all, or JSON of another kind: each said as it is.
    for raw, said in ((b'{"job_id": ', "not valid JSON"), (b"[1, 2]", "(top level): not a JSON object")):
        manifest.write_bytes(raw)
        assert main(["status", "--store", str(store)]) == 1
        assert f"DAMAGED    {manifest}: {said}; run archive verify" in capsys.readouterr().out


def test_verify_finds_fields_a_manifest_contradicts_itself_with(store, capsys):  # type: ignore[no-untyped-def]
    def contradict(doc: dict) -> None:  # type: ignore[type-arg]
        doc["job_id"] = doc["job_id"][:-4] + "beef"
        doc["collection"] = "other"
        doc["finished"] = "2020-01-01T00:00:00Z"
        doc["files"].append(dict(doc["files"][0]))

    manifest = _edit(store, contradict, rehash_config=True)
    doc = json.loads(manifest.read_bytes())
    assert main(["verify", str(store / "news")]) == 1
    out = capsys.readouterr().out
    for said in (f"{manifest}: job_id: {doc['job_id']!r} is not the job the file is named for ({manifest.stem!r})",
                 f"{manifest}: collection: 'other' is not the collection of job {doc['job_id']!r}",
                 f"{manifest}: finished: 2020-01-01T00:00:00Z is before the job started ({doc['started']})",
                 f"{manifest}: files/{len(doc['files']) - 1}/path: {doc['files'][0]['path']} is listed twice"):
        assert said in out, said
