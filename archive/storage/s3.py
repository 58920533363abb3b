"""An S3 bucket seen through boto3: our multipart loop, downloads, and one-line errors.

We upload with our own multipart loop (``create_multipart_upload``, ``list_parts``,
``upload_part`` with a per-part ``ChecksumSHA256``, ``complete_multipart_upload``) rather than
boto3's transfer manager, so that a new process finds an interrupted upload of the same key
and sends only the parts that are not already there. Every upload carries SHA-256: per part
and for single ``put_object`` calls as ``ChecksumSHA256`` (the server rejects a body that does
not hash to it), and for the whole file in the ``x-amz-meta-sha256`` header as
``sha256:<hex>``, the encoding of our manifests.

Credentials come from boto3's standard chain and are never put in a message or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from archive.errors import StorageError, UsageError

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# Defaults, in one place.
DEFAULT_PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB  # S3: every part but the last is at least 5 MiB
MAX_PART_SIZE = 5 * 1024 * MiB  # S3: and at most 5 GiB
MAX_PARTS = 10_000  # S3: part numbers run from 1 to 10,000
CONNECT_TIMEOUT = 5.0  # seconds; a dead endpoint must fail fast, not hang
READ_TIMEOUT = 60.0
MAX_ATTEMPTS = 5  # tries per request, botocore "standard" mode: exponential back-off with jitter
RETRIED_STATUSES = (500, 502, 503, 504)  # (those that mode tries again, but for throttling)
DOWNLOAD_CHUNK = 1 * MiB

META_SHA256 = "sha256"  # sent as x-amz-meta-sha256: sha256:<hex>
META_PART_SIZE = "part-size"  # x-amz-meta-part-size: the part size the object was uploaded with

# Error codes that mean "who you are" or "what you may do" is wrong; their server messages are
# not echoed, since some servers repeat request details in them.
AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
              "InvalidToken", "TokenRefreshRequired", "403", "Forbidden"}

Progress = Callable[[int], None]


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix``: the prefix has no leading or trailing slash (may be empty)."""

    bucket: str
    prefix: str

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def url(self, key: str | None = None) -> str:
        return f"s3://{self.bucket}/{key if key is not None else self.prefix}".rstrip("/")

    def child(self, name: str) -> S3Location:
        return S3Location(self.bucket, self.key(name))


def parse_s3_url(text: str) -> S3Location:
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?", text)
    if not match:
        raise UsageError(f"{text!r} is not an s3://BUCKET[/PREFIX] URL (bucket names: 3-63 lower-case letters, "
                         "digits, dots, dashes)")
    given = match.group(2) or ""
    prefix = given.rstrip("/")
    if prefix.startswith("/") or "//" in prefix:
        # (an object key may begin with "/" or hold "//": taken for another prefix, it was
        # another store's place, or none's)
        raise UsageError(f"{text!r}: empty path segment in the prefix; write s3://BUCKET/PREFIX with single "
                         "slashes")
    return S3Location(match.group(1), prefix)


def resolve_endpoint(endpoint_url: str | None) -> str | None:
    """``--endpoint-url``, else ``$AWS_ENDPOINT_URL_S3``, else ``$AWS_ENDPOINT_URL``, else AWS."""
    if endpoint_url is not None:
        return endpoint_url
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = os.environ.get(name)
        if value:
            return value
    return None


def check_part_size(part_size: int) -> int:
    if part_size < MIN_PART_SIZE:
        raise UsageError(f"part size {part_size} is below S3's minimum of {MIN_PART_SIZE} bytes (5 MiB)")
    if part_size > MAX_PART_SIZE:
        raise UsageError(f"part size {part_size} is above S3's maximum of {MAX_PART_SIZE} bytes (5 GiB)")
    return part_size


def b64_sha256(data: bytes | memoryview) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str | None  # x-amz-meta-sha256, None if the object has none


@dataclass
class UploadStats:
    sent: int = 0  # bytes sent over the wire
    parts_reused: int = 0  # parts of an interrupted upload that were already there
    resumed: bool = False


