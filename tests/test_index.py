"""CDXJ per WARC, the merged index, binary-search lookups, the catalog, and `archive index`."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import surt

sys.path.insert(0, str(Path(__file__).parent))

from replay_helpers import SECOND, SITE, Clock, fetch, two_jobs
from warcs import damage_member

from archive.cli import main
from archive.config import one_off
from archive.errors import StoreError
from archive.index import KEPT, NOTE, closest, lookup_url, pad_timestamp, update_indexes
from archive.index.cdxj import index_name, parse_line
from archive.index.lookup import iter_prefix
from archive.index.merged import merged_path, pending
from archive.job import CaptureJob
from archive.store import collection_dir
from archive.warc.reader import check_records

THIRD = SECOND + timedelta(days=4)


@pytest.fixture
def store(tmp_path):
    two_jobs(tmp_path)
    return tmp_path


def coll_of(store: Path):
    return collection_dir(store, "news")


def test_each_closed_warc_gets_a_sorted_pywb_cdxj_with_its_source_recorded(store):
    coll = coll_of(store)
    result = update_indexes(coll)
    assert len(result.indexed) == 2 == result.warcs
    manifests = [json.loads(p.read_text()) for p in sorted(coll.manifests.glob("*.json"))]
    hashes = {f["path"]: f["sha256"] for m in manifests for f in m["files"]}
    for index in result.indexed:
        lines = index.read_bytes().splitlines(keepends=True)
        assert lines == sorted(lines) and lines
        for line in lines:
            key, ts, data = line.decode().rstrip("\n").split(" ", 2)
            fields = json.loads(data)
            assert {"url", "mime", "status", "digest", "length", "offset", "filename"} <= set(fields) or \
                fields.get("status") == "301"
            assert key == surt.surt(fields["url"]) and re.fullmatch(r"\d{14}", ts)
        derived = json.loads(index.with_name(index.name + ".derived.json").read_text())
        source = derived["derived_from"][0]
        assert source["sha256"] == hashes[source["path"]]
        assert derived["tool"]["indexer"].startswith("cdxj-indexer ")
    revisits = [parse_line(line) for line in merged_path(coll).read_bytes().splitlines() if b"warc/revisit" in line]
    assert {e.url for e in revisits} == {SITE + "/same", SITE + "/copy"}
    assert update_indexes(coll).indexed == []  # current indexes are left alone


def test_merged_index_is_the_sorted_union_and_compacts_incrementally(store):
    coll = coll_of(store)
    update_indexes(coll)
    per_warc = sorted(line for p in coll.indexes.glob("*.cdxj") for line in p.read_bytes().splitlines())
    assert merged_path(coll).read_bytes().splitlines() == per_warc
    # A third job: only its index is merged in, and lookups see it before and after.
    from replay_helpers import SECOND, Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    assert len(lookup_url(coll, SITE + "/story")) == 2  # (what look-ups remember of the index directory, primed)
    job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(SECOND.replace(day=9)), dedup=False)
    job.record_fetch(fetch(SITE + "/story", b"<p>third version</p>", SECOND.replace(day=9)))
    job.close()
    from archive.index.cdxj import index_warc

    new = max(coll.warcs.glob("*.warc.gz"))
    index_warc(new, coll.indexes)
    assert [p.name for p in pending(coll)] == [new.name.replace(".warc.gz", ".cdxj")]
    assert len(lookup_url(coll, SITE + "/story")) == 3  # the pending file is searched too
    update_indexes(coll)
    assert pending(coll) == []
    assert [e.timestamp[:8] for e in lookup_url(coll, SITE + "/story")] == ["20260301", "20260305", "20260309"]
    derived = json.loads(merged_path(coll).with_name("news.cdxj.derived.json").read_text())
    assert len(derived["derived_from"]) == 3 and derived["lines"] == 8


def test_binary_search_finds_exactly_the_lines_of_a_key(tmp_path):
    rng = random.Random(7)
    keys = sorted({f"com,example)/{rng.choice(['a', 'ab', 'a/b', 'b', 'zz'])}{rng.randrange(50)}" for _ in range(300)})
    lines = sorted(f"{k} 2026{rng.randrange(10**10):010d} {{}}\n".encode() for k in keys for _ in range(rng.randrange(1, 4)))
    path = tmp_path / "x.cdxj"
    path.write_bytes(b"".join(lines))
    probes = keys + ["com,example)/", "com,example)/a", "aaa", "zzz", keys[0], keys[-1], "com,example)/ab1x"]
    for key in probes:
        prefix = key.encode() + b" "
        assert list(iter_prefix(path, prefix)) == [line for line in lines if line.startswith(prefix)], key
    empty = tmp_path / "empty.cdxj"
    empty.write_bytes(b"")
    assert list(iter_prefix(empty, b"a ")) == []


def test_catalog_is_derived_deletable_and_rebuilt_identically(store):
    coll = coll_of(store)
    result = update_indexes(coll)
    catalog = result.catalog
    assert catalog is not None

    def dump() -> list:
        with sqlite3.connect(catalog) as db:
            return [sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in ("captures", "pages", "log")]

    before = dump()
    assert len(before[0]) == 7 and len(before[2]) == 5  # captures; log lines of the responses
    sidecar = json.loads(catalog.with_name("catalog.sqlite.derived.json").read_text())
    # (the index of each WARC, which never changes, not the merged one, rewritten by every job)
    assert {s["path"] for s in sidecar["derived_from"] if s["path"].startswith("indexes/")} == {
        f"indexes/{p.name}" for p in coll.indexes.glob("*.cdxj")}
    assert all(s["sha256"].startswith("sha256:") for s in sidecar["derived_from"])
    catalog.unlink()
    update_indexes(coll)
    assert dump() == before
    from archive.catalog import search_pages

    assert [r["title"] for r in search_pages(coll, "Unch")] == ["Unchanged"]


def test_deleted_indexes_are_rebuilt_by_archive_index(store):
    coll = coll_of(store)
    update_indexes(coll)
    before = merged_path(coll).read_bytes()
    shutil.rmtree(coll.indexes)
    (coll.root / "catalog.sqlite").unlink()
    out = io.StringIO()
    assert main(["index", "--store", str(store)], out=out) == 0
    assert "news: 2 WARCs indexed" in out.getvalue() and "(7 captures)" in out.getvalue()
    assert merged_path(coll).read_bytes() == before and (coll.root / "catalog.sqlite").is_file()


def test_an_unknown_collection_among_those_named_is_refused_before_any_is_rebuilt(store):
    coll = coll_of(store)
    update_indexes(coll)
    shutil.rmtree(coll.indexes)
    err = io.StringIO()
    assert main(["index", "--store", str(store), "--collection", "news", "--collection", "nosuch"], err=err) == 2
    assert f"{store / 'nosuch'} is not a collection (no warcs/ directory) (it has news)\n" in err.getvalue()
    assert not coll.indexes.exists()


def test_a_collection_whose_warcs_folder_is_a_file_is_said_to_be_so_not_passed_over(store):
    coll = coll_of(store)
    shutil.rmtree(coll.warcs)
    coll.warcs.write_text("not a folder")
    err = io.StringIO()
    assert main(["index", "--store", str(store)], err=err) == 2
    assert f"{coll.warcs} is not a directory: the collection's WARCs cannot be read" in err.getvalue()


def test_a_warc_cut_short_is_not_indexed_as_its_manifest_lists_it(store):
    # Its index would hold fewer captures and claim the manifest's digest for them.
    coll = coll_of(store)
    update_indexes(coll)
    indexes = {p.name: p.read_bytes() for p in coll.indexes.iterdir() if p.is_file()}
    warc = max(coll.warcs.glob("*.warc.gz"))
    data = warc.read_bytes()
    warc.write_bytes(data[: len(data) // 2])
    err = io.StringIO()
    assert main(["index", "--store", str(store)], err=err) == 1
    assert err.getvalue() == (f"archive index: {warc} is {len(data) // 2} bytes, its manifest says {len(data)}: "
                              "run `archive verify`; its index, if it had one, is left as it was\n")
    assert {p.name: p.read_bytes() for p in coll.indexes.iterdir() if p.is_file()} == indexes


def test_a_damaged_warc_its_manifest_matches_is_one_line_and_keeps_its_index_the_others_rebuilt(store):
    coll = coll_of(store)
    job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(THIRD), dedup=False)
    # A member far longer than a read of warcio's: damage in its middle is found only after
    # some of it is inflated, which warcio's reader reports on stderr and reads past.
    noise = random.Random(7).randbytes(200_000)
    job.record_fetch(fetch(SITE + "/large", noise, THIRD, headers=[(b"Content-Type", b"application/pdf")]))
    job.close()
    update_indexes(coll)
    indexes = {p.name: (p.read_bytes(), p.stat().st_ino) for p in coll.indexes.iterdir() if p.is_file()}
    warc = max(coll.warcs.glob("*.warc.gz"))
    damaged = damage_member(warc, count=20)
    data = warc.read_bytes()
    for manifest in coll.manifests.glob("*.json"):  # edited to match: only reading the WARC can tell
        text = manifest.read_text()
        doc = json.loads(text)
        for entry in doc["files"]:
            if entry["path"] == f"warcs/{warc.name}":
                entry["size"], entry["sha256"] = len(data), "sha256:" + hashlib.sha256(data).hexdigest()
        manifest.write_text(json.dumps(doc))
    err, out = io.StringIO(), io.StringIO()
    assert main(["index", "--store", str(store)], out=out, err=err) == 1
    assert err.getvalue() == (f"archive index: {warc} is damaged at offset {damaged.offset} and cannot be indexed: "
                              "run `archive verify`; its index, if it had one, is left as it was\n")
    assert out.getvalue().startswith("news: 2 WARCs indexed")  # the others, rebuilt all the same
    after = {p.name: (p.read_bytes(), p.stat().st_ino) for p in coll.indexes.iterdir() if p.is_file()}
    own = {name for name in after if name.startswith(warc.name.removesuffix(".warc.gz") + ".cdxj")}
    assert len(own) == 2 and all(after[name] == indexes[name] for name in own)  # not even rewritten
    assert {name: data for name, (data, _) in after.items()} == {name: data for name, (data, _) in indexes.items()}
    assert all(after[name][1] != indexes[name][1] for name in after if name.endswith(".cdxj") and name not in own)


def test_a_damaged_warc_does_not_keep_later_captures_out_of_the_indexes(store):
    # Months of crawls: one WARC gone bad must not hide every capture made after it.
    coll = coll_of(store)
    first = min(coll.warcs.glob("*.warc.gz"))
    damaged = damage_member(first)
    job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(THIRD), dedup=False)
    job.record_fetch(fetch(SITE + "/later", b"<p>later</p>", THIRD))
    job.close()
    for _ in range(2):  # each update tries the damaged one again, and says so again
        result = update_indexes(coll)
        why = f"{first} is damaged at offset {damaged.offset} and cannot be indexed: run `archive verify`"
        assert result.unindexed == [why + KEPT]
        assert [entry.url for entry in lookup_url(coll, SITE + "/later")] == [SITE + "/later"]
        assert [entry.timestamp[:8] for entry in lookup_url(coll, SITE + "/story")] == [SECOND.strftime("%Y%m%d")]
        assert not (coll.indexes / first.name.replace(".warc.gz", ".cdxj")).exists()
        assert not pending(coll)  # merged, as pywb reads it, not only found among the per-WARC indexes
        assert SITE.encode() + b"/later" in merged_path(coll).read_bytes()


def test_a_warc_the_disk_cannot_read_back_is_named_and_the_others_are_indexed(store):
    coll = coll_of(store)
    unreadable = coll.warcs / "unreadable.warc.gz"
    unreadable.mkdir()  # (not a file: named as such, not by the 4096 bytes a directory has)
    result = update_indexes(coll)
    why = f"{unreadable} cannot be read (not a file, or its size cannot be had): run `archive verify`"
    assert result.unindexed == [why + KEPT]
    assert len(result.indexed) == 2 and [e.url for e in lookup_url(coll, SITE + "/copy")] == [SITE + "/copy"]


def test_a_warc_of_another_tool_without_block_digests_is_indexed_as_warcio_reads_it(store):
    # What warcio reads as written (an optional digest left out, a field it does not know)
    # is for `archive verify` to report; it is not damage that keeps a WARC out of the index.
    coll = coll_of(store)
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>other tool</p>"
    head = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
            b"WARC-Date: 2026-03-07T12:00:00Z\r\nWARC-Target-URI: " + SITE.encode() + b"/other\r\n"
            b"Content-Type: application/http; msgtype=response\r\nX-Other-Tool\r\n"
            b"Content-Length: %d\r\n\r\n" % len(http))
    (coll.warcs / "other-tool.warc.gz").write_bytes(gzip.compress(head + http + b"\r\n\r\n", mtime=0))
    assert main(["index", "--store", str(store)], err=io.StringIO()) == 0
    assert [entry.url for entry in lookup_url(coll, SITE + "/other")] == [SITE + "/other"]


DAMAGED_LINES = [b"not an index line\n", b'test,news)/story 20260302000000 {"url": \n',
                 b'test,news)/story 20260303000000 {"url": "\xff"}\n', b"test,news)/story 202603"]  # (cut off)


@pytest.mark.parametrize("bad", DAMAGED_LINES)
def test_archive_index_rebuilds_a_merged_index_holding_a_damaged_line(store, bad):
    coll = coll_of(store)
    update_indexes(coll)
    merged = merged_path(coll)
    good = merged.read_bytes()
    merged.write_bytes(good + bad)
    out = io.StringIO()
    assert main(["index", "--store", str(store)], out=out) == 0
    assert "(7 captures)" in out.getvalue() and merged.read_bytes() == good


def test_a_merged_index_not_as_written_is_rebuilt_whole_when_a_new_warc_is_merged_in(store):
    from replay_helpers import SECOND, Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    coll = coll_of(store)
    update_indexes(coll)
    merged = merged_path(coll)
    merged.write_bytes(merged.read_bytes() + DAMAGED_LINES[0])
    job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(SECOND.replace(day=9)), dedup=False)
    job.record_fetch(fetch(SITE + "/story", b"<p>third version</p>", SECOND.replace(day=9)))
    job.close()
    update_indexes(coll)  # (as at the end of a crawl)
    per_warc = sorted(line for p in coll.indexes.glob("*.cdxj") for line in p.read_bytes().splitlines(keepends=True))
    assert merged.read_bytes() == b"".join(per_warc)


def test_lookups_replay_and_the_catalog_skip_a_damaged_merged_line_with_a_warning(store, caplog):
    from replay_helpers import get

    from archive.replay import serve_in_thread

    coll = coll_of(store)
    update_indexes(coll)
    merged = merged_path(coll)
    bad = [*DAMAGED_LINES[1:3], b"test,news)/story 20260304000000 [1]\n"]
    lines = sorted(merged.read_bytes().splitlines(keepends=True) + bad)
    merged.write_bytes(b"".join(lines))
    with caplog.at_level(logging.WARNING):
        assert [e.timestamp[:8] for e in lookup_url(coll, SITE + "/story")] == ["20260301", "20260305"]
        with serve_in_thread(store) as base:
            status, _, body = get(base, f"/news/*/{SITE}/story")
            assert status == 200 and body.count(f"prov_/{SITE}/story".encode()) == 2
            status, _, body = get(base, "/news/")  # (the catalog is built from each WARC's own index)
            assert status == 200 and b"Unchanged" in body
    said = {r.getMessage().split(": not a CDXJ line")[0] for r in caplog.records if r.levelno == logging.WARNING}
    assert said == {f"{merged}, a line of test,news)/story"}


def test_the_catalog_skips_capture_log_lines_that_are_not_json_or_not_utf8(store):
    coll = coll_of(store)
    update_indexes(coll)
    log_file = next(coll.logs.glob("*.captures.jsonl"))
    with open(log_file, "ab") as fh:
        fh.write(b'{"url": "http://news.test/\xff\xfe"}\n{not json\n[1, 2]\n')
    out = io.StringIO()
    assert main(["index", "--store", str(store)], out=out) == 0
    assert "(7 captures)" in out.getvalue()


def test_the_catalog_finds_each_log_line_in_its_log_without_a_copy(store):
    # The catalog once held every line again, and grew larger than a collection of
    # recrawls' WARCs; it now knows where each line is. A line not JSON before them moves
    # the others along.
    from archive.catalog import catalog_path, log_line

    coll = coll_of(store)
    log_file = next(coll.logs.glob("*.captures.jsonl"))
    lines = log_file.read_bytes()
    log_file.write_bytes(b"{not json\n" + lines)
    update_indexes(coll)
    rows = [json.loads(line) for line in lines.splitlines()]
    placed = [row for row in rows if row.get("warc")]
    assert placed and all(log_line(coll, row["warc"]["filename"], row["warc"]["offset"]) == row for row in placed)
    with sqlite3.connect(catalog_path(coll)) as db:
        columns = [c[1] for c in db.execute("PRAGMA table_info(log)")]
    assert "line" not in columns


def test_archive_index_usage_errors(tmp_path):
    err = io.StringIO()
    assert main(["index", "--store", str(tmp_path / "missing")], err=err) == 2
    assert "missing does not exist: it is no store" in err.getvalue()
    two_jobs(tmp_path)
    err = io.StringIO()
    assert main(["index", "--store", str(tmp_path), "--collection", "other"], err=err) == 2
    assert "not a collection" in err.getvalue()


def test_a_warc_no_manifest_lists_of_a_job_that_has_one_is_not_indexed_and_one_gone_loses_its_index(tmp_path):
    """A copy of a WARC put in the store was indexed, its captures shown twice; taken away
    again, its index stayed, and the merged index and the catalog kept its captures, each
    unreadable."""
    two_jobs(tmp_path)
    coll = collection_dir(tmp_path, "news")
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO()) == 0
    captures = len(lookup_url(coll, SITE + "/story"))
    first = min(coll.warcs.glob("*.warc.gz"))
    stray = coll.warcs / "copy.warc.gz"
    shutil.copyfile(first, stray)
    shutil.copyfile(coll.indexes / index_name(first), coll.indexes / index_name(stray))  # (as an index made of it)
    err = io.StringIO()
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO(), err=err) == 1
    assert (f"archive index: {stray} is listed in no manifest, though its job " in err.getvalue()
            and "not indexed, and any index of it removed; move it out of the store" in err.getvalue()), err.getvalue()
    assert not (coll.indexes / index_name(stray)).exists() and len(lookup_url(coll, SITE + "/story")) == captures
    shutil.copyfile(coll.indexes / index_name(first), coll.indexes / index_name(stray))
    stray.unlink()  # (taken away, its index left)
    err = io.StringIO()
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO(), err=err) == 0, err.getvalue()
    assert not (coll.indexes / index_name(stray)).exists() and len(lookup_url(coll, SITE + "/story")) == captures


def test_an_uncompressed_copy_of_a_warc_no_manifest_lists_is_not_indexed_and_another_tools_warc_is(tmp_path):
    """A WARC of the store's gunzipped beside it (to read it with a text tool) was indexed,
    its captures shown twice: its warcinfo was not read, the file being no gzip."""
    import gzip

    from warcio.warcwriter import WARCWriter

    from archive.verify import warcinfo_job_id

    two_jobs(tmp_path)
    coll = collection_dir(tmp_path, "news")
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO()) == 0
    captures = len(lookup_url(coll, SITE + "/story"))
    first = min(coll.warcs.glob("*.warc.gz"))
    job = warcinfo_job_id(first)
    stray = coll.warcs / "copy.warc"
    stray.write_bytes(gzip.decompress(first.read_bytes()))
    with open(coll.warcs / "other-tool.warc", "wb") as fh:  # (no warcinfo naming a job of ours: indexed)
        writer = WARCWriter(fh, gzip=False)
        writer.write_record(writer.create_warc_record(SITE + "/elsewhere", "resource", payload=io.BytesIO(b"hi"),
                                                      warc_content_type="text/plain"))
    err = io.StringIO()
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO(), err=err) == 1
    assert err.getvalue() == (f"archive index: {stray} is listed in no manifest, though its job "
                              f"{job} has one (a copy, or a file put there after the job ended): "
                              "not indexed, and any index of it removed; move it out of the store "
                              "(`archive verify` says the same)\n")
    assert not (coll.indexes / index_name(stray)).exists() and len(lookup_url(coll, SITE + "/story")) == captures
    assert [entry.url for entry in lookup_url(coll, SITE + "/elsewhere")] == [SITE + "/elsewhere"]
    out = io.StringIO()
    assert main(["verify", str(coll.root)], out=out, err=io.StringIO()) == 1
    assert f"{stray}: not listed in any manifest: an uncompressed WARC (its warcinfo names job {job})" in out.getvalue()


def test_a_warc_gunzipped_in_place_keeps_the_index_of_the_warc_its_manifest_lists(tmp_path):
    """gunzip x.warc.gz leaves x.warc, whose index would be x.cdxj, x.warc.gz's: taken for the
    copy's and removed, the listed WARC's captures left the indexes, though archive index
    said its index was left as it was."""
    import gzip

    two_jobs(tmp_path)
    coll = collection_dir(tmp_path, "news")
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO()) == 0
    first = min(coll.warcs.glob("*.warc.gz"))
    index = coll.indexes / index_name(first)
    kept = index.read_bytes()
    plain = first.with_name(first.name.removesuffix(".gz"))
    plain.write_bytes(gzip.decompress(first.read_bytes()))
    first.unlink()
    err = io.StringIO()
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO(), err=err) == 1
    assert f"archive index: {first} is listed in a manifest but not in the store" in err.getvalue()
    assert f"archive index: {plain} is listed in no manifest, though its job " in err.getvalue()
    assert index.read_bytes() == kept
    assert [entry.filename for entry in lookup_url(coll, SITE + "/story")].count(first.name) == 1


def _other_tools_warc(path: Path, url: str, *, gzipped: bool) -> None:
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzipped)
        writer.write_record(writer.create_warc_record(url, "resource", payload=io.BytesIO(b"hi"),
                                                      warc_content_type="text/plain"))


def test_a_warc_and_a_gzipped_warc_of_one_name_each_keep_an_index_of_their_own(tmp_path):
    """x.warc and x.warc.gz were both indexed as x.cdxj, the one written last over the other:
    the first's captures left replay while archive index said both were indexed, and each
    run indexed them again."""
    two_jobs(tmp_path)
    coll = collection_dir(tmp_path, "news")
    _other_tools_warc(coll.warcs / "site.warc", SITE + "/plain", gzipped=False)
    _other_tools_warc(coll.warcs / "site.warc.gz", SITE + "/zipped-elsewhere", gzipped=True)
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO()) == 0
    assert [e.filename for e in lookup_url(coll, SITE + "/plain")] == ["site.warc"]
    assert [e.filename for e in lookup_url(coll, SITE + "/zipped-elsewhere")] == ["site.warc.gz"]
    indexes = {p.name: p.stat().st_mtime_ns for p in coll.indexes.glob("*.cdxj")}
    assert {index_name(coll.warcs / "site.warc"), index_name(coll.warcs / "site.warc.gz")} <= indexes.keys()
    update_indexes(coll)
    assert {p.name: p.stat().st_mtime_ns for p in coll.indexes.glob("*.cdxj")} == indexes


def test_indexes_an_earlier_version_named_are_found_as_they_are_or_renamed(tmp_path):
    """A store's indexes of its .warc.gz files keep their names (x.cdxj), read as they are;
    a .warc's, which an earlier version named x.cdxj too, gives way to its index of now."""
    two_jobs(tmp_path)
    coll = collection_dir(tmp_path, "news")
    update_indexes(coll)
    ours = {p.name: p.read_bytes() for p in coll.indexes.glob("*.cdxj*")}
    assert all(name.removesuffix(".derived.json").removesuffix(".cdxj") + ".warc.gz" in
               {w.name for w in coll.warcs.iterdir()} for name in ours)
    plain = coll.warcs / "other.warc"
    _other_tools_warc(plain, SITE + "/plain", gzipped=False)
    update_indexes(coll)
    new = coll.indexes / index_name(plain)
    old = coll.indexes / "other.cdxj"  # (as an earlier version named it)
    new.rename(old)
    new.with_name(new.name + ".derived.json").rename(old.with_name(old.name + ".derived.json"))
    assert main(["index", "--store", str(tmp_path)], out=io.StringIO()) == 0
    assert not old.exists() and new.is_file()
    assert [e.filename for e in lookup_url(coll, SITE + "/plain")] == ["other.warc"]
    assert {p.name: p.read_bytes() for p in coll.indexes.glob("*.cdxj*") if p.name in ours} == ours


