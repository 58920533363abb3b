"""``archive verify`` of an export whose data package is damaged: a problem naming the file
and the field, never a traceback."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from test_export import _article, _job

from archive.cli import main
from archive.export import export_dataset
from archive.extract import extract_collection

DAMAGED = [
    (b"{not json", None, "not a JSON object"),
    (b"\xff", None, "not a JSON object"),
    (b"[]", None, "not a JSON object"),
    (b'{"resources": 5}', "resources", "missing or not a list"),
    (b'{"resources": [5]}', "resources[0]", "not an object"),
    (b'{"resources": [{"hash": "sha256:0"}]}', "resources[0].path", "missing"),
    (b'{"resources": [{"path": "ds.wacz"}]}', "resources[0].hash", "missing"),
    (b'{"resources": [{"path": 5, "hash": "sha256:0"}]}', "resources[0].path",
     "5 is not a file name inside the package"),
    (b'{"resources": [{"path": "../ds.wacz", "hash": "sha256:0"}]}', "resources[0].path",
     "'../ds.wacz' is not a file name inside the package"),
    (b'{"resources": [{"path": "ds.wacz", "hash": 5}]}', "resources[0].hash", "5 is not a string"),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    _job(store, 1, {f"/a/{i}": _article(i) for i in range(2)})
    extract_collection(store, "ds")
    return export_dataset(store, "ds", tmp_path_factory.mktemp("export") / "out").out


def _verify(path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["verify", str(path)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _wacz_with(wacz: Path, copy: Path, member: str, raw: bytes) -> Path:
    """A copy of ``wacz`` with ``member`` holding ``raw``."""
    with zipfile.ZipFile(wacz) as zin, zipfile.ZipFile(copy, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, raw if info.filename == member else zin.read(info))
    return copy


@pytest.mark.parametrize(("raw", "where", "says"), DAMAGED)
def test_a_damaged_datapackage_json_is_a_problem_naming_its_field(exported, tmp_path, raw, where, says):
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    (out / "datapackage.json").write_bytes(raw)
    code, report, err = _verify(out)
    assert code == 1 and err == ""
    assert f"{out / 'datapackage.json'}: {where + ': ' if where else ''}{says}\n" in report


@pytest.mark.parametrize(("raw", "where", "says"), DAMAGED)
def test_a_damaged_datapackage_json_inside_a_wacz_is_a_problem_naming_its_field(exported, tmp_path, raw, where,
                                                                                 says):
    wacz = _wacz_with(exported / "ds.wacz", tmp_path / "ds.wacz", "datapackage.json", raw)
    code, report, err = _verify(wacz)
    assert code == 1 and err == ""
    assert f"{wacz}: datapackage.json{' ' + where if where else ''}: {says}\n" in report


@pytest.mark.parametrize("raw", [b"{not json", b"\xff", b"[]"])
def test_a_damaged_datapackage_digest_inside_a_wacz_is_a_problem(exported, tmp_path, raw):
    wacz = _wacz_with(exported / "ds.wacz", tmp_path / "ds.wacz", "datapackage-digest.json", raw)
    code, report, err = _verify(wacz)
    assert code == 1 and err == ""
    assert report.splitlines()[0] == f"{wacz}: datapackage-digest.json: not a JSON object"


def test_no_flipped_bit_near_the_end_of_a_wacz_gives_a_traceback(exported, tmp_path):
    # The central directory and its end record: a flip there read as another zip version,
    # a compression method or an encryption zipfile has not, and escaped as a traceback.
    wacz = tmp_path / "ds.wacz"
    clean = (exported / "ds.wacz").read_bytes()
    for back in range(1, 160):
        for bit in (0x01, 0x40):
            data = bytearray(clean)
            data[len(data) - back] ^= bit
            wacz.write_bytes(bytes(data))
            code, said, err = _verify(wacz)
            assert "Traceback" not in said + err and code in (0, 1), (back, bit, said + err)


@pytest.mark.parametrize(("raw", "says"), [(b"[]", "not a JSON object"), (b'"x"', "not a JSON object"),
                                           (b'{"algorithm": "ed25519", "public_key": 5}', "signature covers"),
                                           (None, "public_key and signature must be strings")])
def test_a_signature_file_of_the_wrong_shape_is_a_problem(exported, tmp_path, raw, says):
    import hashlib
    import json

    out = tmp_path / "out"
    shutil.copytree(exported, out)
    if raw is None:  # (covering the data package, its key no string)
        digest = "sha256:" + hashlib.sha256((out / "datapackage.json").read_bytes()).hexdigest()
        raw = json.dumps({"algorithm": "ed25519", "signed_data": digest, "public_key": 5, "signature": []}).encode()
    (out / "datapackage.json.sig").write_bytes(raw)
    code, said, err = _verify(out)
    assert code == 1 and "Traceback" not in said + err and says in said, said + err


@pytest.mark.parametrize("back", [3, 6, 10])
def test_a_wacz_whose_zip_directory_is_damaged_is_a_problem_not_a_traceback(exported, tmp_path, back):
    # Bytes of the end record (where the central directory is, how large): the directory
    # then points outside the file, or into another member.
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    wacz = out / "ds.wacz"
    data = bytearray(wacz.read_bytes())
    data[len(data) - back] ^= 0x40
    wacz.write_bytes(bytes(data))
    for path in (out, wacz):
        code, said, err = _verify(path)
        assert code == 1 and "Traceback" not in said + err, said + err
        assert f"{wacz}: not a readable zip: " in said


def test_an_export_without_its_datapackage_json_is_said_to_be_one(exported, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    (out / "datapackage.json").unlink()
    code, _, err = _verify(out)
    assert code == 2 and "holds a .wacz but no datapackage.json, so it is no whole export" in err
    code, _, err = _verify(tmp_path / "out" / "..")
    assert code == 2 and "nor an export (datapackage.json and a .wacz)" in err


def _rehashed(out: Path) -> None:
    """datapackage.json made again to match the files as they are now (as whoever edited
    them would, with no signature to stop them)."""
    import hashlib
    import json

    package = json.loads((out / "datapackage.json").read_text())
    for res in package["resources"]:
        data = (out / res["path"]).read_bytes()
        res["bytes"], res["hash"] = len(data), "sha256:" + hashlib.sha256(data).hexdigest()
    (out / "datapackage.json").write_text(json.dumps(package))


@pytest.mark.parametrize(("edit", "says"), [
    (lambda src: src.update(warc_offset=src["warc_offset"] + 1), "source points at no record of the package"),
    (lambda src: src.update(warc_length=src["warc_length"] + 1), "source.warc_length is"),
    (lambda src: src.update(record_id="<urn:uuid:0>"), "source.record_id is <urn:uuid:0>, the record there is"),
    (lambda src: src.update(payload_digest="sha1:" + "A" * 32), "source.payload_digest is sha1:AAAA"),
    (lambda src: src.pop("record_id"), "does not match the article schema"),
])
def test_a_row_whose_pointer_does_not_hold_is_a_problem_though_every_hash_matches(exported, tmp_path, edit, says):
    import json

    out = tmp_path / "out"
    shutil.copytree(exported, out)
    lines = (out / "articles.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    edit(row["source"])
    lines[1] = json.dumps(row)
    (out / "articles.jsonl").write_text("\n".join(lines) + "\n")
    _rehashed(out)
    code, said, _ = _verify(out)
    assert code == 1 and f"{out / 'articles.jsonl'}: line 2: {says}" in said, said


def _flipped(wacz: Path, at) -> zipfile.ZipInfo:  # type: ignore[no-untyped-def]
    """``wacz`` with a byte of its WARC member flipped, ``at`` (of the member's information
    and where its bytes begin in the file) saying which; the member's information."""
    with zipfile.ZipFile(wacz) as zf:
        [warc] = [info for info in zf.infolist() if info.filename.endswith(".warc.gz")]
    data = bytearray(wacz.read_bytes())
    start = warc.header_offset + 30 + len(warc.filename) + len(warc.extra)
    data[at(warc, start)] ^= 0x01
    wacz.write_bytes(bytes(data))
    return warc


