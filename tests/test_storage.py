"""push / pull / verify s3:// against a real S3-compatible server (moto, on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobs import Clock, another_collection, run_job, store_fixtures

from archive.cli import main
from archive.errors import StorageError
from archive.storage import pull, push, verify_remote
from archive.storage.s3 import MIN_PART_SIZE
from archive.verify import verify

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["s3server"]  # the moto server fixtures: s3, s3_env


pristine, store = store_fixtures((5, 3))


def local_files(store: Path) -> set[str]:
    """The store's files that a push sends: not the ones being written, nor the derived
    databases beside the collection's directories (the history that jobs keep), nor the
    merged index, nor the push ledgers (hidden)."""
    skip = (".open", ".tmp", ".lock", ".sqlite")
    return {p.relative_to(store).as_posix() for p in store.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(store).parts)
            and not p.name.endswith(skip) and "/indexes/merged/" not in p.as_posix()}


def keys(client, bucket: str, prefix: str = "") -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def test_push_mirrors_the_store_layout_with_sha256_metadata_and_verifies_clean(s3_env, store, capsys):
    bucket = s3_env.new_bucket()
    (store / "news" / "warcs" / "x.warc.gz.open").write_bytes(b"half a file")
    (store / "news" / "manifests" / "y.json.tmp").write_bytes(b"{}")
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/arch"]) == 0
    out = capsys.readouterr().out
    assert f"Pushed to s3://{bucket}/arch" in out and "2 manifests confirmed" in out
    client = s3_env.client()
    expected = {f"arch/{rel}" for rel in local_files(store)} - {"arch/news/warcs/x.warc.gz.open",
                                                                 "arch/news/manifests/y.json.tmp"}
    assert keys(client, bucket) == expected
    for key in expected:
        head = client.head_object(Bucket=bucket, Key=key)
        local = store / key.removeprefix("arch/")
        assert head["Metadata"]["sha256"] == "sha256:" + hashlib.sha256(local.read_bytes()).hexdigest()
        assert head["ContentLength"] == local.stat().st_size
    assert verify_remote(f"s3://{bucket}/arch").ok
    assert main(["verify", f"s3://{bucket}/arch", "--deep"]) == 0
    assert "OK:" in capsys.readouterr().out
    # A collection prefix verifies on its own too.
    assert verify_remote(f"s3://{bucket}/arch/news", deep=True).ok


def test_second_push_of_an_unchanged_store_uploads_nothing(s3_env, store):
    bucket = s3_env.new_bucket()
    first = push(store, f"s3://{bucket}/p")
    assert first.uploaded and first.bytes_sent > 0
    second = push(store, f"s3://{bucket}/p")
    assert second.uploaded == [] and second.bytes_sent == 0
    assert second.unchanged == len(first.uploaded) and len(second.manifests) == 2


def test_a_push_does_not_look_again_at_what_an_earlier_one_confirmed_unless_asked(s3_env, store, capsys):
    # Months of hourly crawls: each push must not read the whole store and ask the bucket
    # about every file again.
    from archive.index import update_indexes
    from archive.store import collection_dir

    bucket = s3_env.new_bucket()
    update_indexes(collection_dir(store, "news"))
    first = push(store, f"s3://{bucket}/p")
    client = s3_env.client()
    assert not keys(client, bucket, "p/news/indexes/merged/")  # written anew at every job's end
    assert keys(client, bucket, "p/news/indexes/") and not keys(client, bucket, "p/news/.pushed")
    warc = min(keys(client, bucket, "p/news/warcs/"))
    client.delete_object(Bucket=bucket, Key=warc)  # a change in the bucket, which a push no longer sees
    ledger = next((store / "news" / ".pushed").glob("*.jsonl"))
    ledger.write_bytes(ledger.read_bytes() + b'{"path": "cut short')  # (a push killed mid-line)
    second = push(store, f"s3://{bucket}/p")
    assert second.uploaded == [] and second.unchanged == len(first.uploaded) and len(second.manifests) == 2
    problems = [str(p) for p in verify_remote(f"s3://{bucket}/p").problems]
    assert len(problems) == 1 and warc.rsplit("/", 1)[1] in problems[0], problems
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--recheck"]) == 0
    assert "1 file uploaded" in capsys.readouterr().out
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok
    # One ledger per destination, the endpoint as resolved (here from $AWS_ENDPOINT_URL).
    assert json.loads(ledger.read_text().splitlines()[0]) == {"destination": f"s3://{bucket}/p/news at {s3_env.url}"}
    # A file changed here since is checked again: even rewritten with its size and times as
    # they were (a copy that keeps times, a restore). A file of no manifest nor sidecar is sent.
    extra = store / "news" / "logs" / "notes.txt"
    extra.write_bytes(b"first")
    assert push(store, f"s3://{bucket}/p").uploaded == ["p/news/logs/notes.txt"]
    extra.write_bytes(extra.read_bytes())
    assert push(store, f"s3://{bucket}/p").uploaded == []  # (the same bytes: found in the bucket)
    before = extra.stat()
    extra.write_bytes(b"other")
    os.utime(extra, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert push(store, f"s3://{bucket}/p").uploaded == ["p/news/logs/notes.txt"]


def test_a_bucket_emptied_since_the_last_push_gets_every_file_again(s3_env, store, capsys):
    # The bucket made anew, emptied, or the endpoint another server since: the ledger's
    # word that the files are there no longer holds, and the push must not say they are.
    bucket = s3_env.new_bucket()
    first = push(store, f"s3://{bucket}/p")
    client = s3_env.client()
    for key in keys(client, bucket):
        client.delete_object(Bucket=bucket, Key=key)
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    out = capsys.readouterr().out
    assert f"{len(first.uploaded)} files uploaded" in out and "0 already there" in out, out
    assert f"note: s3://{bucket}/p/news/manifests/" in out and "which an earlier push confirmed, is not in the " \
        "bucket: every file of news checked again" in out
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok
    # The next push trusts the ledger again: nothing sent, nothing said.
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    out = capsys.readouterr().out
    assert "0 files uploaded" in out and "note:" not in out
    # So too after a push that sent the files but was stopped before any manifest went up.
    for key in keys(client, bucket):
        client.delete_object(Bucket=bucket, Key=key)
    ledger = next((store / "news" / ".pushed").glob("*.jsonl"))
    ledger.write_text("".join(line for line in ledger.read_text().splitlines(keepends=True)
                              if '"manifests/' not in line))
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    out = capsys.readouterr().out
    assert f"{len(first.uploaded)} files uploaded" in out and f"note: s3://{bucket}/p/news/warcs/" in out, out
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok


def test_a_ledger_that_cannot_be_written_is_said_once_and_the_push_goes_on(s3_env, store, caplog):
    (store / "news" / ".pushed").write_bytes(b"")  # a file where its directory would go
    bucket = s3_env.new_bucket()
    with caplog.at_level("WARNING", logger="archive.storage.ledger"):
        result = push(store, f"s3://{bucket}/p")
    assert len(result.manifests) == 2 and verify_remote(f"s3://{bucket}/p", deep=True).ok
    [said] = [r.getMessage() for r in caplog.records]  # once, not a line a file
    assert said.startswith(f"{store / 'news' / '.pushed'}/") and "cannot be written" in said
    assert said.endswith("the next push checks every file again")


def test_manifest_goes_up_last_and_not_at_all_if_a_file_it_names_is_wrong(s3_env, store):
    bucket = s3_env.new_bucket()
    another_collection(store, "other")  # a second collection, whole
    warc = min((store / "news" / "warcs").glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 1
    warc.write_bytes(bytes(data))  # corrupt locally: its hash no longer matches the manifest
    manifest, _ = _listing(store, warc)
    code, err = run_cli("push", "--store", str(store), "--to", f"s3://{bucket}/p")
    assert code == 1
    said = [line for line in err.splitlines() if line.startswith("archive push:")]  # (not the progress bar)
    assert len(said) == 2 and said[0].startswith(f"archive push: {warc} is {len(data)} bytes")
    assert said[1] == f"archive push: not pushing {manifest}, nor a manifest after it: " + said[0].split(": ", 1)[1]
    names = keys(s3_env.client(), bucket, "p/news/")
    # The manifest that names the broken WARC is not in the bucket (nor any after it), nor the WARC.
    assert not any(k.endswith(".json") for k in names if "/manifests/" in k)
    assert f"p/news/warcs/{warc.name}" not in names
    assert verify_remote(f"s3://{bucket}/p/other", deep=True).manifests == 2  # the other collection went up


def test_a_derived_file_damaged_here_does_not_replace_its_good_copy(s3_env, store):
    # A WARC's index is in no manifest; its sidecar records its SHA-256.
    from archive.index import update_indexes
    from archive.store import collection_dir

    update_indexes(collection_dir(store, "news"))
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    index = min((store / "news" / "indexes").glob("*.cdxj"))
    good = index.read_bytes()
    index.write_bytes(good[:-2] + b"X\n")
    result = push(store, f"s3://{bucket}/p")
    assert list(result.held_back) == [index] and result.uploaded == []
    assert result.held_back[index].endswith("not pushed, and its copy in the bucket, if any, left as it was; "
                                            "`archive index` or `archive extract` makes it again")
    key = f"p/news/indexes/{index.name}"
    assert s3_env.client().get_object(Bucket=bucket, Key=key)["Body"].read() == good


def test_a_manifest_that_is_not_json_stops_its_collection_only(s3_env, store):
    another_collection(store, "other")
    bucket = s3_env.new_bucket()
    manifest = min((store / "news" / "manifests").glob("*.json"))
    manifest.write_bytes(manifest.read_bytes()[:40])  # cut short: not JSON, not as its sidecar says
    result = push(store, f"s3://{bucket}/p")
    assert list(result.stopped) == ["news"] and result.stopped["news"].startswith(f"not pushing {manifest.name}, ")
    assert "do not match" in result.stopped["news"]
    assert verify_remote(f"s3://{bucket}/p/other", deep=True).manifests == 2  # the other collection went up
    assert not any(k.endswith(".json") for k in keys(s3_env.client(), bucket, "p/news/manifests/"))


def test_a_manifest_damaged_here_does_not_replace_its_good_copy(s3_env, store):
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    manifest = min((store / "news" / "manifests").glob("*.json"))
    text = manifest.read_text()
    manifest.write_text(text.replace('"finished"', '"fiNished"', 1))  # still valid JSON
    assert manifest.read_text() != text
    result = push(store, f"s3://{bucket}/p")
    assert list(result.held_back) == [manifest] and not result.stopped
    assert f"{manifest.name} and its sidecar {manifest.name}.sha256 do not match" in result.held_back[manifest]
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok and len(result.manifests) == 2
    # Its sidecar rewritten to match: the bucket's copy still wins, manifests being written once.
    (manifest.with_name(manifest.name + ".sha256")).write_text(
        f"{hashlib.sha256(manifest.read_bytes()).hexdigest()}  {manifest.name}\n")
    result = push(store, f"s3://{bucket}/p")
    assert sorted(result.held_back) == sorted([manifest, manifest.with_name(manifest.name + ".sha256")])
    assert "a manifest is written once" in result.held_back[manifest]
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok
    # Held back, so not taken as pushed: the next push says so again.
    assert sorted(push(store, f"s3://{bucket}/p").held_back) == sorted(result.held_back)


def test_a_file_damaged_here_since_its_push_does_not_replace_its_good_copy(s3_env, store):
    # The bucket is what a pull restores a damaged file from: pushing the damage over it
    # would leave no good copy anywhere.
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    warc = min((store / "news" / "warcs").glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 1
    warc.write_bytes(bytes(data))
    manifest, listed = _listing(store, warc)
    code, err = run_cli("push", "--store", str(store), "--to", f"s3://{bucket}/p")
    assert code == 1
    assert err == (f"archive push: {warc} is {len(data)} bytes, sha256:{hashlib.sha256(data).hexdigest()}; "
                   f"{manifest} says {len(data)} bytes, {listed}: not pushed, and its copy in the bucket, "
                   f"if any, left as it was; run `archive verify {store / 'news'}`\n")
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok  # the good copy, and both manifests
    # --delete-local removes the damaged copy, the good one being in the bucket, and says so.
    result = push(store, f"s3://{bucket}/p", delete_local=True)
    assert not warc.exists() and warc in result.deleted
    assert result.held_back[warc] == (f"{warc} was not as {manifest} lists it (damaged here), and is deleted: "
                                      f"its copy in s3://{bucket}/p/news is as listed")
    assert verify(store).ok


def test_multipart_upload_with_a_small_part_size(s3_env, store):
    bucket = s3_env.new_bucket()
    big = store / "news" / "indexes" / "big.cdxj"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(12 * 1024 * 1024 + 12345))
    result = push(store, f"s3://{bucket}/p", part_size=MIN_PART_SIZE)
    head = s3_env.client().head_object(Bucket=bucket, Key="p/news/indexes/big.cdxj")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: 5 MiB, 5 MiB, the rest
    assert head["Metadata"] == {"sha256": "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest(),
                                "part-size": str(MIN_PART_SIZE)}
    assert result.parts_reused == 0
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok


def test_push_killed_mid_multipart_resumes_without_resending_parts(s3_env, store):
    bucket = s3_env.new_bucket()
    big = store / "news" / "indexes" / "big.cdxj"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(24 * MIN_PART_SIZE + 999))
    key = "p/news/indexes/big.cdxj"
    client = s3_env.client()
    child = subprocess.Popen([sys.executable, "-m", "archive", "push", "--store", str(store), "--to",
                              f"s3://{bucket}/p", "--part-size", str(MIN_PART_SIZE)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    parts_before = 0
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and parts_before < 2:
            uploads = [u for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
                       if u["Key"] == key]
            if uploads:
                parts = client.list_parts(Bucket=bucket, Key=key, UploadId=uploads[0]["UploadId"])
                parts_before = len(parts.get("Parts", []))
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert parts_before >= 2, "the push never got going"
    assert key not in keys(client, bucket), "the push finished before it could be killed; make the file bigger"
    uploads = client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    listed = client.list_parts(Bucket=bucket, Key=key, UploadId=uploads[0]["UploadId"])["Parts"]
    # A part the kill cut off may be listed with other bytes than the file's; only whole
    # parts can be kept, and every one of them must be.
    data = big.read_bytes()
    whole = [p for p in listed if p["ETag"].strip('"') == hashlib.md5(
        data[(p["PartNumber"] - 1) * MIN_PART_SIZE:][:MIN_PART_SIZE], usedforsecurity=False).hexdigest()]
    result = push(store, f"s3://{bucket}/p", part_size=MIN_PART_SIZE)
    assert result.parts_reused == len(whole) >= 1, [(p["PartNumber"], p["Size"]) for p in listed]
    size = big.stat().st_size
    assert result.bytes_sent <= size - len(whole) * MIN_PART_SIZE + sum(
        (store / "news" / k.removeprefix("p/news/")).stat().st_size for k in result.uploaded if k != key)
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok


def test_abandoned_upload_of_a_file_gone_locally_is_aborted(s3_env, store):
    bucket = s3_env.new_bucket()
    client = s3_env.client()
    client.create_multipart_upload(Bucket=bucket, Key="p/news/indexes/gone.cdxj", ChecksumAlgorithm="SHA256")
    result = push(store, f"s3://{bucket}/p")
    assert result.aborted == ["p/news/indexes/gone.cdxj"]
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_verify_s3_finds_metadata_and_size_mismatches_and_deep_finds_changed_bytes(s3_env, store, capsys):
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    client = s3_env.client()
    warcs = sorted(k for k in keys(client, bucket, "p/news/warcs/"))
    # Same length, same metadata, different bytes: only --deep can tell.
    head = client.head_object(Bucket=bucket, Key=warcs[0])
    body = bytearray(client.get_object(Bucket=bucket, Key=warcs[0])["Body"].read())
    body[100] ^= 0xFF
    client.put_object(Bucket=bucket, Key=warcs[0], Body=bytes(body), Metadata=head["Metadata"])
    assert verify_remote(f"s3://{bucket}/p").ok
    deep = verify_remote(f"s3://{bucket}/p", deep=True)
    assert [(str(p.path), p.where) for p in deep.problems] == [(f"s3://{bucket}/{warcs[0]}", "sha256")]
    # A shorter object without our metadata: seen without reading it.
    client.put_object(Bucket=bucket, Key=warcs[1], Body=b"truncated")
    shallow = verify_remote(f"s3://{bucket}/p")
    wheres = {(str(p.path), p.where) for p in shallow.problems}
    assert (f"s3://{bucket}/{warcs[1]}", "size") in wheres
    assert (f"s3://{bucket}/{warcs[1]}", "x-amz-meta-sha256") in wheres
    assert main(["verify", f"s3://{bucket}/p"]) == 1
    assert "FAILED" in capsys.readouterr().out
    # A manifest changed in the bucket breaks its sidecar and the chain, as locally.
    manifest = min(k for k in keys(client, bucket, "p/news/manifests/") if k.endswith(".json"))
    client.put_object(Bucket=bucket, Key=manifest, Body=b"{}")
    problems = [str(p) for p in verify_remote(f"s3://{bucket}/p").problems]
    assert any("does not match its sidecar" in p for p in problems)
    assert any("previous.sha256" in p or "sequence" in p for p in problems)


def test_pull_into_an_empty_directory_gives_a_store_that_verifies(s3_env, store, tmp_path, capsys):
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    restored = tmp_path / "restored"
    assert main(["pull", "--from", f"s3://{bucket}/p", "--store", str(restored)]) == 0
    assert "Pulled" in capsys.readouterr().out
    assert local_files(restored) == local_files(store)
    for rel in local_files(store):
        assert (restored / rel).read_bytes() == (store / rel).read_bytes()
    assert verify(restored).ok
    assert main(["verify", str(restored)]) == 0
    again = pull(f"s3://{bucket}/p", restored)
    assert again.downloaded == [] and again.unchanged == len(local_files(store))


def test_pull_refuses_an_object_whose_bytes_do_not_match_its_sha256(s3_env, store, tmp_path):
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    client = s3_env.client()
    key = min(keys(client, bucket, "p/news/warcs/"))
    head = client.head_object(Bucket=bucket, Key=key)
    client.put_object(Bucket=bucket, Key=key, Body=b"x" * head["ContentLength"], Metadata=head["Metadata"])
    restored = tmp_path / "restored"
    with pytest.raises(Exception, match="not written"):
        pull(f"s3://{bucket}/p", restored)
    target = restored / key.removeprefix("p/")
    assert not target.exists() and not target.with_name(target.name + ".part").exists()
    assert not list((restored / "news").glob("manifests/*.json"))  # manifests come last


def test_a_pull_that_did_not_finish_is_said_so_and_neither_repaired_nor_crawled_into(s3_env, store, tmp_path):
    # Killed or failed before the manifests (which come last), a pull leaves a job's files
    # without its manifest, as a killed job does: a repair would write that job an
    # "interrupted" manifest of its own, and the real one could then not be pulled.
    from archive.config import one_off
    from archive.crawl import crawl
    from archive.errors import CrawlError, StoreError
    from archive.repair import repair

    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    client = s3_env.client()
    key = max(keys(client, bucket, "p/news/manifests/") - {k for k in keys(client, bucket) if not k.endswith(".json")})
    good = client.get_object(Bucket=bucket, Key=key)
    body, metadata = good["Body"].read(), good["Metadata"]
    client.put_object(Bucket=bucket, Key=key, Body=b"x" * len(body), Metadata=metadata)
    restored = tmp_path / "restored"
    with pytest.raises(StorageError, match="not written"):
        pull(f"s3://{bucket}/p", restored)
    said = [str(p) for p in verify(restored).problems]
    assert f"{restored / 'news'}: an `archive pull` from s3://{bucket}/p into it did not finish (its manifests come " \
           "last): run it again" in said
    assert any(p.endswith("not listed in any manifest yet: the `archive pull` that brought it did not finish; run it "
                          "again") for p in said)
    before = local_files(restored)
    with pytest.raises(StoreError, match="did not finish; run it again rather than a repair"):
        repair(restored)
    with pytest.raises(CrawlError, match="did not finish; run it again before crawling into it"):
        crawl(restored, one_off("news", urls=["http://127.0.0.1:9/"]))
    assert local_files(restored) == before
    client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
    pull(f"s3://{bucket}/p", restored)
    assert local_files(restored) == local_files(store) and verify(restored).ok
    assert not (restored / "news" / ".pull-unfinished.json").exists()


def test_another_stores_collection_of_the_same_name_is_neither_pushed_beside_nor_pulled_into_a_chain(
        s3_env, store, tmp_path, capsys):
    # Their manifests would fork the chain, silently, in the bucket or in the store.
    other = tmp_path / "other"
    run_job(other, 2, Clock(datetime(2026, 4, 1, tzinfo=UTC)))  # (a store of its own, collection "news" too)
    bucket = s3_env.new_bucket()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    capsys.readouterr()
    assert main(["push", "--store", str(other), "--to", f"s3://{bucket}/p"]) == 1
    err = capsys.readouterr().err
    assert f"s3://{bucket}/p/news holds a manifest this store has not" in err and "push this one to another prefix" in err
    assert len(keys(s3_env.client(), bucket, "p/news/manifests/")) == 4  # (store's two manifests and their sidecars)
    assert verify_remote(f"s3://{bucket}/p").ok
    before = local_files(other)
    with pytest.raises(StorageError, match="another chain of a collection of the same name"):
        pull(f"s3://{bucket}/p", other)
    assert local_files(other) == before and verify(other).ok
    # The store's own copy goes on as before, and a pull into it finds the chain its own.
    assert pull(f"s3://{bucket}/p", store).downloaded == []


def test_a_manifest_damaged_in_the_bucket_is_replaced_by_the_sound_copy_here(s3_env, store, capsys):
    # A manifest is written once: another one in the bucket is left alone. One whose bytes
    # are not what its own sidecar says is not another manifest but a broken copy.
    bucket = s3_env.new_bucket()
    client = s3_env.client()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    key = min(k for k in keys(client, bucket, "p/news/manifests/") if k.endswith(".json"))
    good = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=good.replace(b'"finished"', b'"FINISHED"'))
    assert not verify_remote(f"s3://{bucket}/p").ok
    capsys.readouterr()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--recheck"]) == 0, capsys.readouterr()
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == good
    assert verify_remote(f"s3://{bucket}/p").ok
    # Another manifest, as its sidecar says, is not replaced.
    other = good.replace(b'"finished"', b'"FINISHED"')
    client.put_object(Bucket=bucket, Key=key, Body=other,
                      Metadata={"sha256": "sha256:" + hashlib.sha256(other).hexdigest()})
    sidecar = f"{hashlib.sha256(other).hexdigest()}  x\n".encode()
    client.put_object(Bucket=bucket, Key=key + ".sha256", Body=sidecar,
                      Metadata={"sha256": "sha256:" + hashlib.sha256(sidecar).hexdigest()})
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--recheck"]) == 1
    assert "a manifest is written once" in capsys.readouterr().err
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == other


def test_a_collection_that_cannot_be_pulled_whole_leaves_the_others_to_come_whole(s3_env, store, tmp_path, capsys):
    another_collection(store, "sports")  # (a second collection, its own chain)
    bucket = s3_env.new_bucket()
    client = s3_env.client()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    key = min(keys(client, bucket, "p/news/warcs/"))
    client.put_object(Bucket=bucket, Key=key, Body=b"not the WARC")  # (no x-amz-meta-sha256: unverifiable)
    restored = tmp_path / "restored"
    capsys.readouterr()
    assert main(["pull", "--from", f"s3://{bucket}/p", "--store", str(restored)]) == 1
    out, err = capsys.readouterr()
    assert "1 collection (1 not whole)." in out
    assert err.endswith(f"archive pull: news: s3://{bucket}/{key} has no x-amz-meta-sha256, so it cannot be "
                        "verified; was it uploaded by `archive push`?\n")
    assert {f for f in local_files(restored) if f.startswith("sports/")} == \
           {f for f in local_files(store) if f.startswith("sports/")}
    assert verify(restored / "sports").ok and not (restored / "news").exists()


def test_delete_local_removes_warcs_only_after_their_copy_checks_out(s3_env, store, capsys):
    bucket = s3_env.new_bucket()
    before = local_files(store)
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 0
    assert "Deleted 2 local WARCs" in capsys.readouterr().out
    after = local_files(store)
    assert {f for f in before - after} == {f for f in before if f.startswith("news/warcs/")}
    assert any(f.startswith("news/manifests/") for f in after) and any(f.startswith("news/logs/") for f in after)
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok
    # The local store still verifies: each removed WARC left a receipt naming its copy.
    from archive.verify import verify

    local = verify(store)
    assert local.ok, [str(p) for p in local.problems]
    assert sum("deleted locally after its copy at s3://" in n for n in local.notes) == 2


def test_delete_local_indexes_a_warc_before_it_goes_and_sends_the_index_up(s3_env, store, capsys):
    # A job closed by `verify --repair` (or by an earlier version) has WARCs no index holds;
    # deleted so, their captures were in no index of the store, nor in the bucket.
    from archive.index import lookup_url, update_indexes
    from archive.index.cdxj import index_name
    from archive.store import collection_dir

    coll = collection_dir(store, "news")
    update_indexes(coll)
    warc = max(coll.warcs.glob("*.warc.gz"))
    index = coll.indexes / index_name(warc)
    url = json.loads(index.read_text().splitlines()[0].split(" ", 2)[2])["url"]
    for path in (index, index.with_name(index.name + ".derived.json")):
        path.unlink()
    bucket = s3_env.new_bucket()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 0
    assert "Deleted 2 local WARCs" in capsys.readouterr().out
    assert not warc.exists() and index.is_file()
    assert f"p/news/indexes/{index.name}" in keys(s3_env.client(), bucket, "p/news/indexes/")
    update_indexes(coll)
    assert any(entry.fields.get("filename") == warc.name for entry in lookup_url(coll, url))
    assert verify(store).ok


def test_a_copy_of_a_warc_no_manifest_lists_is_not_pushed_as_verify_and_index_refuse_it(s3_env, store, capsys):
    # A WARC gunzipped beside itself to be read, or copied: pushed, it went into every store
    # pulled from the bucket (uncompressed, several times its size), and push said nothing.
    import gzip

    coll = store / "news"
    warc = min((coll / "warcs").glob("*.warc.gz"))
    plain = coll / "warcs" / "copy.warc"
    plain.write_bytes(gzip.decompress(warc.read_bytes()))
    copy = coll / "warcs" / "copy.warc.gz"
    copy.write_bytes(warc.read_bytes())
    bucket = s3_env.new_bucket()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 1
    err = capsys.readouterr().err
    from archive.verify import warcinfo_job_id

    job = warcinfo_job_id(warc)
    for stray in (copy, plain):
        assert (f"archive push: {stray} is listed in no manifest, though its job {job} has one (a copy, or a file put "
                f"there after the job ended): not pushed; move it out of the store (`archive verify {coll}` says the "
                "same)\n") in err, err
        assert any(p.path == stray for p in verify(store).problems)
    assert not {"p/news/warcs/copy.warc", "p/news/warcs/copy.warc.gz"} & keys(s3_env.client(), bucket, "p/news/")
    assert f"p/news/warcs/{warc.name}" in keys(s3_env.client(), bucket, "p/news/")
    plain.unlink()
    copy.unlink()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0


def test_delete_local_makes_the_article_table_of_a_repaired_job_before_its_warcs_go(s3_env, store, capsys):
    # A job closed by `verify --repair` has no article table; its WARCs deleted, its articles
    # were in no table, and `archive extract` stopped until an `archive pull` brought them back.
    from archive.extract import extract_collection
    from archive.store import collection_dir

    coll = collection_dir(store, "news")
    extract_collection(store, "news")
    _, last = sorted(coll.articles.glob("*.jsonl"))
    made = last.read_bytes()
    for path in (last, last.with_suffix(".derived.json")):
        path.unlink()
    bucket = s3_env.new_bucket()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 0
    assert "Deleted 2 local WARCs" in capsys.readouterr().out
    assert not any(coll.warcs.iterdir()) and last.read_bytes() == made
    assert f"p/news/articles/{last.name}" in keys(s3_env.client(), bucket, "p/news/articles/")
    assert verify(store).ok


def test_delete_local_keeps_the_warcs_of_an_older_job_without_an_article_table(s3_env, store, capsys):
    # A later job's table was made without this one's: only `archive extract`, from every
    # WARC, makes it, so its WARCs stay until it has.
    from archive.extract import extract_collection
    from archive.store import collection_dir

    coll = collection_dir(store, "news")
    extract_collection(store, "news")
    first = min(coll.manifests.glob("*.json"))
    job = first.name.removesuffix(".json")
    for path in coll.articles.glob(f"{job}.*"):
        path.unlink()
    warcs = {entry["path"] for entry in json.loads(first.read_text())["files"] if entry["kind"] == "warc"}
    bucket = s3_env.new_bucket()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 1
    out, err = capsys.readouterr()
    assert "Deleted 1 local WARC " in out
    assert (f"archive push: not deleting the WARCs {first.name} lists: job {job} has no article table, which "
            f"is made from them by `archive extract --collection news --store {store}` (a later job's table was made "
            "without it, and extract makes every table again, from every WARC: `archive pull` first brings back "
            "those pushed away); nothing needs sending for that: once it is made, the next `archive push "
            "--delete-local` deletes the WARCs kept\n") in err, err
    assert {f"warcs/{w.name}" for w in coll.warcs.iterdir()} == warcs
    assert main(["pull", "--from", f"s3://{bucket}/p", "--store", str(store)]) == 0
    assert main(["extract", "--store", str(store), "--collection", "news"]) == 0
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 0
    assert not any(coll.warcs.iterdir())


def test_delete_local_reads_each_copy_back_and_keeps_a_warc_whose_copy_is_not_its_bytes(s3_env, store, capsys):
    # An object's size and x-amz-meta-sha256 are what its upload said: kept on a copy
    # damaged or replaced since. The local WARC may be the last copy of those bytes.
    bucket = s3_env.new_bucket()
    client = s3_env.client()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    first, second = sorted(keys(client, bucket, "p/news/warcs/"))
    head = client.head_object(Bucket=bucket, Key=first)
    client.put_object(Bucket=bucket, Key=first, Body=b"\0" * head["ContentLength"], Metadata=head["Metadata"])
    client.delete_object(Bucket=bucket, Key=second)
    capsys.readouterr()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 1
    out, err = capsys.readouterr()
    kept = store / first.removeprefix("p/")
    assert kept.is_file() and (store / second.removeprefix("p/")).is_file() and "Deleted" not in out
    assert f"archive push: not deleting {kept}: its copy in s3://{bucket}/p/news reads back as " in err
    assert err.strip().endswith("(and 1 more); the next `archive push` sends what is missing or differs again")
    # And so it does, with no --recheck: the copies are mended, then the WARCs go.
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 0
    assert "Deleted 2 local WARCs" in capsys.readouterr().out
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok


def test_delete_local_keeps_the_warcs_of_a_manifest_not_in_the_bucket_as_it_is_here(s3_env, store, capsys):
    bucket = s3_env.new_bucket()
    client = s3_env.client()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    first = min(keys(client, bucket, "p/news/manifests/"))  # (not the newest: without it all is checked again)
    for key in keys(client, bucket, first):
        client.delete_object(Bucket=bucket, Key=key)
    listed = {f["path"] for f in json.loads((store / first.removeprefix("p/")).read_text())["files"]
              if f["kind"] == "warc"}
    capsys.readouterr()
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 1
    err = capsys.readouterr().err
    assert listed and all((store / "news" / rel).is_file() for rel in listed)
    assert "is not in s3://" in err and "as it is here" in err
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p", "--delete-local"]) == 0
    assert verify_remote(f"s3://{bucket}/p").ok


def _listing(store: Path, warc: Path) -> tuple[str, str]:
    """The manifest that lists ``warc``, and the SHA-256 it lists."""
    import json

    for manifest in (store / "news" / "manifests").glob("*.json"):
        for entry in json.loads(manifest.read_text())["files"]:
            if entry["path"] == f"warcs/{warc.name}":
                return manifest.name, entry["sha256"]
    raise AssertionError(f"no manifest lists {warc.name}")


def run_cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(list(args), out=io.StringIO(), err=err)
    return code, err.getvalue()


def test_errors_are_one_clear_line(s3_env, store, tmp_path, monkeypatch, capsys):
    from wire import free_port

    started = time.monotonic()
    code, err = run_cli("push", "--store", str(store), "--to", "s3://t-no-such-bucket/p")
    assert code == 1 and err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err
    code, err = run_cli("verify", "s3://t-no-such-bucket/p")
    assert code == 1 and "does not exist" in err
    down = f"http://127.0.0.1:{free_port()}"
    code, err = run_cli("push", "--store", str(store), "--to", "s3://t-bucket/p", "--endpoint-url", down)
    assert code == 1 and err.count("\n") == 1 and f"cannot connect to {down}" in err
    code, err = run_cli("pull", "--from", "s3://t-bucket/p", "--store", str(tmp_path / "r"), "--endpoint-url", down)
    assert code == 1 and "cannot connect" in err
    assert time.monotonic() - started < 15, "a dead endpoint must fail fast"
    code, err = run_cli("push", "--store", str(store), "--to", "https://not-s3/p")
    assert code == 2 and "s3://" in err
    code, err = run_cli("push", "--store", str(store), "--to", "s3://t-bucket/p", "--part-size", "1000")
    assert code == 2 and "5 MiB" in err
    code, err = run_cli("push", "--store", str(tmp_path / "nothing"), "--to", "s3://t-bucket/p")
    assert code == 2 and "does not exist" in err
    code, err = run_cli("verify", str(store), "--endpoint-url", s3_env.url)
    assert code == 2
    capsys.readouterr()
    code, _ = run_cli("push", "--store", str(store), "--to", "s3://t-bucket/p", "--endpoint-url", "http://[::1")
    err = capsys.readouterr().err  # (argparse's own usage error)
    assert code == 2 and "'http://[::1' is not a valid URL (Invalid IPv6 URL)" in err and "Traceback" not in err
    with monkeypatch.context() as env:  # (the same from the environment, which no option checks)
        env.setenv("AWS_ENDPOINT_URL_S3", "http://[::1")
        code, err = run_cli("push", "--store", str(store), "--to", "s3://t-bucket/p")
    assert code == 1 and "'http://[::1' is not a usable S3 endpoint URL" in err and "Traceback" not in err
    monkeypatch.setenv("AWS_PROFILE", "t-no-such-profile")
    code, err = run_cli("push", "--store", str(store), "--to", "s3://t-bucket/p")
    assert code == 1 and "ProfileNotFound" in err and "t-no-such-profile" in err and "Traceback" not in err


def test_wrong_credentials_are_named_without_revealing_them(store, monkeypatch):
    from s3server import FAKE_ENV, start_server, stop_server

    # A server that checks signatures: every key is unknown to it.
    server = start_server({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        for name, value in FAKE_ENV.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGKEY0000")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value-123")
        code, err = run_cli("push", "--store", str(store), "--to", "s3://t-bucket/p", "--endpoint-url", server.url)
    finally:
        stop_server(server)
    assert code == 1 and err.count("\n") == 1 and "refused the credentials" in err
    assert "very-secret-value-123" not in err and "AKIAWRONGKEY0000" not in err


def _one_page_collection(tmp_path: Path, wire_site, to: str, endpoint_url: str) -> Path:
    """A collections file: collection ``wired``, one page of ``wire_site``, pushed to ``to``."""
    config = tmp_path / "collections.toml"
    config.write_text(f"""
