from __future__ import annotations

import argparse
from typing import TextIO

from archive.commands.common import collection_name, count, store_option

NAME = "extract"
HELP = "Re-derive the article table of a collection from its WARCs (offline)."
EXAMPLE = "example: archive extract --store archive-store --collection demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--collection", type=collection_name, required=True, metavar="NAME")
    store_option(parser)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.extract import extract_collection
    from archive.store import resolve_store

    notes: list[str] = []
    written = extract_collection(resolve_store(args.store), args.collection, notes)
    for note in notes:  # (what a stated loss left out)
        print(f"note: {note}", file=out)
    for path, rows in written:
        print(f"{path}: {count(rows, 'article')}", file=out)
    print(f"{count(len(written), 'job')}, {count(sum(r for _, r in written), 'article')} extracted.", file=out)
    return 0
