"""The folder an export writes: any local path is a local folder (pyarrow took some for
URIs), and an earlier export there is replaced only by one of its dataset, signed as it was."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess

import pytest
from test_export import _article, _job, _one_job_of_three

from archive.cli import main
from archive.extract import extract_collection


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _one_job_of_three(tmp_path_factory, "ds")


def _strict_out() -> io.TextIOWrapper:
    """A stdout as a UTF-8 locale gives it: text it cannot encode is an error."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")


@pytest.mark.parametrize("name", ["run:1", "file:ex/fx", os.fsdecode(b"bad\xff")],
                         ids=["colon", "file-uri", "not-utf-8"])
def test_an_out_pyarrow_would_take_for_a_uri_is_written_and_verified_as_a_local_folder(store, tmp_path, name,
                                                                                       monkeypatch):
    # pyarrow reads "run:1/..." as a URI of a file system it does not know, "file:ex/fx" as a
    # relative file URI, and cannot encode a name that is not UTF-8: each a traceback.
    import pyarrow.parquet as pq

    monkeypatch.chdir(tmp_path)
    out = _strict_out()
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", name], out=out) == 0
    out.seek(0)
    said = out.buffer.read().decode("utf-8")
    verify_line = said.splitlines()[-1]
    assert verify_line.startswith("Verify it:  archive verify ")
    # (the folder as printed, pasted into a shell, is the folder)
    quoted = verify_line.removeprefix("Verify it:  archive verify ")
    assert subprocess.run(["bash", "-c", f"test -d {quoted}"], cwd=tmp_path, check=False).returncode == 0
    folder = tmp_path / name
    with open(folder / "articles.parquet", "rb") as f:
        table = pq.read_table(f).to_pylist()
    rows = [json.loads(line) for line in (folder / "articles.jsonl").read_text("utf-8").splitlines()]
    assert len(table) == 3 and table == rows
    assert main(["verify", name], out=io.StringIO()) == 0


def test_a_good_export_copied_to_a_folder_with_a_colon_verifies(store, tmp_path, monkeypatch, capsys):
    # (it said "articles.parquet: cannot be read: Unrecognized filesystem type in URI")
    assert main(["export", "--store", str(store), "--collection", "ds", "--out", str(tmp_path / "good")]) == 0
    shutil.copytree(tmp_path / "good", tmp_path / "exp:1")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["verify", "exp:1"]) == 0
    assert "OK: 5 files" in capsys.readouterr().out


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _export(store, out, *more, collection="ds"):
    return main(["export", "--store", str(store), "--collection", collection, "--out", str(out), *more])


@pytest.fixture
def signed(store, tmp_path, capsys):
    """A signed export of ``store``'s ds in tmp_path/out; the key is tmp_path/k."""
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    assert _export(store, tmp_path / "out", "--sign-key", str(tmp_path / "k.key")) == 0
    capsys.readouterr()
    return tmp_path / "out"


def test_an_export_of_another_collection_over_a_signed_one_is_refused_and_leaves_it_as_it_was(signed, tmp_path,
                                                                                              capsys):
    # (it exited 0, and the folder held only the other export: ds.wacz and the signature gone)
    other = tmp_path / "other-store"
    _job(other, 2, {"/b/1": _article(1)}, name="other")
    extract_collection(other, "other")
    before = _files(signed)
    assert _export(other, signed, collection="other") == 2
    assert capsys.readouterr().err == (f"archive export: error: {signed} holds an export of collection 'ds', which "
                                       "this export would replace: export to a new --out, or remove the old export "
                                       "first\n")
    assert _files(signed) == before
    assert main(["verify", "--key", str(tmp_path / "k.pub"), str(signed)]) == 0