[[collection]]
name = "wired"
urls = ["{wire_site.base}/final"]
scope = {{ max_depth = 0, max_pages = 1 }}
storage = {{ to = "{to}", endpoint_url = "{endpoint_url}" }}
""")
    return config


def test_crawl_pushes_to_the_collections_storage_and_reports_a_failed_push(s3_env, wire_site, tmp_path, capsys):
    bucket = s3_env.new_bucket()
    config = _one_page_collection(tmp_path, wire_site, f"s3://t-missing-{bucket[2:]}/x", s3_env.url)
    store = tmp_path / "store"
    assert main(["crawl", str(config), "--store", str(store)]) == 1
    captured = capsys.readouterr()
    assert "push of wired failed" in captured.err and "does not exist" in captured.err
    assert "Job wired-" in captured.out  # the crawl's own result stands
    assert verify(store).ok  # local files intact
    # Fix the storage section: the next crawl pushes both jobs (the failed push is retried).
    config.write_text(config.read_text().replace(f"t-missing-{bucket[2:]}", bucket))
    assert main(["crawl", str(config), "--store", str(store)]) == 0
    assert "2 manifests confirmed" in capsys.readouterr().out
    report = verify_remote(f"s3://{bucket}/x", deep=True)
    assert report.ok and report.manifests == 2


def test_a_crawl_after_a_warc_went_bad_indexes_and_pushes_its_own_and_leaves_the_good_copy(s3_env, wire_site,
                                                                                          tmp_path, capsys):
    # Unattended, for months: one file damaged on the local disk must neither stop later
    # jobs reaching the index and the bucket nor replace the bucket's good copy of it.
    from archive.index import lookup_url
    from archive.store import collection_dir

    bucket = s3_env.new_bucket()
    config = _one_page_collection(tmp_path, wire_site, f"s3://{bucket}/x", s3_env.url)
    store = tmp_path / "store"
    assert main(["crawl", str(config), "--store", str(store)]) == 0
    coll = collection_dir(store, "wired")
    [warc] = coll.warcs.glob("*.warc.gz")
    size = warc.stat().st_size
    warc.write_bytes(warc.read_bytes()[: size // 2])  # a disk's fault; the bucket holds it whole
    capsys.readouterr()
    assert main(["crawl", str(config), "--store", str(store)]) == 1
    captured = capsys.readouterr()
    said = captured.err.splitlines()
    assert f"archive crawl: {warc} is {size // 2} bytes, its manifest says {size}: run `archive verify`; its index, " \
           "if it had one, is left as it was; the other WARCs are indexed" in said
    assert any(line.startswith(f"archive crawl: {warc} is {size // 2} bytes, sha256:") and
               "not pushed, and its copy in the bucket, if any, left as it was" in line for line in said)
    assert "2 manifests confirmed" in captured.out
    assert len(lookup_url(coll, wire_site.base + "/final")) == 2  # the new capture is replayable
    report = verify_remote(f"s3://{bucket}/x", deep=True)
    assert report.ok and report.manifests == 2


def test_server_errors_mid_upload_are_retried_then_fail_naming_the_file(s3_env, store):
    from s3server import FlakyProxy

    bucket = s3_env.new_bucket()
    big = store / "news" / "indexes" / "big.cdxj"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(2 * MIN_PART_SIZE + 10))
    budget = {"left": 2}

    def twice(method: str, path: str) -> bool:
        if method == "PUT" and "partNumber=2" in path and budget["left"]:
            budget["left"] -= 1
            return True
        return False

    with FlakyProxy(s3_env.url, twice) as proxy:
        result = push(store, f"s3://{bucket}/p", endpoint_url=proxy.url, part_size=MIN_PART_SIZE)
    assert proxy.failed == 2 and "p/news/indexes/big.cdxj" in result.uploaded
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok

    big.write_bytes(os.urandom(2 * MIN_PART_SIZE + 10))
    always = FlakyProxy(s3_env.url, lambda method, path: method == "PUT" and "partNumber" in path)
    with always as proxy, pytest.raises(StorageError) as caught:
        push(store, f"s3://{bucket}/p", endpoint_url=proxy.url, part_size=MIN_PART_SIZE, max_attempts=2)
    assert proxy.failed == 2
    message = str(caught.value)
    assert str(big) in message and "InternalError after 2 attempts" in message and "\n" not in message


def test_a_pull_lets_go_the_notes_a_jobs_end_reads_instead_of_every_manifest_and_index(s3_env, store):
    # A file put in place by a pull, in the same tick of a coarse file-system clock as a
    # note was taken, would leave the directory's state as noted: the pull drops the notes.
    from archive.index import NOTE, lookup_url, update_indexes
    from archive.index.merged import pending
    from archive.manifest import HEAD
    from archive.store import collection_dir

    coll = collection_dir(store, "news")
    update_indexes(coll)
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    index = min(coll.indexes.glob("*.cdxj"))
    for path in (index, index.with_name(index.name + ".derived.json")):
        path.unlink()
    update_indexes(coll)  # (made again: the notes are current once more)
    assert (coll.root / NOTE).is_file() and (coll.root / HEAD).is_file()
    for path in (index, index.with_name(index.name + ".derived.json")):
        path.unlink()
    assert pull(f"s3://{bucket}/p", store).downloaded
    assert not (coll.root / NOTE).exists() and (coll.root / HEAD).is_file()  # (no manifest was pulled)
    update_indexes(coll)
    assert not pending(coll) and lookup_url(coll, "http://127.0.0.1:9/story/0")
    newest = max(coll.manifests.glob("*.json"), key=lambda p: json.loads(p.read_bytes())["sequence"])
    for path in (newest, newest.with_name(newest.name + ".sha256")):
        path.unlink()
    assert pull(f"s3://{bucket}/p", store).downloaded and not (coll.root / HEAD).exists()
    job = run_job(store, 1, Clock(datetime(2027, 1, 1, tzinfo=UTC)))
    assert json.loads(job.closed_manifest.read_bytes())["previous"]["job_id"] == newest.stem
    assert verify(store).ok


def test_a_push_after_one_more_job_reads_that_jobs_manifest_alone(s3_env, store, monkeypatch):
    # The ledger keeps each confirmed manifest's place in the chain: a push after a job
    # reads the job's manifest, not every manifest of the collection's past.
    import importlib

    pushing = importlib.import_module("archive.storage.push")
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    job = run_job(store, 2, Clock(datetime(2027, 1, 1, tzinfo=UTC)))
    read, real = [], pushing._read_manifest
    monkeypatch.setattr(pushing, "_read_manifest",
                        lambda manifest, *raw: read.append(manifest.name) or real(manifest, *raw))
    result = push(store, f"s3://{bucket}/p")
    assert set(read) == {job.closed_manifest.name} and not result.held_back and not result.stopped
    assert verify_remote(f"s3://{bucket}/p").ok
    # A file of that job damaged before the push is still held back: its manifest is read for it.
    job = run_job(store, 1, Clock(datetime(2027, 2, 1, tzinfo=UTC)))
    warc = store / "news" / next(e["path"] for e in json.loads(job.closed_manifest.read_bytes())["files"]
                                 if e["kind"] == "warc")
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    warc.write_bytes(bytes(data))
    read.clear()
    result = push(store, f"s3://{bucket}/p")
    assert warc in result.held_back and set(read) == {job.closed_manifest.name}


def test_links_to_directories_are_not_followed_by_a_push(s3_env, store, tmp_path):
    # A link in a pushed directory may lead out of the collection, into the merged index
    # (not pushed), or round in a loop: the push passes over it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "old.warc.gz").write_bytes(b"not of this collection")
    coll = store / "news"
    (coll / "warcs" / "up").symlink_to("..")
    (coll / "warcs" / "cold").symlink_to(elsewhere)
    (coll / "indexes" / "merged").mkdir(parents=True, exist_ok=True)
    (coll / "indexes" / "merged" / "news.cdxj").write_bytes(b"")
    (coll / "indexes" / "alias").symlink_to("merged")
    client, bucket = s3_env.client(), s3_env.new_bucket()
    result = push(store, f"s3://{bucket}/p")
    assert not result.held_back and not result.stopped
    pushed = keys(client, bucket, "p/news/")
    assert pushed and not [k for k in pushed if "/up/" in k or "/cold/" in k or "/alias/" in k or "/merged/" in k]


@pytest.mark.parametrize(("size", "said"), [(MIN_PART_SIZE - 1, "is below S3's minimum of 5242880 bytes (5 MiB)"),
                                            (5 << 30, None),
                                            ((5 << 30) + 1, "is above S3's maximum of 5368709120 bytes (5 GiB)")])
def test_a_part_size_s3_would_refuse_is_a_usage_error_before_anything_is_sent(tmp_path, capsys, size, said):
    store = tmp_path / "store"
    run_job(store, 1, Clock())
    # (an endpoint nothing listens on: a part size let through fails there, with 1)
    code = main(["push", "--store", str(store), "--to", "s3://bucket/p", "--endpoint-url", "http://127.0.0.1:1",
                 "--part-size", str(size)])
    err = capsys.readouterr().err
    if said is None:
        assert code == 1 and "part size" not in err
    else:
        assert code == 2 and err.strip() == f"archive push: error: part size {size} {said}"


def test_a_manifest_without_its_sidecar_is_held_back_as_verify_would_fail_it(s3_env, store):
    bucket = s3_env.new_bucket()
    manifest = max((store / "news" / "manifests").glob("*.json"))
    manifest.with_name(manifest.name + ".sha256").unlink()
    result = push(store, f"s3://{bucket}/p")
    assert list(result.held_back) == [manifest]
    assert f"{manifest.name} has no sidecar {manifest.name}.sha256 to be checked against" in result.held_back[manifest]
    assert result.stopped["news"].startswith(f"not pushing {manifest.name}, nor a manifest after it: ")
    assert not any(k.endswith(manifest.name) for k in keys(s3_env.client(), bucket, "p/news/manifests/"))
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok  # (the jobs before it went up whole)


def test_a_push_waits_for_another_push_of_the_collection_and_says_so(s3_env, store):
    """Two pushes of one collection at once undo each other (each takes the multipart upload
    the other is sending for one a killed push left); the second waits for the first."""
    bucket = s3_env.new_bucket()
    big = store / "news" / "indexes" / "big.cdxj"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(16 * MIN_PART_SIZE + 77))
    client = s3_env.client()
    first = subprocess.Popen([sys.executable, "-m", "archive", "push", "--store", str(store), "--to",
                              f"s3://{bucket}/p", "--part-size", str(MIN_PART_SIZE)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and first.poll() is None:
            if client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
                break
            time.sleep(0.005)
        assert first.poll() is None, "the first push ended before the second began; make the file bigger"
        said: list[str] = []
        second = push(store, f"s3://{bucket}/p", part_size=MIN_PART_SIZE, waiting=said.append)
    finally:
        _, err = first.communicate(timeout=60)
    assert said == [("another `archive push` or `archive pull` of collection 'news' is under way; "
                     "waiting for it to end")]
    assert first.returncode == 0, err.decode()
    # (the first had sent every file, manifests last, before the second began)
    assert second.uploaded == [] and not second.stopped and not second.aborted
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok


def _held_until(coll, waited):
    """A thread holding ``coll``'s transfer lock, as another push would, until ``waited()``
    is true (the one under test has said it waits), the test lets go, or a minute passes.
    Not for a fixed time: on a busy machine the other may come to the lock after it."""
    import threading

    held, let_go = threading.Event(), threading.Event()

    def hold() -> None:
        with coll.transferring():
            held.set()
            deadline = time.monotonic() + 60
            while not waited() and not let_go.is_set() and time.monotonic() < deadline:
                time.sleep(0.02)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    return holder, let_go


def test_a_pull_of_a_collection_another_is_transferring_waits_and_says_so(s3_env, store):
    from archive.store import collection_dir

    bucket = s3_env.new_bucket()
    url = f"s3://{bucket}/p"
    assert push(store, url).manifests
    said = io.StringIO()
    holder, let_go = _held_until(collection_dir(store, "news"), lambda: "waiting" in said.getvalue())
    try:
        code = main(["pull", "--from", url, "--store", str(store), "--endpoint-url", s3_env.url], out=io.StringIO(),
                    err=said)
    finally:
        let_go.set()
        holder.join()
    err = said.getvalue()
    assert code == 0, err
    assert err.startswith("archive pull: another `archive push` or `archive pull` of collection 'news' is under "
                          "way; waiting for it to end\n")


def test_a_crawls_push_at_its_jobs_end_waits_for_another_of_its_collection(s3_env, wire_site, tmp_path, caplog):
    """Its turn only: a push of the whole store held every collection's lock to its end, and
    the push of a job that ended meanwhile failed, and the crawl exited 1."""
    from archive.store import collection_dir

    bucket = s3_env.new_bucket()
    config = _one_page_collection(tmp_path, wire_site, f"s3://{bucket}/x", s3_env.url)
    store = tmp_path / "store"
    wired = collection_dir(store, "wired")
    wired.create()
    # (held until the job's push, after its manifest is written, says it waits)
    holder, let_go = _held_until(wired, lambda: any("waiting for it to end" in r.getMessage()
                                                    for r in list(caplog.records)))
    try:
        assert main(["crawl", str(config), "--store", str(store)]) == 0
    finally:
        let_go.set()
        holder.join()
    assert any("push of collection wired: another `archive push` or `archive pull` of collection 'wired' is under "
               "way; waiting for it to end" in r.getMessage() for r in caplog.records)
    assert verify_remote(f"s3://{bucket}/x", deep=True).ok


def test_a_push_of_the_store_holds_each_collections_lock_only_while_it_goes_up(s3_env, store):

    from archive.store import collection_dir

    another_collection(store, "sports")
    bucket = s3_env.new_bucket()
    import threading

    def free(coll) -> bool:
        """Whether another could take ``coll``'s lock now (within a second)."""
        got = threading.Event()

        def take() -> None:
            with coll.transferring():
                got.set()

        threading.Thread(target=take, daemon=True).start()
        return got.wait(1.0)

    said: list[tuple[str, bool]] = []
    holder, let_go = _held_until(collection_dir(store, "sports"), lambda: bool(said))
    try:
        result = push(store, f"s3://{bucket}/p", waiting=lambda why: said.append((why, free(collection_dir(
            store, "news")))))
    finally:
        let_go.set()
        holder.join()
    # (waiting for "sports", it holds no lock of "news", whose files went up before)
    wanted = "another `archive push` or `archive pull` of collection 'sports' is under way; waiting for it to end"
    assert said == [(wanted, True)]
    assert not result.stopped and verify_remote(f"s3://{bucket}/p", deep=True).ok


