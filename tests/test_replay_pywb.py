"""Interoperability: pywb itself replays a store from the config ``archive replay --pywb-config`` prints.

pywb pins old dependencies, so it lives in its own virtualenv (``$PYWB_VENV``, made by
``.ci/run``); without it this test skips.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from replay_helpers import SAME_BODY, stop, two_jobs

from archive.cli import main
from archive.index import update_indexes
from archive.store import collection_dir

WAYBACK = Path(os.environ.get("PYWB_VENV", "/tmp/archive-pywb-venv")) / "bin" / "wayback"
pytestmark = pytest.mark.skipif(not WAYBACK.exists(), reason=f"pywb is not installed at {WAYBACK} (.ci/run makes it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def test_pywb_replays_our_indexes_and_warcs(tmp_path):
    store = tmp_path / "store"
    two_jobs(store)
    update_indexes(collection_dir(store, "news"))
    out = io.StringIO()
    assert main(["replay", "--pywb-config", "--store", str(store)], out=out) == 0
    run_dir = tmp_path / "pywb"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(out.getvalue())
    port = _free_port()
    proc = subprocess.Popen([str(WAYBACK), "-p", str(port), "-b", "127.0.0.1"], cwd=run_dir,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(base + "/")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("pywb did not start")
                time.sleep(0.2)
        lines = _get(base + "/news/cdx?url=http://news.test/story&output=json").decode().splitlines()
        assert [json.loads(line)["timestamp"] for line in lines] == ["20260301120000", "20260305120000"]
        assert b"first version" in _get(base + "/news/20260302id_/http://news.test/story")
        assert _get(base + "/news/20260305id_/http://news.test/same") == SAME_BODY  # a revisit
    finally:
        stop(proc)
