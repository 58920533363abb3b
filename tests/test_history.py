"""The collection's history as recrawls see it, built from capture-log lines."""

from __future__ import annotations

from archive.history import CollectionHistory

URL = "http://127.0.0.1:9/story"


def _line(started: str, *, truncated: str | None = None, etag: str = '"v1"', record: str = "<urn:uuid:1>") -> dict:
    return {"outcome": "captured", "url": URL, "status": 200, "started": started, "truncated": truncated,
            "payload_digest": "sha1:" + "A" * 32 if truncated is None else "sha1:" + "B" * 32, "etag": etag,
            "warc": {"filename": "a.warc.gz", "offset": 0, "length": 1, "record_id": record}}


def test_a_response_cut_off_leaves_the_url_as_its_last_whole_capture_left_it():
    history = CollectionHistory()
    history.add(_line("2026-01-01T00:00:00Z"))
    for cut in ("time", "disconnect"):
        history.add(_line("2026-02-01T00:00:00Z", truncated=cut, etag='"v2"', record="<urn:uuid:2>"))
        state = history.urls[URL]
        assert state.started == "2026-01-01T00:00:00Z" and state.etag == '"v1"', cut
        assert state.original is not None and state.original.record_id == "<urn:uuid:1>", cut


def test_a_response_cut_by_the_size_cap_counts_as_a_capture():
    history = CollectionHistory()
    history.add(_line("2026-01-01T00:00:00Z"))
    history.add(_line("2026-02-01T00:00:00Z", truncated="length", etag='"v2"', record="<urn:uuid:2>"))
    state = history.urls[URL]
    assert state.started == "2026-02-01T00:00:00Z" and state.etag == '"v2"'


def test_damaged_log_lines_are_skipped_for_history_and_the_rest_read(tmp_path, caplog):
    # A crawl reads every log of its collection before it starts: one bad line must not stop it.
    import json

    from archive.store import CollectionDir

    coll = CollectionDir(tmp_path / "c")
    coll.logs.mkdir(parents=True)
    other = dict(_line("2026-01-02T00:00:00Z", record="<urn:uuid:2>"), url=URL + "/2")
    lines = [b"[]", b"{not json", b"\xff\xfe", json.dumps(dict(_line("2026-01-01T00:00:00Z"), status="200")).encode(),
             json.dumps(dict(_line("2026-01-01T00:00:00Z"), warc=None, outcome="captured", status=200)).encode(),
             json.dumps(other).encode()]
    (coll.logs / "j.captures.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    history = CollectionHistory.load(coll)
    assert list(history.urls) == [URL + "/2"]
    skipped = sorted(int(r.getMessage().split(" line ")[1].split()[0]) for r in caplog.records
                     if "skipped for history" in r.getMessage())
    assert skipped == [1, 2, 3, 4]
