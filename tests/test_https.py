"""HTTPS captures record the server certificate's SHA-256 fingerprint, and the response head as sent."""

from __future__ import annotations

import datetime
import hashlib
import http.server
import ipaddress
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from warcs import fields, read_collection

from archive.config import collection_from_dict
from archive.crawl import crawl


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert, cert_path, key_path


class SecurePage(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b"<html><body>secure page</body></html>" if self.path == "/" else b""
        self.send_response(200 if self.path == "/" else 404, "Splendid" if self.path == "/" else None)
        self.send_header("content-type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_https_capture_records_the_certificate_fingerprint(tmp_path):
    cert, cert_path, key_path = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SecurePage)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/"
        crawl(tmp_path / "store", collection_from_dict({"name": "tls", "urls": [url]}))
    finally:
        server.shutdown()
        server.server_close()
    fingerprint = "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    records, lines = read_collection(tmp_path / "store" / "tls")
    page = next(l for l in lines if l["url"] == url)
    assert page["tls_cert_sha256"] == fingerprint and page["status"] == 200
    resp = next(r for r in records if r.type == "response" and r.h("WARC-Target-URI") == url)
    assert resp.payload == b"<html><body>secure page</body></html>"
    meta = next(r for r in records if r.type == "metadata" and r.h("WARC-Concurrent-To") == resp.h("WARC-Record-ID"))
    assert fields(meta.payload)["tlsCertSha256"] == fingerprint
    # The head came through TLS as sent: its reason phrase and the case of its names.
    assert resp.status_line == "HTTP/1.1 200 Splendid" and ("content-type", "text/html") in resp.http_headers
    assert "reconstructed" not in fields(meta.payload)
