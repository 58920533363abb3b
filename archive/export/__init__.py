"""``archive export``: a dataset researchers can trust and open with ordinary tools.

OUTDIR receives ``<collection>.wacz`` (WACZ 1.1.1: the selected records, a CDXJ index,
pages), the article table as ``articles.jsonl`` and ``articles.parquet`` (every row's
pointer valid inside the WACZ), ``DATASHEET.md`` with ``captures-per-day.svg``, and a
Frictionless ``datapackage.json`` listing every file with SHA-256 and size, optionally
signed (``datapackage.json.sig``). The same input gives the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive import __version__
from archive.capture_log import ERRED_OUTCOMES, favicon_absent, robots_txt_absent
from archive.config import allow_hosts_problem
from archive.digests import DERIVED_SUFFIX, recorded_sha256, unlike_its_listing
from archive.errors import StoreError, UsageError
from archive.export.datasheet import chart_svg, datasheet, outcome_of
from archive.export.select import Selection, scan, select, write_selected
from archive.export.signing import (
    SIGNATURE_FILE,
    key_fingerprint,
    load_private_key,
    signer_fingerprint,
    write_signature,
)
from archive.export.wacz import _file_sha256, _json, pages_jsonl, write_wacz
from archive.jsonl import rows_refusing_bad
from archive.losses import lost_in
from archive.manifest import REPAIRED_AT, jobs_in_order
from archive.store import CollectionDir, collection_dir, no_collection, no_extraction
from archive.urls import host_in_scope, host_of, host_pattern, port_of

log = logging.getLogger(__name__)

ARTICLE_COLUMNS = ["article_id", "url", "canonical_url", "headline", "authors", "published", "modified", "language",
                   "section", "description", "image", "inferred", "body", "word_count", "status", "version",
                   "previous_version", "job_id", "source", "extractor"]


@dataclass
class ExportResult:
    out: Path
    wacz: Path
    captures: int
    articles: int  # article rows: each version of an article, and each withdrawal, a row
    files: list[dict[str, Any]]
    signature: Path | None
    article_ids: int = 0  # articles: the rows' distinct article ids


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):  # (not the week dates and compact forms ISO allows)
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None


def export_dataset(store: Path, collection: str, out: Path, *, date_from: date | None = None,
                   date_to: date | None = None, host: str | None = None,
                   sign_key: Path | None = None, waiting: Callable[[str], None] | None = None) -> ExportResult:
    """``waiting``: told why, when the export waits for an extraction of the collection to
    end before it reads the article tables."""
    coll = collection_dir(Path(store), collection)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise UsageError(f"--from {date_from} is after --to {date_to}: no day is in between")
    problem = allow_hosts_problem(host) if host is not None else None
    if problem is not None:  # (it would match no capture, said as if the collection had none of it)
        raise UsageError(f"--host {problem}")
    if Path(store).resolve() in (Path(out).resolve(), *Path(out).resolve().parents):
        # (its files would be taken for the collection's: listed by nobody, pushed, and in the way)
        raise UsageError(f"{out} is inside the store {store}; export to a directory outside it")
    if not coll.manifests.is_dir():
        raise UsageError(no_collection(Path(store), collection))
    jobs = [doc for _, doc in jobs_in_order(coll, doing="nothing was exported")]
    from archive.verify import refuse_unless_chain_whole

    refuse_unless_chain_whole(coll, "nothing was exported")
    if not jobs:
        raise UsageError(no_collection(Path(store), collection))
    key = load_private_key(sign_key) if sign_key is not None else None  # (a bad key said before any file is read)
    with no_extraction(coll, waiting):
        _whole(coll, jobs)
    foreign = _not_ours(out, [f"{collection}.wacz", "articles.jsonl", "articles.parquet", "DATASHEET.md",
                              "captures-per-day.svg", "datapackage.json", SIGNATURE_FILE])
    if foreign:
        raise UsageError(f"{out / foreign[0]} is not of an earlier export of this tool, and an export would write over "
                         "it: export to another directory, or move it away")
    # Files gone for good, their loss stated (archive.losses): what was in them is left out,
    # and the datasheet says so.
    lost = lost_in(coll, [f for job in jobs for f in job["files"] if f["kind"] in ("warc", "capture-log")])
    listed = {coll.root / f["path"]: f for job in jobs for f in job["files"]
              if f["kind"] == "warc" and f["path"] not in lost}
    lost_warcs = {path.rsplit("/", 1)[-1] for path, statement in lost.items() if statement.get("kind") == "warc"}
    _replaceable(out, collection, {w.name for w in listed} | lost_warcs, key)
    warcs = list(listed)
    missing = [w for w in warcs if not w.is_file()]
    if missing:
        if coll.receipt(missing[0].name).is_file():  # (sent away by `archive push --delete-local`)
            raise UsageError(f"{missing[0]} was pushed with --delete-local and is not in the local store; "
                             "`archive pull` it first")
        gone = "" if missing[0].exists() else (
            f"; if it is gone for good, `archive verify {coll.root} --accept-loss "
            f"{listed[missing[0]]['path']} --reason TEXT` states its loss, and export then leaves it out")
        raise StoreError(f"{missing[0]} is listed by a manifest but is "
                         f"{'not a file' if missing[0].exists() else 'missing'}, and was not pushed away: restore it "
                         f"(`archive pull` if it was pushed); run `archive verify {coll.root}`{gone}; "
                         "nothing was exported")

    def in_range(when: str, url: str) -> bool:
        day = date.fromisoformat(when[:10])
        return ((date_from is None or day >= date_from) and (date_to is None or day <= date_to)
                and (host is None or host_in_scope(host_of(url), [host], port_of(url))))

    scanned = scan(warcs, listed, doing=f"run `archive verify {coll.root}`; nothing was exported")
    selection = select(scanned, lambda r: in_range(r.fields["warc-date"], r.fields.get("warc-target-uri", "")),
                       originals_lost=bool(lost_warcs))
    if not selection.matched:
        raise UsageError(_none_matched(collection, scanned, (date_from, date_to, host))
                         + (("; 1 file of the collection is stated lost, and what was in it is not exported"
                             if len(lost) == 1 else f"; {len(lost)} files of the collection are stated lost, and what "
                             "was in them is not exported") if lost else ""))
    lines = _log_lines(coll, jobs, in_range, lost)
    for line in lines:  # (a capture left out for a stated loss: not in the export's statuses)
        line["left_out"] = line["outcome"] == "captured" and (line["warc_filename"] in lost_warcs
                                                              or line["record_id"] in selection.unfounded)
    # The first directory of ``out``'s path this export makes, removed again if it fails: an
    # empty or half dataset would look like a real one.
    made = next((p for p in reversed((out, *out.parents)) if not p.exists()), None)
    # Everything is made under a work directory and moved into ``out`` once it is all there,
    # the data package last: an export that fails (a full disk, a bad key) leaves an
    # earlier export in ``out`` as it was, not half of each.
    work = out / ".export-work"
    stage = work / "out"
    try:
        out.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        stage.mkdir(parents=True)
        moved = write_selected(selection, work / "warcs")
        new_warcs = sorted((work / "warcs").glob("*.warc.gz"))
        chosen = [selection.by_id[rid][1] for rid in selection.chosen]
        created = max(datetime.fromisoformat(r.fields["warc-date"]) for r in chosen)
        with no_extraction(coll, waiting):  # (one made anew since they were checked is checked again)
            _whole(coll, jobs)
            rows, rows_lost, row_urls = _articles(coll, jobs, moved, selection, in_range, lost_warcs)
        index = _index(new_warcs, work / "indexes")
        config = jobs[-1]["config"]
        dataset = config.get("dataset", {})
        title = f"{collection} web archive"
        pages = pages_jsonl(title, [{"id": f"{r['article_id']}-{r['version']}", "url": r["url"],
                                     "ts": r["source"]["capture_time"], "title": r["headline"] or r["url"]}
                                    for r in rows if r["status"] == "captured"])
        wacz = out / f"{collection}.wacz"
        write_wacz(stage / wacz.name, warcs=new_warcs, index=index, pages=pages, title=title,
                   description=dataset.get("description", ""), created=created)
        (stage / "articles.jsonl").write_bytes(
            "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
        _parquet(rows, stage / "articles.parquet")
        (stage / "captures-per-day.svg").write_text(chart_svg(_per_day(lines)), "utf-8")
        facts = _facts(collection, jobs, lines, rows, chosen, selection.matched, new_warcs, created, dataset,
                       title, (date_from, date_to, host), wacz.name, key is not None)
        # (pages of the export that are in no row: lists, pages too short for an article, copies)
        facts["pages_without_rows"] = len({l["url"] for l in lines if l["outcome"] == "captured" and not l["left_out"]
                                           and 200 <= (l.get("status") or 0) < 300
                                           and l.get("mime") in ("text/html", "application/xhtml+xml")} - row_urls)
        facts["lost"] = _losses(lost, lines, lost_warcs, len(selection.unfounded), rows_lost)
        if facts["lost"] is not None:
            facts["lost"]["filtered"] = facts["filtered"]
        (stage / "DATASHEET.md").write_text(datasheet(facts), "utf-8")
        files = []
        for name, fmt, media in [(wacz.name, "wacz", "application/wacz"),
                                 ("articles.jsonl", "jsonl", "application/jsonl"),
                                 ("articles.parquet", "parquet", "application/vnd.apache.parquet"),
                                 ("DATASHEET.md", "md", "text/markdown"),
                                 ("captures-per-day.svg", "svg", "image/svg+xml")]:
            path = stage / name
            files.append({"name": name.lower().replace(".", "-").replace("_", "-"), "path": name, "format": fmt,
                          "mediatype": media, "bytes": path.stat().st_size, "hash": _file_sha256(path)})
        package = {
            "profile": "data-package",
            "name": collection,
            "title": title,
            "description": dataset.get("description", ""),
            "licenses": [{"name": dataset["license"]}] if dataset.get("license") else [],
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software": f"archive-corpus {__version__}",
            "resources": files,
        }
        package_bytes = _json(package)
        (stage / "datapackage.json").write_bytes(package_bytes)
        staged_signature = write_signature(stage, package_bytes, key) if key is not None else None
        # The data package last; an earlier export's signature, which does not cover this
        # one's data package, goes with the earlier files (_replaceable let it go only for
        # one by the same key, made again here).
        # (the files an earlier export of this dataset listed and this one does not make go
        # too: left beside this one's, they made the directory no dataset)
        made_now = [f["path"] for f in files]
        _swap_in(stage, out, made_now + [n for n in _earlier_files(out) if n not in made_now]
                 + ["datapackage.json", SIGNATURE_FILE], work / "earlier")
        signature = out / staged_signature.name if staged_signature is not None else None
    except BaseException:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ExportResult(out, wacz, len(selection.matched), len(rows), files, signature,
                        article_ids=len({r["article_id"] for r in rows}))


def _none_matched(collection: str, scanned: Selection, filt: tuple[date | None, date | None, str | None]) -> str:
    """Why an export has no capture: the collection has none, or the filter (named) took
    none of those it has (their days and their hosts, a few, said)."""
    captures = [r for _, r in scanned.by_id.values() if r.type in ("response", "revisit")]
    if not captures:
        return f"collection {collection!r} has no captures (its jobs recorded no response); nothing to export"
    date_from, date_to, host = filt
    options = " ".join(f"{name} {value}" for name, value in (("--from", date_from), ("--to", date_to),
                                                              ("--host", host)) if value is not None)
    days = sorted({r.fields["warc-date"][:10] for r in captures})
    when = f"on {days[0]}" if len(days) == 1 else f"from {days[0]} to {days[-1]}"
    hosts = [h for h, _ in Counter(host_pattern(r.fields.get("warc-target-uri", "")) for r in captures).most_common()]
    shown = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
    return f"no captures match {options}; nothing to export (collection {collection!r} has captures {when}, of {shown})"


def _whole(coll: CollectionDir, jobs: list[dict[str, Any]]) -> None:
    """Refuse to export a collection whose article tables are not what they say (its
    manifests are checked before, by :func:`~archive.verify.refuse_unless_chain_whole`): an
    export made of them was a smaller or another collection, said to be the whole (a
    manifest missing from the chain left its job out, a table missing left its articles out,
    an edited one put its words in the dataset, to be signed)."""
    extract = f"`{coll.command('extract')}` makes it again; nothing was exported"
    for job in jobs:
        table = coll.articles / f"{job['job_id']}.jsonl"
        derived = recorded_sha256(table)
        try:
            actual = _file_sha256(table)
        except FileNotFoundError:
            raise StoreError(f"job {job['job_id']} has no article table ({table} is missing): "
                             f"{_extracting(coll, job) or extract}") from None
        except OSError as exc:
            raise StoreError(f"{table} cannot be read ({exc.strerror or exc}): {extract}") from None
        if derived is None:
            raise StoreError(f"{table.with_name(table.stem + DERIVED_SUFFIX)} is missing or cannot be read: {extract}")
        if derived[1] != actual:
            raise StoreError(f"{table} is not the table its {derived[0].name} describes ({actual}; it records "
                             f"{derived[1]}): {extract}")


def _extracting(coll: CollectionDir, job: dict[str, Any]) -> str | None:
    """What to say of a job's table missing where its crawl may still be making it (a job's
    end writes its manifest, then extracts: an export begun between the two found none), or
    None. (Not a job whose manifest a repair wrote: a repair extracts nothing.)"""
    import time

    from archive.store import is_locked

    try:
        fresh = time.time() - coll.manifest(job["job_id"]).stat().st_mtime < 120 \
            and not str(job.get("finish_reason", "")).startswith(REPAIRED_AT)
    except OSError:
        fresh = False
    if fresh or is_locked(coll.extract_lock):
        return ("the job has just ended and its crawl may still be extracting its articles: export again in a "
                f"moment (if it stays missing, `{coll.command('extract')}` makes it); nothing was exported")
    return None


def _replaceable(out: Path, collection: str, warc_names: set[str], key: Ed25519PrivateKey | None) -> None:
    """Refuse to replace an earlier export in ``out`` that is another dataset (another
    collection's, or this collection's of another store) or that is signed by a key this
    export does not sign with: it, or its signature, would go without a word."""
    package = _earlier_package(out)
    if package is None:  # (none, or another tool's: _not_ours says so)
        return
    other = package.get("name")
    if other != collection:
        held = f"an export of collection {other!r}" if isinstance(other, str) else "an export of another collection"
    else:
        foreign = _warc_not_of(out, warc_names)
        held = (f"an export of collection {collection!r} from another store (its WARC {foreign} is not this "
                "store's)") if foreign else ""
    if held:
        raise UsageError(f"{out} holds {held}, which this export would replace: export to a new --out, or remove "
                         "the old export first")
    sig = out / SIGNATURE_FILE
    if not (sig.exists() or sig.is_symlink()):
        return
    try:
        signer: str | None = signer_fingerprint(json.loads(sig.read_bytes()))
    except (OSError, ValueError, TypeError, KeyError):
        signer = None
    if key is None or signer != key_fingerprint(key.public_key()):
        by = f"signed by {signer}" if signer is not None else f"signed ({SIGNATURE_FILE} cannot be read)"
        this = "is not signed" if key is None else f"is signed by another key, {key_fingerprint(key.public_key())},"
        raise UsageError(f"{out} holds an export {by}; this export {this} and would remove that signature: sign "
                         "with the same key (--sign-key), export to a new --out, or remove the old export first")


def _warc_not_of(out: Path, warc_names: set[str]) -> str | None:
    """A WARC of an earlier export's ``.wacz`` in ``out`` that is none of ``warc_names``
    (an export keeps the names of the store's WARCs, which name the collection, the time
    and the machine), or None; a package that cannot be read tells nothing."""
    for name in _earlier_files(out):
        if name.endswith(".wacz"):
            try:
                with zipfile.ZipFile(out / name) as zf:
                    members = zf.namelist()
            except (OSError, EOFError, zipfile.BadZipFile):
                continue
            for member in members:
                if member.startswith("archive/") and PurePosixPath(member).name not in warc_names:
                    return PurePosixPath(member).name
    return None


def _not_ours(out: Path, names: list[str]) -> list[str]:
    """Those of ``names`` in ``out`` that no earlier export of this tool made there (a user's
    own DATASHEET.md, another tool's data package): not this export's to write over."""
    ours = set(_earlier_files(out))
    if ours or _earlier_package(out) is not None:
        ours |= {"datapackage.json", SIGNATURE_FILE}
    return [n for n in names if n not in ours and ((out / n).exists() or (out / n).is_symlink())]


def _earlier_package(out: Path) -> dict[str, Any] | None:
    """The data package an earlier export of this tool left in ``out``, or None (none, or
    another tool's)."""
    try:
        package = json.loads((out / "datapackage.json").read_bytes())
        return package if str(package.get("software", "")).startswith("archive-corpus ") else None
    except (OSError, ValueError, AttributeError):
        return None


def _earlier_files(out: Path) -> list[str]:
    """The files an earlier export in ``out`` listed in its data package (plain names in
    ``out`` only; nothing else there is touched). A data package another tool made is
    not this tool's to clear: its files stay."""
    package = _earlier_package(out)
    try:
        names = [r.get("path") for r in package.get("resources", []) if isinstance(r, dict)] if package else []
    except (AttributeError, TypeError):
        return []
    return [n for n in names if isinstance(n, str) and n not in ("", ".", "..") and Path(n).name == n
            and n != "datapackage.json"]


def _swap_in(stage: Path, out: Path, names: list[str], aside: Path) -> None:
    """Put the files ``names`` made in ``stage`` in ``out``, in that order, all of them or
    none: the earlier ones of those names are first moved ``aside`` (one a name not made
    this time, a file only an earlier export listed, is only removed), and if anything
    cannot be moved, what was moved goes back, so that ``out`` holds the earlier export as
    it was."""
    aside.mkdir()
    moved_aside: list[str] = []
    placed: list[str] = []
    try:
        for name in names:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                raise StoreError(f"{target} is a directory where the export writes a file; move it away and export "
                                 "again (the earlier export, if any, is as it was)")
            if target.exists() or target.is_symlink():
                _moved(target, aside / name, target)
                moved_aside.append(name)
        for name in names:
            if (stage / name).exists():
                _moved(stage / name, out / name, out / name)
                placed.append(name)
    except BaseException:
        for name in reversed(placed):
            with contextlib.suppress(OSError):
                os.replace(out / name, stage / name)
        for name in reversed(moved_aside):
            with contextlib.suppress(OSError):
                os.replace(aside / name, out / name)
        raise


def _moved(source: Path, target: Path, shown: Path) -> None:
    """``os.replace``; its failure said of ``shown``, the export's file (the work directory
    the error would name goes with the export)."""
    try:
        os.replace(source, target)
    except OSError as exc:
        raise StoreError(f"cannot replace {shown}: {exc.strerror or exc}; the earlier export, if any, is as it "
                         "was") from None


def _articles(coll, jobs, moved, selection, in_range, lost_warcs) -> tuple[list[dict[str, Any]], int, set[str]]:  # type: ignore[no-untyped-def]
    """The rows of the export, pointers remapped into its WARCs; how many rows the filter
    took that are left out for a stated loss (their record in a lost WARC, or a revisit of
    one whose original is: see :func:`~archive.export.select.select`); and the URLs of all
    the collection's rows."""
    rows = []
    left_out = 0
    chosen = selection.chosen
    ever: set[str] = set()  # (the URLs of every row of the collection, in the filter or not)
    for job in jobs:
        path = coll.articles / f"{job['job_id']}.jsonl"
        if not path.is_file():
            continue
        for row in rows_refusing_bad(path, "article", f"`{coll.command('extract')}` writes it again; "
                                                        "nothing was exported"):
            src = row["source"]
            ever.add(row["url"])
            if not in_range(src["capture_time"], row["url"]):
                continue
            if src["warc_filename"] in lost_warcs or src["record_id"] in selection.unfounded:
                left_out += 1  # (a row pointing at nothing is no row of a dataset)
                continue
            if src["record_id"] not in chosen:
                continue
            try:
                new_offset, length = moved[(src["warc_filename"], src["warc_offset"])]
            except KeyError:
                raise StoreError(f"{path}: the row of {row['url']} points at offset {src['warc_offset']} of "
                                 f"{src['warc_filename']}, where no record of its capture is; "
                                 f"`{coll.command('extract')}` writes the table again; "
                                 "nothing was exported") from None
            row["source"] = dict(src, warc_offset=new_offset, warc_length=length)
            row.setdefault("version", 1)
            row.setdefault("previous_version", None)
            row.setdefault("inferred", [])  # (a row extracted before it was has nothing inferred in it)
            rows.append({k: row.get(k) for k in ARTICLE_COLUMNS})
    return sorted(rows, key=lambda r: (r["source"]["capture_time"], r["url"], r["version"])), left_out, ever


def _losses(lost, lines, lost_warcs, unfounded, rows_lost) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """What the datasheet says of the files stated lost: each (path, kind, size, when, why,
    who), and what the export leaves out for them: the captures the capture logs record in
    the lost WARCs (those of the filter), the revisits of captures no WARC read holds, and
    the article rows."""
    if not lost:
        return None
    in_lost = sum(1 for line in lines if line["outcome"] == "captured" and line["warc_filename"] in lost_warcs)
    logs_lost = [path for path, statement in lost.items() if statement.get("kind") == "capture-log"]
    return {"files": [{"path": path, "kind": statement.get("kind"), "size": statement.get("size"),
                       "stated": str(statement.get("stated", "?"))[:10], "reason": statement.get("reason", ""),
                       "operator": statement.get("operator")} for path, statement in sorted(lost.items())],
            "captures": in_lost, "unfounded": unfounded, "rows": rows_lost, "logs_lost": len(logs_lost),
            "warcs_lost": len(lost_warcs)}


def _parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pa.string()
    schema = pa.schema([
        ("article_id", text), ("url", text), ("canonical_url", text), ("headline", text),
        ("authors", pa.list_(text)), ("published", text), ("modified", text), ("language", text),
        ("section", text), ("description", text), ("image", text), ("inferred", pa.list_(text)), ("body", text),
        ("word_count", pa.int64()), ("status", text), ("version", pa.int64()), ("previous_version", text), ("job_id", text),
        ("source", pa.struct([("warc_filename", text), ("warc_offset", pa.int64()), ("warc_length", pa.int64()),
                              ("record_id", text), ("payload_digest", text), ("capture_time", text)])),
        ("extractor", pa.struct([("name", text), ("version", text), ("body", text), ("inferred", text)])),
    ])
    # (a file object, not the path: pyarrow takes a path with a colon for a URI, "run:1/..."
    # for a filesystem it does not know, and cannot encode one that is not UTF-8)
    with open(path, "wb") as f:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), f, compression="zstd")


