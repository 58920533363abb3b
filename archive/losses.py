"""Statements of loss: a file a manifest lists that is gone for good, said so once.

A WARC, capture log or job file that a manifest lists and that no copy can bring back
(a disk that failed, a deletion, no push to pull it from) kept ``archive verify`` failing
for ever, and with it ``archive status``, ``archive export`` and ``archive index``: a
store that lost one file could make no dataset again. ``archive verify --accept-loss``
writes a statement of the loss instead, ``lost/<file name>.json``: which file, its size
and SHA-256 as its manifest lists them, the manifest (and that manifest's SHA-256), when,
why, and by whom. Nothing is deleted or rewritten; the manifests stay as they were.

From then on the loss is reported, never a failure: verify names it on a note every time,
export leaves out what was in the file and says so in its datasheet, index and replay
pass over it. A statement holds only for the bytes it names: a file listed otherwise (a
statement copied from another store) is not excused. If the file comes back (a copy found,
``archive pull``), it is checked as any other, and the statement stays as history.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.digests import sha256_file
from archive.errors import UsageError
from archive.store import CollectionDir, write_atomic

STATEMENT_VERSION = 1
_STATED = ("path", "size", "sha256")  # what a statement must say as the manifest lists the file


def of_the_listed(statement: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether ``statement`` is of exactly the bytes a manifest's ``entry`` lists."""
    return isinstance(statement.get("path"), str) and all(statement.get(k) == entry.get(k) for k in _STATED)


def named_for(file_name: str, statement: dict[str, Any]) -> bool:
    """Whether ``file_name`` is the name a statement of the file it names has."""
    return file_name == f"{str(statement.get('path')).rsplit('/', 1)[-1]}.json"


def excusing_nothing(statement: dict[str, Any]) -> str:
    """What is said of a statement that is not of the bytes any manifest lists."""
    return (f"states the loss of {statement.get('path')}, which no manifest here lists with that size and SHA-256: "
            "it excuses nothing")


def loss_statement(coll: CollectionDir, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The statement of loss of the file a manifest's ``entry`` lists, if there is one for
    exactly those bytes (path, size and SHA-256); None otherwise."""
    statement = read_statement(coll.loss_statement(str(entry.get("path", "")).rsplit("/", 1)[-1]))
    if statement is None or not of_the_listed(statement, entry):
        return None
    return statement


def read_statement(path: Path) -> dict[str, Any] | None:
    """A statement file's contents, or None if it is not there or not a JSON object."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def statements(coll: CollectionDir) -> list[Path]:
    """Every statement file of the collection, by name."""
    try:
        return sorted(p for p in coll.lost.iterdir() if p.name.endswith(".json") and not p.name.startswith("."))
    except OSError:
        return []


def entry_of(coll: CollectionDir, statement: dict[str, Any]) -> dict[str, Any] | None:
    """The entry of the file ``statement`` names in the manifest it says lists it, read alone
    (a collection of a year's jobs has thousands); None if that manifest is not there, is no
    JSON, or lists no file at that path."""
    listed_by = statement.get("listed_by")
    name = Path(str(listed_by.get("manifest", ""))).name if isinstance(listed_by, dict) else ""
    if not name.endswith(".json"):
        return None
    try:
        doc = json.loads((coll.manifests / name).read_bytes())
    except (OSError, ValueError):
        return None
    files = doc.get("files") if isinstance(doc, dict) else None
    return next((e for e in files if isinstance(e, dict) and e.get("path") == statement.get("path")), None) \
        if isinstance(files, list) else None


def still_lost(coll: CollectionDir) -> int:
    """How many statements are of a file that is still gone (one brought back since, or one
    that names no file of its name, is no loss to count; verify says which is which)."""
    found = 0
    for path in statements(coll):
        statement = read_statement(path)
        if statement is None or not named_for(path.name, statement):
            continue
        entry = entry_of(coll, statement)  # (of the bytes its manifest lists: one that excuses nothing is no loss)
        if entry is not None and of_the_listed(statement, entry):
            target = coll.root / str(entry["path"])
            found += not (target.exists() or target.is_symlink())
    return found


def said(statement: dict[str, Any]) -> str:
    """A statement in a few words, for a note: when, by whom, why."""
    who = f" by {statement['operator']}" if statement.get("operator") else ""
    return f"stated lost on {str(statement.get('stated', '?'))[:10]}{who}: {statement.get('reason', '')}"


def accept_loss(coll: CollectionDir, given: str, reason: str, operator: str | None = None) -> Path:
    """Write the statement of loss of the file ``given`` names (its path in the collection, as
    manifests list it, or any path or name ending in its file name); return the statement's
    path. Refused (:class:`UsageError`, nothing written) unless a manifest lists the file,
    it is not in the collection, and no statement of it exists yet."""
    from archive.manifest import iter_manifests
    from archive.verify import remote_receipt

    reason = " ".join(reason.split())
    if not reason:
        raise UsageError("--reason must say why the file is lost (what happened to it, what was tried)")
    name = Path(given).name
    listed = [(path, doc, entry) for path, doc, _ in iter_manifests(coll) if isinstance(doc, dict)
              for entry in doc.get("files", []) if isinstance(entry, dict)
              and str(entry.get("path", "")).rsplit("/", 1)[-1] == name]
    if not listed and name.endswith(".json") and Path(given).parent.name == "manifests":
        raise UsageError(f"{name} is a manifest: a statement of loss is for a file a manifest lists, and is kept "
                         "beside the manifests; a lost manifest is restored from a copy (`archive pull`)")
    if not listed:
        raise UsageError(f"no manifest of {coll.root} lists a file named {name}: a statement of loss is for a file "
                         "a manifest lists")
    manifest, doc, entry = listed[0]
    target = coll.root / entry["path"]
    if target.exists() or target.is_symlink():
        raise UsageError(f"{target} is there: a statement of loss is for a file that is gone. If it is damaged, "
                         "move it out of the collection first (keep it: it may be read again)")
    if remote_receipt(coll, entry) is not None:
        raise UsageError(f"{target} is not lost: `archive push --delete-local` left its copy in a bucket "
                         f"({coll.receipt(name)}); `archive pull` brings it back")
    out = coll.loss_statement(name)
    if out.exists() or out.is_symlink():
        raise UsageError(f"{out} exists already: its loss was stated before")
    statement = {
        "statement_version": STATEMENT_VERSION,
        "path": entry["path"],
        "kind": entry.get("kind"),
        "size": entry.get("size"),
        "sha256": entry.get("sha256"),
        "listed_by": {"job_id": doc.get("job_id"), "manifest": f"manifests/{manifest.name}",
                      "manifest_sha256": sha256_file(manifest)[0]},
        "stated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reason": reason,
        "operator": operator or os.environ.get("USER") or None,
        "host": socket.gethostname(),
    }
    write_atomic(out, (json.dumps(statement, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return out


def gone_for_good(coll: CollectionDir, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The statement of loss of the file a manifest's ``entry`` lists, if that file is not in
    the collection (nothing at its path), was not pushed away, and its loss is stated for
    exactly those bytes; None otherwise: a file missing without one is missing, as ever."""
    from archive.verify import remote_receipt

    target = coll.root / str(entry.get("path", ""))
    if target.exists() or target.is_symlink() or remote_receipt(coll, entry) is not None:
        return None
    return loss_statement(coll, entry)


def lost_in(coll: CollectionDir, entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Of manifest ``entries``, those gone for good (:func:`gone_for_good`): statement by path."""
    found = {}
    for entry in entries:
        statement = gone_for_good(coll, entry)
        if statement is not None:
            found[entry["path"]] = statement
    return found