def test_a_server_that_stops_answering_is_said_at_each_attempt_not_waited_for_in_silence(s3_env, store,
                                                                                       monkeypatch, caplog):
    from s3server import FlakyProxy

    from archive.storage import s3

    monkeypatch.setattr(s3, "READ_TIMEOUT", 0.5)
    bucket = s3_env.new_bucket()
    held = {"left": 2}

    def stall(method: str, path: str) -> bool:  # the first two uploads of a file get no answer
        if method == "PUT" and held["left"] > 0:
            held["left"] -= 1
            return True
        return False

    with FlakyProxy(s3_env.url, lambda method, path: False, stall=stall, stall_for=1.5) as proxy, \
            caplog.at_level("WARNING", logger="archive.storage.s3"):
        result = push(store, f"s3://{bucket}/p", endpoint_url=proxy.url)
    assert proxy.stalled == 2 and result.manifests
    said = [r.getMessage() for r in caplog.records if r.name == "archive.storage.s3"]
    assert said == [f"s3://{bucket} at {proxy.url}: PutObject had no answer within 0.5 s (attempt {n} of 5); "
                    "trying again" for n in (1, 2)]
    assert verify_remote(f"s3://{bucket}/p", deep=True).ok


def _lose(coll: Path, path: Path, reason: str = "the disk failed") -> Path:
    """``path`` gone from ``coll`` for good, its loss stated; the statement's path."""
    path.unlink()
    code = main(["verify", str(coll), "--accept-loss", path.relative_to(coll).as_posix(), "--reason", reason],
                out=io.StringIO(), err=io.StringIO())
    assert code == 0
    return coll / "lost" / f"{path.name}.json"