def test_pad_timestamp_and_closest():
    assert pad_timestamp("2026") == "20261231235959"
    assert pad_timestamp("202602") == "20260228235959"
    assert pad_timestamp("20260301120000") == "20260301120000"
    assert pad_timestamp("9") == "99991231235959"
    from archive.index.cdxj import CdxjEntry

    entries = [CdxjEntry("k", ts, {}) for ts in ("20260101000000", "20260301000000", "20260601000000")]
    assert closest(entries, "202602")[0].timestamp == "20260301000000"
    assert closest(entries, "2025")[0].timestamp == "20260101000000"
    assert closest(entries, None)[0].timestamp == "20260601000000"


def test_pywb_config_points_at_warcs_and_indexes(store):
    out = io.StringIO()
    assert main(["replay", "--pywb-config", "--store", str(store)], out=out) == 0
    text = out.getvalue()
    root = store.resolve()
    assert "collections:\n  news:\n" in text
    # The merged index alone: pywb searches every file of the directory at each look-up.
    assert f'index_paths: "{root}/news/indexes/merged/"' in text and f'archive_paths: "{root}/news/warcs/"' in text
    assert (root / "news" / "indexes" / "merged" / "news.cdxj").is_file()  # indexed on the way


def test_archive_replay_serves_and_reports_usage_errors(store):
    err = io.StringIO()
    assert main(["replay", "--store", str(store / "missing")], err=err) == 2
    done = subprocess.run([sys.executable, "-m", "archive", "replay", "--store", str(store), "--port", "99999"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "'99999' is not a port" in done.stderr and "Traceback" not in done.stderr
    proc = subprocess.Popen([sys.executable, "-m", "archive", "replay", "--store", str(store), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        base = re.search(r"(http://127\.0\.0\.1:\d+)/", first).group(1)
        with urllib.request.urlopen(base + "/news/20260302id_/http://news.test/story", timeout=10) as resp:
            assert resp.read() == b"<html><body><p>first version</p></body></html>"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_warc_fields_lines_break_at_line_feeds_only():
    from archive.index.records import warc_fields

    block = "userAgent: bot\u2028two\r\nnote: a\x85b\x0cc\r\nrobots: allowed\r\n".encode()
    assert warc_fields(block) == {"userAgent": "bot\u2028two", "note": "a\x85b\x0cc", "robots": "allowed"}


def _catalog_rows(catalog: Path) -> list:
    with sqlite3.connect(catalog) as db:
        return [sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in ("captures", "pages", "log", "headlines", "sources")]


def _another_job(store: Path, when, pages: dict[str, bytes]) -> None:
    from replay_helpers import Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
    for path, body in pages.items():
        job.record_fetch(fetch(SITE + path, body, when, headers=[(b"Content-Type", b"text/html")]))
    job.close()


def _articles(coll, name: str, headlines: dict[str, str]) -> None:
    coll.articles.mkdir(exist_ok=True)
    (coll.articles / f"{name}.jsonl").write_text(
        "".join(json.dumps({"url": SITE + path, "headline": h}) + "\n" for path, h in headlines.items()))


def test_the_catalog_takes_in_a_new_job_alone_and_holds_what_a_build_from_scratch_holds(store, caplog):
    from datetime import UTC, datetime

    from archive.catalog import build_catalog

    coll = coll_of(store)
    catalog = update_indexes(coll).catalog
    _articles(coll, "news-20260306T000000Z-aaaa", {"/story": "A headline for the story"})
    _another_job(store, datetime(2026, 3, 7, 12, tzinfo=UTC),
                 {"/story": b"<html><title>third</title><p>third version</p></html>",
                  "/fresh": b"<html><head><title>Fresh page</title></head></html>"})
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="archive.catalog"):
        update_indexes(coll)
    said = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("added 3 files to") for m in said) and not any(m.startswith("built") for m in said)
    added = _catalog_rows(catalog)
    pages = {(url, ts): (title, source) for url, title, ts, _, _, source in added[1]}
    assert pages[(SITE + "/fresh", "20260307120000")] == ("Fresh page", "html")
    # The headline names every capture of its URL, those before it and the one after.
    assert {v for (url, _), v in pages.items() if url == SITE + "/story"} == {("A headline for the story", "article")}
    assert len([p for p in pages if p[0] == SITE + "/story"]) == 3
    build_catalog(coll)
    assert _catalog_rows(catalog) == added
    sidecar = json.loads(catalog.with_name("catalog.sqlite.derived.json").read_text())
    assert len(sidecar["derived_from"]) == len(added[4])


def test_an_article_file_that_comes_after_a_later_one_is_taken_in_and_the_later_headline_kept(store, caplog):
    # Jobs that overlapped, or a clock that ran ahead for one job (stamped 2099): the catalog
    # is not built again for it (were it, it would be at every job's end after the 2099 one).
    from archive.catalog import build_catalog

    coll = coll_of(store)
    _articles(coll, "news-20260310T000000Z-bbbb", {"/story": "Later headline"})
    _articles(coll, "news-20990101T000000Z-ffff", {"/elsewhere": "Headline from the future"})
    catalog = update_indexes(coll).catalog
    for name, headline in (("news-20260301T000000Z-cccc", "Earlier headline"),
                           ("news-20260312T000000Z-dddd", "Latest of this year")):
        _articles(coll, name, {"/story": headline, "/elsewhere": "Not the latest"})
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="archive.catalog"):
            update_indexes(coll)
        assert not any(r.getMessage().startswith("built") for r in caplog.records), name
        assert any(r.getMessage().startswith("added 1 files") for r in caplog.records), name
        rows = _catalog_rows(catalog)
        titles = {url: title for url, title, *_ in rows[1] if url in (SITE + "/story", SITE + "/elsewhere")}
        assert titles.get(SITE + "/story") == ("Later headline" if "0301" in name else "Latest of this year")
        assert {url: h for url, h, _ in rows[3]}[SITE + "/elsewhere"] == "Headline from the future"
        build_catalog(coll)
        assert _catalog_rows(catalog) == rows


@pytest.mark.parametrize("change", ["a log grown", "a damaged catalog"])
def test_the_catalog_is_built_again_when_it_cannot_just_take_in_what_is_new(store, caplog, change):
    from archive.catalog import build_catalog

    coll = coll_of(store)
    _articles(coll, "news-20260310T000000Z-bbbb", {"/story": "Later headline"})
    catalog = update_indexes(coll).catalog
    if change == "a log grown":
        with open(next(coll.logs.glob("*.captures.jsonl")), "a") as fh:
            fh.write(json.dumps({"url": SITE + "/x", "outcome": "failed", "job_id": "j"}) + "\n")
    else:  # (and something new to take in)
        catalog.write_bytes(b"no database here " * 100)
        _articles(coll, "news-20260311T000000Z-dddd", {"/elsewhere": "Another headline"})
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="archive.catalog"):
        update_indexes(coll)
    assert any(r.getMessage().startswith("built") for r in caplog.records), change
    rows = _catalog_rows(catalog)
    assert {title for url, title, *_ in rows[1] if url == SITE + "/story"} == {"Later headline"}
    build_catalog(coll)
    assert _catalog_rows(catalog) == rows


