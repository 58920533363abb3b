"""Replay of the crawled demo site and of hand-made captures through a real server on 127.0.0.1."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from replay_helpers import SAME_BODY, stop, two_jobs
from replay_helpers import get as raw_get
from warcs import damage_member, read_collection

from archive.demo.run import run_demo
from archive.index import update_indexes
from archive.replay import serve_in_thread
from archive.store import collection_dir


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = tmp_path_factory.mktemp("replay-store")
    result = run_demo(store)
    two_jobs(store)
    update_indexes(collection_dir(store, "news"))
    records, _ = read_collection(store / "demo")
    with serve_in_thread(store) as base:
        yield {"store": store, "site": result.site_url, "base": base, "records": records, "result": result}


def get(demo, target: str, method: str = "GET"):
    return raw_get(demo["base"], target, method)


def response_record(demo, url: str):
    return next(r for r in demo["records"] if r.type == "response" and r.h("WARC-Target-URI") == url)


def article_url(demo, index: int = 0) -> str:
    from archive.demo.site import DemoSite

    return demo["site"] + DemoSite(n_articles=50).articles[index].path


def test_crawl_wrote_indexes_and_catalog_at_job_end(demo):
    coll = demo["store"] / "demo"
    assert list((coll / "indexes").glob("*.cdxj")) and (coll / "indexes" / "merged" / "demo.cdxj").is_file()
    assert (coll / "catalog.sqlite").is_file()


def test_collections_and_page_list_with_search(demo):
    status, _, body = get(demo, "/")
    assert status == 200 and b'href="/demo/"' in body and b'href="/news/"' in body
    status, _, body = get(demo, "/demo/")
    assert status == 200 and body.count(b"<tr>") > 50
    status, _, body = get(demo, "/demo/?q=Harbour")
    assert status == 200 and "Café reopens on Harbour Street".encode() in body
    assert body.count(b"<tr>") == 2  # header row + the one match
    status, headers, _ = get(demo, "/demo")
    assert status == 301 and headers["location"] == "/demo/"
    status, headers, _ = get(demo, "/demo?q=Harbour")  # (the search kept)
    assert status == 301 and headers["location"] == "/demo/?q=Harbour"


def test_id_mode_returns_the_archived_payload_byte_for_byte_with_its_encoding(demo):
    url = article_url(demo)
    record = response_record(demo, url)
    status, headers, body = get(demo, f"/demo/2026id_/{url}")
    assert status == 200
    assert body == record.payload
    assert headers.get("content-encoding") == "gzip"  # the demo site serves gzip; kept as archived
    assert "set-cookie" not in headers and "transfer-encoding" not in headers


def test_rewritten_gzip_page_is_decoded_and_links_stay_in_the_archive(demo):
    url = article_url(demo)
    status, headers, body = get(demo, f"/demo/2026/{url}")
    assert status == 200 and "content-encoding" not in headers
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert b'id="archive-replay-banner"' in body and b"prov_/" + url.encode() in body
    links = re.findall(rb'(?:href|src)="([^"]+)"', body)
    site = demo["site"].encode()
    assert not [link for link in links if link.startswith(site)], "a link points at the live site"
    resources = set(re.findall(rb'<(?:link|script|img)[^>]*?(?:href|src)="(/demo/[^"]+)"', body))
    assert len(resources) >= 3
    for link in sorted(resources):
        assert get(demo, link.decode())[0] == 200, link
    anchors = [a.decode() for a in re.findall(rb'<a [^>]*href="(/demo/\d+/[^"#]+)"', body)]
    assert len(anchors) > 5
    resolved = [a for a in anchors if get(demo, a)[0] == 200]
    assert len(resolved) >= len(anchors) * 0.8, "most article links should replay from the archive"


def test_rewritten_css_points_into_the_archive(demo):
    status, _, body = get(demo, f"/demo/2026/{demo['site']}/static/site.css")
    assert status == 200
    assert b'@import url("/demo/' in body and b'url("/demo/' in body
    assert not re.search(rb'url\(\s*["\']?' + re.escape(demo["site"].encode()), body)


def test_windows_1252_page_keeps_its_header_charset(demo):
    url = demo["site"] + "/special/windows-1252"
    status, headers, body = get(demo, f"/demo/2026/{url}")
    assert status == 200
    assert "charset=windows-1252" in headers["content-type"].lower()
    assert "Café reopens on Harbour Street" in body.decode("cp1252")
    assert b"\xe9" in body  # still cp1252 bytes, not re-encoded


def test_redirect_is_replayed_as_a_redirect_inside_the_archive(demo):
    url = demo["site"] + "/special/redirect-chain"
    status, headers, _ = get(demo, f"/demo/2026/{url}")
    assert status == 302
    location = headers["location"]
    assert re.match(r"^/demo/\d{14}/http://127\.0\.0\.1:\d+/special/redirect-chain/2$", location)
    status, headers, _ = get(demo, location)
    assert status == 302 and headers["location"].endswith("/special/redirect-chain/final")
    status, _, body = get(demo, headers["location"])
    assert status == 200 and b"redirect chain" in body


def test_unarchived_url_is_a_404_page_inside_the_archive(demo):
    status, headers, body = get(demo, f"/demo/2026/{demo['site']}/never/archived")
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert b"Not in the archive" in body and b"/never/archived" in body
    assert get(demo, "/nosuchcoll/2026/http://x.test/")[0] == 404


def test_provenance_json_and_redirect(demo):
    url = article_url(demo)
    status, headers, _ = get(demo, f"/demo/2026/{url}?provenance")
    assert status == 302 and headers["location"] == f"/demo/2026prov_/{url}"
    import json

    status, headers, body = get(demo, headers["location"])
    doc = json.loads(body)
    assert status == 200 and doc["url"] == url
    assert doc["metadata"]["jobId"] == demo["result"].crawl.job_id
    assert doc["metadata"]["hopsFromSeed"] is not None
    assert doc["capture_log"]["warc"]["offset"] == doc["record"]["offset"]
    assert doc["capture_log"]["url"] == url


def test_capture_list_of_a_url(demo):
    status, _, body = get(demo, "/news/*/http://news.test/story")
    assert status == 200 and body.count(b"prov_/") == 2


def test_nearest_timestamp_is_chosen_and_bare_url_gives_the_latest(demo):
    first, second = b"first version", b"second version"
    assert first in get(demo, "/news/20260302/http://news.test/story")[2]
    assert second in get(demo, "/news/20260304/http://news.test/story")[2]
    assert first in get(demo, "/news/202603011/http://news.test/story")[2]
    assert second in get(demo, "/news/http://news.test/story")[2]
    assert second in get(demo, "/news/2026/http://news.test/story")[2]  # padded to the end of 2026
    _, headers, _ = get(demo, "/news/20260302id_/http://news.test/story")
    assert headers["memento-datetime"] == "Sun, 01 Mar 2026 12:00:00 GMT"


def test_revisit_resolves_to_the_original_payload(demo):
    status, headers, body = get(demo, "/news/20260305id_/http://news.test/same")
    assert status == 200 and body == SAME_BODY
    assert headers["memento-datetime"] == "Thu, 05 Mar 2026 12:00:00 GMT"
    assert headers["x-revisit"] == "yes"  # the revisit's own headers
    status, _, body = get(demo, "/news/20260305id_/http://news.test/copy")  # found by digest
    assert status == 200 and body == SAME_BODY


def test_gzip_capture_is_decoded_for_the_page_and_kept_for_id(demo):
    status, headers, body = get(demo, "/news/http://news.test/zipped")
    assert status == 200 and b"zipped words" in body and "content-encoding" not in headers
    status, headers, body = get(demo, "/news/2026id_/http://news.test/zipped")
    assert headers["content-encoding"] == "gzip" and body.startswith(b"\x1f\x8b")


def test_archived_redirect_drops_cookies(demo):
    status, headers, _ = get(demo, "/news/http://news.test/moved")
    assert status == 301 and headers["location"] == "/news/20260301120000/http://news.test/story"
    assert "set-cookie" not in headers


@pytest.mark.parametrize("target", [
    "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/demo/%2e%2e/%2e%2e/etc/passwd",
    "/demo/..%2f..%2fetc%2fpasswd", "/demo/%252e%252e/etc/passwd", "/demo/2026/file:///etc/passwd",
    "//etc/passwd", "/demo/%00", "/demo/2026/http://x.test/%00", "/demo/2026zz_/http://x.test/",
    "/etc/passwd", "/demo/2026/http://[::1/", "/demo/2026/http://:80/",
])
def test_traversal_and_malformed_paths_are_refused(demo, target):
    status, _, body = get(demo, target)
    assert 400 <= status < 500, (target, status)
    assert b"root:" not in body


@pytest.mark.parametrize("stamp", ["2026112708113300", "2026-11", "2026-11-27id_"])
def test_a_mistyped_timestamp_is_said_to_be_one_not_taken_for_a_host(demo, stamp):
    status, _, body = get(demo, f"/demo/{stamp}/http://x.test/")
    assert status == 400 and b"is no timestamp: at most 14 digits, YYYYMMDDhhmmss" in body


@pytest.mark.parametrize("before", ["2026", "2026id_", "*"])
def test_a_timestamp_with_no_url_after_it_is_said_to_be_so(demo, before):
    status, _, body = get(demo, f"/demo/{before}/")
    assert status == 400 and f"no URL after {before}/: the path is /demo/{before}/http://...".encode() in body


def test_absolute_form_request_target_is_refused(demo):
    status, _, _ = get(demo, "http://127.0.0.1/etc/passwd")
    assert status == 400


def test_index_names_outside_warcs_are_refused(demo):
    from archive.errors import StoreError
    from archive.index.records import read_record

    coll = collection_dir(demo["store"], "demo")
    for name in ("../logs/x.warc.gz", "/etc/passwd", "..", "x.txt"):
        with pytest.raises(StoreError):
            read_record(coll, name, 0, 10)


def test_head_and_post(demo):
    url = article_url(demo)
    status, headers, body = get(demo, f"/demo/2026/{url}", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    assert get(demo, "/demo/", method="POST")[0] == 405


def test_replayed_url_is_the_canonical_archived_one(demo):
    url = article_url(demo)
    assert urlsplit(url).hostname == "127.0.0.1"
    # The scheme may lose a slash on the way (some clients collapse //); it is mended.
    assert get(demo, f"/demo/2026id_/{url.replace('http://', 'http:/')}")[0] == 200


def _read_only(store: Path) -> list[str]:
    """A command prefix under which ``store`` cannot be written: its permission bits (files
    0444, directories 0555) for a user other than root; for root, whom they do not stop, a
    read-only bind mount in a mount namespace of the command's own, or [] where that is not
    allowed (the caller then still checks that nothing was written)."""
    for path in [store, *store.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() != 0:
        return []
    mount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    if subprocess.run(["unshare", "-m", "sh", "-c", mount, str(store), "true"], capture_output=True,
                      check=False).returncode != 0:
        return []
    return ["unshare", "-m", "sh", "-c", mount, str(store)]


def _state(store: Path) -> dict[str, tuple[bool, int, int]]:
    return {str(p.relative_to(store)): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
            for p in [store, *store.rglob("*")]}


def _replay_read_only(store: Path, prefix: list[str], *targets: str) -> tuple[list[int], str]:
    """Statuses of ``targets`` from `archive replay` run under ``prefix``, and its stderr."""
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "archive", "replay", "--store", str(store), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        found = re.search(r"(http://127\.0\.0\.1:\d+)/", proc.stdout.readline())
        statuses = [raw_get(found.group(1), target)[0] for target in targets] if found else []
    finally:
        stop(proc)
    return statuses, proc.communicate()[1]


@pytest.fixture
def read_only_store(tmp_path):
    store = tmp_path / "store"
    two_jobs(store)
    update_indexes(collection_dir(store, "news"))
    yield store
    for path in [store, *store.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_replay_serves_a_read_only_store_whose_indexes_are_current_and_writes_nothing(read_only_store):
    store = read_only_store
    for lock in store.rglob("*.lock"):  # (empty files; a copy of the store need not have them)
        lock.unlink()
    before = _state(store)
    prefix = _read_only(store)
    statuses, err = _replay_read_only(store, prefix, "/news/20260302id_/http://news.test/story", "/news/",
                                      "/news/20260305prov_/http://news.test/same")
    assert (statuses, err) == ([200, 200, 200], "")
    assert _state(store) == before


def test_replay_of_a_read_only_store_with_a_warc_not_indexed_says_so_and_serves_the_rest(read_only_store):
    from replay_helpers import SECOND, SITE, Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    store = read_only_store
    job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(SECOND.replace(day=9)), dedup=False)
    job.record_fetch(fetch(SITE + "/late", b"<p>late</p>", SECOND.replace(day=9)))
    job.close()
    before = _state(store)
    prefix = _read_only(store)
    if os.geteuid() == 0 and not prefix:
        pytest.skip("root, and no read-only mount can be made here")
    statuses, err = _replay_read_only(store, prefix, "/news/20260302id_/http://news.test/story", "/news/",
                                      "/news/http://news.test/late")
    assert statuses == [200, 200, 404]
    said = err.splitlines()
    late = max((store / "news" / "warcs").glob("*.warc.gz")).name  # (the one that is not indexed)
    assert said[0] == (f"archive replay: warning: cannot bring the indexes of {store / 'news'} up to date ("
                       f"{'Read-only file system' if prefix else 'Permission denied'}; not indexed: {late}): run "
                       f"`archive index` where the store can be written; serving what the indexes of "
                       f"{store / 'news'} hold")
    assert "Traceback" not in err and _state(store) == before


def test_replay_of_a_read_only_store_without_indexes_says_so_without_a_traceback(read_only_store):
    shutil.rmtree(read_only_store / "news" / "indexes")
    (read_only_store / "news" / "catalog.sqlite").unlink()
    prefix = _read_only(read_only_store)
    if os.geteuid() == 0 and not prefix:
        pytest.skip("root, and no read-only mount can be made here")
    statuses, err = _replay_read_only(read_only_store, prefix, "/news/20260302id_/http://news.test/story", "/news/")
    assert statuses == [404, 502]
    assert err.startswith("archive replay: warning: cannot bring the indexes of") and "Traceback" not in err
    assert f"cannot build {read_only_store / 'news' / 'catalog.sqlite'}" in err


def test_a_range_of_a_capture_is_served_as_media_players_ask_for_it(demo):
    url = article_url(demo)
    payload = response_record(demo, url).payload
    size, target = len(payload), f"/demo/2026id_/{url}"
    status, headers, body = get(demo, target)
    assert status == 200 and headers["accept-ranges"] == "bytes" and body == payload
    for asked, first, last in [("bytes=0-9", 0, 9), ("bytes=10-", 10, size - 1), ("bytes=-7", size - 7, size - 1),
                               (f"bytes=5-{size + 100}", 5, size - 1), ("bytes=-999999999", 0, size - 1),
                               ("Bytes = 3 - 4", 3, 4)]:
        status, headers, body = raw_get(demo["base"], target, headers={"Range": asked})
        assert status == 206, asked
        assert headers["content-range"] == f"bytes {first}-{last}/{size}", asked
        assert body == payload[first:last + 1] and headers["content-length"] == str(last - first + 1)
        assert headers["content-encoding"] == "gzip" and "memento-datetime" in headers  # still the capture's
    for asked in [f"bytes={size}-", "bytes=-0"]:
        status, headers, body = raw_get(demo["base"], target, headers={"Range": asked})
        assert (status, headers["content-range"], body) == (416, f"bytes */{size}", b""), asked
    # What a server may answer with the whole: several ranges, another unit, nonsense, a backwards range.
    for asked in ["bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=9-3", "bytes=-", b"bytes=\xb2-\xb3",
                  "bytes=" + "9" * 5000 + "-"]:
        status, _, body = raw_get(demo["base"], target, headers={"Range": asked})
        assert (status, body) == (200, payload), asked
    status, headers, body = raw_get(demo["base"], target, "HEAD", headers={"Range": "bytes=0-9"})
    assert (status, body, headers["accept-ranges"]) == (200, b"", "bytes")


def test_a_range_is_of_the_page_as_replayed_and_if_range_is_kept_to(demo):
    url = article_url(demo)
    _, whole_headers, page = get(demo, f"/demo/2026/{url}")  # rewritten, decoded: another body than id_'s
    validator = whole_headers.get("etag") or whole_headers["last-modified"]
    status, headers, body = raw_get(demo["base"], f"/demo/2026/{url}", headers={"Range": "bytes=100-199"})
    assert (status, body, headers["content-range"]) == (206, page[100:200], f"bytes 100-199/{len(page)}")
    status, _, body = raw_get(demo["base"], f"/demo/2026/{url}",
                              headers={"Range": "bytes=100-199", "If-Range": validator})
    assert (status, body) == (206, page[100:200])
    for other in ['"another"', "Thu, 01 Jan 1970 00:00:00 GMT", f"W/{validator}"]:
        status, _, body = raw_get(demo["base"], f"/demo/2026/{url}", headers={"Range": "bytes=100-199",
                                                                              "If-Range": other})
        assert (status, body) == (200, page), other


def test_curl_resumes_a_replayed_capture_from_where_it_stopped(demo, tmp_path):
    url = article_url(demo)
    payload = response_record(demo, url).payload
    part = tmp_path / "download"
    part.write_bytes(payload[:1000])  # a download cut off after 1,000 bytes
    subprocess.run(["curl", "--silent", "--show-error", "--fail", "--continue-at", "-", "--output", str(part),
                    f"{demo['base']}/demo/2026id_/{url}"], check=True, timeout=30)
    assert part.read_bytes() == payload


def test_ranges_are_not_offered_for_what_is_not_a_replayed_capture(demo):
    status, headers, body = raw_get(demo["base"], "/demo/", headers={"Range": "bytes=0-9"})
    assert status == 200 and "accept-ranges" not in headers and len(body) > 10
    status, headers, _ = raw_get(demo["base"], "/demo/2026/http://news.test/never", headers={"Range": "bytes=0-9"})
    assert status == 404 and "accept-ranges" not in headers


def test_a_capture_damaged_after_indexing_is_not_served_cut_short_and_the_next_closest_is(tmp_path):
    # warcio's reader serves what precedes damage past a member's first block as the whole
    # record (printing zlib's error): a page cut short with a 200.
    import random

    from replay_helpers import SECOND, SITE, Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    store = tmp_path / "store"
    two_jobs(store)
    pages = {}
    for day in (9, 12):
        when = SECOND.replace(day=day)
        pages[day] = random.Random(day).randbytes(150_000).hex().encode("ascii")  # inflates in many reads
        job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
        job.record_fetch(fetch(SITE + "/large", pages[day], when, headers=[(b"Content-Type", b"text/plain")]))
        job.close()
    update_indexes(collection_dir(store, "news"))
    earlier, warc = sorted((store / "news" / "warcs").glob("*.warc.gz"))[-2:]  # days 9 and 12
    offset = damage_member(warc, count=20).offset
    with serve_in_thread(store) as base:
        status, headers, body = raw_get(base, "/news/20260312id_/http://news.test/large")
        assert (status, body) == (200, pages[9])
        assert headers["memento-datetime"] == "Mon, 09 Mar 2026 12:00:00 GMT"
        damage_member(earlier, count=20)
        status, _, body = raw_get(base, "/news/20260312id_/http://news.test/large")
    assert status == 502
    # (named within its collection: a replay server open to readers shows no path of its disks)
    assert f"the record at offset {offset} of warcs/{warc.name} is damaged (".encode() in body
    assert str(tmp_path).encode() not in body


def test_provenance_names_its_metadata_record_and_passes_over_a_damaged_one(tmp_path):
    import json

    from archive.warc.reader import check_records

    store = tmp_path / "store"
    two_jobs(store)
    update_indexes(collection_dir(store, "news"))
    warc = min((store / "news" / "warcs").glob("*.warc.gz"))
    records = list(check_records(warc))
    response = next(r for r in records if r.type == "response" and r.fields["warc-target-uri"].endswith("/story"))
    meta = next(r for r in records if r.type == "metadata" and r.fields.get("warc-concurrent-to") == response.record_id)
    with serve_in_thread(store) as base:
        status, _, body = raw_get(base, "/news/20260301prov_/http://news.test/story")
        assert status == 200
        assert json.loads(body)["metadata_record"] == {"record_id": meta.record_id, "filename": warc.name,
                                                       "offset": meta.offset}
        damage_member(warc, meta, count=8)
        status, _, body = raw_get(base, "/news/20260301prov_/http://news.test/story")
    assert status == 200  # (was a traceback and a 500)
    doc = json.loads(body)
    assert doc["metadata"] is None and doc["metadata_record"] is None and doc["record"]["offset"] == response.offset


def test_a_capture_in_an_uncompressed_warc_cut_short_is_not_served_cut_short(tmp_path):
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    store = tmp_path / "store"
    two_jobs(store)
    warc = store / "news" / "warcs" / "other-tool.warc"
    body = b"<p>" + b"words " * 20_000 + b"</p>"
    with open(warc, "wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        head = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record("http://news.test/plain", "response", payload=io.BytesIO(body),
                                                      http_headers=head))
    update_indexes(collection_dir(store, "news"))
    with serve_in_thread(store) as base:
        assert raw_get(base, "/news/2026id_/http://news.test/plain")[::2] == (200, body)
        warc.write_bytes(warc.read_bytes()[: len(body) // 2])
        status, _, page = raw_get(base, "/news/2026id_/http://news.test/plain")
    assert status == 502 and f"the record at offset 0 of warcs/{warc.name} is cut short".encode() in page
    assert str(tmp_path).encode() not in page


def test_a_capture_whose_warc_was_pushed_with_delete_local_names_its_copy_and_pull(tmp_path):
    # The page said "cannot read ...: No such file or directory", as of a WARC lost.
    import json

    store = tmp_path / "store"
    two_jobs(store)
    coll = collection_dir(store, "news")
    update_indexes(coll)
    [first] = [w for w in sorted(coll.warcs.glob("*.warc.gz")) if b"/zipped" in gzip_text(w)]
    receipt = coll.receipt(first.name)
    receipt.parent.mkdir()
    receipt.write_text(json.dumps({"deleted": "2026-03-02T10:00:00+00:00", "path": f"warcs/{first.name}",
                                   "sha256": "sha256:" + "0" * 64, "size": first.stat().st_size,
                                   "url": f"s3://bucket/p/news/warcs/{first.name}"}))
    first.unlink()
    with serve_in_thread(store) as base:
        status, _, page = raw_get(base, "/news/2026id_/http://news.test/zipped")
    assert status == 502, page
    assert str(tmp_path).encode() not in page
    assert (f"warcs/{first.name} is not in the store: `archive push --delete-local` removed it on 2026-03-02, its copy being "
            f"s3://bucket/p/news/warcs/{first.name}; `archive pull` brings it back").encode() in page.replace(b"&#x27;", b"'")


def gzip_text(path: Path) -> bytes:
    import gzip

    return gzip.decompress(path.read_bytes())


def test_replay_of_a_store_with_a_damaged_warc_not_indexed_says_so_and_serves_the_rest(tmp_path):
    # The WARC is refused by the index (one line, as `archive index` says it); the replay
    # server, a reader, serves what the indexes hold instead of not starting at all.
    import random

    from replay_helpers import SECOND, SITE, Clock, fetch

    from archive.config import one_off
    from archive.job import CaptureJob

    store = tmp_path / "store"
    two_jobs(store)
    update_indexes(collection_dir(store, "news"))
    when = SECOND.replace(day=9)
    job = CaptureJob(store, one_off("news", urls=[SITE + "/"]), clock=Clock(when), dedup=False)
    job.record_fetch(fetch(SITE + "/large", random.Random(9).randbytes(150_000).hex().encode(), when))
    job.close()
    warc = max((store / "news" / "warcs").glob("*.warc.gz"))
    damaged = damage_member(warc)
    statuses, err = _replay_read_only(store, [], "/news/20260302id_/http://news.test/story",
                                      "/news/20260309id_/http://news.test/large")
    assert statuses == [200, 404]
    assert err == (f"archive replay: warning: {warc} is damaged at offset {damaged.offset} and cannot be indexed: "
                   f"run `archive verify`; its index, if it had one, is left as it was; serving what the indexes of "
                   f"{store / 'news'} hold\n")
