from __future__ import annotations

import argparse
import shlex
from typing import TextIO

from archive.commands.common import (
    TransferBar,
    collection_name,
    count,
    endpoint_option,
    human_bytes,
    store_option,
)

NAME = "pull"
HELP = "Restore a store (or one collection) from S3-compatible storage, each file verified."
EXAMPLE = ("example: archive pull --from s3://my-bucket/archive --store restored "
           "--endpoint-url http://127.0.0.1:9000")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="s3://BUCKET/PREFIX",
                        help="where the store was pushed")
    parser.add_argument("--collection", type=collection_name, metavar="NAME", help="pull only this collection")
    endpoint_option(parser)
    store_option(parser)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.storage import PullFailed, pull
    from archive.store import resolve_store

    store = resolve_store(args.store)
    try:
        with TransferBar(err, "pull") as bar:
            result = pull(args.source, store, collection=args.collection, endpoint_url=args.endpoint_url,
                          progress=bar.update, total=bar.start,
                          waiting=lambda why: print(f"archive pull: {why}", file=err, flush=True))
    except PullFailed as failed:  # (the other collections came whole)
        result = failed.result
    whole = len(result.collections) - len(result.failed)
    print(f"Pulled {result.url} into {store}: {count(len(result.downloaded), 'file')} downloaded "
          f"({human_bytes(result.bytes_received)}), {result.unchanged} already there; "
          f"{count(whole, 'collection')}" + (f" ({len(result.failed)} not whole)" if result.failed else "") + ".",
          file=out)
    for name, why in result.failed.items():
        print(f"archive pull: {name}: {why}", file=err)
    print(f"Verify it:  archive verify {shlex.quote(str(store))}", file=out)
    return 1 if result.failed else 0
