from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from archive.commands.common import (
    TransferBar,
    collection_name,
    count,
    endpoint_option,
    human_bytes,
    non_negative,
    store_option,
)

if TYPE_CHECKING:
    from archive.storage import PushResult

NAME = "push"
HELP = "Upload a store's closed files to S3-compatible storage, verified, manifests last."
EXAMPLE = ("example: archive push --store archive-store --to s3://my-bucket/archive "
           "--endpoint-url http://127.0.0.1:9000")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, metavar="s3://BUCKET/PREFIX", help="where the store goes")
    parser.add_argument("--collection", type=collection_name, metavar="NAME", help="push only this collection")
    endpoint_option(parser)
    parser.add_argument("--delete-local", action="store_true",
                        help="then remove local WARCs whose copy in the bucket checks out "
                             "(manifests, logs and indexes stay)")
    parser.add_argument("--recheck", action="store_true",
                        help="hash every file and look for it in the bucket, even those an earlier push "
                             "confirmed and that have not changed since")
    parser.add_argument("--part-size", type=non_negative, metavar="BYTES",
                        help="multipart part size (default 8388608; at least 5242880)")
    store_option(parser)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.storage import DEFAULT_PART_SIZE, push
    from archive.store import resolve_store

    part_size = args.part_size if args.part_size is not None else DEFAULT_PART_SIZE
    with TransferBar(err, "push") as bar:
        result = push(resolve_store(args.store), args.to, collection=args.collection,
                      endpoint_url=args.endpoint_url, part_size=part_size, delete_local=args.delete_local,
                      progress=bar.update, total=bar.start, recheck=args.recheck,
                      waiting=lambda why: print(f"archive push: {why}", file=err, flush=True))
    print_push_result(result, out)
    for said in [*result.held_back.values(), *result.stopped.values()]:
        print(f"archive push: {said}", file=err)
    return 1 if result.held_back or result.stopped else 0


def print_push_result(result: PushResult, out: TextIO) -> None:
    reused = f", {count(result.parts_reused, 'part')} of interrupted uploads reused" if result.parts_reused else ""
    print(f"Pushed to {result.url}: {count(len(result.uploaded), 'file')} uploaded "
          f"({human_bytes(result.bytes_sent)} sent{reused}), {result.unchanged} already there, "
          f"{count(len(result.manifests), 'manifest')} confirmed.", file=out)
    if result.aborted:
        print(f"Aborted {count(len(result.aborted), 'abandoned upload')}.", file=out)
    if result.deleted:
        print(f"Deleted {count(len(result.deleted), 'local WARC')} (their copies in the bucket check out).",
              file=out)
    for said in [*result.rechecked.values(), *result.not_lost.values()]:
        print(f"note: {said}", file=out)
