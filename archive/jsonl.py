"""Reading our JSON Lines files (capture logs, article tables) one numbered line at a time.

Lines are split at line feeds only, the file being read as bytes: not str.splitlines(),
which also breaks at U+2028, U+0085 and other characters JSON leaves as they are (a header
value decoded as Latin-1 may hold a 0x85). A line that is not what it should be is handed
back as a problem, so each reader decides: a read view skips it, an export refuses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from archive.errors import StoreError
from archive.validation import problems

log = logging.getLogger(__name__)


def numbered_rows(path: Path, kind: str | None = None) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Each line's number and its object or, for a line that is not a JSON object (or does
    not match the schema ``kind``), what is wrong with it, in words."""
    for number, _, row in placed_rows(path, kind):
        yield number, row


def placed_rows(path: Path, kind: str | None = None) -> Iterator[tuple[int, int, dict[str, Any] | str]]:
    """:func:`numbered_rows` with the byte offset where each line begins."""
    at = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            yield number, at, row_of(raw, kind)
            at += len(raw)


def row_of(raw: bytes, kind: str | None = None) -> dict[str, Any] | str:
    """One line's object, or what is wrong with it (:func:`numbered_rows`)."""
    try:
        # (decoded here: json.loads would take bytes in UTF-16 or UTF-32 too)
        row = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8"
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(row, dict):
        return "not a JSON object"
    found = problems(kind, row) if kind is not None else []
    return f"does not match the {kind} schema ({found[0]})" if found else row


def rows_skipping_bad(path: Path, kind: str | None = None, skipped: str = "skipped") -> Iterator[dict[str, Any]]:
    """The objects of a JSON Lines file; a bad line is skipped with a warning naming it, and
    saying what is done of it (``skipped``: "left out of the catalog")."""
    for _, row in placed_rows_skipping_bad(path, kind, skipped):
        yield row


def placed_rows_skipping_bad(path: Path, kind: str | None = None,
                             skipped: str = "skipped") -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`rows_skipping_bad` with the byte offset where each line begins."""
    for number, at, row in placed_rows(path, kind):
        if isinstance(row, str):
            log.warning("%s: line %d: %s, %s", path, number, row, skipped)
        else:
            yield at, row


def rows_refusing_bad(path: Path, kind: str, then: str) -> Iterator[dict[str, Any]]:
    """The objects of a JSON Lines file that must be whole (what is built on it would leave
    out, without a word, what a bad line recorded): a bad line raises :class:`StoreError`
    naming file and line, followed by ``then`` (what to run, what was not done)."""
    for number, row in numbered_rows(path, kind):
        if isinstance(row, str):
            raise StoreError(f"{path}: line {number}: {row}; {then}")
        yield row
