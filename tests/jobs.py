"""Building stores without a crawl: capture jobs fed with fetches at chosen times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.capture import Fetch, Provenance
from archive.config import one_off
from archive.job import CaptureJob


class Clock:
    """A clock that moves forward by ``step`` each time it is read."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
                 step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def fetch(url: str, body: bytes, when: datetime, *, status: int = 200,
          headers: list[tuple[bytes, bytes]] | None = None, seed: str = "http://127.0.0.1:9/") -> Fetch:
    return Fetch(
        url=url, method="GET", request_headers=[(b"User-Agent", b"test-agent")], request_body=b"",
        status=status, response_headers=headers if headers is not None else [(b"Content-Type", b"text/html")],
        body=body, started=when, duration_ms=1.5, remote_ip="127.0.0.1",
        provenance=Provenance(seed=seed, channel="link", hops="L", depth=1),
    )


def run_job(store: Path, pages: int, clock: Clock, collection: str = "news") -> CaptureJob:
    """One finished job of ``collection`` with ``pages`` distinct story pages."""
    job = CaptureJob(store, one_off(collection, urls=["http://127.0.0.1:9/"]), clock=clock)
    for i in range(pages):
        body = (f"<html><body><h1>Story {i}</h1>" + "<p>paragraph text</p>" * (20 + i) + "</body></html>").encode()
        job.record_fetch(fetch(f"http://127.0.0.1:9/story/{i}", body, clock(),
                               headers=[(b"Content-Type", b"text/html"), (b"Content-Length", str(len(body)).encode())]))
    job.close()
    return job


def another_collection(store: Path, name: str, pages: tuple[int, ...] = (5, 3)) -> Path:
    """A second collection in ``store``, a chain of its own (one job per entry of ``pages``;
    a copy of another's folder would hold that collection's manifests)."""
    clock = Clock()
    for count in pages:
        run_job(store, count, clock, collection=name)
    return store / name


def store_fixtures(pages: tuple[int, ...]):  # type: ignore[no-untyped-def]
    """``pristine`` (a store of one job per entry of ``pages``, built once per module) and
    ``store`` (a fresh copy of it for each test), for a test module to bind::

        pristine, store = store_fixtures((6, 4))
    """
    import shutil

    import pytest

    @pytest.fixture(scope="module")
    def pristine(tmp_path_factory):  # type: ignore[no-untyped-def]
        built = tmp_path_factory.mktemp("pristine")
        clock = Clock()
        for count in pages:
            run_job(built, count, clock)
        return built

    @pytest.fixture
    def store(pristine, tmp_path):  # type: ignore[no-untyped-def]
        copy = tmp_path / "store"
        shutil.copytree(pristine, copy)
        return copy

    return pristine, store
