"""A pywb ``config.yaml`` for a store: one collection per store collection.

pywb is pointed at ``indexes/merged/``, which holds the collection's merged index files, and
loads WARCs by name from ``warcs/``. It searches every ``*.cdxj`` of the directory it is
given on every look-up: pointed at ``indexes/``, with a file per WARC, a collection of a
year's half-hourly jobs would have it open some 17,000 files for each.
"""

from __future__ import annotations

import json
from pathlib import Path


def pywb_config(store: Path, collections: list[str]) -> str:
    root = Path(store).resolve()
    lines = [
        f"# pywb configuration for the archive store {root}",
        "# Save as config.yaml in a directory and run `wayback -p 8090 -b 127.0.0.1` there",
        "# (pywb 2.x, in a virtualenv of its own); see README.md.",
        "framed_replay: false",
        "enable_memento: true",
        "collections:",
    ]
    for name in collections:
        # JSON strings are valid YAML scalars and quote any odd path safely.
        lines += [
            f"  {name}:",
            f"    index_paths: {json.dumps(str(root / name / 'indexes' / 'merged') + '/')}",
            f"    archive_paths: {json.dumps(str(root / name / 'warcs') + '/')}",
        ]
    if not collections:
        lines.append("  {}")
    return "\n".join(lines) + "\n"