def test_a_catalog_damaged_under_a_current_sidecar_is_built_again_when_read(store, caplog):
    from archive.catalog import by_digest, search_pages

    coll = coll_of(store)
    catalog = update_indexes(coll).catalog
    pages = search_pages(coll)
    digest = by_digest(coll, json.loads(merged_path(coll).read_bytes().splitlines()[0].split(b" ", 2)[2])["digest"])
    catalog.write_bytes(b"not what was built " * 500)  # (the sidecar still says it is current)
    with caplog.at_level(logging.WARNING):
        assert search_pages(coll) == pages
    assert any("cannot be read" in r.getMessage() and "built again" in r.getMessage() for r in caplog.records)
    catalog.write_bytes(b"\0" * 8192)
    assert by_digest(coll, digest[0]["digest"]) == digest


def test_readers_that_find_the_catalog_damaged_at_once_build_it_again_once(store):
    import threading

    from archive.catalog import by_digest, catalog_path

    coll = coll_of(store)
    update_indexes(coll)
    path = catalog_path(coll)
    with sqlite3.connect(path) as db:
        good = db.execute("SELECT count(*) FROM captures").fetchone()[0]
    failed: list[str] = []

    def read() -> None:
        try:
            by_digest(coll, "sha1:NONE")
        except Exception as exc:  # noqa: BLE001 (every failure is the finding)
            failed.append(repr(exc))

    for _ in range(5):
        path.write_bytes(b"X" * 16 + path.read_bytes()[16:])  # (its sidecar still says it is current)
        readers = [threading.Thread(target=read) for _ in range(8)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        assert failed == []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            assert db.execute("SELECT count(*) FROM captures").fetchone()[0] == good


def test_a_query_the_catalog_refuses_is_said_and_rebuilds_nothing(store, caplog):
    from replay_helpers import get

    from archive.catalog import search_pages
    from archive.errors import StoreError
    from archive.replay import serve_in_thread

    coll = coll_of(store)
    update_indexes(coll)
    with caplog.at_level(logging.INFO), pytest.raises(StoreError, match="LIKE or GLOB pattern too complex"):
        search_pages(coll, "a" * 60_000)
    assert not any("built" in r.getMessage() for r in caplog.records)
    with serve_in_thread(store) as base:
        status, _, body = get(base, "/news/?q=" + "a" * 1001)
    assert status == 400 and b"at most 1,000 are taken" in body


def test_a_record_is_read_to_its_member_end_and_its_gzip_check_value_checked(store):
    # warcio stops reading once it has Content-Length bytes: the member's trailer, whose
    # CRC is the one check of the bytes inflated, was never reached.
    from archive.index.records import read_record

    coll = coll_of(store)
    warc = min(coll.warcs.glob("*.warc.gz"))
    response = next(r for r in check_records(warc) if r.type == "response")
    assert read_record(coll, warc.name, response.offset, response.length).payload
    with pytest.raises(StoreError, match=f"the record at offset {response.offset} of .* is cut short"):
        read_record(coll, warc.name, response.offset, response.length - 4)  # (an index line's length too short)
    data = bytearray(warc.read_bytes())
    data[response.offset + response.length - 6] ^= 0xFF  # (in the CRC-32 of the inflated bytes)
    warc.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=f"the record at offset {response.offset} of .* is damaged"):
        read_record(coll, warc.name, response.offset, response.length)


