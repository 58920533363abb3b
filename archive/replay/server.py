"""Serving the replay app with the standard library's wsgiref, one thread per request."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from archive.replay.app import ReplayApp

log = logging.getLogger(__name__)


class _Handler(WSGIRequestHandler):
    # A request line that cannot be parsed is answered as HTTP/1.0, with a status line: the
    # default (HTTP/0.9) sends the error page alone, and clients see no 4xx.
    default_request_version = "HTTP/1.0"
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = "text/plain; charset=utf-8"
    # Seconds a client may stay silent while its request line and headers are awaited: a
    # connection that never sends one would hold its thread for ever. Not while the
    # answer is sent, which may take long on a slow link.
    timeout = 30.0

    def parse_request(self) -> bool:
        ok = super().parse_request()  # (the headers are read by now)
        self.connection.settimeout(None)
        return ok

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        # wsgiref percent-decodes PATH_INFO; the archived URL needs the target as sent.
        env["RAW_URI"] = self.path
        return env

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the rest of a burst of connections (a page's
    # resources, a crawler), whose clients then wait out SYN retries of 1, 3, 7... seconds.
    request_queue_size = socket.SOMAXCONN

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client left: no one to answer, nothing wrong here
            return
        if isinstance(sys.exc_info()[1], TimeoutError):  # it sent no request in time (_Handler.timeout)
            log.info("%s sent no request within %.0f s; connection closed", client_address[0], _Handler.timeout)
            return
        super().handle_error(request, client_address)


def make_replay_server(store: Path, host: str = "127.0.0.1", port: int = 8080) -> WSGIServer:
    return make_server(host, port, ReplayApp(store), server_class=ThreadingWSGIServer, handler_class=_Handler)


@contextlib.contextmanager
def serve_in_thread(store: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``store`` in a background thread; yields the base URL."""
    server = make_replay_server(store, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
