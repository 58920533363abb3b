"""The collection's history as recrawls see it, built from capture-log lines."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

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
             json.dumps(dict(_line("2026-01-01T00:00:00Z"), etag=["a list"])).encode(),  # (no column holds it)
             json.dumps(other).encode()]
    (coll.logs / "j.captures.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    history = CollectionHistory.load(coll)
    assert list(history.urls) == [URL + "/2"]
    skipped = sorted(int(r.getMessage().split(" line ")[1].split()[0]) for r in caplog.records
                     if "skipped for history" in r.getMessage())
    assert skipped == [1, 2, 3, 4, 6]
    assert "made again" not in caplog.text and "into memory instead" not in caplog.text


# -- the history file: folded once, looked up, made again when it cannot be trusted --------


def _log_lines(job: int, n: int = 40) -> list[dict]:
    """Capture-log lines of job ``job``: pages that change, pages that do not, 304s, a revisit,
    a body cut off, the same bytes under another URL."""
    lines = []
    for i in range(n):
        url = f"http://127.0.0.1:9/p/{i % 25}"
        digest = f"sha1:{(i % 7) if i % 3 else job * 100 + i:032d}"
        line = {"outcome": "captured", "url": url, "status": 200, "started": f"2026-01-{job + 1:02d}T00:00:{i:02d}Z",
                "payload_digest": digest, "etag": f'"{job}-{i}"', "last_modified": None, "truncated": None,
                "warc": {"filename": f"j{job}.warc.gz", "offset": i * 100, "length": 90,
                         "record_id": f"<urn:uuid:{job}-{i}>"}, "revisit": None}
        if i % 11 == 5:
            line.update(status=304, payload_digest=None, etag=f'"n{job}"')
        if i % 13 == 7:
            line["truncated"] = "time"
        if i % 17 == 3:
            line["revisit"] = {"profile": "x", "refers_to": "<urn:uuid:r>", "refers_to_uri": url,
                               "refers_to_date": "2025-12-01T00:00:00Z"}
        lines.append(line)
    lines.append({"outcome": "failed", "url": "http://127.0.0.1:9/gone", "status": None, "error": "E: x"})
    return lines


def _write_log(coll, name: str, job: int) -> None:
    import json

    coll.logs.mkdir(parents=True, exist_ok=True)
    (coll.logs / f"{name}.captures.jsonl").write_text("".join(json.dumps(line) + "\n" for line in _log_lines(job)))


def _state(history: CollectionHistory) -> tuple[dict, dict]:
    return {k: history.urls[k] for k in history.urls}, {k: history.originals[k] for k in history.originals}


def _in_memory_history(coll) -> CollectionHistory:
    """Every log read into memory, in job order, as without a history file."""
    history = CollectionHistory()
    for path in sorted(coll.logs.glob("*.captures.jsonl")):
        history.add_log(path)
    return history


def _in_memory(coll) -> tuple[dict, dict]:
    return _state(_in_memory_history(coll))


def test_the_history_file_holds_what_reading_every_log_gives_and_takes_new_logs_in(tmp_path, caplog):
    import logging

    from archive.store import CollectionDir

    caplog.set_level(logging.INFO, logger="archive.history")
    coll = CollectionDir(tmp_path / "c")
    for job in range(3):
        _write_log(coll, f"c-2026010{job}", job)
    first = CollectionHistory.load(coll)
    assert (coll.root / "history.sqlite").is_file()
    assert _state(first) == _in_memory(coll) and len(first.urls) == len(_in_memory(coll)[0]) > 20
    _write_log(coll, "c-20260109", 9)  # a later job
    assert _state(CollectionHistory.load(coll)) == _in_memory(coll)
    assert "made again" not in caplog.text
    # What a job captures is kept in memory, on top of the file, not in it.
    line = dict(_log_lines(10)[0], url="http://127.0.0.1:9/new")
    first.add(line)
    assert first.urls["http://127.0.0.1:9/new"].started == line["started"]
    assert "http://127.0.0.1:9/new" not in CollectionHistory.load(coll).urls


def _history_of_two_jobs(tmp_path, caplog):  # type: ignore[no-untyped-def]
    """A collection of the logs of the jobs of days 2 and 4, its history file made, the
    history's messages caught."""
    import logging

    from archive.store import CollectionDir

    caplog.set_level(logging.INFO, logger="archive.history")
    coll = CollectionDir(tmp_path / "c")
    for job in (2, 4):
        _write_log(coll, f"c-2026010{job}", job)
    CollectionHistory.load(coll)
    return coll


def _same_payloads(state: tuple[dict, dict]) -> tuple[dict, dict]:
    """``state`` with each URL's original named by its payload alone: of two captures of the
    same bytes, either is an original a revisit may refer to."""
    urls = {url: dataclasses.replace(s, original=s.original and s.original.payload_digest) for url, s in state[0].items()}
    return urls, state[1]