def test_a_warc_damaged_in_place_is_found_again_outside_a_jobs_end(store):
    # A disk's fault changes bytes and not the size and times stat gives (here the change
    # time moves, which a fault's would not): nothing is remembered but within a job's end.
    import os

    from archive.warc.reader import damage_remembered, first_damage

    warc = min(coll_of(store).warcs.glob("*.warc.gz"))
    times = warc.stat()
    with damage_remembered():
        assert first_damage(warc) is None
    assert first_damage(warc) is None
    record = damage_member(warc)
    os.utime(warc, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert first_damage(warc) == record.offset


# Forking is only safe from a single-threaded process (the test process runs servers in
# threads): the rebuild in lanes runs in a fresh interpreter.
_REBUILD = """
import json, os, sys
from pathlib import Path
import archive.checks as checks
checks.PARALLEL_MIN, checks._cores = 1, (lambda: int(sys.argv[2]))
took = checks._take
def take(queue, calls):
    done = took(queue, calls)
    os.write(2, b"lane\\n")
    return done
checks._take = take
from archive.index import update_indexes
from archive.store import collection_dir
result = update_indexes(collection_dir(Path(sys.argv[1]), "news"), rebuild=True)
print(json.dumps({"indexed": [p.name for p in result.indexed], "unindexed": result.unindexed}))
"""


def test_archive_index_rebuilds_on_every_core_as_it_does_on_one(store, tmp_path):
    coll = coll_of(store)
    for day in range(3):  # more WARCs, one damaged
        when = THIRD + timedelta(days=day)
        job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
        job.record_fetch(fetch(SITE + f"/day{day}", random.Random(day).randbytes(100_000), when,
                               headers=[(b"Content-Type", b"application/pdf")]))
        job.close()
    damaged = damage_member(max(coll.warcs.glob("*.warc.gz")), count=20)
    one = tmp_path / "one"
    shutil.copytree(store, one)
    said = {}
    for where, cores in ((store, 2), (one, 1)):
        done = subprocess.run([sys.executable, "-c", _REBUILD, str(where), str(cores)], capture_output=True,
                              text=True, timeout=120, check=True)
        said[cores] = json.loads(done.stdout), done.stderr.count("lane\n")
    (in_lanes, lanes), (in_one, none) = said[2], said[1]
    assert lanes == 2 and none == 0  # (this process and a forked one; none at all on one core)
    assert in_lanes["indexed"] == in_one["indexed"] and len(in_lanes["indexed"]) == 4
    assert in_lanes["unindexed"] == [why.replace(str(one), str(store)) for why in in_one["unindexed"]]
    assert f"at offset {damaged.offset}" in in_lanes["unindexed"][0]
    for name in ("indexes", "indexes/merged"):
        mine = {p.name: p.read_bytes() for p in (store / "news" / name).iterdir() if p.suffix == ".cdxj"}
        theirs = {p.name: p.read_bytes() for p in (one / "news" / name).iterdir() if p.suffix == ".cdxj"}
        assert mine == theirs and mine


_KILLED_LANE = """
import json, os, signal, sys
from pathlib import Path
import archive.checks as checks
import archive.index as index
checks.PARALLEL_MIN, checks._cores = 1, (lambda: 2)
parent, took = os.getpid(), checks._take
def take(queue, calls):
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)  # (as the kernel's OOM killer would; before it takes any work)
    return took(queue, calls)
checks._take = take
from archive.store import collection_dir
result = index.update_indexes(collection_dir(Path(sys.argv[1]), "news"), rebuild=True)
print(json.dumps({"indexed": len(result.indexed), "unindexed": result.unindexed}))
"""


def test_a_lane_killed_mid_rebuild_leaves_the_work_to_this_process(store):
    done = subprocess.run([sys.executable, "-c", _KILLED_LANE, str(store)], capture_output=True, text=True,
                          timeout=120, check=True)
    assert json.loads(done.stdout) == {"indexed": 2, "unindexed": []}
    assert "indexing on every core stopped (a checking process ended without its results (killed by signal 9)): " \
           "indexing in this process instead" in done.stderr and "Traceback" not in done.stderr


def test_a_job_end_merges_into_small_files_and_the_large_one_only_now_and_then(store):
    # A collection's merged index is not rewritten whole at every job's end: a line is
    # rewritten a few times in the collection's life, and every capture is still found.
    import itertools

    from archive.index.merged import FANOUT, merged_files, merged_lines

    coll = coll_of(store)
    update_indexes(coll)
    rewrites, urls, written, whole = 0, [], 0, 0
    for day in range(40):
        when = THIRD + timedelta(hours=day)
        job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
        for page in range(3):
            urls.append(f"{SITE}/day{day}/page{page}")
            job.record_fetch(fetch(urls[-1], f"<p>{day} {page}</p>".encode(), when))
        job.close()
        before = {p: p.stat().st_ino for p in merged_files(coll)}
        result = update_indexes(coll)
        files = merged_files(coll)
        sizes = [json.loads(p.with_name(p.name + ".derived.json").read_text())["lines"] for p in files]
        rewrites += files[0].stat().st_ino != before[files[0]]
        written += sum(size for p, size in zip(files, sizes, strict=True) if before.get(p) != p.stat().st_ino)
        whole += sum(sizes)  # (what rewriting one merged file at every job's end writes)
        assert all(small * FANOUT < large for large, small in itertools.pairwise(sizes)), sizes
        assert result.merged_lines == sum(sizes) and not pending(coll)
    assert len(merged_files(coll)) > 1 and rewrites <= 20 and written * 3 < whole, (rewrites, written, whole)
    assert all(len(lookup_url(coll, url)) == 1 for url in urls)
    merged = b"".join(p.read_bytes() for p in merged_files(coll))
    update_indexes(coll, rebuild=True)  # all in one file again, the same lines
    assert merged_files(coll) == [merged_path(coll)] and sorted(merged.splitlines()) == \
        merged_path(coll).read_bytes().splitlines()
    assert merged_lines(coll) == len(merged.splitlines())



def test_a_merged_file_cut_short_is_made_again_at_the_next_update_even_with_nothing_new(store):
    coll = coll_of(store)
    update_indexes(coll)
    merged = merged_path(coll)
    whole = merged.read_bytes()
    merged.write_bytes(b"".join(whole.splitlines(keepends=True)[::2]))  # (its sidecar as it was)
    assert update_indexes(coll).indexed == [] and merged.read_bytes() == whole
    assert [entry.url for entry in lookup_url(coll, SITE + "/copy")] == [SITE + "/copy"]


def test_a_look_up_while_a_job_end_removes_a_merged_file_is_tried_again(store, monkeypatch):
    from archive import index

    coll = coll_of(store)
    update_indexes(coll)
    searched, calls = index._searched, []

    def one_gone(c):  # (the first listing names a file that a compaction removes before it is read)
        calls.append(1)
        return searched(c) + ([merged_path(coll).with_name("news.1.cdxj")] if len(calls) == 1 else [])

    monkeypatch.setattr(index, "_searched", one_gone)
    assert [entry.url for entry in lookup_url(coll, SITE + "/copy")] == [SITE + "/copy"] and len(calls) == 2


def _one_more_job(store: Path, url: str) -> None:
    job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(THIRD), dedup=False)
    job.record_fetch(fetch(url, b"<p>one more</p>", THIRD))
    job.close()