def test_a_file_stated_lost_goes_up_as_its_statement_before_the_manifests_and_verifies_with_a_note(
        s3_env, store, tmp_path):
    another_collection(store, "other")
    warc = min((store / "news" / "warcs").glob("*.warc.gz"))
    statement = _lose(store / "news", warc)
    gone = min((store / "other" / "warcs").glob("*.warc.gz"))
    gone.unlink()  # (gone too, its loss not stated)
    bucket = s3_env.new_bucket()
    code, err = run_cli("push", "--store", str(store), "--to", f"s3://{bucket}/p")
    # The collection that says what it lost goes up whole, but that file; the other stops
    # at its first manifest, as a file missing with no word of why always did.
    assert code == 1
    [said] = [line for line in err.splitlines() if line.startswith("archive push:")]
    first = min((store / "other" / "manifests").glob("*.json")).name
    assert said == (f"archive push: not pushing {first}: warcs/{gone.name} is not in s3://{bucket}/p/other (and not "
                    f"pushed from {store / 'other'})")
    result = push(store, f"s3://{bucket}/p", collection="news")
    assert result.uploaded == [] and len(result.manifests) == 2 and not result.stopped and not result.not_lost
    client = s3_env.client()
    key = f"p/news/lost/{statement.name}"
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == statement.read_bytes()
    assert f"p/news/warcs/{warc.name}" not in keys(client, bucket)
    # The statement went up with the other files, before the manifests that make the loss visible.
    fresh = s3_env.new_bucket()
    sent = push(store, f"s3://{fresh}/p", collection="news").uploaded
    assert sent.index(key) < min(sent.index(k) for k in sent if "/manifests/" in k)

    report = verify_remote(f"s3://{bucket}/p/news", deep=True)
    assert report.ok and report.lost == 1
    assert any(n.startswith(f"s3://{bucket}/p/news/warcs/{warc.name}: lost, stated lost on ")
               and n.endswith("the disk failed") for n in report.notes), report.notes
    restored = tmp_path / "restored"
    pull(f"s3://{bucket}/p", restored, collection="news")
    assert (restored / "news" / "lost" / statement.name).read_bytes() == statement.read_bytes()
    pulled = verify(restored)
    assert pulled.ok and pulled.lost == 1


