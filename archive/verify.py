"""``archive verify``: every record digest, every file against its manifest, the manifest
chain, and the schemas. Problems are collected, never raised, each naming the file and the
offset, line or field, so one run tells the whole story.

Accepts a store, a collection directory, a manifest, or a single WARC. The manifest checks
(sidecar, JSON, schema, chain) work on :class:`ManifestFile` values, bytes plus a label, so
``archive.storage.remote_verify`` runs the very same checks on manifests in a bucket.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from archive.checks import Checked, FileChecks, LogRefs, original_digests
from archive.config import check_schedule, config_hash
from archive.digests import recorded_sha256, sha256_file
from archive.errors import ConfigError, StoreError, UsageError
from archive.losses import (
    excusing_nothing,
    loss_statement,
    named_for,
    of_the_listed,
    read_statement,
    said,
    statements,
)
from archive.manifest import (
    HEAD,
    SIDECAR,
    iter_manifests,
    lost_newest,
    noted_head,
    parsed,
    sidecar_names,
)
from archive.store import (
    CollectionDir,
    collections_in,
    directory_state,
    is_locked,
    listed_sizes,
    running_jobs,
)
from archive.validation import problems as schema_problems
from archive.warc.writer import OPEN_SUFFIX


@dataclass
class Problem:
    path: Path | str  # a local path, or an s3:// URL for a remote object
    where: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.message}" if self.where else f"{self.path}: {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0
    manifests: int = 0
    lost: int = 0  # listed files gone for good, their loss stated (archive.losses)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, path: Path | str, where: str | None, message: str) -> None:
        self.problems.append(Problem(path, where, message))


@dataclass
class ManifestFile:
    """One manifest as read from anywhere: where it is, its exact bytes, and its sidecar's.

    ``label`` is what problems name (a local path or an s3:// URL); ``name`` is the file name
    (``<job-id>.json``); ``sidecar`` is the text of ``<job-id>.json.sha256`` or None if absent.
    """

    label: Path | str
    name: str
    raw: bytes
    doc: dict[str, Any] | None
    sidecar: str | None

    @property
    def job_id(self) -> str:
        return self.name.removesuffix(".json")


def parse_manifest(label: Path | str, name: str, raw: bytes, sidecar: str | None) -> ManifestFile:
    return ManifestFile(label, name, raw, parsed(raw), sidecar)


def check_manifests(
    manifests: list[ManifestFile], report: Report, only: str | None = None
) -> list[ManifestFile]:
    """Sidecar, JSON, schema and chain of one collection's manifests (``only``: one name).

    Returns the manifests that parsed, whose ``files`` the caller then checks.
    """
    parsed: list[ManifestFile] = []
    for m in manifests:
        if only is not None and m.name != only:
            continue
        report.manifests += 1
        _check_sidecar(m, report)
        if m.doc is None:
            report.add(m.label, None, "not valid JSON")
            continue
        found = schema_problems("manifest", m.doc)
        for message in found:
            report.add(m.label, message.split(": ", 1)[0], message.split(": ", 1)[1])
        if not found:
            _check_config(m, report)
            _check_agreement(m, report)
        parsed.append(m)
    _check_chain(manifests, report, only)
    return parsed


def listed_entries(manifests: list[ManifestFile]) -> Iterator[tuple[ManifestFile, int, dict[str, Any]]]:
    """Every well-formed ``files`` entry: (manifest, index, entry)."""
    for m in manifests:
        for index, entry in enumerate((m.doc or {}).get("files", [])):
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                yield m, index, entry


def verify(path: Path, key: Path | None = None) -> Report:
    """Check whatever ``path`` is; raise :class:`UsageError` only if it is none of the kinds.
    ``key``: the public key an export must be signed with (exports only)."""
    path = Path(path)
    report = Report()
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    # (the export's checks imported for an export alone: they bring the exporter and the
    # indexer, several tenths of a second that verify of a collection would pay for nothing)
    if is_export(path):
        from archive.export.signing import load_public_key
        from archive.export.verify_export import check_export

        check_export(path, report, None if key is None else load_public_key(key))
        return report
    if key is not None:
        raise UsageError(f"--key checks an export's signature, and {path} is no export directory (one with "
                         "datapackage.json and a .wacz)")
    if path.is_file() and path.suffix == ".wacz":
        from archive.export.verify_export import check_wacz

        check_wacz(path, report)
        return report
    if path.is_file():
        if path.name.endswith((".warc.gz", ".warc")):  # (an uncompressed one read record by record)
            coll = _collection_of(path)
            listed = _listed_files(coll) if coll else {}
            entry = listed.get(f"warcs/{path.name}")
            checks = FileChecks()
            result = checks.warc(path, hashed=entry is not None)
            checks.run()
            _warc_result(path, result, report, entry)
        elif path.name.endswith(".warc.gz" + OPEN_SUFFIX):
            _check_open(path, report)
        elif path.suffix == ".json" and path.parent.name == "manifests":
            _check_collection(CollectionDir(path.parent.parent), report, only=path)
        else:
            raise UsageError(f"{path} is not a WARC (.warc.gz or .warc), a manifest, a .wacz, or a directory to verify")
        return report
    collections = collections_in(path)
    if not collections:
        if path.is_dir() and any(path.glob("*.wacz")):
            raise UsageError(f"{path} holds a .wacz but no datapackage.json, so it is no whole export: verify the "
                             ".wacz itself, or restore the export's datapackage.json")
        raise UsageError(f"{path} is neither a store nor a collection (no warcs/ or manifests/ inside), nor an export "
                         "(datapackage.json and a .wacz)")
    for coll in collections:
        _check_settled(coll, report)
    return report


def is_export(path: Path) -> bool:
    """An export directory: its ``datapackage.json`` and a ``.wacz``."""
    return path.is_dir() and (path / "datapackage.json").is_file() and any(path.glob("*.wacz"))


# Checks of a collection made again while a job started or ended under them, at most this often.
_AGAIN = 2


def _check_settled(coll: CollectionDir, report: Report) -> None:
    """:func:`_check_collection`, made again when it found problems and a job started or ended
    meanwhile (a file renamed from its open name, a manifest written, a job's files made):
    a check that read the folders before and the files after took a file closed since for one
    gone, a manifest written since for one missing, and verify, and status after it, said
    FAILED of a collection being crawled on a schedule."""
    for attempt in range(_AGAIN + 1):
        before = _folders_state(coll)
        found = Report()
        _check_collection(coll, found)
        if found.ok or attempt == _AGAIN or _folders_state(coll) == before:
            break
    report.problems += found.problems
    report.notes += found.notes
    report.files += found.files
    report.records += found.records
    report.manifests += found.manifests
    report.lost += found.lost


def _folders_state(coll: CollectionDir) -> list[list[int] | None]:
    """What a job's start or end changes in a collection (files added, renamed, removed)."""
    return [directory_state(folder) for folder in (coll.warcs, coll.logs, coll.manifests, coll.root)]


def _collection_of(warc: Path) -> CollectionDir | None:
    root = warc.parent.parent
    return CollectionDir(root) if warc.parent.name == "warcs" and (root / "manifests").is_dir() else None


def _listed_files(coll: CollectionDir) -> dict[str, dict[str, Any]]:
    listed: dict[str, dict[str, Any]] = {}
    for _, doc, _ in iter_manifests(coll):
        for entry in (doc or {}).get("files", []) if isinstance(doc, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                listed[entry["path"]] = entry
    return listed


# -- WARC files -----------------------------------------------------------------------------


def _warc_result(path: Path, result: Callable[[], Checked], report: Report,
                 entry: dict[str, Any] | None) -> None:
    """Report a WARC's check; compare with its manifest entry when there is one."""
    checked = result()
    report.files += 1
    report.records += checked.units
    _add_all(report, path, checked)
    if checked.units == 0:
        report.add(path, None, "empty file, no records")
    if entry is not None:  # (an emptied file is not what its manifest lists either: said with the rest)
        _compare_entry(path, entry, report, checked, records=checked.units or None)


def _add_all(report: Report, path: Path, checked: Checked) -> None:
    for where, message in checked.problems:
        report.add(path, where, message)


def _compare_entry(path: Path, entry: dict[str, Any], report: Report, checked: Checked, *,
                   records: int | None = None) -> None:
    if checked.size != entry.get("size"):
        report.add(path, "size", f"file is {checked.size} bytes, manifest says {entry.get('size')}")
    if checked.sha256 != entry.get("sha256"):
        report.add(path, "sha256", f"file hashes to {checked.sha256}, manifest says {entry.get('sha256')}")
    if records is not None and entry.get("records") is not None and records != entry["records"]:
        report.add(path, "records", f"file has {records} records, manifest says {entry['records']}")


# (a folder, a broken link: every other file is checked still)
_NOT_A_FILE_NAMED_SO = "not a file, though named like one of a collection's: move it away"
_NOT_A_FILE = "not a file, though named like one a job left open: `archive verify --repair` cannot close it; move it away"


def _check_open(path: Path, report: Report) -> None:
    if not path.exists() and not path.is_symlink():
        return  # (listed open, closed since: its job ended meanwhile, and the closed file is checked)
    if not path.is_file():
        report.add(path, None, _NOT_A_FILE)
    elif is_locked(path):
        report.notes.append(f"{path}: being written by a running job")
    else:
        coll = _collection_of(path.with_name(path.name.removesuffix(OPEN_SUFFIX)))
        closed = open_of_a_closed_job(coll, path) if coll is not None else None
        if closed is not None:
            report.add(path, None, f"{closed}; `archive verify --repair` leaves it: move it out of the collection")
        else:
            report.add(path, None, "incomplete file of a job that did not finish; run `archive verify --repair` on its "
                                   "collection")


def open_of_a_closed_job(coll: CollectionDir, open_warc: Path) -> str | None:
    """What an open WARC is when it is no file of a job that died (None if it may be one):
    its warcinfo names a job that has a manifest, which was written without it (a copy of a
    WARC, or one left open before its job ended). Closed by a repair, it was a WARC no
    manifest lists."""
    if not open_warc.name.endswith(".warc.gz" + OPEN_SUFFIX):
        return None
    try:
        job = warcinfo_job_id(open_warc)
    except OSError:
        return None
    if job is None or not coll.manifest(job).is_file():
        return None
    return f"an open WARC of job {job}, whose manifest does not list it (a copy, or a file left open from before the job ended)"


def warcinfo_job_id(path: Path) -> str | None:
    """The ``jobId`` field of the warcinfo record that opens a WARC (gzipped, its first
    member; or not, as far as its Content-Length goes), if readable."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith(b"WARC/"):
        fields, _, block = head.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:[ \t]*([0-9]+)[ \t]*\r?$", fields)
        data = fields + b"\r\n" + block[:int(length.group(1))] if length is not None else b""
    else:
        try:
            data = zlib.decompressobj(31).decompress(head, 1 << 16)
        except zlib.error:
            return None
    for line in data.split(b"\r\n"):
        if line.startswith(b"jobId:"):
            return line[6:].strip().decode("utf-8", "replace")
    return None


# -- collections, manifests, chain ----------------------------------------------------------


def remote_receipt(coll: CollectionDir, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The receipt `archive push --delete-local` left for a WARC it removed, if it matches."""
    path = coll.receipt(entry["path"].rsplit("/", 1)[-1])
    try:
        receipt = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if receipt.get("sha256") != entry.get("sha256") or receipt.get("size") != entry.get("size"):
        return None
    return receipt


def local_manifests(coll: CollectionDir) -> list[ManifestFile]:
    """The collection's manifests as read (parsed where they parse), with their sidecars."""
    found = []
    for path, doc, raw in iter_manifests(coll):
        sidecar = path.with_name(path.name + SIDECAR)
        text = sidecar.read_text("utf-8", "replace") if sidecar.is_file() else None
        found.append(ManifestFile(path, path.name, raw, doc, text))
    return found


def _check_collection(coll: CollectionDir, report: Report, only: Path | None = None) -> None:
    for sub in coll.not_directories():
        report.add(sub, None, f"not a directory: the collection's {sub.name} cannot be read")
    pulled_from = coll.unfinished_pull()
    if pulled_from is not None:
        report.add(coll.root, None, f"an `archive pull` from {pulled_from} into it did not finish (its manifests come "
                                    "last): run it again")
    renamed = coll.renamed_from()
    if renamed is not None:
        report.add(coll.manifests, None, renamed)
    manifests = local_manifests(coll)
    docs = check_manifests(manifests, report, only.name if only is not None else None)
    if only is None:
        check_manifest_folder(coll, manifests, report)
    # Every file check is planned first and run at once (on every core when worth it);
    # the results are then reported in this same order.
    checks = FileChecks()
    steps: list[Callable[[], None]] = []
    listed: dict[str, tuple[Path | str, dict[str, Any]]] = {}
    refs: list[tuple[Path, LogRefs]] = []  # what each closed capture log says of records
    stated: set[str] = set()  # listed files gone, whose loss is stated
    for m, index, entry in listed_entries(docs):
        listed[entry["path"]] = (m.label, entry)
        target = coll.root / entry["path"]
        if not target.is_file():
            receipt = remote_receipt(coll, entry)
            statement = loss_statement(coll, entry) if receipt is None and not target.exists() else None
            if receipt is not None:
                report.notes.append(f"{target}: deleted locally after its copy at {receipt['url']} was verified")
            elif statement is not None:
                report.notes.append(f"{target}: lost, {said(statement)}")
                report.lost += 1
                stated.add(entry["path"])
            else:
                report.add(m.label, f"files[{index}]", f"{entry['path']} is "
                           + ("not a file" if target.exists() else
                              f"missing: restore it (`archive pull` if it was pushed), or, if it is gone for good, "
                              f"state it: `archive verify {coll.root} --accept-loss {entry['path']} --reason TEXT`"))
            continue
        if entry.get("kind") == "warc":
            steps.append(partial(_warc_result, target, checks.warc(target, hashed=True), report, entry))
        elif entry.get("kind") == "capture-log":
            steps.append(partial(_log_result, target, checks.log(target, hashed=True), report, entry, refs))
        else:
            steps.append(partial(_file_result, target, checks.hash(target), report, entry))
    if only is None:
        _plan_unlisted(coll, listed, checks, steps, report, refs)
    checks.run()
    for step in steps:
        step()
    if only is None:
        _check_pointers(coll, listed, refs, report)
        _check_revisits(refs, report, lost_logs=[p for p in stated if p.endswith(".captures.jsonl")])
        _check_article_tables(coll, report)
        _check_statements(coll, listed, report)


def _check_article_tables(coll: CollectionDir, report: Report) -> None:
    """Each job's article table is the one its ``.derived.json`` records (SHA-256): the
    tables are derived, not listed by the manifests, and an edit of one (a headline made up)
    went unseen by verify while history showed it and export refused it."""
    if is_locked(coll.extract_lock):
        report.notes.append(f"{coll.articles}: an extraction is running; the article tables were not checked")
        return
    for name in listed_sizes(coll.articles, ".jsonl"):
        table = coll.articles / name
        try:
            differs = _unlike_its_record(table)
            if differs is not None and not is_locked(coll.extract_lock):
                # (read again: an extraction that began since rewrote the table and its record)
                differs = _unlike_its_record(table)
            else:
                differs = None  # (one runs now: the table and its record are being made again)
        except OSError as exc:
            report.add(table, None, f"cannot be read ({exc.strerror or exc})")
            continue
        if differs is not None:
            sidecar, actual, recorded = differs
            report.add(table, "sha256", f"is not the table its {sidecar} records ({actual}; it records "
                                        f"{recorded}): it was changed after it was made; `{coll.command('extract')}` "
                                        "makes it again")


def refuse_unless_chain_whole(coll: CollectionDir, doing: str) -> None:
    """:class:`StoreError` with :func:`first_manifest_problem` and ``doing`` (what was
    therefore not done), if there is one: export and extract build on every job."""
    problem = first_manifest_problem(coll)
    if problem is not None:
        raise StoreError(f"{problem}; run `archive verify {coll.root}`; {doing}")


def _unlike_its_record(table: Path) -> tuple[str, str, str] | None:
    """An article table's record (its ``.derived.json``'s name), its SHA-256 and the one the
    record gives, where they differ; None where they agree, or there is no record (a table
    made before tables recorded their digest, or an extraction killed: export says so)."""
    recorded = recorded_sha256(table)
    if recorded is None:
        return None
    actual = sha256_file(table)[0]
    return None if actual == recorded[1] else (recorded[0].name, actual, recorded[1])


def _check_pointers(coll: CollectionDir, listed: dict[str, Any], refs: list[tuple[Path, LogRefs]],
                    report: Report) -> None:
    """Every WARC a capture log points into is in the collection (or listed by a manifest,
    which says where it went): a WARC removed before ``--repair`` wrote its job's manifest
    left the log's lines pointing at nothing, and nothing said so."""
    # (one left open, its close failed, is there under its .open name: reported as such)
    here = {name.removesuffix(OPEN_SUFFIX) for name in listed_sizes(coll.warcs, (".warc.gz", ".warc.gz" + OPEN_SUFFIX))}
    for path, found in refs:
        for name, number in found.warcs.items():
            if name not in here and f"warcs/{name}" not in listed:
                report.add(path, f"line {number}", f"points into {name}, which is not in the collection nor "
                                                   "listed by any manifest")


def first_manifest_problem(coll: CollectionDir) -> str | None:
    """The first problem of a collection's manifests and their folder (schema, sidecars,
    chain, the newest one written gone), or None: what is built on all of a collection's jobs
    (an export, the article tables) is not built on a chain that misses one."""
    report = Report()
    manifests = local_manifests(coll)
    check_manifests(manifests, report)
    check_manifest_folder(coll, manifests, report)
    return None if report.ok else str(report.problems[0])


def check_manifest_folder(coll: CollectionDir, manifests: list[ManifestFile], report: Report) -> None:
    """What the manifests' folder says beside the manifests read (``manifests``): the newest
    one written here gone, an entry named like one that is no file, a lone sidecar."""
    highest = max((m.doc["sequence"] for m in manifests if isinstance(m.doc, dict)
                   and isinstance(m.doc.get("sequence"), int)), default=0)
    lost = lost_newest(coll, highest)
    if lost is not None:
        report.add(coll.manifests, None, f"the manifest of job {lost[1]['job_id']} (sequence {lost[0]}), the "
                                         f"newest written here ({HEAD} names it), is missing: restore it")
    else:
        _check_head(coll, manifests, report)
    _check_lone_sidecars(coll, report)


def _check_head(coll: CollectionDir, manifests: list[ManifestFile], report: Report) -> None:
    """The note of the newest manifest written here (:data:`HEAD`) names a manifest of the
    chain as it was written: it alone tells that newest one lost, so one that cannot be read,
    or names another, hides such a loss (and repair takes the job for a killed one)."""
    path = coll.root / HEAD
    try:
        note = noted_head(coll)
    except ValueError as exc:
        report.add(path, None, f"{exc}: not a note of the newest manifest written here, so one lost since would go "
                               "unsaid; once sure none is (`archive pull` puts back those pushed), remove it, and the "
                               "next manifest written is noted")
        return
    if note is None:  # (no manifest written yet, or a store restored by `archive pull`, which does not bring it)
        return
    sequence, pointer, _ = note
    named = next((m for m in manifests if m.job_id == pointer["job_id"]), None)
    if named is None and coll.manifest(pointer["job_id"]).is_file():
        return  # (written since the manifests were read: a job ended meanwhile, and noted it)
    if named is None:
        report.add(path, None, f"notes the manifest of job {pointer['job_id']} (sequence {sequence}) as the newest "
                               "written here, and it is not there: restore it (`archive pull`); if it never was, the "
                               "note is damaged: remove it, and the next manifest written is noted")
        return
    hashed = "sha256:" + hashlib.sha256(named.raw).hexdigest()
    now = named.doc.get("sequence") if named.doc is not None else None
    if hashed != pointer["sha256"] or (isinstance(now, int) and now != sequence):
        report.add(path, None, f"notes {named.name} as the newest manifest written here, sequence {sequence} hashing "
                               f"to {pointer['sha256']}, but it is sequence {now} hashing to {hashed}: changed since "
                               "it was written; restore it (`archive pull`)")


def _check_lone_sidecars(coll: CollectionDir, report: Report) -> None:
    """A manifest's sidecar is written just before the manifest: one without it is a write
    that did not finish, or a manifest removed since."""
    try:
        names = set(os.listdir(coll.manifests))
    except OSError:
        return
    for name in sorted(names):
        if name.endswith(".json") and not (coll.manifests / name).is_file():
            report.add(coll.manifests / name, None, _NOT_A_FILE_NAMED_SO)
        job = name.removesuffix(".json" + SIDECAR)
        if name.endswith(".json" + SIDECAR) and name.removesuffix(SIDECAR) not in names \
                and is_locked(coll.job_file(job)) and not coll.manifest(job).exists():
            # (a job writes its manifest's sidecar, then its manifest, holding its job file)
            report.notes.append(f"{coll.manifests / name}: the manifest of running job {job} is being written")
        elif name.endswith(".json" + SIDECAR) and name.removesuffix(SIDECAR) not in names \
                and not coll.manifest(job).exists():
            report.add(coll.manifests / name, None, f"the sidecar of a manifest that is not there, "
                       f"{name.removesuffix(SIDECAR)} (removed, or its write did not finish): restore the manifest "
                       "from a copy (`archive pull`); if a kill cut its write short and none was ever pushed, move "
                       "the sidecar aside, and `archive verify --repair` writes the job an `interrupted` one")


def _check_revisits(refs: list[tuple[Path, LogRefs]], report: Report, lost_logs: list[str] | None = None) -> None:
    """Every revisit a capture log records refers to a capture that a log of the collection
    records, with the same payload digest: replay and datasets take the revisit's payload
    from that record. Where a capture log's loss is stated (``lost_logs``), a revisit of a
    record no log records may have been of one of its captures: a note, not a problem."""
    wanted = {refers_to for _, found in refs for _, refers_to, _ in found.revisits}
    if not wanted:
        return
    originals = original_digests([path for path, _ in refs], wanted)
    for path, found in refs:
        unknown = [(number, refers_to) for number, refers_to, _ in found.revisits if refers_to not in originals]
        if unknown and lost_logs:
            report.notes.append(f"{path}: {len(unknown)} revisit(s) of records that no capture log here records "
                                f"(the first on line {unknown[0][0]}), perhaps recorded by {', '.join(sorted(lost_logs))}, "
                                "stated lost")
            unknown = []
            found_revisits = [r for r in found.revisits if r[1] in originals]
        else:
            found_revisits = found.revisits
        summed = len(unknown) > 3  # (one log lost: a line for each of its captures revisited since is no clearer)
        if summed:
            report.add(path, f"line {unknown[0][0]}", f"a revisit of {unknown[0][1]}, a record that no capture-log "
                                                      "line of the collection records")
            report.add(path, f"lines {unknown[1][0]} to {unknown[-1][0]}", f"{len(unknown) - 1} more revisits of "
                                                                           "records that no capture-log line of the "
                                                                           "collection records")
        for number, refers_to, digest in found_revisits:
            known = originals.get(refers_to)
            if known is None and not summed:
                report.add(path, f"line {number}", f"a revisit of {refers_to}, a record that no capture-log line "
                                                   "of the collection records")
            elif known is not None and digest is not None and known != digest:
                report.add(path, f"line {number}", f"a revisit with payload digest {digest} of {refers_to}, whose "
                                                   f"capture-log line says {known}")


def _check_statements(coll: CollectionDir, listed: dict[str, tuple[Path | str, dict[str, Any]]],
                      report: Report) -> None:
    """Every statement of loss (``lost/``) is of a file a manifest lists, with the size and
    SHA-256 listed: one of other bytes excuses nothing, and is said."""
    for path in statements(coll):
        statement = read_statement(path)
        if statement is None:
            report.add(path, None, "not a statement of loss (not a JSON object)")
            continue
        entry = listed.get(str(statement.get("path")), (None, {}))[1]
        if not of_the_listed(statement, entry) or not named_for(path.name, statement):
            report.add(path, None, excusing_nothing(statement))
        elif (coll.root / entry["path"]).is_file():
            report.notes.append(f"{coll.root / entry['path']}: {said(statement)}; it is here again, and checked")


def _warc_result_unlisted(path: Path, result: Callable[[], Checked], report: Report, unlisted: str) -> None:
    _warc_result(path, result, report, None)
    report.add(path, None, unlisted)


def _unlisted(coll: CollectionDir, job: str | None) -> str:
    """What to say of a closed file no manifest lists, written by ``job`` (None: unknown):
    ``archive verify --repair`` lists it only in the manifest it writes for a job that died
    before writing one, from that job's file."""
    if coll.unfinished_pull() is not None:
        return "not listed in any manifest yet: the `archive pull` that brought it did not finish; run it again"
    if job is not None and coll.manifest(job).exists():
        return (f"not listed in any manifest, though its job {job} has one (the file came after the job ended, or "
                "was left out of it); `archive verify --repair` does not change a job's manifest")
    if job is not None and coll.manifest(job).with_name(coll.manifest(job).name + SIDECAR).exists():
        return (f"not listed in any manifest, as its job {job}'s is missing (its sidecar is there): restore the "
                "manifest from a copy (`archive pull`), or, if a kill cut its write short, see its sidecar")
    if job is None or not coll.job_file(job).is_file():
        which = f"its job's file (logs/{job}.job.json)" if job is not None else "the job that wrote it (no jobId)"
        return (f"not listed in any manifest; `archive verify --repair`, which lists a killed job's files, cannot "
                f"name {which}")
    return "not listed in any manifest; run `archive verify --repair` if its job was killed"


def _plain_unlisted(coll: CollectionDir, plain: Path, listed: dict[str, Any], report: Report) -> None:
    """An uncompressed WARC no manifest lists: no job writes one (its files are gzipped, and
    ``archive verify --repair`` closes only those), so it is a copy (``gunzip``) or another
    tool's file, passed over by extraction and export, and its records are not read here
    (`archive verify FILE` reads them): it is no file of the collection's."""
    report.files += 1
    try:
        job = warcinfo_job_id(plain)
    except OSError as exc:
        report.add(plain, None, f"cannot be read ({exc.strerror or exc})")
        return
    whose = f"its warcinfo names job {job}" if job is not None else "its warcinfo names no job"
    gzipped = f"warcs/{plain.name}.gz"
    if gzipped in listed and not (coll.root / gzipped).exists():
        # (gunzip in place: the listed bytes were one gzip member a record; gzip makes other bytes)
        report.add(plain, None, f"not listed in any manifest: an uncompressed WARC ({whose}) beside "
                                f"{gzipped}, which a manifest lists and is gone (gunzipped in place?); gzip does "
                                "not make the listed bytes again: restore that file from a copy (`archive pull` if "
                                "it was pushed), and move this one out of the collection")
        return
    report.add(plain, None, f"not listed in any manifest: an uncompressed WARC ({whose}), which no job writes "
                            "(a copy made with gunzip, or another tool's file); `archive verify --repair` lists only "
                            "a job's .warc.gz files: move it out of the collection")


def _log_result(path: Path, result: Callable[[], Checked], report: Report,
                entry: dict[str, Any] | None, refs: list[tuple[Path, LogRefs]] | None = None,
                unlisted: str = "") -> None:
    """``entry``: the log's in its manifest, or None with what to say of it (``unlisted``)."""
    checked = result()
    if refs is not None and checked.refs is not None:
        refs.append((path, checked.refs))
    report.files += 1
    _add_all(report, path, checked)
    if entry is not None:
        _compare_entry(path, entry, report, checked, records=checked.units)
    else:
        report.add(path, None, unlisted)


def _file_result(path: Path, result: Callable[[], Checked], report: Report, entry: dict[str, Any]) -> None:
    report.files += 1
    _compare_entry(path, entry, report, result())


def _plan_unlisted(coll: CollectionDir, listed: dict[str, Any], checks: FileChecks, steps: list[Callable[[], None]],
                   report: Report, refs: list[tuple[Path, LogRefs]]) -> None:
    """Files the manifests do not list: a running job's, or a killed job's leftovers."""
    live = set(running_jobs(coll))

    def note(message: str) -> Callable[[], None]:
        return lambda: report.notes.append(message)

    def problem(path: Path, message: str) -> Callable[[], None]:
        return lambda: report.add(path, None, message)

    for warc in sorted(coll.warcs.glob("*.warc.gz")) if coll.warcs.is_dir() else []:
        if f"warcs/{warc.name}" not in listed and not warc.is_file():
            steps.append(problem(warc, _NOT_A_FILE_NAMED_SO))
        elif f"warcs/{warc.name}" not in listed:
            job = warcinfo_job_id(warc)
            if job in live:
                steps.append(note(f"{warc}: written by running job {job}"))
            else:
                steps.append(partial(_warc_result_unlisted, warc, checks.warc(warc, hashed=False), report,
                                     _unlisted(coll, job)))
    for plain in sorted(coll.warcs.glob("*.warc")) if coll.warcs.is_dir() else []:
        if f"warcs/{plain.name}" not in listed:
            steps.append(problem(plain, _NOT_A_FILE_NAMED_SO) if not plain.is_file()
                         else partial(_plain_unlisted, coll, plain, listed, report))
    for open_file in sorted(coll.warcs.glob("*" + OPEN_SUFFIX)) if coll.warcs.is_dir() else []:
        steps.append(partial(_check_open, open_file, report))
    for log in sorted(coll.logs.glob("*.captures.jsonl")) if coll.logs.is_dir() else []:
        job = log.name.split(".")[0]
        if f"logs/{log.name}" not in listed and not log.is_file():
            steps.append(problem(log, _NOT_A_FILE_NAMED_SO))
        elif f"logs/{log.name}" not in listed and job not in live:
            steps.append(partial(_log_result, log, checks.log(log, hashed=False), report, None, refs,
                                 _unlisted(coll, job)))
    for open_log in sorted(coll.logs.glob("*.captures.jsonl" + OPEN_SUFFIX)) if coll.logs.is_dir() else []:
        if not open_log.exists() and not open_log.is_symlink():
            continue  # (closed since it was listed: its job ended meanwhile)
        if not open_log.is_file():
            steps.append(problem(open_log, _NOT_A_FILE))
        elif open_log.name.split(".")[0] in live:
            steps.append(note(f"{open_log}: being written by a running job"))
        else:
            steps.append(problem(open_log, "incomplete log of a job that did not finish; run `archive verify --repair`"))


def _check_sidecar(m: ManifestFile, report: Report) -> None:
    sidecar_name = m.name + SIDECAR
    if m.sidecar is None:
        report.add(m.label, None, f"sidecar {sidecar_name} is missing")
        return
    actual = hashlib.sha256(m.raw).hexdigest()
    if not sidecar_names(m.sidecar, actual):
        report.add(m.label, None, f"does not match its sidecar {sidecar_name} (file hashes to {actual})")


def _check_config(m: ManifestFile, report: Report) -> None:
    """The job's configuration against its hash, and its schedule as a job would read it
    (the schema takes any string for a cron expression or a time zone)."""
    config = m.doc["config"]  # type: ignore[index]
    hashed = config_hash(config)
    if hashed != m.doc["config_sha256"]:  # type: ignore[index]
        report.add(m.label, "config_sha256", f"does not match the manifest's config (hashed, it gives {hashed}): "
                   "the config was changed after the job")
    try:
        check_schedule(config, "config")
    except ConfigError as exc:
        field, _, message = str(exc).partition(": ")[2].partition(": ")
        report.add(m.label, f"config/{field}", message)


def _check_agreement(m: ManifestFile, report: Report) -> None:
    """What a manifest says that its own name and fields contradict (an edit whose sidecar
    was written again to match passes the digests, not these)."""
    doc = m.doc
    assert doc is not None
    if doc["job_id"] != m.job_id:
        report.add(m.label, "job_id", f"{doc['job_id']!r} is not the job the file is named for ({m.job_id!r})")
    if not doc["job_id"].startswith(doc["collection"] + "-"):
        report.add(m.label, "collection", f"{doc['collection']!r} is not the collection of job {doc['job_id']!r}")
    try:
        backwards = datetime.fromisoformat(doc["finished"]) < datetime.fromisoformat(doc["started"])
    except (TypeError, ValueError):  # (one without a zone, or not a time: for the schema to say)
        backwards = False
    if backwards:
        report.add(m.label, "finished", f"{doc['finished']} is before the job started ({doc['started']})")
    seen: set[str] = set()
    for number, entry in enumerate(doc["files"]):
        if entry["path"] in seen:
            report.add(m.label, f"files/{number}/path", f"{entry['path']} is listed twice")
        seen.add(entry["path"])


def _check_chain(manifests: list[ManifestFile], report: Report, only: str | None) -> None:
    by_seq: dict[int, ManifestFile] = {}
    for m in manifests:
        seq = m.doc.get("sequence") if m.doc else None
        if not isinstance(seq, int):
            continue
        if seq in by_seq:
            report.add(m.label, "sequence", f"sequence {seq} also used by {by_seq[seq].name} (the chain forks)")
            continue
        by_seq[seq] = m
    for seq in sorted(by_seq):
        m = by_seq[seq]
        if only is not None and m.name != only:
            continue
        assert m.doc is not None  # only parsed manifests have a sequence
        previous = m.doc.get("previous")
        if seq == 1:
            if previous is not None:
                report.add(m.label, "previous", "the first manifest of a collection must have previous = null")
            continue
        before = by_seq.get(seq - 1)
        if before is None:
            report.add(m.label, "sequence", f"manifest {seq - 1} of the chain is missing")
            continue
        if not isinstance(previous, dict):
            report.add(m.label, "previous", "missing link to the previous manifest")
            continue
        expected = "sha256:" + hashlib.sha256(before.raw).hexdigest()
        if previous.get("sha256") != expected:
            report.add(m.label, "previous.sha256", f"says {previous.get('sha256')}, but {before.name} hashes to {expected}")
        if previous.get("job_id") != before.job_id:
            report.add(m.label, "previous.job_id", f"says {previous.get('job_id')}, but manifest {seq - 1} is {before.job_id}")
