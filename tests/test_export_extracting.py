"""An export while the collection's article tables are being made again: it reads them as one
extraction leaves them, never some rewritten and the others as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_export import _article, _job

from archive.extract import extract_collection

# A writer that takes the lock every extraction takes, and rewrites the collection's tables
# one at a time, as `archive extract` of a newer extractor does (its rows other than before):
# the first, then, once told, the second.
_EXTRACTING = """
import hashlib, json, sys
from pathlib import Path
from archive.store import exclusively, write_atomic

articles = Path(sys.argv[1])
with exclusively(articles.parent / ".extract.lock"):
    for number, table in enumerate(sorted(articles.glob("*.jsonl"))):
        if number:
            sys.stdin.readline()
        data = table.read_bytes().replace(b'"headline": "Story', b'"headline": "New Story')
        write_atomic(table, data)
        record = table.with_name(table.stem + ".derived.json")
        doc = json.loads(record.read_bytes())
        doc["sha256"] = "sha256:" + hashlib.sha256(data).hexdigest()
        write_atomic(record, json.dumps(doc).encode())
        print("rewritten", table.name, flush=True)
"""


def test_an_export_waits_for_an_extraction_under_way_and_reads_the_tables_it_leaves(tmp_path):
    """A schedule's job end, or `archive extract`, rewriting the tables while an export read
    them: the export held the first job's rows as made anew and the second's as they were,
    a dataset no extraction ever made, signed as the collection."""
    store = tmp_path / "store"
    _job(store, 1, {f"/a/{i}": _article(i) for i in range(2)})
    _job(store, 5, {"/a/1": _article(1, " (updated)"), "/a/9": _article(9)})
    extract_collection(store, "ds")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                                       os.environ.get("PYTHONPATH", "")]))
    writer = subprocess.Popen([sys.executable, "-c", _EXTRACTING, str(store / "ds" / "articles")], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    export = None
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().startswith("rewritten")
        export = subprocess.Popen([sys.executable, "-m", "archive", "export", "--store", str(store), "--collection",
                                   "ds", "--out", str(tmp_path / "out")], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert export.stderr is not None  # (its first line, or nothing once it has ended: stderr is line-buffered)
        said = export.stderr.readline()
        assert export.poll() is None and said == ("archive export: an extraction of collection 'ds' is under way; "
                                                  "waiting for it to end\n"), (said, export.communicate())
        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.stdout.readline().startswith("rewritten")
        assert writer.wait(timeout=30) == 0
        _, err = export.communicate(timeout=120)
    finally:
        for proc in (writer, export):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert export.returncode == 0, err
    assert err == ""
    rows = [json.loads(line) for line in (tmp_path / "out" / "articles.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(row["headline"].startswith("New Story") for row in rows), rows

