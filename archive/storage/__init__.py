"""Storage of a store's files in S3-compatible buckets: push, pull, and verify in place.

The bucket layout mirrors the local store (``<prefix>/<collection>/warcs/...``); see
``docs/storage.md``. Only :mod:`archive.storage.s3` talks to boto3.
"""

from __future__ import annotations

from archive.storage.pull import PullFailed, PullResult, pull
from archive.storage.push import PushResult, push
from archive.storage.remote_verify import verify_remote
from archive.storage.s3 import DEFAULT_PART_SIZE, MIN_PART_SIZE, S3Location, parse_s3_url

__all__ = ["DEFAULT_PART_SIZE", "MIN_PART_SIZE", "PullFailed", "PullResult", "PushResult", "S3Location", "parse_s3_url",
           "pull", "push", "verify_remote"]
