"""HTTP front end for the demo site: a threaded keep-alive server on 127.0.0.1.

Why: the crawler and WARC tests must exercise real HTTP behaviour (keep-alive,
gzip, conditional requests, chunked transfer, redirects, slow and huge bodies),
so the site is served over genuine sockets rather than mocked.
"""
from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pages import DemoPage
    from .site import DemoSite

logger = logging.getLogger(__name__)

_HOST_RE = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_SKIP_HEADERS = {"content-length"}  # always recomputed for the representation actually sent
_304_HEADERS = {"etag", "last-modified", "cache-control"}


class DemoServer(ThreadingHTTPServer):
    """Threaded server that can also cut idle keep-alive connections when it stops.

    ``block_on_close`` is off because handler threads parked on an idle keep-alive
    socket would otherwise make ``server_close`` wait for the client to hang up.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], site: DemoSite) -> None:
        super().__init__(address, DemoHandler)
        self.site = site
        self.authority = f"{address[0]}:{self.server_port}"  # host:port as clients should use it
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, conn: socket.socket, active: bool) -> None:
        with self._lock:
            (self._connections.add if active else self._connections.discard)(conn)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """Log instead of printing a traceback to stderr (the server must stay quiet)."""
        logger.exception("demo site: error while handling a request from %s", client_address)

    def close_connections(self) -> None:
        with self._lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class DemoHandler(BaseHTTPRequestHandler):
    """Maps requests onto ``DemoSite.render`` and adds transport concerns only."""

    server: DemoServer
    protocol_version = "HTTP/1.1"
    server_version = "ArchiveDemoSite/1.0"
    timeout = 30  # seconds an idle keep-alive connection may stay open
    # Headers and body are separate writes; with Nagle on, each keep-alive response would
    # wait for the client's delayed ACK (~40 ms) and cap a benchmark crawl at ~25 pages/s.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Per-request lines go to debug logging, never stderr (benchmarks make thousands)."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, head: bool) -> None:
        path, query = _split_target(self.path)
        site = self.server.site
        page = site.render(path, query, base_url=self._base_url()) if path else None
        page = page or site.not_found()
        if page.delay:
            time.sleep(page.delay)
        try:
            if self._not_modified(page):
                self._send_304(page)
            elif page.chunk_size:
                self._send_chunked(page, head)
            else:
                self._send_plain(page, head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _base_url(self) -> str:
        """Absolute links follow the Host the client used, as on a real virtual host."""
        host = self.headers.get("Host", "")
        if not _HOST_RE.match(host):
            host = self.server.authority
        return f"http://{host}"

    def _wants_gzip(self, page: DemoPage) -> bool:
        accepted = self.headers.get("Accept-Encoding", "")
        return page.compressible and bool(page.body) and _accepts_gzip(accepted)

    def _etag(self, page: DemoPage, gzipped: bool) -> str | None:
        etag = page.header("ETag")
        return f'{etag[:-1]}-gzip"' if etag and gzipped else etag

    def _not_modified(self, page: DemoPage) -> bool:
        """RFC 9110 order: If-None-Match wins; If-Modified-Since only applies without it."""
        if page.status != 200:
            return False
        etag, inm = page.header("ETag"), self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/").replace('-gzip"', '"') for t in inm.split(",")}
            return bool(etag) and (etag in tags or "*" in tags)
        last_modified, ims = page.header("Last-Modified"), self.headers.get("If-Modified-Since")
        if not (last_modified and ims):
            return False
        with contextlib.suppress(TypeError, ValueError):
            modified = email.utils.parsedate_to_datetime(last_modified)
            return modified <= email.utils.parsedate_to_datetime(ims)
        return False

    def _send_headers(self, page: DemoPage, gzipped: bool, status: int | None = None) -> None:
        self.send_response(status or page.status)
        for name, value in page.headers:
            if name.lower() == "etag":
                value = self._etag(page, gzipped) or value
            allowed = status != 304 or name.lower() in _304_HEADERS
            if allowed and name.lower() not in _SKIP_HEADERS:
                self.send_header(name, value)
        if page.compressible:
            self.send_header("Vary", "Accept-Encoding")
        if gzipped:
            self.send_header("Content-Encoding", "gzip")

    def _send_304(self, page: DemoPage) -> None:
        self._send_headers(page, self._wants_gzip(page), status=304)
        self.end_headers()

    def _send_plain(self, page: DemoPage, head: bool) -> None:
        gzipped = self._wants_gzip(page)
        body = page.gzipped() if gzipped else page.body
        self._send_headers(page, gzipped)
        self.send_header("Content-Length", str(len(body) if not page.stream else page.length))
        self.end_headers()
        if head:
            return
        for part in (body,) if not page.stream else page.iter_body():
            self.wfile.write(part)

    def _send_chunked(self, page: DemoPage, head: bool) -> None:
        """Deliberately chunked (never gzip) so archives see a real Transfer-Encoding."""
        self._send_headers(page, False)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        for start in range(0, len(page.body), page.chunk_size):
            part = page.body[start:start + page.chunk_size]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def _split_target(target: str) -> tuple[str, str]:
    """Path and query of an origin-form or absolute-form request target ('' path if unusable)."""
    if target.startswith("/"):
        path, _, query = target.partition("#")[0].partition("?")
        return path, query
    if target.lower().startswith(("http://", "https://")):
        parts = urllib.parse.urlsplit(target)
        return parts.path or "/", parts.query
    return "", ""


def _accepts_gzip(value: str) -> bool:
    for item in value.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in {"gzip", "x-gzip", "*"}:
            q = re.search(r"q\s*=\s*([0-9.]+)", params)
            with contextlib.suppress(ValueError):
                return not q or float(q.group(1)) > 0
    return False


@contextlib.contextmanager
def serve(site: DemoSite, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``site`` in a background thread for the duration of the ``with`` block.

    Yields the base URL (``http://127.0.0.1:PORT``); on exit the server stops accepting,
    open keep-alive connections are cut and the serving thread is joined.
    """
    server = DemoServer((host, port), site)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="demo-site-server", daemon=True)
    thread.start()
    base_url = f"http://{server.authority}"
    logger.info("demo site serving %d articles at %s", len(site.articles), base_url)
    try:
        yield base_url
    finally:
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
        logger.info("demo site at %s stopped", base_url)
