"""A raw HTTP/1.1 server for tests: each route answers with exact bytes we choose.

Unlike http.server it lets a test know every byte that went on the wire (status line,
header case and order, chunk framing), so WARC records can be compared with what was sent.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Route = Callable[[bytes], list[bytes | float]]  # request head -> parts; a float is a pause


@dataclass
class WireServer:
    routes: dict[str, Route]
    port: int = 0
    requests: list[bytes] = field(default_factory=list)
    sent: dict[str, bytes] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                self.requests.append(head)
                path = head.split(b" ", 2)[1].decode()
                route = self.routes.get(path) or self.routes.get(path.split("?")[0]) or not_found
                wire = b""
                self.sent[path] = wire
                for part in route(head):
                    if isinstance(part, float):
                        time.sleep(part)
                        continue
                    conn.sendall(part)
                    wire += part
                    self.sent[path] = wire  # (what has gone so far: a stalled answer's too)
                if b"Connection: close" in wire:
                    return
        except OSError:
            return
        finally:
            conn.close()


def response(status: str, headers: list[tuple[str, str]], body: bytes, *, length: bool = True) -> Route:
    def route(_head: bytes) -> list[bytes | float]:
        lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
        if length:
            lines.append(f"Content-Length: {len(body)}")
        return ["\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body]

    return route


def chunked(status: str, headers: list[tuple[str, str]], chunks: list[bytes]) -> Route:
    def route(_head: bytes) -> list[bytes | float]:
        lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers] + ["Transfer-Encoding: chunked"]
        out = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
        for c in chunks:
            out += b"%x\r\n%s\r\n" % (len(c), c)
        return [out + b"0\r\n\r\n"]

    return route


def slow(delay: float, then: Route) -> Route:
    def route(head: bytes) -> list[bytes | float]:
        return [delay, *then(head)]

    return route


not_found = response("404 Not Found", [("Content-Type", "text/plain")], b"not here")


@contextmanager
def serve_wire(routes: dict[str, Route]) -> Iterator[WireServer]:
    server = WireServer(routes)
    with accepting(server._handle) as port:
        server.port = port
        yield server


@contextmanager
def accepting(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A listening socket on 127.0.0.1 whose connections ``handle`` serves, a thread each;
    yields its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


_HELD: list[socket.socket] = []


def free_port() -> int:
    """A port nothing listens on, nor will while the tests run (for connection-refused
    tests): bound by this process and never listened on, so a connection to it is refused
    and no server started meanwhile can be given it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return s.getsockname()[1]