def test_a_job_end_looks_at_its_new_warc_alone_and_archive_index_at_every_one(store):
    # The last update's note of what it left current spares a job's end the index and
    # sidecar of every WARC of the collection; a sidecar changed where it lies (its
    # directory as it was) is left to `archive index`, which reads them all.
    coll = coll_of(store)
    update_indexes(coll)
    oldest = min(coll.indexes.glob("*.cdxj"))
    sidecar = oldest.with_name(oldest.name + ".derived.json")
    with open(sidecar, "r+b") as fh:
        fh.write(b"X")  # (no longer JSON: without the note, the next update would index its WARC again)
    _one_more_job(store, SITE + "/later")
    result = update_indexes(coll)
    assert [p.name for p in result.indexed] == [index_name(max(coll.warcs.glob("*.warc.gz")))]
    assert [entry.url for entry in lookup_url(coll, SITE + "/later")] == [SITE + "/later"]
    assert not sidecar.read_bytes().startswith(b"{")
    assert len(update_indexes(coll, rebuild=True).indexed) == 3 and sidecar.read_bytes().startswith(b"{")


def test_indexes_removed_or_put_back_since_the_last_update_are_all_looked_at_again(store):
    coll = coll_of(store)
    update_indexes(coll)
    note = (coll.root / NOTE).read_bytes()
    oldest = min(coll.indexes.glob("*.cdxj"))
    oldest.unlink()
    _one_more_job(store, SITE + "/later")
    assert sorted(p.name for p in update_indexes(coll).indexed) == sorted(
        [oldest.name, index_name(max(coll.warcs.glob("*.warc.gz")))])
    # A note from before (a store put back from a copy) does not hide the new WARC's index gone.
    newest = max(coll.indexes.glob("*.cdxj"))
    newest.unlink()
    (coll.root / NOTE).write_bytes(note)
    assert [p.name for p in update_indexes(coll).indexed] == [newest.name]
    assert not pending(coll) and [entry.url for entry in lookup_url(coll, SITE + "/later")] == [SITE + "/later"]