def test_a_damaged_warc_in_the_wacz_is_one_problem_and_the_rows_it_holds_one_more(exported, tmp_path):
    """A flipped byte in the name its local header gives the WACZ's WARC: a line for the
    damage, then one for each row of the table (hundreds, in a real export), each saying it
    points at no record."""
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    wacz = out / "ds.wacz"
    warc = _flipped(wacz, lambda info, start: info.header_offset + 30 + 2)
    code, said, err = _verify(out)
    assert code == 1 and err == ""
    name = warc.filename.rsplit("/", 1)[1]
    assert said.splitlines()[1].startswith(f"{wacz}: {warc.filename}: damaged inside the zip: ")
    assert said.splitlines()[2] == (
        f"{out / 'articles.jsonl'}: lines 1-2: 2 lines of the table point into {name}, which ds.wacz does not hold "
        "whole (above): their records cannot be checked")
    assert said.splitlines()[-1].startswith("FAILED: 3 problems;")


def test_a_byte_flipped_in_a_warc_of_the_wacz_is_named_by_its_record_and_the_other_rows_are_checked(exported,
                                                                                                   tmp_path):
    """The zip's CRC of the member failed, and no record of it was read: which record the
    damage is in went unsaid, and every row was said to point at none."""
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    wacz = out / "ds.wacz"
    clean = verify_records(out)
    warc = _flipped(wacz, lambda info, start: start + info.compress_size - 200)  # (in its last record)
    code, said, err = _verify(out)
    assert code == 1 and err == ""
    lines = said.splitlines()
    assert lines[1] == f"{wacz}: {warc.filename}: damaged inside the zip: Bad CRC-32 for file {warc.filename!r}"
    assert lines[2].startswith(f"{wacz}: {warc.filename} offset ") and "articles.jsonl" not in said
    assert lines[-1].startswith("FAILED: 3 problems;") and f" {clean} records" in lines[-1]


def verify_records(out: Path) -> int:
    code, said, _ = _verify(out)
    assert code == 0, said
    return int(said.splitlines()[-1].split(" records")[0].rsplit(" ", 1)[1])


def test_a_parquet_table_that_is_not_the_jsonl_table_is_a_problem(exported, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    shutil.copytree(exported, out)
    table = pq.read_table(out / "articles.parquet").to_pylist()
    table[0]["headline"] = "Another headline"
    import pyarrow

    pq.write_table(pyarrow.Table.from_pylist(table), out / "articles.parquet")
    _rehashed(out)
    code, said, _ = _verify(out)
    assert code == 1 and f"{out / 'articles.parquet'}: row 1: differs from line 1 of articles.jsonl" in said, said
    pq.write_table(pyarrow.Table.from_pylist(table[1:]), out / "articles.parquet")
    _rehashed(out)
    code, said, _ = _verify(out)
    assert code == 1 and "holds 1 row, articles.jsonl 2" in said, said