def test_a_log_that_comes_after_a_later_one_is_folded_in_as_the_others_are(tmp_path, caplog):
    # Jobs that overlapped, a repaired job, or a clock that ran ahead for one job: the file
    # is not made again for it (were it, a job stamped in the future by a clock that ran
    # ahead would make it again at every job after it).
    coll = _history_of_two_jobs(tmp_path, caplog)
    # Two of an earlier day, then one stamped in 2099 by a clock that ran ahead, then two
    # of the days after it.
    for name, job in (("c-20260101", 1), ("c-20260103", 3), ("c-20990101", 5), ("c-20260106", 6),
                      ("c-20260107", 7)):
        caplog.clear()
        _write_log(coll, name, job)
        folded, read = _state(CollectionHistory.load(coll)), _in_memory(coll)
        assert "made again" not in caplog.text, name
        assert _same_payloads(folded) == _same_payloads(read), name
        for state in folded[0].values():  # (an original is a capture of those bytes)
            assert state.original is None or state.original.payload_digest in folded[1] or \
                state.original.record_id.startswith("<urn:uuid:r")


def test_the_history_file_is_made_again_when_a_log_changes_or_goes(tmp_path, caplog):
    coll = _history_of_two_jobs(tmp_path, caplog)
    for change in ("changed", "gone"):
        caplog.clear()
        if change == "changed":
            with open(coll.logs / "c-20260102.captures.jsonl", "a") as fh:
                fh.write('{"outcome": "captured", "url": "http://127.0.0.1:9/late", "status": 200, "started": "x", '
                         '"payload_digest": "sha1:Z", "warc": {"record_id": "<urn:uuid:z>"}}\n')
        else:
            (coll.logs / "c-20260104.captures.jsonl").unlink()
        assert _state(CollectionHistory.load(coll)) == _in_memory(coll), change
        assert "made again" in caplog.text, change


def test_a_damaged_history_file_is_made_again_and_one_that_cannot_be_opened_is_done_without(tmp_path, caplog):
    from archive.store import CollectionDir

    coll = CollectionDir(tmp_path / "c")
    _write_log(coll, "c-20260101", 1)
    CollectionHistory.load(coll)
    path = coll.root / "history.sqlite"
    path.write_bytes(b"not a database, " * 1000)
    assert _state(CollectionHistory.load(coll)) == _in_memory(coll)
    assert "made again from the logs" in caplog.text
    path.unlink()
    path.mkdir()  # (a history file that cannot be opened at all: the logs are read into memory)
    history = CollectionHistory.load(coll)
    assert not hasattr(history.urls, "db") and _state(history) == _in_memory(coll)
    assert "read from the logs into memory instead" in caplog.text