def test_a_warc_whose_size_cannot_be_read_is_named_and_the_others_are_indexed(store):
    coll = coll_of(store)
    update_indexes(coll)
    (coll.warcs / "elsewhere.warc.gz").symlink_to(store / "a-disk-not-mounted" / "elsewhere.warc.gz")
    _one_more_job(store, SITE + "/later")
    result = update_indexes(coll)
    assert result.unindexed == [(f"{coll.warcs / 'elsewhere.warc.gz'} cannot be read (not a file, or its size cannot "
                                 f"be had): run `archive verify`{KEPT}")]
    assert [entry.url for entry in lookup_url(coll, SITE + "/later")] == [SITE + "/later"]


def test_a_warc_gone_from_the_store_without_a_receipt_is_named_once_and_fails_the_index(store, capsys, caplog):
    coll = store / "news"
    for _ in range(3):  # (pages enough to be said once each)
        job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(SECOND.replace(day=1)), dedup=False)
        for i in range(5):
            job.record_fetch(fetch(f"{SITE}/p{i}", b"<title>page %d</title>" % i, SECOND.replace(day=1)))
        job.close()
    assert main(["index", "--store", str(store)]) == 0
    first = min((coll / "warcs").glob("*.warc.gz"))
    first.unlink()
    (coll / "catalog.sqlite").unlink()  # (made again: its pages' titles are read from the WARCs)
    with caplog.at_level(logging.INFO):
        assert main(["index", "--store", str(store)]) == 1
    err = capsys.readouterr().err
    assert err == (f"archive index: {first} is listed in a manifest but not in the store, nor pushed by `archive push "
                   f"--delete-local`: restore it, or, if it is gone for good, state its loss (`archive verify {coll} "
                   f"--accept-loss warcs/{first.name} --reason TEXT`); its index, if it had one, is left as it was\n")
    # Its pages are listed in the catalog without titles, said once in the log, not once a
    # page, nor on the terminal beside the line above, which says what to do.
    assert len([r for r in caplog.records if r.getMessage().startswith(f"pages of {first.name} ")]) == 1
    # Gone to a bucket, with the receipt `archive push --delete-local` leaves: as it should be.
    (coll / "remote").mkdir()
    (coll / "remote" / (first.name + ".json")).write_text("{}")
    assert main(["index", "--store", str(store)]) == 0


