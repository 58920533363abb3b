"""Ed25519 signatures over an export's ``datapackage.json``.

The signature is a separate file (``datapackage.json.sig``, JSON), apart from WACZ's own
``datapackage-digest.json``, so the WACZ stays exactly as its spec describes. It signs the
SHA-256 digest string of the exact bytes of ``datapackage.json``, and carries the public
key it verifies with. That shows the bytes are as signed, not who signed them: anyone can
sign with a key of their own. Who is told by comparing that key with the one the archive
publishes (``archive verify --key FILE.pub``, or the fingerprint verify prints).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archive.errors import UsageError
from archive.runtime import fsync_dir

SIGNATURE_FILE = "datapackage.json.sig"


def keygen(out: str | Path) -> tuple[Path, Path]:
    """Write ``OUT.key`` (PKCS#8 PEM, mode 600) and ``OUT.pub`` (SubjectPublicKeyInfo
    PEM): both whole, or neither (a failed write, on a full disk say, takes back what it
    wrote, so that the same command can be run again). ``out`` is a file name prefix, taken
    as given: a ``Path`` would drop a trailing slash, and ``new/`` write ``new.key``."""
    prefix = Path(out)
    if not str(out) or str(out).endswith("/") or prefix.is_dir():
        raise UsageError(f"--out {str(out)!r}: give a file name prefix, such as archive-signing")
    if prefix.suffix in (".key", ".pub"):  # (`--out k.key` is the prefix k, not k.key.key)
        prefix = prefix.with_suffix("")
    key_path, pub_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    if not prefix.parent.is_dir():
        raise UsageError(f"{prefix.parent} is not a directory; create it or choose another --out")
    for path in (key_path, pub_path):
        if path.exists():
            raise UsageError(f"{path} exists; choose another --out or remove it")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    written: list[Path] = []
    try:
        for path, data, mode in ((key_path, private, 0o600), (pub_path, public, 0o644)):
            _write_new(path, data, mode)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return key_path, pub_path


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """``data`` as the new file ``path`` (created with ``mode``), whole or not at all: it is
    written beside it first, and put in place without replacing a file that came meanwhile."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise UsageError(f"{tmp} exists (another keygen running, or one that was stopped); "
                         "remove it or choose another --out") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise UsageError(f"{path} exists; choose another --out or remove it") from None
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)  # (a failed write names no file; say which)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = _load(path, lambda raw: serialization.load_pem_private_key(raw, password=None),
                "unencrypted PEM private key")
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path}: not an Ed25519 key; make one with `archive keygen`")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key of ``path`` (``archive keygen``'s ``.pub``, PEM)."""
    key = _load(path, serialization.load_pem_public_key, "PEM public key")
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path}: not an Ed25519 public key, as `archive keygen` makes")
    return key


def _load(path: Path, parse: Any, what: str) -> Any:
    """The key ``parse`` reads from the file ``path``; a usage error naming ``what`` it is
    not where it cannot be read."""
    try:
        return parse(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"{path}: not a readable {what} ({exc})") from None


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """``sha256:`` and the hex SHA-256 of the key's 32 raw bytes: what an archive publishes
    beside its ``.pub``, and what verify names a signer by."""
    return _fingerprint(_raw_public(key))


def signer_fingerprint(sig_doc: dict[str, Any]) -> str:
    """:func:`key_fingerprint` of the key a signature file holds (checked already)."""
    return _fingerprint(base64.b64decode(sig_doc["public_key"]))


def _fingerprint(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def sign(package_bytes: bytes, key: Ed25519PrivateKey) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    return {
        "algorithm": "ed25519",
        "signed_file": "datapackage.json",
        "signed_data": digest,
        "public_key": base64.b64encode(_raw_public(key.public_key())).decode("ascii"),
        "signature": base64.b64encode(key.sign(digest.encode("ascii"))).decode("ascii"),
    }


def check_signature(package_bytes: bytes, sig_doc: dict[str, Any]) -> list[str]:
    """Problems with a signature file, empty when it holds."""
    digest = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    if sig_doc.get("algorithm") != "ed25519":
        return [f"unknown signature algorithm {sig_doc.get('algorithm')!r}"]
    if sig_doc.get("signed_data") != digest:
        return [f"signature covers {sig_doc.get('signed_data')}, but datapackage.json hashes to {digest}"]
    if not all(isinstance(sig_doc.get(name), str) for name in ("public_key", "signature")):
        return ["public_key and signature must be strings (base64)"]
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(sig_doc["public_key"]))
        public.verify(base64.b64decode(sig_doc["signature"]), digest.encode("ascii"))
    except (ValueError, InvalidSignature):
        return ["signature does not verify with the public key it names"]
    return []


def write_signature(out_dir: Path, package_bytes: bytes, key: Ed25519PrivateKey) -> Path:
    path = out_dir / SIGNATURE_FILE
    path.write_text(json.dumps(sign(package_bytes, key), indent=2, sort_keys=True) + "\n", "utf-8")
    return path
