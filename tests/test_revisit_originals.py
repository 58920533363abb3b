"""A revisit refers to a record that holds the payload: an original damaged or lost since
its job is not referred to, and the payload is stored whole again."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from jobs import Clock, run_job
from newsroom import Newsroom
from warcs import damage_member, read_warc
from wire import serve_wire

from archive.config import collection_from_dict
from archive.crawl import crawl
from archive.verify import verify
from archive.warc.reader import check_records


def _second_job(store: Path, clock: Clock) -> dict[str, dict]:  # type: ignore[type-arg]
    """The capture-log lines of a second job of the same pages, by URL."""
    job = run_job(store, 3, clock)
    log = job.coll.capture_log(job.job_id)
    return {line["url"]: line for line in map(json.loads, log.read_text("utf-8").splitlines())}


def test_an_original_that_reads_whole_is_referred_to(tmp_path):
    clock = Clock()
    run_job(tmp_path, 3, clock)
    lines = _second_job(tmp_path, clock)
    assert all(line["revisit"] is not None for line in lines.values())


def test_a_damaged_original_is_not_referred_to_and_the_payload_is_stored_whole(tmp_path, caplog):
    clock = Clock()
    run_job(tmp_path, 3, clock)
    [warc] = (tmp_path / "news" / "warcs").glob("*.warc.gz")
    story = "http://127.0.0.1:9/story/1"
    [original] = [r for r in check_records(warc) if r.type == "response" and r.fields["warc-target-uri"] == story]
    damage_member(warc, original)
    with caplog.at_level(logging.WARNING, logger="archive.job"):
        lines = _second_job(tmp_path, clock)
    assert lines[story]["revisit"] is None  # stored whole: a second copy of the bytes
    assert all(line["revisit"] is not None for url, line in lines.items() if url != story)
    [said] = [r.getMessage() for r in caplog.records if "stored whole" in r.getMessage()]
    assert f"{warc} at offset {original.offset}" in said and "cannot be read whole" in said
    report = verify(tmp_path / "news")
    assert {p.path for p in report.problems} == {warc}  # (the damage, and only it)
    [later] = [p for p in (tmp_path / "news" / "warcs").glob("*.warc.gz") if p != warc]
    [copy] = [r for r in read_warc(later) if r.type == "response" and r.h("WARC-Target-URI") == story]
    assert copy.digest_ok and b"Story 1" in copy.payload


def test_an_original_whose_warc_is_gone_is_referred_to_only_if_a_bucket_holds_it(tmp_path):
    clock = Clock()
    run_job(tmp_path, 3, clock)
    [warc] = (tmp_path / "news" / "warcs").glob("*.warc.gz")
    moved = tmp_path / "elsewhere.warc.gz"
    warc.rename(moved)
    assert all(line["revisit"] is None for line in _second_job(tmp_path, clock).values())
    # As `archive push --delete-local` leaves it: a receipt for the WARC it removed.
    receipt = tmp_path / "news" / "remote" / (warc.name + ".json")
    receipt.parent.mkdir()
    receipt.write_text(json.dumps({"path": f"warcs/{warc.name}"}))
    assert all(line["revisit"] is not None for line in _second_job(tmp_path, clock).values())


def test_a_known_article_whose_original_is_damaged_is_fetched_whole_not_conditionally(tmp_path):
    room = Newsroom()
    store = tmp_path / "store"
    with serve_wire(room.routes()) as server:
        coll = collection_from_dict({"name": "news", "urls": [server.base + "/"], "feeds": [server.base + "/feed"],
                                     "scope": {"page_requisites": False}})
        crawl(store, coll, extract=True)
        damaged = server.base + "/a/story-0"
        [warc] = (store / "news" / "warcs").glob("*.warc.gz")
        [original] = [r for r in check_records(warc) if r.type == "response" and r.fields["warc-target-uri"] == damaged]
        damage_member(warc, original)
        del server.requests[:]
        second = crawl(store, coll, extract=False)
        asked = {head.split(b" ")[1].decode(): head for head in server.requests}
    assert b"If-None-Match" not in asked["/a/story-0"] and b"If-None-Match" in asked["/a/story-3"]
    lines = {line["url"]: line for line in map(json.loads, (store / "news" / "logs" /
                                                            f"{second.job_id}.captures.jsonl").read_text().splitlines())}
    assert (lines[damaged]["status"], lines[damaged]["revisit"]) == (200, None)  # a second copy of the page
    assert lines[server.base + "/a/story-3"]["status"] == 304


def test_an_original_in_a_warc_stated_lost_gives_way_to_the_copy_stored_whole_after_it(tmp_path, caplog):
    from archive.losses import accept_loss
    from archive.store import collection_dir

    clock = Clock()
    run_job(tmp_path, 3, clock)
    [warc] = (tmp_path / "news" / "warcs").glob("*.warc.gz")
    warc.unlink()
    accept_loss(collection_dir(tmp_path, "news"), warc.name, "the disk failed")
    with caplog.at_level(logging.INFO, logger="archive.job"):
        assert all(line["revisit"] is None for line in _second_job(tmp_path, clock).values())  # (stored whole)
    # Said once for the job, as what a stated loss means, not once for each original as a fault.
    stated = f"{warc} is stated lost ({tmp_path}/news/lost/{warc.name}.json)"
    said = [r for r in caplog.records if "stated lost" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in said] == [
        (logging.INFO, (f"originals of earlier captures are in WARCs stated lost (the first: {stated}): what would "
                        "refer to them is captured whole again"))]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="archive.job"):
        third = _second_job(tmp_path, clock)
    # Revisits of the copies the second job stored, not the bytes stored whole at every job from now on.
    assert all(line["revisit"] is not None for line in third.values()), third
    assert not caplog.records
