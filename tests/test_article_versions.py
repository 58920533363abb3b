"""The article versions file gives what reading every earlier article table would give."""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from jobs import Clock, run_job

from archive.article_versions import (
    VERSIONS,
    StoredVersions,
    Version,
    story_digests,
    text_digest,
    version_of,
)
from archive.extract import Capture, article_row, versions_before
from archive.jsonl import rows_refusing_bad
from archive.manifest import encode, jobs_in_order
from archive.store import collection_dir

PAGE = ("<html lang='en'><head><title>Bridge</title><meta property='og:type' content='article'>"
        "<meta property='article:published_time' content='2026-03-14T08:30:00+01:00'></head><body><article>"
        "<h1>Bridge</h1>" + "<p>The council met on Tuesday to talk about the bridge, what it will cost and who "
        "will pay for it, and most of those who came to listen went home unconvinced.</p>" * 6
        + "</article></body></html>")
IDS = [f"{i:040x}" for i in range(1, 8)]
URLS = [f"http://site.test/2024/story-{c}" for c in "abcd"]
LONG = "The council met on Tuesday to talk about the bridge and what it will cost.\n\n" * 4  # (its digests kept)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """A valid article row and a valid manifest, to vary."""
    row = article_row(Capture(url=URLS[0], body=PAGE.encode(), content_type="text/html; charset=utf-8",
                              warc_filename="x.warc.gz", offset=0, length=1, record_id="<urn:uuid:1>",
                              payload_digest="sha1:" + "A" * 32, capture_time="2026-11-26T10:00:00Z",
                              truncated=None), "job")
    assert row is not None
    store = tmp_path_factory.mktemp("manifest")
    job = run_job(store, 1, Clock(datetime(2026, 3, 1, tzinfo=UTC)))
    return row, json.loads(Path(job.closed_manifest).read_text())


def _reference(coll, sequence: int) -> dict[str, Version]:
    """The versions as reading every earlier table, in chain order, gives them."""
    prior: dict[str, Version] = {}
    for _, doc in jobs_in_order(coll, doing="-"):
        if doc["sequence"] >= sequence:
            break
        path = coll.articles / f"{doc['job_id']}.jsonl"
        if path.exists():
            for row in rows_refusing_bad(path, "article", "-"):
                prior[row["article_id"]] = Version(row.get("version", 1), row["source"]["record_id"], row,
                                                   text_digest(row), *story_digests(row))
    return prior