def _index(warcs: list[Path], out_dir: Path) -> bytes:
    from archive.index.cdxj import index_warc

    lines: list[bytes] = []
    for warc in warcs:
        lines.extend(index_warc(warc, out_dir).read_bytes().splitlines(keepends=True))
    return b"".join(sorted(lines))


def _log_lines(coll, jobs, in_range, lost) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    lines = []
    for job in jobs:
        for entry in job["files"]:
            if entry["kind"] == "capture-log" and entry["path"] not in lost:  # (a lost one: said in the datasheet)
                for line in rows_refusing_bad(coll.root / entry["path"], "capture-log",
                                              "run `archive verify`; nothing was exported"):
                    if in_range(line["started"], line["url"]):  # (what the datasheet counts of it)
                        lines.append({"started": line["started"], "outcome": line["outcome"],
                                      "status": line.get("status"), "error": line.get("error"),
                                      "truncated": line.get("truncated"), "revisit": bool(line.get("revisit")),
                                      "job_id": job["job_id"], "robots": line.get("robots"),
                                      "url": line["url"], "mime": line.get("mime"),
                                      "warc_filename": (line.get("warc") or {}).get("filename"),
                                      "record_id": (line.get("warc") or {}).get("record_id")})
                unlike = unlike_its_listing(coll.root / entry["path"], entry)  # (lines edited, or left out)
                if unlike is not None:
                    raise StoreError(f"{unlike}: run `archive verify {coll.root}`; nothing was exported")
    return lines