def test_a_store_at_a_path_longer_than_sqlite_opens_is_one_line_after_the_crawl_and_from_index(tmp_path):
    """SQLite opens no path over 512 bytes: the catalog's build ended the crawl of a job
    already saved, and `archive index`, with a traceback, the job's summary unsaid."""
    from wire import response, serve_wire

    from archive.verify import verify

    deep = tmp_path / ("e" * 230) / ("f" * 230)
    deep.mkdir(parents=True)
    page = response("200 OK", [("Content-Type", "text/html")], b"<html><body><p>one page</p></body></html>")
    out, err = io.StringIO(), io.StringIO()
    with serve_wire({"/": page, "/robots.txt": response("404 Not Found", [], b"")}) as server:
        code = main(["crawl", "--url", server.base + "/", "--collection", "deep", "--store", str(deep)], out=out,
                    err=err)
    assert code == 1 and "Job deep-" in out.getvalue() and "finished: 3 responses captured" in out.getvalue()  # (a favicon.ico)
    said = err.getvalue().splitlines()[-1]
    assert said.startswith(f"archive crawl: the collection's indexes were not brought up to date: {deep}/deep/"
                           "catalog.sqlite cannot be built (unable to open database file: SQLite opens no path over "
                           "512 bytes"), said
    assert verify(deep).ok
    err = io.StringIO()
    assert main(["index", "--store", str(deep)], err=err) == 1
    assert err.getvalue() == (f"archive index: {deep}/deep/catalog.sqlite cannot be built (unable to open database "
                              "file: SQLite opens no path over 512 bytes; a store at a shorter path has no such "
                              "limit)\n")