def test_in_the_bucket_a_statement_of_other_bytes_excuses_nothing(s3_env, store):
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    client = s3_env.client()
    warc = min((store / "news" / "warcs").glob("*.warc.gz"))
    client.delete_object(Bucket=bucket, Key=f"p/news/warcs/{warc.name}")
    _, sha = _listing(store, warc)
    stated = {"path": f"warcs/{warc.name}", "size": warc.stat().st_size, "sha256": sha, "reason": "gone",
              "stated": "2026-11-27T00:00:00Z"}
    key = f"p/news/lost/{warc.name}.json"

    def put(doc: dict, metadata_of: bytes | None = None) -> None:
        body = json.dumps(doc).encode()
        digest = "sha256:" + hashlib.sha256(body if metadata_of is None else metadata_of).hexdigest()
        client.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": digest})

    put({**stated, "sha256": "sha256:" + "0" * 64})
    problems = [str(p) for p in verify_remote(f"s3://{bucket}/p").problems]
    assert f"s3://{bucket}/p/news/lost/{warc.name}.json: states the loss of warcs/{warc.name}, which no manifest " \
           "here lists with that size and SHA-256: it excuses nothing" in problems
    assert any(f"warcs/{warc.name} is missing from the bucket" in p for p in problems), problems
    put(stated, metadata_of=b"other bytes")  # (its bytes are not what it says: not to be believed)
    problems = [str(p) for p in verify_remote(f"s3://{bucket}/p").problems]
    assert any(p.startswith(f"s3://{bucket}/{key}: sha256: object hashes to ") for p in problems), problems
    assert any(f"warcs/{warc.name} is missing from the bucket" in p for p in problems), problems
    put(stated)
    report = verify_remote(f"s3://{bucket}/p", deep=True)
    assert report.ok and report.lost == 1, report.problems


