"""Shared pieces of the replay tests: a small two-job collection with a hand-written revisit."""

from __future__ import annotations

import gzip
import http.client
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jobs

from archive.capture import Fetch
from archive.config import one_off
from archive.job import CaptureJob
from archive.warc.records import PROFILE_IDENTICAL, make_record, warc_date

SITE = "http://news.test"
FIRST = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECOND = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
SAME_BODY = b"<html><head><title>Unchanged</title></head><body><p>the same bytes twice</p></body></html>"


def Clock(start: datetime) -> jobs.Clock:
    return jobs.Clock(start, timedelta(milliseconds=10))


def fetch(url: str, body: bytes, when: datetime, *, status: int = 200,
          headers: list[tuple[bytes, bytes]] | None = None) -> Fetch:
    return jobs.fetch(url, body, when, status=status, headers=headers, seed=SITE + "/")


def write_revisit(job: CaptureJob, url: str, when: datetime, refers_uri: str, refers_date: datetime,
                  refers_id: str, digest: str) -> None:
    """A revisit record written by hand (identical-payload-digest, WARC 1.1 §6.7.2)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Revisit: yes\r\n\r\n"

    def build(warcinfo_id: str):
        return [make_record(
            "revisit", target_uri=url, date=when, content_type="application/http; msgtype=response",
            chunks=(head, b""), payload_from=1,
            extra=[("WARC-Warcinfo-ID", warcinfo_id), ("WARC-Profile", PROFILE_IDENTICAL),
                   ("WARC-Refers-To", refers_id), ("WARC-Refers-To-Target-URI", refers_uri),
                   ("WARC-Refers-To-Date", warc_date(refers_date)), ("WARC-Payload-Digest", digest)])]

    job.warcs.write_group(build)


def two_jobs(store: Path) -> dict[str, str]:
    """Collection ``news``: /story captured twice with different text, /same and /copy as revisits."""
    coll = one_off("news", urls=[SITE + "/"])
    job1 = CaptureJob(store, coll, clock=Clock(FIRST), dedup=False)
    job1.record_fetch(fetch(SITE + "/story", b"<html><body><p>first version</p></body></html>", FIRST))
    same = job1.record_fetch(fetch(SITE + "/same", SAME_BODY, FIRST))
    gz = gzip.compress(b"<html><body><p>zipped words</p></body></html>", mtime=0)
    job1.record_fetch(fetch(SITE + "/zipped", gz, FIRST,
                            headers=[(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")]))
    job1.record_fetch(fetch(SITE + "/moved", b"", FIRST, status=301,
                            headers=[(b"Location", b"/story"), (b"Set-Cookie", b"id=secret"),
                                     (b"Content-Length", b"0")]))
    job1.close()
    job2 = CaptureJob(store, coll, clock=Clock(SECOND), dedup=False)
    job2.record_fetch(fetch(SITE + "/story", b"<html><body><p>second version</p></body></html>", SECOND))
    write_revisit(job2, SITE + "/same", SECOND, SITE + "/same", FIRST, same["warc"]["record_id"],
                  same["payload_digest"])
    # Same payload under another URL: found by digest (dedup crosses URLs).
    write_revisit(job2, SITE + "/copy", SECOND, SITE + "/elsewhere", FIRST, "<urn:uuid:unknown>",
                  same["payload_digest"])
    job2.close()
    return {"same_digest": same["payload_digest"]}


def get(base: str, target: str, method: str = "GET", headers: dict[str, str | bytes] | None = None,
        body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw request (the target is sent exactly as given; redirects are not followed)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """End a server process started by a test: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