class _Trial:
    def __init__(self, rng: random.Random, root: Path, samples):
        self.rng, self.row, self.manifest = rng, *samples
        self.coll = collection_dir(root, "c")
        self.coll.articles.mkdir(parents=True)
        self.coll.manifests.mkdir(parents=True)
        self.records = 0

    def article(self, job_id: str) -> dict:
        rng = self.rng
        self.records += 1
        row = dict(self.row, article_id=rng.choice(IDS), url=rng.choice(URLS), job_id=job_id,
                   headline=rng.choice(["Bridge", "Bridge, corrected", "Ferry"]),
                   body=rng.choice(["", "One paragraph.", "Two paragraphs.\n\nAnd more.", LONG]),
                   status=rng.choice(["captured", "captured", "withdrawn"]))
        row["source"] = dict(row["source"], record_id=f"<urn:uuid:{self.records}>")
        if rng.random() < 0.3:
            row.pop("version", None)  # (a table written before rows had versions)
        else:
            row["version"] = rng.randint(1, 4)
        return row

    def write_table(self, job_id: str) -> None:
        rows = [self.article(job_id) for _ in range(self.rng.randint(0, 6))]
        (self.coll.articles / f"{job_id}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def write_manifest(self, job_id: str, sequence: int) -> None:
        (self.coll.manifests / f"{job_id}.json").write_bytes(encode(dict(self.manifest, job_id=job_id,
                                                                         sequence=sequence)))

    def check(self, sequence: int) -> str:
        expected = _reference(self.coll, sequence)
        found = versions_before(self.coll, sequence)
        if not isinstance(found, StoredVersions):
            assert found.keys() == expected.keys()
            return "tables"
        try:
            assert set(found) == set(expected)
            for key, version in expected.items():
                got = found[key]
                bodiless = {k: v for k, v in version.row.items() if k != "body"}
                assert (got.number, got.record_id, got.row, got.text, got.body_digest, got.lead_digest) == \
                    (version.number, version.record_id, bodiless, version.text, version.body_digest,
                     version.lead_digest), key
            # The running job's own versions on top, and the look-up by URL of withdrawals.
            for _ in range(self.rng.randint(0, 6)):
                row = self.article("running")
                expected[row["article_id"]] = found[row["article_id"]] = version_of(row)
                by_url = {v.row["url"]: v for v in expected.values()}
                for url in URLS:
                    want, got = by_url.get(url), found.by_url(url)
                    assert (None if want is None else want.row["article_id"]) == \
                        (None if got is None else got.row["article_id"]), url
        finally:
            found.close()
        return "file"


def test_the_versions_file_gives_what_reading_every_table_gives(samples, tmp_path):
    seen = set()
    for seed in range(40):
        rng = random.Random(seed)
        trial = _Trial(rng, tmp_path / str(seed), samples)
        sequences = rng.sample(range(1, 30), rng.randint(1, 6))  # (not in the order of the names)
        jobs = [(seq, f"c-202601{rng.randint(10, 28)}T{rng.randint(0, 235959):06d}Z-{rng.randint(0, 65535):04x}")
                for seq in sequences]
        for seq, job in jobs:
            if rng.random() < 0.9:
                trial.write_manifest(job, seq)
        for seq, job in sorted(jobs):  # jobs end in chain order, each extracting against those before
            if rng.random() < 0.5:
                seen.add(trial.check(seq))
            if rng.random() < 0.85:
                trial.write_table(job)
        seen.add(trial.check(max(sequences) + 1))
        for _ in range(5):  # tables written again or gone, manifests written again or gone
            seq, job = rng.choice(jobs)
            change = rng.random()
            if change < 0.25:
                (trial.coll.articles / f"{job}.jsonl").unlink(missing_ok=True)
            elif change < 0.6:
                trial.write_table(job)
            elif change < 0.8:
                trial.write_manifest(job, seq)
            else:
                (trial.coll.manifests / f"{job}.json").unlink(missing_ok=True)
            seen.add(trial.check(rng.choice([*sequences, max(sequences) + 1])))
    assert seen == {"file", "tables"}  # (both ways were compared)


def test_a_versions_file_of_the_version_without_body_digests_is_made_again_once(samples, tmp_path, monkeypatch):
    # It kept no digest of a body alone, by which a story retitled at a new slug is known:
    # made again from the tables, once.
    import sqlite3

    import archive.article_versions

    trial = _Trial(random.Random(3), tmp_path, samples)
    job = "c-20260110T000000Z-0001"
    trial.write_manifest(job, 1)
    (trial.coll.articles / f"{job}.jsonl").write_text(json.dumps(dict(trial.article(job), body=LONG)) + "\n")
    versions_before(trial.coll, 2).close()
    db = sqlite3.connect(trial.coll.root / VERSIONS)
    db.execute("ALTER TABLE latest DROP COLUMN body_digest")
    db.execute("ALTER TABLE latest DROP COLUMN lead_digest")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    folds = []
    fold = archive.article_versions.fold_table
    monkeypatch.setattr(archive.article_versions, "fold_table", lambda *args: folds.append(1) or fold(*args))
    for _ in range(2):
        versions = versions_before(trial.coll, 2)
        assert isinstance(versions, StoredVersions)
        (version,) = versions.values()
        assert (version.body_digest, version.lead_digest) == story_digests({"body": LONG}) != (None, None)
        versions.close()
    assert folds == [1]


def test_a_look_up_the_versions_file_cannot_answer_is_one_error_naming_it(samples, tmp_path):
    # Folding reads the list of tables, not every page: damage met later, in a look-up,
    # stops the job's extraction with one line (the crawl's capture stands), not a traceback.
    import sqlite3

    from archive.errors import StoreError

    trial = _Trial(random.Random(1), tmp_path, samples)
    trial.write_manifest("c-20260110T000000Z-0001", 1)
    trial.write_table("c-20260110T000000Z-0001")
    versions = versions_before(trial.coll, 2)
    assert isinstance(versions, StoredVersions)
    versions.close()
    versions.db = sqlite3.connect(":memory:")  # (answers nothing it is asked: "no such table")
    with pytest.raises(StoreError, match=f"{trial.coll.root / VERSIONS} cannot be read .*; the next job makes it "
                                         f"again, and `archive extract --collection c --store {trial.coll.root.parent}` "
                                         "writes every article table"):
        versions.get(IDS[0])


def test_a_job_extracting_reads_the_versions_as_they_were_before_it(samples, tmp_path):
    # Another job's extraction (a crawl started by hand beside the scheduler's) may fold a
    # later table in meanwhile: what this job compares against stays what came before it.
    trial = _Trial(random.Random(2), tmp_path, samples)
    first, second = "c-20260110T000000Z-0001", "c-20260111T000000Z-0002"
    trial.write_manifest(first, 1)
    trial.write_table(first)
    trial.write_manifest(second, 2)
    own = versions_before(trial.coll, 2)
    assert isinstance(own, StoredVersions)
    before = {key: (v.number, v.record_id) for key, v in own.items()}
    rows = [dict(trial.article(second), article_id=key, version=9) for key in IDS]
    (trial.coll.articles / f"{second}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    later = versions_before(trial.coll, 3)  # (folds the second job's table in, and does not wait)
    assert isinstance(later, StoredVersions) and {v.number for v in later.values()} == {9}
    later.close()
    assert {key: (v.number, v.record_id) for key, v in own.items()} == before
    own.close()