def test_two_processes_that_load_at_once_fold_the_logs_once(tmp_path):
    import subprocess
    import sys

    from archive.store import CollectionDir

    coll = CollectionDir(tmp_path / "c")
    for job in range(6):
        _write_log(coll, f"c-2026010{job}", job)
    code = ("import sys; from archive.history import CollectionHistory; from archive.store import CollectionDir; "
            "from pathlib import Path; h = CollectionHistory.load(CollectionDir(Path(sys.argv[1]))); print(len(h.urls), type(h.urls).__name__)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(coll.root)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert outs == [[str(len(_in_memory(coll)[0])), "_Layered"]] * 2
    assert _state(CollectionHistory.load(coll)) == _in_memory(coll)


def test_a_line_the_history_file_cannot_hold_is_skipped_whole(tmp_path, caplog):
    import json

    from archive.store import CollectionDir

    coll = CollectionDir(tmp_path / "c")
    coll.logs.mkdir(parents=True)
    huge = dict(_line("2026-01-01T00:00:00Z", record="<urn:uuid:h>"), url=URL + "/huge", etag=10**20,
                payload_digest="sha1:" + "H" * 32)  # (the digest's original is written before the etag fails)
    (coll.logs / "j.captures.jsonl").write_text(json.dumps(huge) + "\n" + json.dumps(_line("2026-01-02T00:00:00Z"))
                                                + "\n")
    history = CollectionHistory.load(coll)
    assert type(history.urls).__name__ == "_Layered" and list(history.urls) == [URL]
    assert "sha1:" + "H" * 32 not in history.originals  # nothing of the line that was skipped
    assert "line 1 skipped for history" in caplog.text and "OverflowError" in caplog.text


def test_a_history_file_that_fails_a_look_up_mid_job_lets_the_job_go_on_and_is_made_again(tmp_path, caplog):
    import json
    import sqlite3

    from archive.store import CollectionDir

    coll = CollectionDir(tmp_path / "c")
    coll.logs.mkdir(parents=True)
    with open(coll.logs / "c-1.captures.jsonl", "w") as fh:
        fh.writelines(json.dumps(dict(_line("2026-01-01T00:00:00Z", record=f"<urn:uuid:{i}>"), url=f"{URL}/{i:05d}",
                                     payload_digest=f"sha1:{i:032d}")) + "\n" for i in range(5000))
    CollectionHistory.load(coll).urls.db.close()  # type: ignore[attr-defined]
    path = coll.root / "history.sqlite"
    with sqlite3.connect(path) as db:
        size, count = db.execute("PRAGMA page_size").fetchone()[0], db.execute("PRAGMA page_count").fetchone()[0]
    data = bytearray(path.read_bytes())
    # Pages of the tables, not of their list of logs (made first, at the start of the file).
    data[count // 4 * size:count // 2 * size] = b"\xff" * (count // 2 - count // 4) * size
    path.write_bytes(bytes(data))
    history = CollectionHistory.load(coll)  # (up to date: nothing to fold, so nothing read of the tables yet)
    found = [history.urls.get(f"{URL}/{i:05d}") for i in range(5000)]  # no look-up raises
    assert None in found and "failed a look-up" in caplog.text
    history.urls.db.close()  # type: ignore[attr-defined]
    assert _state(CollectionHistory.load(coll)) == _in_memory(coll)  # the next job's is made again, whole


def test_a_history_file_held_locked_by_another_process_is_passed_over_for_a_while(tmp_path, monkeypatch, caplog):
    import json
    import sqlite3
    import time

    import archive.history
    from archive.store import CollectionDir

    monkeypatch.setattr(archive.history, "LOOKUP_WAIT_MS", 1500)
    monkeypatch.setattr(archive.history, "LOCKED_PAUSE", 60)
    coll = CollectionDir(tmp_path / "c")
    coll.logs.mkdir(parents=True)
    (coll.logs / "c-1.captures.jsonl").write_text(json.dumps(_line("2026-01-01T00:00:00Z")) + "\n")
    history = CollectionHistory.load(coll)
    other = sqlite3.connect(coll.root / "history.sqlite", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # (another job rebuilding it)
    assert history.urls.get(URL) is None and "held by another process" in caplog.text
    t0 = time.monotonic()
    assert history.urls.get(URL) is None and time.monotonic() - t0 < 1.0  # passed over, not waited for again (1.5 s)
    other.execute("ROLLBACK")
    other.close()
    assert history.urls.get(URL) is None  # (still passed over: the pause is not over)
    monkeypatch.setattr(archive.history, "monotonic", lambda: time.monotonic() + 61)
    assert history.urls.get(URL) is not None  # looked at again once the pause is over


def _capture(job: int, record: str, digest: str, etag: str, *, status: int = 200, refers_to: str | None = None) -> dict:
    return {"outcome": "captured", "url": URL, "status": status, "started": f"2026-02-0{job}T00:00:00.000000Z",
            "payload_digest": digest, "etag": etag, "last_modified": None, "truncated": None,
            "warc": {"filename": f"j{job}.warc.gz", "offset": 0, "length": 90, "record_id": record},
            "revisit": None if refers_to is None else {
                "profile": "http://netpreserve.org/warc/1.1/revisit/server-not-modified", "refers_to": refers_to,
                "refers_to_uri": URL, "refers_to_date": "2026-02-02T00:00:00.000000Z"}}


def test_a_not_modified_folded_before_the_capture_it_was_conditional_on_keeps_that_capture(tmp_path):
    # Job 3 got a 304 against job 2's capture; job 2's log comes after job 3's. The URL's
    # validators must not be paired with job 1's record of other bytes (a later
    # conditional request would then make a revisit of the wrong payload).
    import json

    from archive.recrawl import conditional_headers
    from archive.store import CollectionDir

    lines = {1: _capture(1, "<urn:uuid:r1>", "sha1:D1", '"E1"'),
             2: _capture(2, "<urn:uuid:r2>", "sha1:D2", '"E2"'),
             3: _capture(3, "<urn:uuid:r3>", "sha1:D2", '"E2"', status=304, refers_to="<urn:uuid:r2>")}
    coll = CollectionDir(tmp_path / "c")
    coll.logs.mkdir(parents=True)

    def write(job: int) -> None:
        (coll.logs / f"c-2026020{job}.captures.jsonl").write_text(json.dumps(lines[job]) + "\n")

    write(1)
    write(3)
    CollectionHistory.load(coll)
    write(2)
    for history in (CollectionHistory.load(coll), _in_memory_history(coll)):
        state = history.urls[URL]
        assert (state.original.record_id, state.original.payload_digest, state.etag) == (
            "<urn:uuid:r2>", "sha1:D2", '"E2"')
        assert conditional_headers(state) == {"If-None-Match": '"E2"'}
        assert state.first_started == lines[1]["started"] and state.started == lines[3]["started"]


def test_a_jobs_own_capture_is_its_urls_latest_though_the_history_holds_one_stamped_later():
    history = CollectionHistory()
    history.add(dict(_capture(1, "<urn:uuid:ahead>", "sha1:D1", '"E1"'), started="2099-01-01T00:00:00.000000Z"))
    history.add(_capture(2, "<urn:uuid:mine>", "sha1:D2", '"E2"'), own=True)
    assert (history.urls[URL].original.record_id, history.urls[URL].etag) == ("<urn:uuid:mine>", '"E2"')


def test_many_urls_are_looked_up_as_one_by_one_would_find_them(tmp_path):
    # A crawl's start asks the history for every known article: some hundreds to a query.
    import sqlite3

    from archive import history
    from archive.recrawl import recrawl_urls

    db = sqlite3.connect(tmp_path / "h.sqlite", isolation_level=None, check_same_thread=False)
    db.executescript(history._SCHEMA)
    db.executemany("INSERT INTO urls VALUES (?,?,?,?,?,?,?,?,?,?)",
                   [(f"http://a.test/{i}", 200, f"2026-11-{1 + i % 20:02d}T00:00:00.000000Z",
                     "2026-10-01T00:00:00.000000Z", f"<urn:uuid:{i}>", f"http://a.test/{i}", "2026-11-01T00:00:00Z",
                     "sha1:" + "A" * 32, None, None) for i in range(1200)])
    urls = history._Layered(db, "urls", "url", ("status", "started", "first_started", "record_id", "uri", "date",
                                                "digest", "etag", "last_modified"), history._url_row,
                            history._url_state)
    urls.done_folding()
    urls["http://a.test/new"] = history.UrlState(200, "2026-11-26T00:00:00.000000Z", "2026-11-26T00:00:00.000000Z",
                                                 None)
    keys = [f"http://a.test/{i}" for i in range(0, 1300, 2)] + ["http://a.test/new", "http://b.test/"]
    assert urls.many(keys) == {key: urls[key] for key in keys if key in urls}
    assert len(urls.many(keys)) == 601
    hist = history.CollectionHistory({}, urls)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    policy = {"window_days": 7, "backoff": 0.5, "max_interval_days": 30}
    plain = history.CollectionHistory({}, {key: urls[key] for key in keys if key in urls})
    assert recrawl_urls(set(keys), hist, now, policy) == recrawl_urls(set(keys), plain, now, policy)
    assert recrawl_urls(set(keys), hist, now, policy)


def test_a_url_is_found_in_another_spelling_of_its_escapes_and_an_older_file_made_again_once(tmp_path):
    """Job 1 captured "/%7Eed/caf%c3%a9"; a later job meets "/~ed/caf%C3%A9": one URL."""
    import json
    import sqlite3

    from archive import history as history_module
    from archive.store import CollectionDir

    written, met = "http://127.0.0.1:9/%7Eed/caf%c3%a9", "http://127.0.0.1:9/~ed/caf%C3%A9"
    coll = CollectionDir(tmp_path / "c")
    coll.logs.mkdir(parents=True)
    line = dict(_capture(1, "<urn:uuid:r1>", "sha1:D1", '"E1"'), url=written)
    (coll.logs / "j1.captures.jsonl").write_text(json.dumps(line) + "\n")
    for history in (CollectionHistory.load(coll), _in_memory_history(coll)):
        for url in (written, met, "http://127.0.0.1:9/%7eed/caf%C3%a9"):
            assert history.urls[url].etag == '"E1"', url
            many = getattr(history.urls, "many", None)  # (the file's, as a crawl's start asks)
            assert many is None or many([url]) == {url: history.urls[url]}
        assert history.urls.get("http://127.0.0.1:9/~ed/cafe") is None
        history.add(dict(line, url=met, started="2026-03-01T00:00:00.000000Z", etag='"E2"'), own=True)
        assert history.urls[written].etag == '"E2"'
    # A file of a version that keyed URLs as written is made again, once.
    path = coll.root / history_module.HISTORY
    db = sqlite3.connect(path)
    db.execute("UPDATE urls SET url = ?", (written,))
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    assert CollectionHistory.load(coll).urls[met].etag == '"E1"'
    db = sqlite3.connect(path)
    assert db.execute("SELECT url FROM urls").fetchall() == [("http://127.0.0.1:9/~ed/caf%C3%A9",)]
    db.close()
    mtime = path.stat().st_mtime_ns
    assert CollectionHistory.load(coll).urls[met].etag == '"E1"'
    assert path.stat().st_mtime_ns == mtime