def test_a_file_stated_lost_that_the_bucket_holds_is_said_not_lost_and_a_pull_brings_it_back(
        s3_env, store, capsys):
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    coll = store / "news"
    warc = min((coll / "warcs").glob("*.warc.gz"))
    statement = _lose(coll, warc)
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    out = capsys.readouterr().out
    assert (f"note: {warc} is stated lost (lost/{statement.name}), but s3://{bucket}/p/news holds "
            f"warcs/{warc.name} as listed: it is not lost; `archive pull` brings it back") in out.splitlines()
    remote = verify_remote(f"s3://{bucket}/p")
    assert remote.ok and remote.lost == 0
    assert any(n.startswith(f"s3://{bucket}/p/news/warcs/{warc.name}: stated lost on ") for n in remote.notes)
    assert not warc.exists()  # (nothing done about it but said)

    assert main(["pull", "--from", f"s3://{bucket}/p", "--store", str(store)]) == 0
    report = verify(coll)
    assert report.ok and report.lost == 0 and statement.is_file()
    assert any(n.startswith(f"{warc}: stated lost on ") and n.endswith("it is here again, and checked")
               for n in report.notes), report.notes
    assert "not lost" not in capsys.readouterr().out
    assert main(["push", "--store", str(store), "--to", f"s3://{bucket}/p"]) == 0
    assert "not lost" not in capsys.readouterr().out


