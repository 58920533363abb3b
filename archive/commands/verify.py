from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from archive.commands.common import endpoint_option, given, is_s3_url, print_report, remember_verify
from archive.errors import UsageError

NAME = "verify"
HELP = "Check digests, files against manifests, the manifest chain and the schemas."
EXAMPLE = ("example: archive verify archive-store/demo    "
           "(or a manifest, a WARC, a store; --repair closes a killed job)\n"
           "  archive verify s3://my-bucket/archive --deep --endpoint-url http://127.0.0.1:9000\n"
           "  archive verify archive-store/demo --accept-loss warcs/NAME.warc.gz --reason \"the disk failed; no copy\"")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=given, metavar="PATH",
                        help="a store, a collection directory, a manifest, a WARC, an export directory, "
                             "a .wacz, or s3://BUCKET/PREFIX")
    parser.add_argument("--key", type=Path, metavar="FILE.pub",
                        help="an export: it must be signed with this public key (the archive's, from `archive "
                             "keygen`); without it, verify names the key that signed")
    parser.add_argument("--repair", action="store_true", help="first close files a killed job left open")
    parser.add_argument("--accept-loss", metavar="FILE",
                        help="a file a manifest lists that is gone for good (a WARC, a capture log): write a "
                             "statement of its loss into the collection's lost/ (PATH: the collection), after "
                             "which verify names the loss on a note instead of failing; needs --reason")
    parser.add_argument("--reason", metavar="TEXT", help="with --accept-loss: what happened to the file")
    parser.add_argument("--operator", metavar="NAME", help="with --accept-loss: who states it (default: $USER)")
    parser.add_argument("--deep", action="store_true",
                        help="s3://: stream and hash every object (default: size and x-amz-meta-sha256); "
                             "a local store is always read in full")
    endpoint_option(parser)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # (each imported where it is used: push, pull and repair bring the indexer and its
    # dependencies, which a local verify does not use and would pay for at every start)
    if is_s3_url(args.path):
        if args.accept_loss is not None:
            raise UsageError("--accept-loss works on a local collection")
        if args.repair:
            raise UsageError("--repair works on a local store; pull it first")
        if args.key is not None:
            raise UsageError("--key checks an export directory, not s3://")
        from archive.storage import verify_remote

        report = verify_remote(args.path, deep=args.deep, endpoint_url=args.endpoint_url)
        print_report(report, out)
        return 0 if report.ok else 1
    if args.endpoint_url is not None:
        raise UsageError("--endpoint-url only applies to s3:// paths")
    if args.key is not None and args.repair:
        raise UsageError("--key checks an export, which --repair does not take")
    path = Path(args.path)
    if args.accept_loss is not None:
        _accept_loss(path, args, out)
    elif args.reason is not None or args.operator is not None:
        raise UsageError("--reason and --operator go with --accept-loss")
    if args.repair:
        from archive.repair import repair

        if not path.is_dir():
            raise UsageError("--repair takes a store or a collection directory")
        fixed = repair(path)
        for name in fixed.closed:
            print(f"repaired: {name}", file=out)
        for manifest in fixed.manifests:
            print(f"wrote manifest for interrupted job: {manifest}", file=out)
        for name in fixed.skipped_live:
            print(f"left alone (job still running): {name}", file=out)
        for name in fixed.not_files:
            print(f"left alone (not a file, so nothing to repair): {name}", file=out)
        for said in fixed.not_the_jobs:
            print(f"left alone: {said}", file=out)
        for what in fixed.damage:
            print(f"damage kept, since good records follow it (verify reports it): {what}", file=out)
        if fixed.dropped_bytes:
            print(f"dropped {fixed.dropped_bytes} bytes of incomplete records", file=out)
    from archive.verify import verify

    report = verify(path, key=args.key)
    print_report(report, out)
    if path.is_dir():
        from archive.store import collections_in

        remember_verify(collections_in(path), report, err)
    return 0 if report.ok else 1


def _accept_loss(path: Path, args: argparse.Namespace, out: TextIO) -> None:
    from archive.losses import accept_loss
    from archive.store import collections_in

    if args.repair or args.key is not None:
        raise UsageError("--accept-loss goes alone (no --repair, no --key)")
    if args.reason is None:
        raise UsageError("--accept-loss needs --reason: what happened to the file, what was tried")
    found = collections_in(path) if path.is_dir() else []
    if len(found) != 1:
        raise UsageError(f"--accept-loss takes the collection's directory; {path} "
                         + (f"holds {len(found)} collections" if found else "is none"))
    statement = accept_loss(found[0], args.accept_loss, args.reason, args.operator)
    print(f"stated lost: {args.accept_loss} ({statement})", file=out)
