from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from archive.commands.common import (
    collection_name,
    count,
    given,
    human_bytes,
    shell_quoted,
    store_option,
)

NAME = "export"
HELP = "Write a dataset for researchers: WACZ, article table (Parquet + JSONL), datasheet, checksums."
EXAMPLE = ("example: archive export --store archive-store --collection demo --out demo-dataset "
           "--from 2026-11-01 --to 2026-11-30 --sign-key archive-signing.key")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    store_option(parser)
    parser.add_argument("--collection", type=collection_name, required=True, metavar="NAME")
    parser.add_argument("--out", required=True, type=given, metavar="DIR", help="output directory")
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first capture day (UTC) to include")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last capture day (UTC) to include")
    parser.add_argument("--host", type=given, metavar="HOST",
                        help="only captures of this host (HOST:PORT for one port, *.DOMAIN for a domain)")
    parser.add_argument("--sign-key", type=given, metavar="KEY", help="Ed25519 private key from `archive keygen`")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.export import export_dataset, parse_day
    from archive.store import resolve_store

    result = export_dataset(
        resolve_store(args.store), args.collection, Path(args.out),
        date_from=parse_day(args.date_from, "--from"), date_to=parse_day(args.date_to, "--to"), host=args.host,
        sign_key=Path(args.sign_key) if args.sign_key else None,
        waiting=lambda why: print(f"archive export: {why}", file=err, flush=True),
    )
    # (articles, not their rows: an article's versions and withdrawal are rows of one)
    rows = "" if result.articles == result.article_ids else f" ({count(result.articles, 'row')}: versions, withdrawals)"
    print(f"Exported {count(result.captures, 'capture')} and {count(result.article_ids, 'article')}{rows} to "
          f"{shell_quoted(result.out)}:", file=out)
    for f in result.files:
        print(f"  {f['path']:<22} {human_bytes(f['bytes']):>9}  {f['hash']}", file=out)
    print(f"  {'datapackage.json':<22} lists them all" + (", signed in datapackage.json.sig" if result.signature
                                                          else ""), file=out)
    pub = _public_key_beside(args.sign_key, result.signature)
    key = f"--key {shell_quoted(pub)} " if pub is not None else ""
    print(f"Verify it:  archive verify {key}{shell_quoted(result.out)}", file=out)
    return 0


def _public_key_beside(sign_key: str | None, signature: Path | None) -> Path | None:
    """The public key ``archive keygen`` wrote beside ``sign_key`` (PREFIX.pub by PREFIX.key),
    if it is there and is the key the export's ``signature`` holds: the check a reader makes
    of who signed."""
    if not sign_key or signature is None:
        return None
    import json

    from archive.errors import UsageError
    from archive.export.signing import key_fingerprint, load_public_key, signer_fingerprint

    key = Path(sign_key)
    pub = key.with_name(key.name.removesuffix(".key") + ".pub")
    try:
        beside = key_fingerprint(load_public_key(pub))
    except UsageError:  # (none there, or another kind of file)
        return None
    return pub if beside == signer_fingerprint(json.loads(signature.read_text("utf-8"))) else None