def test_a_statement_of_other_bytes_is_not_pushed_nor_one_the_bucket_holds_pulled_over(s3_env, store, tmp_path):
    coll = store / "news"
    warc = min((coll / "warcs").glob("*.warc.gz"))
    statement = _lose(coll, warc)
    good = statement.read_bytes()
    edited = json.loads(good)
    edited["size"] += 1
    statement.write_text(json.dumps(edited))
    bucket = s3_env.new_bucket()
    result = push(store, f"s3://{bucket}/p")
    assert list(result.held_back) == [statement] and result.held_back[statement].startswith(
        f"{statement} states the loss of warcs/{warc.name}, which no manifest here lists with that size and SHA-256: "
        "not pushed")
    assert result.stopped["news"].startswith("not pushing ") and not result.manifests
    assert not keys(s3_env.client(), bucket, "p/news/lost/")
    statement.write_bytes(good)
    assert len(push(store, f"s3://{bucket}/p").manifests) == 2
    statement.write_text(json.dumps({**json.loads(good), "reason": "another"}))  # (a statement is written once)
    result = push(store, f"s3://{bucket}/p")
    assert list(result.held_back) == [statement] and "a statement of loss is written once" in result.held_back[statement]
    with pytest.raises(StorageError, match="not overwriting a WARC, manifest or statement of loss"):
        pull(f"s3://{bucket}/p", store)
    assert json.loads(statement.read_text())["reason"] == "another"
    assert result.held_back[statement].endswith("move this one away and `archive pull` brings the bucket's")
    statement.unlink()
    pull(f"s3://{bucket}/p", store)
    assert statement.read_bytes() == good and verify(coll).ok


