"""A real S3-compatible server for tests: moto's server in a subprocess on 127.0.0.1.

Import the fixtures into a test module (``from s3server import s3, s3_env``). Every request goes
to 127.0.0.1 with fake credentials; nothing reaches the internet.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

import pytest

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # No profile or config file of the developer's may leak in.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    url: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"},
                                          request_checksum_calculation="when_required",
                                          response_checksum_validation="when_required"))

    def new_bucket(self) -> str:
        name = "t-" + uuid.uuid4().hex[:12]
        self.client().create_bucket(Bucket=name)
        return name


def start_server(extra_env: dict[str, str] | None = None) -> S3Server:
    port = free_port()
    env = dict(os.environ, **FAKE_ENV, **(extra_env or {}))
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return S3Server(f"http://127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start within 30 s")


def stop_server(server: S3Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    server = start_server()
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Fake credentials and the endpoint in the environment, as a user would set them."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.url)
    return s3


class FlakyProxy:
    """Forwards to an S3 server, answering 500 InternalError to requests ``fail(method, path)`` picks.

    Stands in for a server that breaks mid-upload, so retries and the final error can be seen.
    Requests ``stall(method, path)`` picks get no answer: held ``stall_for`` seconds, then
    the connection is closed (a server that stopped answering).
    """

    def __init__(self, target: str, fail: Callable[[str, str], bool], *,
                 stall: Callable[[str, str], bool] | None = None, stall_for: float = 0.0):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        target_netloc = urlsplit(target).netloc
        proxy = self
        self.failed = 0
        self.stalled = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # so botocore's "Expect: 100-continue" is answered at once

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                import http.client

                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if stall is not None and stall(self.command, self.path):
                    proxy.stalled += 1
                    time.sleep(stall_for)
                    self.close_connection = True
                    return
                if fail(self.command, self.path):
                    proxy.failed += 1
                    payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(target_netloc, timeout=30)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                reply = conn.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                dropped = ("transfer-encoding", "connection", "server", "date")
                if self.command != "HEAD":  # a HEAD reply's length is the object's; keep it
                    dropped += ("content-length",)
                    self.send_header("Content-Length", str(len(data)))
                for name, value in reply.getheaders():
                    if name.lower() not in dropped:
                        self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
