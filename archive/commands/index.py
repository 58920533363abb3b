from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TextIO

from archive.commands.common import collection_name, count, store_option
from archive.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from archive.store import CollectionDir

NAME = "index"
HELP = "Rebuild the CDXJ indexes (per WARC and merged) and the catalog of every collection."
EXAMPLE = "example: archive index --store archive-store    (or --collection demo for one collection)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--collection", type=collection_name, action="append", default=[], metavar="NAME",
                        help="only this collection (repeatable; default all)")
    store_option(parser)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.index import update_indexes
    from archive.store import collection_dir, no_store, resolve_store

    store = resolve_store(args.store)
    if not store.is_dir():
        raise UsageError(no_store(store))
    # (a collection whose warcs/ is a file, or a link to nowhere, is one: said, not passed over)
    names = args.collection or sorted(p.name for p in store.iterdir()
                                       if (p / "warcs").is_dir() or (p / "manifests").is_dir())
    if not names:
        raise UsageError(f"{store} has no collections (no */warcs/ directory)")
    colls = [collection_dir(store, name) for name in names]
    unknown = [coll for coll in colls if not coll.warcs.is_dir()]
    if unknown:  # (said before any is rebuilt)
        coll = unknown[0]
        raise UsageError(f"{coll.warcs} is not a directory: the collection's WARCs cannot be read"
                         if coll.warcs.exists() or coll.warcs.is_symlink() or coll.manifests.is_dir()
                         else f"{coll.root} is not a collection (no warcs/ directory){_having(store)}")
    status = 0
    for name, coll in zip(names, colls, strict=True):
        result = update_indexes(coll, rebuild=True)
        print(f"{name}: {count(len(result.indexed), 'WARC')} indexed into {coll.indexes}/, "
              f"merged index {result.merged} ({count(result.merged_lines, 'capture')}), catalog {result.catalog}",
              file=out)
        if result.lost:
            print(f"{name}: {_lost(coll, result.lost)}", file=out)
        for problem in result.unindexed:
            print(f"archive index: {problem}", file=err)
            status = 1
    return status


def _having(store: Path) -> str:
    """The collections ``store`` has, a few, for a name mistyped."""
    from archive.store import collections_in

    have = [c.name for c in collections_in(store)]
    return f" (it has {', '.join(have[:5])}{f' and {len(have) - 5} more' if len(have) > 5 else ''})" if have else ""


def _lost(coll: CollectionDir, lost: dict[str, dict[str, Any]]) -> str:
    """One line for the WARCs stated lost, whose captures the indexes leave out."""
    from archive.losses import said

    if len(lost) == 1:
        statement = next(iter(lost.values()))
        return f"{statement['path']} {said(statement)}; its captures are left out of the indexes and the catalog"
    names = sorted(lost)
    which = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (f"{count(len(lost), 'WARC')} stated lost (see {coll.lost}/): their captures are left out of the indexes "
            f"and the catalog ({which})")
