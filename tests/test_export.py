"""Dataset export: WACZ that py-wacz validates, article tables with valid pointers,
datasheet, checksums, signatures, date filters that pull in revisit originals, and
byte-identical output."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import archive.dataset
from archive.capture import Fetch, Provenance
from archive.cli import main
from archive.config import collection_from_dict
from archive.errors import UsageError
from archive.export import export_dataset
from archive.extract import extract_collection
from archive.job import CaptureJob
from archive.verify import verify
from archive.warc.reader import check_records

WACZ_VENV = Path(os.environ.get("WACZ_VENV", "/tmp/archive-wacz-venv"))


def _article(i: int, edit: str = "") -> bytes:
    ld = {"@type": "NewsArticle", "headline": f"Story {i}{edit}", "author": {"name": "Ada"},
          "datePublished": "2026-03-01T08:00:00+00:00"}
    paras = "".join(f"<p>Paragraph {k} of story {i}{edit}. " + "harbour council weather " * 15 + "</p>"
                    for k in range(4))
    return (f"<html lang='en'><head><script type='application/ld+json'>{json.dumps(ld)}</script></head>"
            f"<body><article><h1>Story {i}{edit}</h1>{paras}</article></body></html>").encode()


def _job(store: Path, day: int, bodies: dict[str, bytes | tuple[int, bytes]], seed: str = "http://news.test/",
         name: str = "ds") -> None:
    """One job of collection ``name`` on ``day``: each path or URL answered 200 with its body,
    or with the status of a ``(status, body)`` pair."""
    moment = [datetime(2026, 3, day, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        moment[0] += timedelta(seconds=1)
        return moment[0]

    job = CaptureJob(store, collection_from_dict({"name": name, "urls": [seed],
                                                  "dataset": {"license": "CC-BY-4.0",
                                                              "description": "Test news"}}), clock=clock)
    for path, answer in bodies.items():
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        url = path if "://" in path else f"http://news.test{path}"  # (a path on news.test, or a URL)
        job.record_fetch(Fetch(url=url, method="GET", request_headers=[(b"User-Agent", b"t")],
                               request_body=b"", status=status, response_headers=[(b"Content-Type", b"text/html")],
                               body=body, started=clock(), duration_ms=1.0, remote_ip="192.0.2.1",
                               provenance=Provenance(seed="http://news.test/", channel="link", hops="L", depth=1)))
    job.close()


def _one_job_of_three(tmp_path_factory, prefix: str) -> Path:  # type: ignore[no-untyped-def]
    """A store of one job of collection ``ds``, three articles, its table made."""
    store = tmp_path_factory.mktemp(prefix)
    _job(store, 1, {f"/a/{i}": _article(i) for i in range(3)})
    extract_collection(store, "ds")
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = tmp_path_factory.mktemp("ds")
    _job(store, 1, {f"/a/{i}": _article(i) for i in range(4)})
    # Day 5: story 0 unchanged (a revisit of day 1), story 1 edited, story 9 new.
    _job(store, 5, {"/a/0": _article(0), "/a/1": _article(1, " (updated)"), "/a/9": _article(9)})
    extract_collection(store, "ds")
    return store


@pytest.fixture(scope="module")
def wacz_cli():
    exe = WACZ_VENV / "bin" / "wacz"
    # (the suite's processes share the virtualenv: one makes it, the others wait for it)
    with open(f"{WACZ_VENV}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.exists():
            made = subprocess.run(f"{sys.executable} -m venv {WACZ_VENV} && {WACZ_VENV}/bin/pip install -q wacz",
                                  shell=True, capture_output=True, text=True, timeout=600, check=False)
            if made.returncode != 0:
                pytest.skip(f"py-wacz could not be installed in {WACZ_VENV}: {made.stderr[-300:]}")
    return exe


def test_full_export_validates_and_every_row_points_into_the_wacz(store, tmp_path, wacz_cli):
    result = export_dataset(store, "ds", tmp_path / "out")
    proc = subprocess.run([str(wacz_cli), "validate", "-f", str(result.wacz)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with archive.dataset.open(tmp_path / "out") as ds:
        rows = list(ds.articles())
        assert len(rows) == 6  # 4 on day 1, an edit and a new story on day 5; the revisit adds none
        for row in rows:
            raw = ds.raw_response(row)
            assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
            assert row["headline"].encode() in raw
    assert verify(tmp_path / "out").ok
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out" / "articles.parquet").to_pylist()
    assert table == rows
    package = json.loads((tmp_path / "out" / "datapackage.json").read_text())
    assert {r["path"] for r in package["resources"]} == {"ds.wacz", "articles.jsonl", "articles.parquet",
                                                         "DATASHEET.md", "captures-per-day.svg"}
    assert package["licenses"] == [{"name": "CC-BY-4.0"}]
    sheet = (tmp_path / "out" / "DATASHEET.md").read_text()
    assert sheet.index("captures-per-day.svg") < sheet.index("| job |")
    assert "CC-BY-4.0" in sheet and "Test news" in sheet and "archive verify" in sheet


def _job_ids(store: Path) -> list[str]:
    return sorted(p.stem for p in (store / "ds" / "manifests").glob("*.json"))


def test_date_filter_pulls_in_revisit_originals_and_remaps_pointers(store, tmp_path, wacz_cli):
    result = export_dataset(store, "ds", tmp_path / "out", date_from=date(2026, 3, 5))
    validated = subprocess.run([str(wacz_cli), "validate", "-f", str(result.wacz)], capture_output=True, check=False)
    assert validated.returncode == 0
    with archive.dataset.open(tmp_path / "out") as ds:
        rows = list(ds.articles())
        assert sorted(r["headline"] for r in rows) == ["Story 1 (updated)", "Story 9"]
        for row in rows:
            assert ds.record(row).headers["WARC-Record-ID"] == row["source"]["record_id"]
    import zipfile

    with zipfile.ZipFile(result.wacz) as zf:
        index = zf.read("indexes/index.cdxj").decode()
    lines = [json.loads(l.split(" ", 2)[2]) for l in index.splitlines()]
    revisits = [l for l in lines if l.get("mime") == "warc/revisit"]
    assert revisits, "the unchanged story is a revisit"
    originals = [l for l in lines if l["url"] == revisits[0]["url"] and l.get("mime") != "warc/revisit"]
    assert originals, "its day-1 original was pulled into the export"
    assert verify(tmp_path / "out").ok
    # Counted as what it is: not one of the filter's captures, nor the start of their span.
    assert result.captures == 3
    sheet = " ".join((tmp_path / "out" / "DATASHEET.md").read_text().split())
    assert ("Captures (HTTP responses recorded): 3 (2 with bytes not captured before, 1 recorded as revisit records: "
            "the same bytes as an earlier capture, not always the one before, or a 304 Not Modified to a "
            "request that named one); and 1 captured outside the filter, whose bytes revisits in it refer to") in sheet
    assert "Time span of captures: 2026-03-05T" in sheet and "Filter: from 2026-03-05" in sheet
    # The jobs are those with captures in it, counted as they are there: not the day-1 job.
    jobs = [line.split(" | ") for line in (tmp_path / "out" / "DATASHEET.md").read_text().splitlines()
            if line.startswith("| ds-")]
    assert "Jobs with captures in this export" in sheet and len(jobs) == 1
    assert [(job[0][2:], job[-1]) for job in jobs] == [(j, "3 |") for j in _job_ids(store) if "20260305" in j]
    assert "each keeps the name of the store's file its records were copied from" in sheet


def test_an_export_reads_each_warc_once_hashing_it_as_its_records_are_checked(store, tmp_path, monkeypatch):
    """Hashed against its manifest first, then read again for its records: a store of
    hundreds of GB read twice."""
    import archive.digests

    hashed: list[str] = []
    whole_file = archive.digests.sha256_file

    def hashing(path):
        hashed.append(Path(path).name)
        return whole_file(path)

    monkeypatch.setattr(archive.digests, "sha256_file", hashing)
    export_dataset(store, "ds", tmp_path / "out")
    assert hashed and not [name for name in hashed if name.endswith(".warc.gz")], hashed


def test_exports_of_the_same_input_are_byte_identical(store, tmp_path):
    export_dataset(store, "ds", tmp_path / "a")
    export_dataset(store, "ds", tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_export_onto_a_file_is_one_line_naming_it(store, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("not a directory")
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(taken)]) == 1
    err = capsys.readouterr().err
    assert f"{taken} is a file, not a folder" in err and "Traceback" not in err
    assert taken.read_text() == "not a directory"


def test_keygen_into_a_missing_directory_or_over_a_key_says_so(tmp_path, capsys):
    assert main(["keygen", "--out", str(tmp_path / "no" / "such" / "k")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'no' / 'such'} is not a directory" in err and "Traceback" not in err
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    key = (tmp_path / "k.key").read_bytes()
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 2
    assert "k.key exists" in capsys.readouterr().err
    assert (tmp_path / "k.key").read_bytes() == key  # (never replaced)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key", "k.pub"]
    for prefix in ("", f"{tmp_path}/", str(tmp_path), f"{tmp_path / 'new'}/"):
        assert main(["keygen", "--out", prefix]) == 2
        assert "give a file name prefix" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key", "k.pub"]


def test_an_export_resigned_with_another_key_or_unsigned_fails_verify_with_the_archives_key(store, tmp_path, capsys):
    # The signature carries its own key: it says the bytes are as signed, not by whom. A
    # stranger who edits the data and signs it again with a key of theirs passes a verify
    # that has only the export; the archive's published key (--key) tells them apart, and
    # without it verify names the signer's key for the reader to compare.
    from archive.export import signing

    assert main(["keygen", "--out", str(tmp_path / "archive")]) == 0
    said = capsys.readouterr().out
    fingerprint = signing.key_fingerprint(signing.load_public_key(tmp_path / "archive.pub"))
    assert f"fingerprint: {fingerprint}" in said
    out = tmp_path / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out),
                 "--sign-key", str(tmp_path / "archive.key")]) == 0
    assert f"Verify it:  archive verify --key {tmp_path / 'archive.pub'} {out}" in capsys.readouterr().out
    assert main(["verify", "--key", str(tmp_path / "archive.pub"), str(out)]) == 0
    assert main(["verify", str(out)]) == 0
    assert f"signed by {fingerprint}" in capsys.readouterr().out
    # A stranger's edit, hashes and signature made again.
    stranger = signing.Ed25519PrivateKey.generate()
    sheet = out / "DATASHEET.md"
    sheet.write_text(sheet.read_text().replace("Test news", "Other news", 1))
    package = json.loads((out / "datapackage.json").read_text())
    for res in package["resources"]:
        if res["path"] == "DATASHEET.md":
            res["bytes"] = sheet.stat().st_size
            res["hash"] = "sha256:" + hashlib.sha256(sheet.read_bytes()).hexdigest()
    raw = json.dumps(package).encode()
    (out / "datapackage.json").write_bytes(raw)
    signing.write_signature(out, raw, stranger)
    assert main(["verify", str(out)]) == 0  # (whole and signed: only the signer's key differs, and is named)
    assert f"signed by {signing.key_fingerprint(stranger.public_key())}" in capsys.readouterr().out
    assert main(["verify", "--key", str(tmp_path / "archive.pub"), str(out)]) == 1
    assert f"not by the key --key names ({fingerprint})" in capsys.readouterr().out
    (out / "datapackage.json.sig").unlink()
    assert main(["verify", "--key", str(tmp_path / "archive.pub"), str(out)]) == 1
    assert "not signed (no datapackage.json.sig), but --key asks for a signature by" in capsys.readouterr().out
    # --key is for an export, and a public key.
    assert main(["verify", "--key", str(tmp_path / "archive.pub"), str(store)]) == 2
    assert main(["verify", "--key", str(tmp_path / "archive.key"), str(out)]) == 2


def test_signed_export_and_tampering_are_detected(store, tmp_path, capsys):
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    assert oct((tmp_path / "k.key").stat().st_mode & 0o777) == "0o600"
    out = tmp_path / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out),
                 "--sign-key", str(tmp_path / "k.key")]) == 0
    assert "signed in datapackage.json.sig" in capsys.readouterr().out
    assert main(["verify", str(out)]) == 0
    capsys.readouterr()
    clean = tmp_path / "clean"
    shutil.copytree(out, clean)
    # A changed article row: its hash no longer matches datapackage.json.
    text = (out / "articles.jsonl").read_text().replace("Story 2", "Story X", 1)
    (out / "articles.jsonl").write_text(text)
    assert main(["verify", str(out)]) == 1
    assert "articles.jsonl: hash: file hashes to" in capsys.readouterr().out
    # A datapackage.json edited to match: now the signature fails.
    shutil.rmtree(out)
    shutil.copytree(clean, out)
    (out / "datapackage.json").write_text((out / "datapackage.json").read_text().replace("Test news", "Other"))
    assert main(["verify", str(out)]) == 1
    assert "signature covers" in capsys.readouterr().out
    # A flipped byte inside the WACZ's WARC.
    shutil.rmtree(out)
    shutil.copytree(clean, out)
    wacz = out / "ds.wacz"
    data = bytearray(wacz.read_bytes())
    data[len(data) // 3] ^= 1
    wacz.write_bytes(bytes(data))
    assert main(["verify", str(out)]) == 1
    assert "ds.wacz: hash" in capsys.readouterr().out


def test_export_errors_are_one_line(store, tmp_path, capsys):
    assert main(["export", "--store", str(store), "--collection", "nope", "--out", str(tmp_path / "o")]) == 2
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(tmp_path / "o"),
                 "--from", "yesterday"]) == 2
    assert "is not a date" in capsys.readouterr().err
    for day in ("20260301", "2026-W10-1"):  # (ISO's other forms: not what the help says)
        assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(tmp_path / "o"),
                     "--from", day]) == 2
        assert f"--from {day!r} is not a date (YYYY-MM-DD)" in capsys.readouterr().err
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(tmp_path / "o"),
                 "--from", "2026-03-05", "--to", "2026-03-01"]) == 2
    assert "--from 2026-03-05 is after --to 2026-03-01" in capsys.readouterr().err
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(tmp_path / "o"),
                 "--from", "2030-01-01"]) == 2
    assert "no captures match" in capsys.readouterr().err
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(tmp_path / "o"),
                 "--sign-key", str(tmp_path / "missing.key")]) == 2
    capsys.readouterr()
    for flag in ("--sign-key", "--host"):  # (an unset shell variable: an unsigned dataset, exit 0)
        assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(tmp_path / "o"), flag,
                     ""]) == 2
        assert f"argument {flag}: must not be empty" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_json_lines_break_at_line_feeds_only(tmp_path):
    from archive.jsonl import numbered_rows

    rows = [{"etag": "a\x85b"}, {"url": "http://127.0.0.1:9/\u2028"}, {"x": "\x1c\x0b"}]
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows))
    assert list(numbered_rows(path)) == list(enumerate(rows, 1))


@pytest.mark.parametrize(("folder", "damage", "says"), [
    ("logs", b"{not json\n", "not JSON; run `archive verify`"),
    ("logs", b"\xff\n", "not UTF-8; run `archive verify`"),
    ("logs", b'{"url": "http://news.test/a/0"}\n',
     "does not match the capture-log schema ((top level): 'job_id' is a required property); run `archive verify`"),
])
def test_a_damaged_log_or_article_line_stops_the_export_naming_it(store, tmp_path, capsys, folder, damage, says):
    damaged = tmp_path / "store"
    shutil.copytree(store, damaged)
    path = min((damaged / "ds" / folder).glob("*.jsonl"))  # (the first job's)
    number = path.read_bytes().count(b"\n") + 1
    with open(path, "ab") as fh:
        fh.write(damage)
    out = tmp_path / "out"
    assert main(["export", "--store", str(damaged), "--collection", "ds", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"archive export: {path}: line {number}: {says}; nothing was exported\n"
    assert not out.exists()


@pytest.mark.parametrize("harm", ["table edited", "table missing", "manifest missing", "manifest edited",
                                  "warc back-dated", "log edited", "newest manifest missing"])
def test_a_collection_not_whole_or_not_as_recorded_is_not_exported(store, tmp_path, capsys, harm):
    """Each was exported as the whole collection, exit 0: a job left out with its manifest
    or its article table, an edited table's words (or an edited manifest's seeds) in a
    dataset to be signed."""
    damaged = tmp_path / "store"
    shutil.copytree(store, damaged)
    coll = damaged / "ds"
    first_table = min((coll / "articles").glob("*.jsonl"))
    first_manifest = min((coll / "manifests").glob("*.json"))
    if harm == "table edited":
        first_table.write_text(first_table.read_text().replace('"headline": "', '"headline": "FABRICATED ', 1))
        says = (f"{first_table} is not the table its {first_table.stem}.derived.json describes (sha256:")
    elif harm == "table missing":
        first_table.unlink()
        says = f"job {first_table.stem} has no article table ({first_table} is missing)"
    elif harm == "warc back-dated":
        # A record's WARC-Date rewritten, its member made again: every digest still holds.
        import gzip
        import zlib

        warc = min((coll / "warcs").glob("*.warc.gz"))
        data = warc.read_bytes()
        record = next(r for r in check_records(warc) if r.type == "response")
        member = gzip.decompress(data[record.offset:record.offset + record.length])
        redated = member.replace(b"WARC-Date: 2026-", b"WARC-Date: 2001-", 1)
        assert redated != member
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        warc.write_bytes(data[:record.offset] + packer.compress(redated) + packer.flush()
                         + data[record.offset + record.length:])
        says = f"{warc} is not the file its manifest lists ("
    elif harm == "log edited":
        log = min((coll / "logs").glob("*.captures.jsonl"))
        text = log.read_text()
        assert '"status":200' in text.replace(" ", "")
        log.write_text(text.replace('"status": 200', '"status": 203', 1).replace('"status":200', '"status":203', 1))
        says = f"{log} is not the file its manifest lists ("
    elif harm == "newest manifest missing":  # (the chain before it whole: only .chain-head tells)
        newest = max((coll / "manifests").glob("*.json"))
        newest.unlink()
        newest.with_name(newest.name + ".sha256").unlink()
        says = f"the manifest of job {newest.stem} (sequence 2), the newest written here (.chain-head names it), is missing"
    elif harm == "manifest missing":
        first_manifest.unlink()
        first_manifest.with_name(first_manifest.name + ".sha256").unlink()
        says = "sequence: manifest 1 of the chain is missing"
    else:
        first_manifest.write_text(first_manifest.read_text().replace('"urls": [', '"urls": ["http://evil.example/", '))
        says = f"{first_manifest}"
    out = tmp_path / "out"
    assert main(["export", "--store", str(damaged), "--collection", "ds", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("archive export: ") and says in err and err.endswith("nothing was exported\n"), err
    assert err.count("\n") == 1 and not out.exists()


def test_a_damaged_warc_its_manifest_rehashed_to_match_is_one_line_naming_where(store, tmp_path, capsys):
    import hashlib

    from archive.manifest import HEAD, SIDECAR, encode

    damaged = tmp_path / "store"
    shutil.copytree(store, damaged)
    manifest = max((damaged / "ds" / "manifests").glob("*.json"))  # (the last job's: no later one chains to it)
    doc = json.loads(manifest.read_bytes())
    entry = next(f for f in doc["files"] if f["kind"] == "warc")
    warc = damaged / "ds" / entry["path"]
    data = bytearray(warc.read_bytes())
    # Inside a record's compressed data, whose CRC catches any changed byte (not in a gzip
    # header's time or OS byte, which nothing checks)
    middle = next(r for r in check_records(warc) if r.offset + r.length > len(data) // 2)
    data[middle.offset + middle.length // 2] ^= 0xFF
    warc.write_bytes(bytes(data))
    entry["sha256"] = "sha256:" + hashlib.sha256(data).hexdigest()
    manifest.write_bytes(encode(doc))
    manifest.with_name(manifest.name + SIDECAR).write_text(
        f"{hashlib.sha256(encode(doc)).hexdigest()}  {manifest.name}\n")
    (damaged / "ds" / HEAD).unlink()  # (it notes the manifest as written: a line of its own)
    out = tmp_path / "out"
    assert main(["export", "--store", str(damaged), "--collection", "ds", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"archive export: {warc}: offset ") and err.count("\n") == 1
    assert err.endswith("; run `archive verify` before exporting\n")
    assert not out.exists()


def test_a_failed_export_removes_the_directories_it_made_and_only_those(store, tmp_path, capsys):
    new = tmp_path / "new" / "dataset"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(new),
                 "--from", "2030-01-01"]) == 2
    assert "no captures match" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # (not even "new")
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(kept),
                 "--from", "2030-01-01"]) == 2
    assert [(p.name, p.read_text()) for p in kept.iterdir()] == [("notes.txt", "mine")]


def test_an_export_that_fails_leaves_the_one_before_as_it_was(store, tmp_path, capsys):
    from test_disk_full import file_size_limit

    out = tmp_path / "out"
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out),
                 "--sign-key", str(tmp_path / "k.key")]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    wacz = next(p for p in out.iterdir() if p.suffix == ".wacz")
    # The next export runs out of room writing its WACZ.
    with file_size_limit(wacz.stat().st_size // 2):
        assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out),
                     "--from", "2026-03-05", "--sign-key", str(tmp_path / "k.key")]) == 1
    assert "File too large" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["verify", str(out)]) == 0


def test_a_file_that_cannot_be_replaced_leaves_the_export_before_whole(store, tmp_path, capsys, monkeypatch):
    import archive.export

    out = tmp_path / "out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # A directory where the export writes a file: named, and nothing replaced.
    (out / "DATASHEET.md").unlink()
    (out / "DATASHEET.md").mkdir()
    before_dir = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out), "--from", "2026-03-05"]) == 1
    err = capsys.readouterr().err
    assert f"{out / 'DATASHEET.md'} is a directory where the export writes a file" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before_dir
    (out / "DATASHEET.md").rmdir()
    (out / "DATASHEET.md").write_bytes(before["DATASHEET.md"])
    # A file the system will not let go (an immutable one, say), met halfway through: what
    # was moved goes back.
    real, calls = os.replace, []

    def refusing(source, target):  # type: ignore[no-untyped-def]
        calls.append(target)
        if str(target).endswith("articles.parquet") and len(calls) > 3:
            raise PermissionError(1, "Operation not permitted", str(target))
        return real(source, target)

    monkeypatch.setattr(archive.export.os, "replace", refusing)
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out), "--from", "2026-03-05"]) == 1
    assert "Operation not permitted; the earlier export, if any, is as it was" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    monkeypatch.undo()
    assert main(["verify", str(out)]) == 0


def test_an_export_over_an_earlier_one_of_its_dataset_leaves_no_file_of_it_but_those_it_did_not_make(store, tmp_path):
    """A file an earlier export listed and this one does not make (an older version's)
    stayed beside this one's: the directory was not the dataset its package describes."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "ds.wacz").write_bytes(b"an earlier export's package")
    (out / "articles.csv").write_bytes(b"")
    (out / "notes.txt").write_text("the researcher's own")
    (out / "datapackage.json").write_text(json.dumps({"name": "ds", "software": "archive-corpus 0.0.9", "resources": [
        {"path": "ds.wacz"}, {"path": "articles.csv"}, {"path": "../outside"}, {"path": "datapackage.json"}]}))
    (tmp_path / "outside").write_text("not the export's")
    export_dataset(store, "ds", out)
    assert sorted(p.name for p in out.iterdir()) == ["DATASHEET.md", "articles.jsonl", "articles.parquet",
                                                     "captures-per-day.svg", "datapackage.json", "ds.wacz",
                                                     "notes.txt"]
    assert (tmp_path / "outside").exists()
    with archive.dataset.open(out) as ds:
        assert len(list(ds.articles())) == 6
    assert verify(out).ok


@pytest.mark.parametrize("theirs", ["datapackage.json", "DATASHEET.md"])
def test_an_export_over_files_no_export_of_ours_made_is_refused_and_removes_none(store, tmp_path, capsys, theirs):
    """Another tool's data package (or a user's own DATASHEET.md) was written over."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.csv").write_text("a,b\n")
    (out / theirs).write_text(json.dumps({"resources": [{"path": "precious.csv"}]}))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"archive export: error: {out / theirs} is not of an earlier export of this tool, and "
                                       "an export would write over it: export to another directory, or move it "
                                       "away\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_export_into_the_store_is_refused(store, capsys):
    out = store / "ds" / "warcs"
    before = sorted(p.name for p in out.iterdir())
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out)]) == 2
    assert f"{out} is inside the store {store}; export to a directory outside it" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


def test_rows_extracted_before_inferred_was_export_as_the_schema_says(store, tmp_path):
    # A table from an earlier version has no "inferred": exported as null, the shipped
    # schema refused it.
    from archive.validation import validate

    older = tmp_path / "store"
    shutil.copytree(store, older)
    for table in (older / "ds" / "articles").glob("*.jsonl"):
        rows = [json.loads(line) for line in table.read_text().splitlines()]
        for row in rows:
            row.pop("inferred")
            row["extractor"].pop("inferred")
        table.write_text("".join(json.dumps(row) + "\n" for row in rows))
        derived = table.with_suffix(".derived.json")
        doc = json.loads(derived.read_text())
        doc["sha256"] = "sha256:" + hashlib.sha256(table.read_bytes()).hexdigest()
        derived.write_text(json.dumps(doc))
    export_dataset(older, "ds", tmp_path / "out")
    exported = [json.loads(line) for line in (tmp_path / "out" / "articles.jsonl").read_text().splitlines()]
    assert len(exported) == 6 and all(row["inferred"] == [] for row in exported)
    for row in exported:
        validate("article", row)


@pytest.mark.parametrize(("host", "captures"), [("news.test", 7), ("NEWS.test:80", 7), ("*.test", 7),
                                                ("news.test:8080", 0), ("other.test", 0)])
def test_the_host_filter_takes_a_port_and_a_domain_as_scope_does(store, tmp_path, host, captures):
    # Two sites on one address differ by their ports: --host 127.0.0.1:8001 picks one.
    if captures:
        result = export_dataset(store, "ds", tmp_path / "out", host=host)
        assert result.captures == captures
        sheet = (tmp_path / "out" / "DATASHEET.md").read_text()
        assert "- url: http://news.test/" in sheet  # (its seeds: those of the host)
        assert "Responses with an error status (4xx or 5xx" in sheet
    else:
        with pytest.raises(UsageError, match=re.escape(f"no captures match --host {host}; nothing to export "
                                                       "(collection 'ds' has captures from 2026-03-01 to "
                                                       "2026-03-05, of news.test)")):
            export_dataset(store, "ds", tmp_path / "out", host=host)


def test_the_verify_line_names_the_public_key_beside_the_signing_key_only_if_it_is_its_own(store, tmp_path, capsys):
    assert main(["keygen", "--out", str(tmp_path / "old")]) == 0
    assert main(["keygen", "--out", str(tmp_path / "new")]) == 0
    shutil.copy(tmp_path / "old.pub", tmp_path / "new.pub")  # (a stale .pub left beside the key)
    capsys.readouterr()
    out = tmp_path / "new-out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out),
                 "--sign-key", str(tmp_path / "new.key")]) == 0
    assert f"Verify it:  archive verify {out}\n" in capsys.readouterr().out
    out = tmp_path / "old-out"
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(out),
                 "--sign-key", str(tmp_path / "old.key")]) == 0
    assert f"Verify it:  archive verify --key {tmp_path / 'old.pub'} {out}\n" in capsys.readouterr().out


def test_a_date_filtered_datasheet_names_the_seeds_of_the_jobs_in_it(tmp_path):
    store = tmp_path / "store"
    _job(store, 1, {"/a/1": _article(1)}, seed="http://news.test/early/")
    _job(store, 5, {"/a/2": _article(2)}, seed="http://news.test/late/")
    extract_collection(store, "ds")
    export_dataset(store, "ds", tmp_path / "out", date_from=date(2026, 3, 5))
    sheet = (tmp_path / "out" / "DATASHEET.md").read_text()
    assert "http://news.test/late/" in sheet and "http://news.test/early/" not in sheet
    export_dataset(store, "ds", tmp_path / "all")
    sheet = (tmp_path / "all" / "DATASHEET.md").read_text()
    assert "http://news.test/late/" in sheet and "http://news.test/early/" in sheet
