"""The folder an export writes: any local path is a local path (pyarrow took some for URIs)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess

import pytest
from test_export import _article, _job

from archive.cli import main
from archive.extract import extract_collection


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = tmp_path_factory.mktemp("ds")
    _job(store, 1, {f"/a/{i}": _article(i) for i in range(3)})
    extract_collection(store, "ds")
    return store


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
