"""Crawls through a proxy, from the environment as Scrapy reads it: plain HTTP through a
forward proxy, HTTPS through a CONNECT tunnel. The response heads are still recorded as the
server sent them."""

from __future__ import annotations

import hashlib
import http.server
import socket
import ssl
import threading
from contextlib import contextmanager, suppress

import pytest
from cryptography.hazmat.primitives import serialization
from test_https import SecurePage, _self_signed
from warcs import fields, read_collection
from wire import accepting, free_port, response, serve_wire

from archive.config import collection_from_dict
from archive.crawl import crawl


@pytest.fixture
def proxy_env(monkeypatch):
    for name in ("no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _meta_of(records, rec) -> dict:
    return next(fields(r.payload) for r in records
                if r.type == "metadata" and r.h("WARC-Concurrent-To") == rec.h("WARC-Record-ID"))


def test_a_crawl_through_a_forward_proxy_records_the_heads_it_sent(tmp_path, proxy_env):
    # The proxy answers itself: it gets absolute URLs, which name a port nobody listens on.
    origin = f"http://127.0.0.1:{free_port()}"
    page = b'<html><body><a href="/next">next</a></body></html>'
    routes = {
        origin + "/robots.txt": response("404 Not Here", [("Content-Type", "text/plain")], b""),
        origin + "/": lambda _h: [b"HTTP/1.1 200 Via Proxy\r\nx-proxied: yes\r\nContent-Type: text/html\r\n"
                                  b"Content-Length: %d\r\n\r\n" % len(page) + page],
        origin + "/next": response("200 OK", [("content-type", "text/plain")], b"next page"),
    }
    with serve_wire(routes) as proxy:
        proxy_env.setenv("http_proxy", proxy.base)
        crawl(tmp_path, collection_from_dict({"name": "p", "urls": [origin + "/"]}))
    assert all(head.split(b" ", 2)[1].startswith(b"http://") for head in proxy.requests)
    records, lines = read_collection(tmp_path / "p")
    assert {line["url"] for line in lines if line["outcome"] == "captured"} >= {origin + "/", origin + "/next"}
    by_id = {r.h("WARC-Record-ID"): r for r in records}
    received = {head.split(b" ", 2)[1].decode(): head for head in proxy.requests}
    for path in ("/", "/next"):
        rec = next(r for r in records if r.type == "response" and r.h("WARC-Target-URI") == origin + path)
        sent = proxy.sent[origin + path]
        assert rec.block == sent, path  # head and body, byte for byte
        assert "reconstructed" not in _meta_of(records, rec)
        # The request as the proxy got it: the absolute target, Host as written.
        request = by_id[rec.h("WARC-Concurrent-To")]
        assert request.block == received[origin + path] + b"\r\n\r\n", path


@contextmanager
def _connect_proxy():
    """A CONNECT proxy on 127.0.0.1 that relays bytes both ways; yields (port, targets)."""
    targets: list[str] = []

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def handle(client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data:
                client.close()
                return
            head += data
        target = head.split(b" ", 2)[1].decode()
        targets.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    with accepting(handle) as port:
        yield port, targets


def test_https_through_a_connect_tunnel_records_the_head_and_certificate(tmp_path, proxy_env):
    cert, cert_path, key_path = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SecurePage)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    try:
        with _connect_proxy() as (port, targets):
            proxy_env.setenv("https_proxy", f"http://127.0.0.1:{port}")
            crawl(tmp_path / "store", collection_from_dict({"name": "t", "urls": [url]}))
    finally:
        server.shutdown()
        server.server_close()
    assert targets and set(targets) == {f"127.0.0.1:{server.server_address[1]}"}
    records, lines = read_collection(tmp_path / "store" / "t")
    rec = next(r for r in records if r.type == "response" and r.h("WARC-Target-URI") == url)
    assert rec.status_line == "HTTP/1.1 200 Splendid" and ("content-type", "text/html") in rec.http_headers
    assert rec.payload == b"<html><body>secure page</body></html>"
    meta = _meta_of(records, rec)
    assert "reconstructed" not in meta
    fingerprint = "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert meta["tlsCertSha256"] == fingerprint
    assert next(line for line in lines if line["url"] == url)["status"] == 200