def test_an_export_of_the_collection_of_another_store_is_refused(signed, tmp_path, capsys):
    # (another store's "ds", crawled at another time: its WARCs have other names)
    elsewhere = tmp_path / "elsewhere"
    _job(elsewhere, 2, {"/a/1": _article(1)})
    extract_collection(elsewhere, "ds")
    before = _files(signed)
    assert _export(elsewhere, signed, "--sign-key", str(tmp_path / "k.key")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"archive export: error: {signed} holds an export of collection 'ds' from another store "
                          "(its WARC ds-20260301") and err.count("\n") == 1
    assert err.endswith(" is not this store's), which this export would replace: export to a new --out, or remove "
                        "the old export first\n")
    assert _files(signed) == before


def test_a_signed_export_is_replaced_only_by_one_signed_with_the_same_key(store, signed, tmp_path, capsys):
    from archive.export import signing

    before = _files(signed)
    signer = signing.key_fingerprint(signing.load_public_key(tmp_path / "k.pub"))
    # Unsigned, filtered or not: the signature would go.
    for more in ([], ["--from", "2026-03-01"]):
        assert _export(store, signed, *more) == 2
        assert capsys.readouterr().err == (f"archive export: error: {signed} holds an export signed by {signer}; this "
                                           "export is not signed and would remove that signature: sign with the "
                                           "same key (--sign-key), export to a new --out, or remove the old export "
                                           "first\n")
        assert _files(signed) == before
    # Signed with another key: that signature would go too.
    assert main(["keygen", "--out", str(tmp_path / "other")]) == 0
    other = signing.key_fingerprint(signing.load_public_key(tmp_path / "other.pub"))
    capsys.readouterr()
    assert _export(store, signed, "--sign-key", str(tmp_path / "other.key")) == 2
    assert (f"holds an export signed by {signer}; this export is signed by another key, {other}, and would remove "
            "that signature") in capsys.readouterr().err
    assert _files(signed) == before
    # The same key signs it again.
    assert _export(store, signed, "--sign-key", str(tmp_path / "k.key")) == 0
    assert _files(signed) == before  # (the same input, the same bytes; Ed25519 signatures are deterministic)
    assert main(["verify", "--key", str(tmp_path / "k.pub"), str(signed)]) == 0


def test_an_unsigned_export_made_again_in_its_folder_replaces_it(store, tmp_path):
    out = tmp_path / "out"
    assert _export(store, out) == 0
    before = _files(out)
    assert _export(store, out) == 0
    assert _files(out) == before
    assert _export(store, out, "--from", "2026-03-02") == 2  # (no captures then: nothing replaced)
    assert _files(out) == before


def test_a_warc_gone_from_the_store_is_not_blamed_on_a_push_that_never_was(store, tmp_path, capsys):
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    [warc] = (copy / "ds" / "warcs").glob("*.warc.gz")
    warc.unlink()
    assert main(["export", "--store", str(copy), "--collection", "ds", "--out", str(tmp_path / "out")]) == 1
    said = capsys.readouterr().err
    assert f"{warc} is listed by a manifest but is missing, and was not pushed away: restore it" in said
    assert "--delete-local" not in said and not (tmp_path / "out").exists()


def test_a_table_missing_for_a_job_just_ended_says_its_crawl_may_still_be_making_it(store, tmp_path, capsys):
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    [table] = (copy / "ds" / "articles").glob("*.jsonl")
    table.unlink()
    [manifest] = (copy / "ds" / "manifests").glob("*.json")
    os.utime(manifest)  # (written just now, as at a job's end, before its extraction)
    assert main(["export", "--store", str(copy), "--collection", "ds", "--out", str(tmp_path / "out")]) == 1
    assert "its crawl may still be extracting its articles: export again in a moment" in capsys.readouterr().err
    an_hour_ago = manifest.stat().st_mtime - 3600
    os.utime(manifest, (an_hour_ago, an_hour_ago))
    assert main(["export", "--store", str(copy), "--collection", "ds", "--out", str(tmp_path / "out")]) == 1
    said = capsys.readouterr().err
    assert "may still be extracting" not in said and "`archive extract --collection ds" in said
