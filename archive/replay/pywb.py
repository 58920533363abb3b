"""A pywb ``config.yaml`` for a store: one collection per store collection.

pywb reads every ``*.cdxj`` directly inside ``indexes/`` (the per-WARC indexes; the merged
index sits in ``indexes/merged/`` so it is not read twice) and loads WARCs by name from
``warcs/``.
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
            f"    index_paths: {json.dumps(str(root / name / 'indexes') + '/')}",
            f"    archive_paths: {json.dumps(str(root / name / 'warcs') + '/')}",
        ]
    if not collections:
        lines.append("  {}")
    return "\n".join(lines) + "\n"