def _per_day(lines: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    per_day: dict[str, Counter[str]] = {}
    for line in lines:
        if not line["left_out"]:
            per_day.setdefault(line["started"][:10], Counter())[outcome_of(line)] += 1
    return per_day


def _facts(collection, jobs, lines, rows, chosen, matched, warcs, created, dataset, title, filt,  # type: ignore[no-untyped-def]
           wacz_name, signed) -> dict[str, Any]:
    captures = [r for r in chosen if r.record_id in matched]
    times = sorted(r.fields["warc-date"] for r in captures)
    outcomes = Counter(line["outcome"] for line in lines)
    software: dict[str, str] = {}
    seeds: dict[str, dict[str, str]] = {}
    date_from, date_to, host = filt
    # (a filtered export's jobs: those with captures in it, and how many; its seeds, theirs
    # of its host; a capture left out for a stated loss is not in it)
    in_export = Counter(line["job_id"] for line in lines if line["outcome"] == "captured" and not line["left_out"])
    for job in jobs:
        software.update(job["software"])
        if any(filt) and not in_export[job["job_id"]]:
            continue
        for seed in job["seeds"]:
            if host is None or host_in_scope(host_of(seed["url"]), [host], port_of(seed["url"])):
                seeds[seed["url"]] = seed
    parts = [f"from {date_from}" if date_from else "", f"to {date_to}" if date_to else "",
             f"host {host}" if host else ""]
    return {
        "title": title, "collection": collection, "description": dataset.get("description", ""),
        "license": dataset.get("license", ""), "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "first_capture": times[0], "last_capture": times[-1],
        "filter": " ".join(p for p in parts if p) or "none (the whole collection)",
        "captured": len(captures), "revisits": sum(r.type == "revisit" for r in captures),
        "new": sum(r.type == "response" for r in captures),
        # (the records revisits of the filter's captures refer to, from outside it)
        "originals_outside": sum(r.type in ("response", "revisit") and r.record_id not in matched for r in chosen),
        "filtered": any(filt),
        "articles": len(rows), "withdrawn": sum(r["status"] == "withdrawn" for r in rows),
        "article_ids": len({r["article_id"] for r in rows}),
        # (rows whose earlier version is not among the export's: captured before its filter, or lost)
        "earlier_outside": sum(1 for r in rows if r["previous_version"]
                               and r["previous_version"] not in {o["source"]["record_id"] for o in rows}),
        "article_urls": len({r["url"] for r in rows}), "warc_files": len(warcs),
        "warc_bytes": sum(w.stat().st_size for w in warcs),
        "by_status": Counter(str(l["status"]) for l in lines if l.get("status") is not None and not l["left_out"]),
        "by_error": Counter(l["error"].split(":", 1)[0] for l in lines
                            if l["outcome"] in ERRED_OUTCOMES and l.get("error")),
        "seeds": list(seeds.values()), "software": software,
        "jobs": [{"job_id": j["job_id"], "started": j["started"], "outcome": j["outcome"],
                  "captured": in_export[j["job_id"]] if any(filt) else j["counts"]["captured"]}
                 for j in jobs if not any(filt) or in_export[j["job_id"]]],
        # (4xx and 5xx answers, recorded as captures; a robots.txt's or /favicon.ico's 4xx says
        # the site has none)
        "http_errors": sum(1 for l in lines if (l.get("status") or 0) >= 400 and not l["left_out"]
                           and not robots_txt_absent(l["status"], l.get("robots"))
                           and not favicon_absent(l["url"], l["status"])),
        "robots_policy": "obeyed" if jobs[-1]["config"].get("obey_robots", True) else "ignored",
        "failed": outcomes["failed"], "robots_disallowed": outcomes["robots-disallowed"],
        "out_of_scope": outcomes["out-of-scope"], "truncated": sum(1 for l in lines if l.get("truncated")),
        "bad_documents": sum(j["counts"].get("bad_documents", 0) for j in jobs),
        "citation": dataset.get("citation") or (f"{dataset.get('creator', 'The archive operator')}. {title}. "
                                               f"Web archive dataset, captured {times[0][:10]} to {times[-1][:10]}."),
        "signed_note": ", signed with Ed25519 in `datapackage.json.sig`" if signed else "",
        "wacz_name": wacz_name,
    }


__all__ = ["ExportResult", "export_dataset", "parse_day"]

