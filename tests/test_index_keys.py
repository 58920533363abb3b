"""Indexes an earlier version keyed otherwise (a POST as a GET, or by its method alone) are
made again where their WARC holds such a capture, by the next job's end or `archive replay`'s
start, without a word from the user; the others are left as they are."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import surt
from cdxj_indexer.main import CDXJIndexer
from jobs import Clock, fetch
from replay_helpers import get, stop

from archive.config import one_off
from archive.index import NOTE, update_indexes
from archive.index.merged import compact
from archive.job import CaptureJob
from archive.store import collection_dir, directory_state

SITE = "http://site.test"
WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)
HTML = [(b"Content-Type", b"text/html")]
FORM = "application/x-www-form-urlencoded"
SENT = b"q=harbour+street&page=1"


def _store(root: Path) -> Path:
    """Two jobs: one captured a page, a search form's POST and a HEAD; the next pages alone."""
    coll = one_off("posts", urls=[SITE + "/"])
    job = CaptureJob(root, coll, clock=Clock(WHEN), dedup=False)
    page = fetch(SITE + "/search", b"<p>the search page</p>", WHEN, headers=HTML, seed=SITE + "/")
    job.record_fetch(page)
    job.record_fetch(dataclasses.replace(
        page, method="POST", request_body=SENT, body=b"<p>results for harbour street</p>",
        started=WHEN + timedelta(minutes=1),
        request_headers=[(b"Content-Type", FORM.encode()), (b"Content-Length", str(len(SENT)).encode())]))
    job.record_fetch(dataclasses.replace(page, method="HEAD", body=b"", started=WHEN + timedelta(minutes=2)))
    job.close()
    later = WHEN + timedelta(days=1)
    job = CaptureJob(root, coll, clock=Clock(later), dedup=False)
    for n in range(3):
        job.record_fetch(fetch(f"{SITE}/story/{n}", b"<p>story %d</p>" % n, later, headers=HTML, seed=SITE + "/"))
    job.close()
    update_indexes(collection_dir(root, "posts"))
    return root


def _as_an_earlier_version_left_it(root: Path, keys: str) -> None:
    """The indexes as a version before the form of keys was recorded made them: ``keys``
    "get", every response keyed as a GET (cdxj-indexer as it is, before methods were keyed);
    "method", a POST's by its method alone. Their sidecars, the merged files and the note
    of the last update as it wrote them."""
    coll = collection_dir(root, "posts")
    for index in sorted(coll.indexes.glob("*.cdxj")):
        warc = coll.warcs / index.name.replace(".cdxj", ".warc.gz")
        if keys == "get":
            CDXJIndexer(str(index), [str(warc)], sort=True).process_all()
        else:
            lines = []
            for line in index.read_text("utf-8").splitlines():
                key, stamp, fields = line.split(" ", 2)
                doc = json.loads(fields)
                if doc.get("method") == "POST":
                    key = surt.surt(doc["url"] + "?__wb_method=post")
                    del doc["requestBody"]
                lines.append(f"{key} {stamp} {json.dumps(doc)}\n")
            index.write_text("".join(sorted(lines)), "utf-8")
        sidecar = index.with_name(index.name + ".derived.json")
        doc = json.loads(sidecar.read_text())
        doc.pop("keys", None)
        data = index.read_bytes()
        doc.update(lines=data.count(b"\n"), sha256="sha256:" + hashlib.sha256(data).hexdigest())
        sidecar.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    compact(coll, full=True)
    note = json.loads((coll.root / NOTE).read_text())
    note.pop("keys", None)
    note.update(indexes=directory_state(coll.indexes), merged=directory_state(coll.indexes / "merged"))
    (coll.root / NOTE).write_text(json.dumps(note))


def _post(base: str) -> tuple[int, bytes]:
    status, _, body = get(base, f"/posts/2026id_/{SITE}/search", "POST",
                          headers={"Content-Type": FORM, "Content-Length": str(len(SENT))}, body=SENT)
    return status, body


def _untouched(root: Path) -> dict[str, tuple[int, int]]:
    """The per-WARC index files, by name, with what changes when one is written again."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in (root / "posts" / "indexes").glob("*.cdxj")}


def test_replay_start_makes_again_the_index_an_earlier_version_keyed_a_post_as_a_get_in(tmp_path):
    root = _store(tmp_path)
    _as_an_earlier_version_left_it(root, "get")
    before = _untouched(root)
    proc = subprocess.Popen([sys.executable, "-m", "archive", "replay", "--store", str(root), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = re.search(r"(http://127\.0\.0\.1:\d+)/", proc.stdout.readline()).group(1)
        assert _post(base) == (200, b"<p>results for harbour street</p>")
        # The page is the page again, not the HEAD taken after it (an empty body).
        assert get(base, f"/posts/2026id_/{SITE}/search")[2] == b"<p>the search page</p>"
    finally:
        stop(proc)
    err = proc.communicate()[1]
    assert "Traceback" not in err and "warning" not in err.lower(), err
    after = _untouched(root)
    changed = {name for name in before if after[name] != before[name]}
    assert len(changed) == 1  # (the first job's: the other's keys are as they are made now)
    for sidecar in (root / "posts" / "indexes").glob("*.cdxj.derived.json"):
        assert json.loads(sidecar.read_text())["keys"] == 2


@pytest.mark.parametrize("keys", ["get", "method"])
def test_a_jobs_end_makes_again_only_the_indexes_keyed_otherwise_then_once(tmp_path, keys):
    from archive.replay import serve_in_thread

    root = _store(tmp_path)
    _as_an_earlier_version_left_it(root, keys)
    coll = collection_dir(root, "posts")
    before = _untouched(root)
    with serve_in_thread(root) as base:
        assert _post(base)[0] == 404  # (what an earlier version's indexes give)
    result = update_indexes(coll)  # (as each job's end runs it)
    assert [p.name for p in result.indexed] == [name for name in before if "20260301" in name]
    assert result.unindexed == []
    assert {name for name, seen in _untouched(root).items() if seen != before[name]} == {result.indexed[0].name}
    with serve_in_thread(root) as base:
        assert _post(base) == (200, b"<p>results for harbour street</p>")
    state = (directory_state(coll.indexes), (coll.root / NOTE).read_bytes())
    assert update_indexes(coll).indexed == []  # (the next finds all as they are made now, and writes nothing)
    assert (directory_state(coll.indexes), (coll.root / NOTE).read_bytes()) == state