def test_a_merged_index_an_earlier_version_pushed_is_not_pulled_over_the_stores_own(s3_env, store, tmp_path):
    # Earlier versions pushed indexes/merged/ too; that copy names the jobs of then. Pulled,
    # it replaced the store's own merged index (downloaded for nothing, then made again).
    from archive.index import lookup_url, update_indexes
    from archive.store import collection_dir

    coll = collection_dir(store, "news")
    update_indexes(coll)
    bucket = s3_env.new_bucket()
    push(store, f"s3://{bucket}/p")
    client = s3_env.client()
    stale = b'1,0,0,127:9)/story/0 20260101000000 {"url": "http://127.0.0.1:9/story/0", "filename": "gone.warc.gz"}\n'
    for name, body in (("news.cdxj", stale), ("news.cdxj.derived.json", b'{"derived_from": []}\n')):
        client.put_object(Bucket=bucket, Key=f"p/news/indexes/merged/{name}", Body=body,
                          Metadata={"sha256": "sha256:" + hashlib.sha256(body).hexdigest()})
    merged = {p: p.read_bytes() for p in (coll.indexes / "merged").iterdir() if p.is_file()}
    assert merged
    result = pull(f"s3://{bucket}/p", store)
    assert result.downloaded == []
    assert {p: p.read_bytes() for p in (coll.indexes / "merged").iterdir() if p.is_file()} == merged
    restored = tmp_path / "restored"
    result = pull(f"s3://{bucket}/p", restored)
    assert not any("indexes/merged" in p.relative_to(restored).as_posix() for p in result.downloaded)
    assert not (restored / "news" / "indexes" / "merged" / "news.cdxj").exists()
    assert verify(restored).ok
    update_indexes(collection_dir(restored, "news"))
    assert lookup_url(collection_dir(restored, "news"), "http://127.0.0.1:9/story/0")