# The tables of a catalog of version 2, as a version of two days before wrote them.
_CATALOG_V2 = """
CREATE TABLE captures (urlkey TEXT, timestamp TEXT, url TEXT, mime TEXT, status INTEGER, digest TEXT,
                       length INTEGER, offset INTEGER, filename TEXT);
CREATE INDEX captures_key ON captures (urlkey, timestamp);
CREATE INDEX captures_digest ON captures (digest);
CREATE TABLE pages (url TEXT, title TEXT, timestamp TEXT, filename TEXT, offset INTEGER, title_source TEXT);
CREATE INDEX pages_time ON pages (timestamp);
CREATE TABLE log (job_id TEXT, url TEXT, started TEXT, outcome TEXT, status INTEGER, filename TEXT,
                  offset INTEGER, record_id TEXT, line TEXT);
CREATE INDEX log_place ON log (filename, offset);
CREATE TABLE headlines (url TEXT PRIMARY KEY, headline TEXT);
CREATE INDEX pages_url ON pages (url);
CREATE TABLE sources (path TEXT PRIMARY KEY, size INTEGER, sha256 TEXT);
PRAGMA user_version = 2;
"""


def test_a_catalog_an_earlier_version_built_is_built_again_though_its_sources_are_unchanged(store, caplog):
    # Its sidecar names the sources present now: it was taken for current, used as it was,
    # and each query of a column it lacks said it could not be read.
    from archive.catalog import catalog_path, log_line, search_pages

    coll = coll_of(store)
    update_indexes(coll)
    path = catalog_path(coll)
    pages = search_pages(coll)
    with sqlite3.connect(path) as db:
        captures = db.execute("SELECT * FROM captures").fetchall()
        page_rows = db.execute("SELECT * FROM pages").fetchall()
        logs = db.execute("SELECT job_id, url, started, outcome, status, filename, offset, record_id FROM log").fetchall()
        sources = db.execute("SELECT * FROM sources").fetchall()
    path.unlink()
    with sqlite3.connect(path) as db:
        db.executescript(_CATALOG_V2)
        db.executemany("INSERT INTO captures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", captures)
        db.executemany("INSERT INTO pages VALUES (?, ?, ?, ?, ?, ?)", page_rows)
        db.executemany("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')", logs)
        db.executemany("INSERT INTO sources VALUES (?, ?, ?)", sources)
    row = next(json.loads(line) for log in coll.logs.glob("*.captures.jsonl")
               for line in log.read_text().splitlines() if json.loads(line).get("warc"))
    with caplog.at_level(logging.WARNING):
        assert search_pages(coll) == pages
        assert log_line(coll, row["warc"]["filename"], row["warc"]["offset"]) == row
    assert not [r for r in caplog.records if "cannot be read" in r.getMessage()]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4


def test_a_warc_pushed_away_before_it_was_indexed_is_said_so_with_the_pull_that_brings_it_back(store):
    # An earlier version's `push --delete-local` removed a WARC of a job closed by `verify
    # --repair`, which had no index: `archive index` said nothing and exited 0, its captures
    # in no index of the store.
    coll = coll_of(store)
    update_indexes(coll)
    warc = max(coll.warcs.glob("*.warc.gz"))
    index = coll.indexes / index_name(warc)
    data = warc.read_bytes()
    receipt = {"deleted": "2026-11-27T08:26:02.224288+00:00", "path": f"warcs/{warc.name}",
               "sha256": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data),
               "url": f"s3://bucket/arch/news/warcs/{warc.name}"}
    (coll.root / "remote").mkdir()
    (coll.root / "remote" / f"{warc.name}.json").write_text(json.dumps(receipt, sort_keys=True) + "\n")
    for path in (warc, index, index.with_name(index.name + ".derived.json")):
        path.unlink()
    err = io.StringIO()
    assert main(["index", "--store", str(store)], err=err) == 1
    assert (f"{warc} was removed by `archive push --delete-local` before it was indexed, and its captures are in no "
            f"index: bring it back with `archive pull --from s3://bucket/arch --collection news --store {store}`, "
            "then run `archive index`") in err.getvalue()
    # One pushed away with its index, as push does now, is no problem.
    other = min(coll.warcs.glob("*.warc.gz"))
    data = other.read_bytes()
    (coll.root / "remote" / f"{other.name}.json").write_text(json.dumps(
        dict(receipt, path=f"warcs/{other.name}", sha256="sha256:" + hashlib.sha256(data).hexdigest(),
             size=len(data), url=f"s3://bucket/arch/news/warcs/{other.name}")))
    other.unlink()
    err = io.StringIO()
    assert main(["index", "--store", str(store)], err=err) == 1
    assert str(other) not in err.getvalue()