class Bucket:
    """One bucket behind one endpoint. Every failure becomes a :class:`StorageError`."""

    def __init__(self, location: S3Location, endpoint_url: str | None = None, *,
                 max_attempts: int = MAX_ATTEMPTS):
        import boto3

        self.location = location
        self.endpoint = resolve_endpoint(endpoint_url)
        self.max_attempts = max_attempts
        try:
            # (an unknown AWS_PROFILE, an unreadable AWS config file: botocore's errors)
            with self.errors(f"setting up the S3 client for {self.where}"):
                session = boto3.session.Session()
                self.client = session.client("s3", endpoint_url=self.endpoint, config=self._config(max_attempts))
                self.client.meta.events.register("needs-retry.s3", self._say_retry)
                # One attempt only: the first contact tells at once whether anything is listening.
                self._probe = session.client("s3", endpoint_url=self.endpoint, config=self._config(1))
        except ValueError as exc:  # (botocore's word for an endpoint URL it cannot use)
            raise StorageError(f"{self.endpoint!r} is not a usable S3 endpoint URL: {exc}") from None

    def _config(self, attempts: int) -> Any:
        from botocore.config import Config

        options: dict[str, Any] = {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "retries": {"mode": "standard", "total_max_attempts": attempts},  # the first try included
        }
        if self.endpoint is not None:
            # MinIO, Ceph and most S3-compatible servers want path-style URLs and reject the
            # CRC32 checksum headers newer botocore sends by default.
            options.update(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                           response_checksum_validation="when_required")
        return Config(**options)

    def _say_retry(self, attempts: int, caught_exception: Exception | None = None, response: Any = None,
                   operation: Any = None, **_: Any) -> None:
        """Say each attempt that failed in a way botocore tries again (a server that holds a
        request without answering takes a minute an attempt, five in all: not in silence).
        An observer of botocore's ``needs-retry`` event: it returns None, deciding nothing."""
        from botocore.exceptions import ConnectionError, HTTPClientError, ReadTimeoutError

        if attempts >= self.max_attempts:
            return  # (the last: its failure is the command's error)
        if isinstance(caught_exception, ReadTimeoutError):
            what = f"had no answer within {READ_TIMEOUT:g} s"
        elif isinstance(caught_exception, ConnectionError | HTTPClientError):
            what = f"failed ({type(caught_exception).__name__})"
        elif caught_exception is None and response is not None and response[0].status_code in RETRIED_STATUSES:
            what = f"got server error {response[0].status_code}"
        else:
            return
        name = getattr(operation, "name", "a request")
        log.warning("%s: %s %s (attempt %d of %d); trying again", self.where, name, what, attempts,
                    self.max_attempts)

    @property
    def where(self) -> str:
        return f"s3://{self.location.bucket}" + (f" at {self.endpoint}" if self.endpoint else "")

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn botocore's exceptions into one clear line that says what we were doing."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        try:
            yield
        except (EndpointConnectionError, ConnectTimeoutError):
            raise StorageError(f"{doing}: cannot connect to {self.endpoint or 'AWS S3'}; "
                               "is the server running and the endpoint URL right?") from None
        except (NoCredentialsError, PartialCredentialsError):
            raise StorageError(f"{doing}: no complete S3 credentials found; set AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE") from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "?"))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",) or (code == "404" and doing.startswith("opening")):
                raise StorageError(f"{doing}: bucket {self.location.bucket!r} does not exist at "
                                   f"{self.endpoint or 'AWS S3'}; create it or fix the URL") from None
            if code in AUTH_CODES or status == 403:
                raise StorageError(f"{doing}: {self.where} refused the credentials ({code}); check "
                                   "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE and the "
                                   "bucket's permissions") from None
            message = str(error.get("Message", "")).splitlines()[0] if error.get("Message") else ""
            retried = f" after {self.max_attempts} attempts" if (status or 0) >= 500 else ""
            raise StorageError(f"{doing}: server error {code}{retried}" + (f": {message}" if message else "")) from None
        except BotoCoreError as exc:
            raise StorageError(f"{doing}: {type(exc).__name__}: {exc}") from None

    # -- reading -----------------------------------------------------------------------------

    def check(self) -> None:
        """Fail fast, with one line, if the endpoint is down, the bucket missing or access denied."""
        with self.errors(f"opening {self.where}"):
            self._probe.head_bucket(Bucket=self.location.bucket)

    def head(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        with self.errors(f"reading {self.location.url(key)}"):
            try:
                found = self.client.head_object(Bucket=self.location.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
        return ObjectInfo(key, int(found["ContentLength"]), found.get("Metadata", {}).get(META_SHA256))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` (size only; ``sha256`` needs a :meth:`head`)."""
        with self.errors(f"listing {self.location.url(prefix)}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"], int(item["Size"]), None)

    def read(self, key: str) -> bytes:
        with self.errors(f"reading {self.location.url(key)}"):
            return self.client.get_object(Bucket=self.location.bucket, Key=key)["Body"].read()

    def stream(self, key: str, out: BinaryIO | None, progress: Progress | None = None) -> tuple[str, int]:
        """Stream an object into ``out`` (or nowhere), returning its ``sha256:<hex>`` and size."""
        h = hashlib.sha256()
        size = 0
        with self.errors(f"downloading {self.location.url(key)}"):
            body = self.client.get_object(Bucket=self.location.bucket, Key=key)["Body"]
            for chunk in body.iter_chunks(DOWNLOAD_CHUNK):
                h.update(chunk)
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
                if progress is not None:
                    progress(len(chunk))
        return "sha256:" + h.hexdigest(), size

    # -- writing -----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        with self.errors(f"deleting {self.location.url(key)}"):
            self.client.delete_object(Bucket=self.location.bucket, Key=key)

    def uploads(self, prefix: str) -> list[tuple[str, str]]:
        """Unfinished multipart uploads under ``prefix``: (key, upload id), oldest first."""
        found: list[tuple[Any, str, str]] = []
        with self.errors(f"listing unfinished uploads under {self.location.url(prefix)}"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.location.bucket, Prefix=prefix)
            for page in pages:
                for up in page.get("Uploads", []):
                    found.append((up.get("Initiated"), up["Key"], up["UploadId"]))
        found.sort(key=lambda t: (t[0] is None, t[0]))
        return [(key, upload_id) for _, key, upload_id in found]

    def abort(self, key: str, upload_id: str) -> None:
        with self.errors(f"aborting an unfinished upload of {self.location.url(key)}"):
            self.client.abort_multipart_upload(Bucket=self.location.bucket, Key=key, UploadId=upload_id)

    def upload(self, path: Path, key: str, sha256: str, size: int, *, part_size: int = DEFAULT_PART_SIZE,
               progress: Progress | None = None, resume: bool = True) -> UploadStats:
        """Upload ``path`` (whose whole-file hash is ``sha256``) to ``key``."""
        metadata = {META_SHA256: sha256, META_PART_SIZE: str(part_size)}
        doing = f"uploading {path} to {self.location.url(key)}"
        if size <= part_size:
            data = path.read_bytes()
            if "sha256:" + hashlib.sha256(data).hexdigest() != sha256:
                raise StorageError(f"{doing}: the file changed while it was being pushed; push again")
            with self.errors(doing):
                self.client.put_object(Bucket=self.location.bucket, Key=key, Body=data,
                                       ChecksumSHA256=b64_sha256(data), Metadata=metadata)
            if progress is not None:
                progress(len(data))
            return UploadStats(sent=len(data))
        if -(-size // part_size) > MAX_PARTS:
            raise UsageError(f"{path} needs more than {MAX_PARTS} parts of {part_size} bytes; "
                             "use a larger --part-size")
        with self.errors(doing):
            return self._multipart(path, key, sha256, part_size, metadata, progress, resume, doing)

    def _multipart(self, path: Path, key: str, sha256: str, part_size: int, metadata: dict[str, str],
                   progress: Progress | None, resume: bool, doing: str) -> UploadStats:
        bucket = self.location.bucket
        stats = UploadStats()
        upload_id, there = self._resumable(key) if resume else (None, {})
        if upload_id is None:
            upload_id = self.client.create_multipart_upload(
                Bucket=bucket, Key=key, Metadata=metadata, ChecksumAlgorithm="SHA256")["UploadId"]
        else:
            stats.resumed = True
            log.info("resuming upload of %s (%d parts already there)", key, len(there))
        done: list[dict[str, Any]] = []
        whole = hashlib.sha256()
        with open(path, "rb") as fh:
            number = 0
            while True:
                data = fh.read(part_size)
                if not data:
                    break
                number += 1
                whole.update(data)
                checksum = b64_sha256(data)
                old = there.get(number)
                if old is not None and _same_part(old, data, checksum):
                    etag = old["ETag"]
                    stats.parts_reused += 1
                else:
                    etag = self.client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                                   Body=data, ChecksumSHA256=checksum)["ETag"]
                    stats.sent += len(data)
                done.append({"PartNumber": number, "ETag": etag, "ChecksumSHA256": checksum})
                if progress is not None:
                    progress(len(data))
        if "sha256:" + whole.hexdigest() != sha256:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise StorageError(f"{doing}: the file changed while it was being pushed; push again")
        self.client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                              MultipartUpload={"Parts": done})
        return stats

    def _resumable(self, key: str) -> tuple[str | None, dict[int, dict[str, Any]]]:
        """The newest unfinished upload of ``key`` and its parts; older ones are aborted."""
        mine = [upload_id for k, upload_id in self.uploads(key) if k == key]
        if not mine:
            return None, {}
        *older, newest = mine
        for upload_id in older:
            self.client.abort_multipart_upload(Bucket=self.location.bucket, Key=key, UploadId=upload_id)
        parts: dict[int, dict[str, Any]] = {}
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.location.bucket, Key=key, UploadId=newest)
        for page in pages:
            for part in page.get("Parts", []):
                parts[int(part["PartNumber"])] = part
        return newest, parts


def _same_part(old: dict[str, Any], data: bytes, checksum: str) -> bool:
    """Is the part already uploaded the bytes we would send?

    S3 lists a part's ``ChecksumSHA256`` when the upload was created with that algorithm; servers
    that do not (moto, some S3-compatibles) still give its ETag, the hex MD5 of the part's bytes
    for uploads without SSE-KMS/SSE-C. Anything else is sent again.
    """
    if int(old.get("Size", -1)) != len(data):
        return False
    if old.get("ChecksumSHA256"):
        return bool(old["ChecksumSHA256"] == checksum)
    return bool(str(old.get("ETag", "")).strip('"') == hashlib.md5(data, usedforsecurity=False).hexdigest())
