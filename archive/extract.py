"""Articles from archived responses: re-derived from the WARCs, never from the network.

For each job (manifest) of a collection, every HTML 200 response in the job's WARCs is
decoded (content encoding, then the charset the HTTP header, a BOM or a ``<meta>`` declares),
its metadata read from what the page declares (``archive.metadata``), its main text taken
by trafilatura, and a row written to ``articles/<job-id>.jsonl`` pointing at the record.
Pages that are not articles (home, section, tag, pagination pages) are left out: a page is
an article when it says so (JSON-LD article type, ``og:type`` article) or, failing that,
when it has a publication date and at least ``MIN_WORDS`` words of main text and does not
look like a listing (its URL, or several ``<article>`` elements). A publication date or
authors the page does not declare are inferred (``archive.metadata.inferred_metadata``),
and the row's ``inferred`` names those fields.

Output is deterministic: rows in WARC order, keys sorted, and a sidecar
``<job-id>.derived.json`` naming the source files with their SHA-256 and the tool versions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import sqlite3
from collections import ChainMap
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from warcio.archiveiterator import ArchiveIterator

from archive import __version__
from archive.article_versions import (
    VERSIONS,
    StoredVersions,
    Version,
    fold_table,
    story_digests,
    text_digest,
    version_of,
)
from archive.capture import MAX_DECODED_BYTES
from archive.digests import unlike_its_listing
from archive.errors import StoreError, UsageError
from archive.history import lost_warcs
from archive.index.cdxj import DERIVED_SUFFIX
from archive.index.records import decode_content, html_text, not_here
from archive.jsonl import rows_refusing_bad, rows_skipping_bad
from archive.losses import lost_in, statements
from archive.manifest import chain_head, jobs_in_order, parsed, problem_of
from archive.metadata import inferred_metadata, page_metadata, parse_html
from archive.moves import continue_moved, redirects
from archive.store import (
    CollectionDir,
    collection_dir,
    exclusively,
    jobs_without_a_table,
    no_collection,
    remade_if_not_a_database,
    write_atomic,
)
from archive.urls import canonical_or_none, canonicalize, host_of
from archive.validation import validate
from archive.warc.reader import first_damage

log = logging.getLogger(__name__)

MIN_WORDS = 150
RECALL_FALLBACK_WORDS = 100
_NOT_REWRITTEN = "no article table was rewritten"  # (versions run across jobs)
_LISTING = re.compile(r"/(tag|tags|category|categories|section|topic|topics|author|page)/|[?&]page=", re.IGNORECASE)


def extractor_info() -> dict[str, str]:
    return {"name": "archive-extract", "version": __version__, "body": f"trafilatura {_version('trafilatura')}",
            "inferred": f"trafilatura {_version('trafilatura')}, htmldate {_version('htmldate')}"}


@cache
def _version(package: str) -> str:
    # Read once: looking it up parses the package's metadata file, a tenth of the time
    # of extracting an article when it was done for each one.
    return importlib_metadata.version(package)


@dataclass
class Capture:
    """An archived HTML response and where it lives."""

    url: str
    body: bytes
    content_type: str | None
    warc_filename: str
    offset: int
    length: int
    record_id: str
    payload_digest: str
    capture_time: str
    truncated: str | None = None  # WARC-Truncated: the body is not all the server meant to send
    # A revisit's WARC-Refers-To, -Target-URI and -Date: its body (empty here) is the
    # original's payload, which :class:`_Originals` reads.
    refers_to: tuple[str | None, str | None, str | None] | None = None


def html_captures(warc: Path) -> Iterator[Capture]:
    """HTML 200 responses of one WARC, bodies decoded from their content encoding; and the
    revisits of one (a 200 whose payload was captured before, or a 304), without a body."""
    with open(warc, "rb") as fh:
        records = ArchiveIterator(fh)
        for record in records:
            if record.rec_type not in ("response", "revisit") or record.http_headers is None:
                continue
            status = record.http_headers.get_statuscode()
            if status != "200" and not (status == "304" and record.rec_type == "revisit"):
                continue
            ctype = record.http_headers.get_header("Content-Type") if status == "200" else None
            if ctype is not None and "html" not in ctype.lower():
                continue
            headers = record.rec_headers
            if record.rec_type == "revisit":
                records.read_to_end(record)
                yield Capture(
                    url=headers.get_header("WARC-Target-URI"), body=b"", content_type=ctype,
                    warc_filename=warc.name, offset=records.get_record_offset(),
                    length=records.get_record_length(), record_id=headers.get_header("WARC-Record-ID"),
                    payload_digest=headers.get_header("WARC-Payload-Digest"),
                    capture_time=headers.get_header("WARC-Date"),
                    refers_to=(headers.get_header("WARC-Refers-To"), headers.get_header("WARC-Refers-To-Target-URI"),
                               headers.get_header("WARC-Refers-To-Date")))
                continue
            # The payload as archived, its content coding undone here rather than by warcio
            # (whose br decoder fails with Brotli 1.2, raising out of the whole extraction).
            body = record.raw_stream.read(MAX_DECODED_BYTES + 1)
            if len(body) <= MAX_DECODED_BYTES:
                body = decode_content(body, record.http_headers.get_header("Content-Encoding"), MAX_DECODED_BYTES + 1,
                                      what=headers.get_header("WARC-Target-URI"))
            records.read_to_end(record)
            if len(body) > MAX_DECODED_BYTES:
                log.warning("%s: %s decodes to more than %d bytes; not read as an article", warc.name,
                            headers.get_header("WARC-Target-URI"), MAX_DECODED_BYTES)
                continue
            yield Capture(
                url=headers.get_header("WARC-Target-URI"),
                body=body,
                content_type=ctype,
                warc_filename=warc.name,
                offset=records.get_record_offset(),
                length=records.get_record_length(),
                record_id=headers.get_header("WARC-Record-ID"),
                payload_digest=headers.get_header("WARC-Payload-Digest"),
                capture_time=headers.get_header("WARC-Date"),
                truncated=headers.get_header("WARC-Truncated"),
            )


# Characters no XML (so no lxml element made from a page's text) may hold: one anywhere
# in a page made trafilatura give up on all of its text. Browsers show them as nothing; so
# does the extraction (and vertical tab and form feed, white space in HTML, as a space).
_NOT_XML = re.compile("[\x01-\x08\x0e-\x1f\ufffe\uffff]")


# A word as a reader counts one: a run of letters between spaces, and each Chinese or
# Japanese character (their text has no spaces between words; a count of space-separated
# runs gave a 195-character Japanese article 1 word, and no row for want of 150).
# (Their punctuation, "。", "、" and the full-width "，！？", is no word.)
_WORD = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
                   "|[^\\s\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                   "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+")


_CJK = re.compile("[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff65]")


def count_words(text: str) -> int:
    """Words of ``text``, each Chinese or Japanese character one (``_WORD``)."""
    if text.isascii() or _CJK.search(text) is None:
        return len(text.split())
    return sum(1 for _ in _WORD.finditer(text))


def decode(capture: Capture) -> str:
    """Text of an HTML body: HTTP charset, then BOM, then ``<meta>``, else UTF-8; without
    the control characters XML cannot hold (``_NOT_XML``)."""
    text = html_text(capture.content_type, capture.body)
    return _NOT_XML.sub("", text).replace("\x0b", " ").replace("\x0c", " ")


def _main_text(tree: Any, url: str) -> str:
    """trafilatura in precision mode (drops bylines and datelines the demo and many sites put
    inside <article>); when that keeps almost nothing, its balanced mode."""
    options = {"url": url, "include_comments": False, "include_tables": True, "output_format": "txt",
               "deduplicate": False}
    precise = trafilatura.extract(tree, favor_precision=True, **options) or ""
    if count_words(precise) >= RECALL_FALLBACK_WORDS:
        return precise
    balanced = trafilatura.extract(tree, **options) or ""
    return balanced if count_words(balanced) > count_words(precise) else precise


def infer_missing(declared: dict[str, Any], tree: Any, url: str, captured: str, *, listing: bool = True) -> list[str]:
    """Fill in the publication date and authors the page does not declare (``declared``:
    its ``page_metadata``, updated in place) where they can be inferred; return the names of
    the fields filled. Not a date among many the page shows (which is its own is anybody's
    guess), nor authors where the publisher names one, even one dropped as an organisation.
    ``listing``: whether the page may list others (see :func:`is_listing`); the text of a
    page that does not is searched for a date, as an article's is, where its markup and
    URL give none."""
    wanted = []
    if not declared.get("published") and not _dated_many_times(tree):
        wanted.append("published")
    if not declared.get("authors") and not declared.get("declares_author"):
        wanted.append("authors")
    if not wanted:
        return []
    guessed = inferred_metadata(tree, url, captured, thorough=declared["is_article"], text_if_none=not listing)
    filled = [key for key in wanted if guessed.get(key)]
    for key in filled:
        declared[key] = guessed[key]
    return filled


# <article>s side by side, not within another, nor comments (which themes mark up as
# <article class="comment-body">)
_ARTICLES = ("(//article[not(ancestor::article)]"
             "[not(contains(concat(' ', normalize-space(@class)), ' comment'))])[position() <= 50]")
# An element's text without the code of its scripts and styles (a teaser's ad script is not
# what it says), nor <noscript>: what trafilatura leaves out of the page's words, which it is
# weighed against.
_SHOWN_TEXT = "descendant::text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
# The query of a site root's link to one post (WordPress's plain permalinks); any other is a
# list: a category, a month, a search.
_ONE_POST = re.compile(r"(p|page_id)=\d+")


def is_listing(url: str, tree: Any) -> bool:
    """Whether a page lists others (see :func:`_listing`), its main text extracted here."""
    return _listing(url, tree, count_words(_main_text(tree, url)))


def _listing(url: str, tree: Any, words: int) -> bool:
    """Whether a page that does not declare itself an article lists others: by its URL (the
    site's root among them, with any query but ``?p=123``), or as a page of teasers, three or more
    ``<article>``s that hold most of its main text (``words``) between them, none of them
    most of it (an article among related stories holds most of it itself)."""
    parts = urlsplit(url)
    if _LISTING.search(url) or (parts.path in ("", "/") and not _ONE_POST.fullmatch(parts.query)):
        return True
    articles = tree.xpath(_ARTICLES)
    if len(articles) < 3:
        return False
    sizes = [count_words("".join(article.xpath(_SHOWN_TEXT))) for article in articles]
    return max(sizes) < 0.6 * words <= sum(sizes)


def _dated_many_times(tree: Any) -> bool:
    """Whether the page's ``<time>`` elements give three or more different moments (a list
    of stories, or an article among related ones): a date inferred from them could be any
    story's. (Published and updated make two.)"""
    times = tree.xpath("(//time)[position() <= 50]")
    moments = {(time.get("datetime") or time.text_content()).strip() for time in times}
    moments.discard("")
    return len(moments) >= 3


def _image(page: str, declared: str | None) -> str | None:
    """The absolute http(s) URL of the lead image the page declares, or None."""
    if not declared:
        return None
    try:
        url = urljoin(page, declared.strip())
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None


def article_row(capture: Capture, job_id: str) -> dict[str, Any] | None:
    """The article in ``capture``, or None when the page is not an article."""
    text = decode(capture)
    if not text.strip():
        return None
    tree = parse_html(text)
    if tree is None:
        return None
    declared = page_metadata(tree, capture.url)
    body = _main_text(tree, capture.url)
    headline = declared.get("headline")
    paragraphs = [line.strip() for line in body.splitlines() if line.strip()]
    if paragraphs and headline and paragraphs[0] == headline:
        paragraphs = paragraphs[1:]  # the extractor sometimes keeps the <h1>
    body = "\n\n".join(paragraphs)
    words = count_words(body)
    article = declared["is_article"]
    if not article and (words < MIN_WORDS or _listing(capture.url, tree, words)):
        return None
    inferred = infer_missing(declared, tree, capture.url, capture.capture_time, listing=False)
    published = declared.get("published")
    if not article and published is None:
        return None
    # (the URL as the crawl fetches it, without tracking parameters and session ids: a
    # spider of a project's own fetches "?utm_source=rss" and "?fbclid=..." as they are
    # linked, one page under three URLs, three articles where there was one)
    canonical = canonical_or_none(capture.url) or capture.url
    if declared.get("canonical"):
        candidate = canonicalize(urljoin(capture.url, declared["canonical"]))
        if host_of(candidate) == host_of(capture.url):  # another site's claim is not taken
            canonical = candidate
    return {
        "article_id": hashlib.sha1(canonical.encode("utf-8")).hexdigest(),
        "url": capture.url,
        "canonical_url": canonical,
        "headline": headline,
        "authors": declared.get("authors", []),
        "published": published,
        "modified": declared.get("modified"),
        "language": declared.get("language"),
        "section": declared.get("section"),
        "description": declared.get("description"),
        "image": _image(capture.url, declared.get("image")),
        "inferred": inferred,
        "body": body,
        "word_count": words,
        "status": "captured",
        "job_id": job_id,
        "source": {
            "warc_filename": capture.warc_filename,
            "warc_offset": capture.offset,
            "warc_length": capture.length,
            "record_id": capture.record_id,
            "payload_digest": capture.payload_digest,
            "capture_time": capture.capture_time,
        },
        "extractor": extractor_info(),
    }


def extract_job(coll: CollectionDir, manifest: dict[str, Any],
                prior: MutableMapping[str, Version] | None = None, *, earlier_whole: bool = True,
                notes: list[str] | None = None) -> tuple[Path, int]:
    """Write ``articles/<job-id>.jsonl`` for one job; return its path and row count.

    A row is written for each new article and each new version of a known one (headline or
    body changed); an unchanged re-capture adds none, and a truncated one (WARC-Truncated:
    a size cap, a timeout, a lost connection) none either, counted in the derived file. A
    known article answered 404 or 410 gets a ``withdrawn`` row. ``prior`` is the state after earlier jobs (read from their
    article files when not given) and is updated in place. ``earlier_whole``: every earlier
    job has its table (as when all are made in order); where not, no revisit is passed over
    for its original having given no version, which a job without a table never said.

    A WARC or capture log of the job whose loss is stated (:mod:`archive.losses`) is passed
    over: the table holds what the rest gives, and its ``.derived.json`` names the lost
    files. A table made before the loss, still the one its record describes, is kept as it
    is instead (its rows cannot be made again). Each is said in one line, on ``notes`` if
    given (else in the log).
    """
    if prior is None:
        prior = versions_before(coll, manifest["sequence"])
        if isinstance(prior, StoredVersions):
            try:
                return extract_job(coll, manifest, prior, earlier_whole=earlier_whole, notes=notes)
            finally:
                prior.close()
    job_id = manifest["job_id"]
    inputs = [entry for entry in manifest["files"] if entry["kind"] in ("warc", "capture-log")]
    lost = lost_in(coll, inputs)
    for entry in inputs:
        if entry["path"] not in lost:
            path = coll.root / entry["path"]
            if not os.path.lexists(path) and (away := not_here(coll, path)) is not None:
                raise StoreError(f"{away}, to extract from; the job's articles are left as they were")
            _as_listed(path, entry)
    # The table made before a loss (of the job's files, or of another job's WARC that holds
    # originals of its revisits), kept if this extraction would read less for that loss.
    before = (_made_before_the_loss(coll, manifest, lost)
              if statements(coll) and not isinstance(prior, StoredVersions) else None)
    if lost:
        named = ", ".join(sorted(lost))
        if before is not None:
            return _kept(coll, before, prior, notes, f"job {job_id}: {named} stated lost; its article table, made "
                                                      "before the loss, is kept as it was")
        _said(notes, f"job {job_id}: {named} stated lost; the articles in it cannot be extracted, the table holds "
                     "what the rest of the job gives")
    outer = prior
    if before is not None:  # (the versions this extraction adds held apart until its table is taken)
        prior = ChainMap({}, outer)
    rows: list[dict[str, Any]] = []
    sources = []
    truncated = 0
    latest = _LatestByUrl(prior)
    originals = _Originals(coll, latest, earlier_whole)
    gone = lost_warcs(coll)  # (WARCs stated lost, by name)
    moved_from: dict[str, str] = {}
    for entry in manifest["files"]:
        if entry["kind"] == "capture-log" and entry["path"] not in lost:
            lines = rows_refusing_bad(coll.root / entry["path"], "capture-log", f"run `archive verify`; {_NOT_REWRITTEN}")
            moved_from.update(redirects(coll, lines, latest.get, gone))
    for entry in manifest["files"]:
        if entry["kind"] != "warc" or entry["path"] in lost:
            continue
        warc = coll.root / entry["path"]
        sources.append({"path": entry["path"], "sha256": entry["sha256"]})
        for capture in html_captures(warc):
            if capture.refers_to is None:
                originals.seen[capture.record_id] = (capture.warc_filename, capture.offset, capture.length)
            else:
                filled = originals.payload_of(capture)
                if filled is None:
                    continue
                capture = filled
            if capture.truncated:
                # Part of a page read as the whole would pass for an edit of the article.
                truncated += 1
                continue
            row = article_row(capture, job_id)
            if row is not None:
                continue_moved(row, prior.__contains__, latest.get, moved_from)
            if row is not None and _add_version(row, prior, rows, gone):
                latest.noted(prior[row["article_id"]])
    lost_here = {entry["path"].rsplit("/", 1)[-1] for entry in manifest["files"]
                 if entry["kind"] == "warc" and entry["path"] in lost}
    for entry in manifest["files"]:
        if entry["kind"] == "capture-log" and entry["path"] not in lost:
            rows.extend(_withdrawals(coll.root / entry["path"], job_id, prior, latest, lost_here))
    if before is not None and isinstance(prior, ChainMap):
        if originals.missing > before[2]:
            return _kept(coll, before, outer, notes, f"job {job_id}: the originals of {originals.missing - before[2]} "
                                                     "of its revisits are in files stated lost; its article table, "
                                                     "made before the loss, is kept as it was")
        outer.update(prior.maps[0])
    if originals.missing and originals.level == logging.INFO:
        _said(notes, f"job {job_id}: the originals of {originals.missing} of its revisits were not found, files being "
                     "stated lost; no article was read from them")
    coll.articles.mkdir(parents=True, exist_ok=True)
    path = coll.articles / f"{job_id}.jsonl"
    data = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    write_atomic(path, data)
    derived = {"derived_from": sources, "manifest": f"manifests/{job_id}.json", "tool": extractor_info(),
               "rows": len(rows), "sha256": "sha256:" + hashlib.sha256(data).hexdigest(),
               "truncated_pages_skipped": truncated, "revisits_without_original": originals.missing}
    if lost:  # (the files it could not be made from: gone for good, their loss stated)
        derived["lost"] = [{"path": gone, "sha256": statement.get("sha256"), "stated": statement.get("stated")}
                           for gone, statement in sorted(lost.items())]
    write_atomic(coll.articles / f"{job_id}.derived.json",
             (json.dumps(derived, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path, len(rows)


def _said(notes: list[str] | None, message: str) -> None:
    if notes is None:
        log.warning("%s", message)
    else:
        notes.append(message)


def _made_before_the_loss(coll: CollectionDir, manifest: dict[str, Any],
                          lost: dict[str, dict[str, Any]]) -> tuple[Path, int, int] | None:
    """The job's article table, its rows and the revisits its record says had no original,
    if it was made from the job's files before those in ``lost`` were lost (its record names
    each lost WARC with the SHA-256 listed, and no file as lost) and is still the table its
    record describes; None otherwise."""
    table = coll.articles / f"{manifest['job_id']}.jsonl"
    try:
        doc = json.loads(table.with_name(f"{manifest['job_id']}{DERIVED_SUFFIX}").read_bytes())
        data = table.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("lost") or doc.get("manifest") != f"manifests/{manifest['job_id']}.json":
        return None
    sources = doc.get("derived_from")
    made_from = ({(s.get("path"), s.get("sha256")) for s in sources if isinstance(s, dict)}
                 if isinstance(sources, list) else set())
    wanted = {(path, statement.get("sha256")) for path, statement in lost.items() if statement.get("kind") == "warc"}
    if not wanted <= made_from or doc.get("sha256") != "sha256:" + hashlib.sha256(data).hexdigest():
        return None
    missing = doc.get("revisits_without_original")
    return table, data.count(b"\n"), missing if isinstance(missing, int) else 0


def _kept(coll: CollectionDir, before: tuple[Path, int, int], prior: MutableMapping[str, Version],
          notes: list[str] | None, said: str) -> tuple[Path, int]:
    """A table made before a loss kept as it is (it cannot be made again), its versions
    taken into ``prior``; ``said`` in one line."""
    table, rows, _ = before
    fold_table(table, prior, f"`{coll.command('extract')}` cannot make it again, files it was made from being "
                             f"stated lost; {_NOT_REWRITTEN}")
    _said(notes, f"{said} ({rows} rows)")
    return table, rows


def extract_after_job(coll: CollectionDir, manifest: dict[str, Any]) -> tuple[Path, int, list[str]]:
    """A crawl's extraction at its job's end: the job's table, and first those of the jobs
    just before it that have none (a crawl killed after writing its manifest, a job closed
    by ``--repair``): without them their articles were missing from every dataset, and
    nothing but an export said so. Gives the job's table, its rows, and the jobs left without
    one (a table of a later job was made without theirs: `archive extract` makes all again).

    One extraction of a collection at a time: the job before, its manifest just written,
    may be extracting its own table; its table is then there when this one looks.
    """
    with exclusively(coll.extract_lock):
        trailing, others = _jobs_without_a_table(coll, manifest)
        for at, earlier in enumerate(trailing):
            # (a job of a version that extracted none, as much as one killed before its extraction)
            log.warning("job %s has no article table (its crawl stopped before the extraction, or was run by a "
                        "version that made none): made now", earlier["job_id"])
            try:
                extract_job(coll, earlier, earlier_whole=not others)
            except StoreError as exc:  # (a damaged file of its: this job's table is made all the same)
                log.warning("job %s: its article table cannot be made: %s", earlier["job_id"], exc)
                others += [d["job_id"] for d in trailing[at:]]
                break
        path = coll.articles / f"{manifest['job_id']}.jsonl"
        if path.is_file() and path.with_name(f"{manifest['job_id']}{DERIVED_SUFFIX}").is_file():
            # (made by the next job's crawl meanwhile, as above)
            return path, sum(1 for _ in rows_skipping_bad(path)), others
        return (*extract_job(coll, manifest, earlier_whole=not others), others)


def extract_newest_without_a_table(coll: CollectionDir) -> list[str]:
    """Make the article tables of the newest jobs of ``coll`` that have none, in chain order,
    as the next crawl would make them: ``archive push --delete-local`` does so before their
    WARCs go, which they are made from. Gives the jobs still without one: older ones (a later
    job's table was made without theirs, and only ``archive extract``, which makes all again,
    makes theirs) and those whose table could not be made (a damaged file of theirs, said in
    the log)."""
    if not jobs_without_a_table(coll):
        return []
    with exclusively(coll.extract_lock):  # (not beside a crawl's extraction at its job's end)
        trailing, others = _jobs_without_a_table(coll, {"job_id": "", "sequence": chain_head(coll)[0]})
        for at, doc in enumerate(trailing):
            log.warning("job %s has no article table: made now, from its WARCs", doc["job_id"])
            try:
                extract_job(coll, doc, earlier_whole=not others)
            except (StoreError, OSError) as exc:
                log.warning("job %s: its article table cannot be made: %s", doc["job_id"], exc)
                return others + [d["job_id"] for d in trailing[at:]]
        return others


def _jobs_without_a_table(coll: CollectionDir, manifest: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The manifests of the jobs before ``manifest``'s that have no article table: those
    that come right before it, in chain order, and the others' job ids. Only the manifests
    of jobs without one are read."""
    missing = []
    for job_id in jobs_without_a_table(coll) - {manifest["job_id"]}:
        try:
            doc = parsed(coll.manifest(job_id).read_bytes())
        except OSError:
            continue
        if problem_of(doc) is None and doc["sequence"] < manifest["sequence"]:  # type: ignore[index]
            missing.append(doc)
    missing.sort(key=lambda d: d["sequence"])
    trailing: list[dict[str, Any]] = []
    for doc in reversed(missing):
        if doc["sequence"] != manifest["sequence"] - len(trailing) - 1:
            break
        trailing.insert(0, doc)
    return trailing, [d["job_id"] for d in missing[: len(missing) - len(trailing)]]


class _LatestByUrl:
    """The version last recorded under a URL. A versions file answers it itself (it sees the
    running job's versions); a plain dict of versions is indexed by URL here, once, and told
    of each version the job adds (:meth:`noted`)."""

    def __init__(self, prior: MutableMapping[str, Version]):
        self._urls: dict[str, Version] | None = None
        self.get: Callable[[str], Version | None]
        if isinstance(prior, StoredVersions):
            self.get = prior.by_url
        else:
            self._urls = {v.row["url"]: v for v in prior.values()}
            self.get = self._urls.get

    def noted(self, version: Version) -> None:
        if self._urls is not None:
            self._urls[version.row["url"]] = version


class _Originals:
    """The payloads a job's revisits refer to, read where a new version may be in them.

    A revisit is the capture of a payload captured before: the same page again (most of a
    recrawl), or other bytes than the page's latest version (an edit undone, a withdrawn
    article back, a page the same as another URL's). The first is seen from the latest
    version of the URL having the revisit's payload digest, and costs nothing; so does a
    revisit of an earlier job's capture of a URL that has no version (the original gave
    none); the others are read from the original (in this job's WARCs, else found by the
    collection's index) and extracted as a response would be.
    """

    def __init__(self, coll: CollectionDir, latest: _LatestByUrl, earlier_whole: bool = True):
        self.coll = coll
        self.latest = latest
        self.earlier_whole = earlier_whole  # (every earlier job's capture was extracted)
        self.seen: dict[str, tuple[str, int, int]] = {}  # this job's HTML 200 responses: record id -> place
        self.missing = 0  # revisits whose original is not in the store, or cannot be read
        # With files stated lost, an original not found is expected: counted and said once, in
        # the job's note and its .derived.json, not on a line of its own each.
        self.level = logging.INFO if statements(coll) else logging.WARNING

    def payload_of(self, capture: Capture) -> Capture | None:
        """``capture`` (a revisit) with its original's payload, or None: the URL's latest
        version has that payload already, or the original cannot be had (counted)."""
        from archive.index import find_original
        from archive.index.records import read_record

        known = self.latest.get(capture.url)
        record_id, uri, date = capture.refers_to or (None, None, None)
        if known is None and uri == capture.url and record_id not in self.seen and self.earlier_whole:
            # Its original, this URL's own capture in an earlier job, was extracted with that
            # job and gave the URL no version (a list of stories, a page that is no article):
            # the same bytes give none now. (Read each job again, they cost a list page's
            # extraction every crawl.)
            return None
        if known is not None and known.row["status"] == "captured":
            if known.row["source"]["payload_digest"] == capture.payload_digest:
                return None
            # An original of this URL captured since its latest version was made, in an
            # earlier job, made no version itself: its text is that version's (a page whose
            # bytes change from crawl to crawl, its text not, answered 304 to the last).
            if (uri == capture.url and record_id not in self.seen
                    and _instant(date) >= _instant(known.row["source"]["capture_time"])):
                return None
        try:
            place = self.seen.get(record_id or "")
            original = (read_record(self.coll, *place) if place is not None
                        else find_original(self.coll, uri or capture.url, date, capture.payload_digest))
        except StoreError as exc:
            log.warning("%s: the original of revisit %s cannot be read: %s", capture.warc_filename,
                        capture.record_id, exc)
            original = None
        if original is None or original.rec_type != "response":
            self.missing += 1
            log.log(self.level, "%s: the original of revisit %s (%s) is not in the store; no article read from it",
                    capture.warc_filename, capture.record_id, capture.url)
            return None
        ctype = capture.content_type or original.header("Content-Type")
        if original.status != 200 or (ctype is not None and "html" not in ctype.lower()):
            return None
        body = original.decoded_payload(MAX_DECODED_BYTES + 1)
        if len(body) > MAX_DECODED_BYTES:
            return None
        return dataclasses.replace(capture, body=body, content_type=ctype, truncated=original.warc("WARC-Truncated"))


def _instant(text: str | None) -> datetime:
    """A WARC date as a moment (the earliest there is when there is none, or it is no date)."""
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _as_listed(path: Path, entry: dict[str, Any]) -> None:
    """Articles come only from the bytes the manifest vouches for, read whole by the
    checking reader: a WARC cut short, changed or damaged would otherwise give a smaller
    table in place of a whole one."""
    unlike = unlike_its_listing(path, entry)
    if unlike is not None:
        raise StoreError(f"{unlike}: run `archive verify`; the job's articles are left as they were")
    damaged = first_damage(path) if entry["kind"] == "warc" else None
    if damaged is not None:  # (warcio's reader would end the table at the damage, unsaid)
        raise StoreError(f"{path} is damaged at offset {damaged}: run `archive verify`; the job's articles are left "
                         "as they were")


def _alternate(row: dict[str, Any]) -> bool:
    """Whether ``row`` is of another view of its article than the page its canonical URL
    names (a print or AMP page, whose ``rel=canonical`` points there)."""
    return row["url"] != row["canonical_url"]


def _add_version(row: dict[str, Any], prior: MutableMapping[str, Version], rows: list[dict[str, Any]],
                 gone: frozenset[str] = frozenset()) -> bool:
    """Add ``row`` as the article's next version, unless its text is the latest's (False).

    But for a latest version whose capture is in one of ``gone`` (names of WARCs stated
    lost): its row is left out of every export, and a capture of the same text in a WARC
    that is there stands in its place (the same version, no edit), so that the article is
    not left out with it.

    The views of an article share its canonical URL, and their texts differ a little (a
    print page's "Printed from ..."): taken in turn, each crawl of both made a version of
    the other, edits that never were. An alternate view (:func:`_alternate`) is taken only
    while the article has no version from its own page; the page's own capture, met after
    an alternate's in the same job, stands in that version's place.
    """
    known = prior.get(row["article_id"])
    text = text_digest(row)
    if known is not None and known.row["status"] == "captured":
        if known.text == text and known.row["source"]["warc_filename"] in gone:
            return _taken(row, known.number, known.row.get("previous_version"), text, prior, rows)
        # (the same text too: the row points at the article's own page, not at a copy of it
        # with "?utm_source=rss" in its URL)
        if (_alternate(known.row) and not _alternate(row) and known.row.get("job_id") == row["job_id"]
                and known.row["canonical_url"] == row["canonical_url"]
                and (at := _row_of(rows, known.record_id)) is not None):
            return _taken(row, known.number, known.row.get("previous_version"), text, prior, rows, at)
        if known.text == text and known.row["canonical_url"] == row["canonical_url"]:
            return False  # the same article again: nothing new for researchers (a move is: see archive.moves)
        if _alternate(row) and not _alternate(known.row):
            return False
    return _taken(row, known.number + 1 if known else 1, known.record_id if known else None, text, prior, rows)


def _taken(row: dict[str, Any], number: int, previous: str | None, text: str, prior: MutableMapping[str, Version],
           rows: list[dict[str, Any]], at: int | None = None) -> bool:
    """``row`` made version ``number`` of its article (after the capture ``previous``),
    validated, its article's latest in ``prior``, and put in ``rows``: at the end, or at
    ``at`` in place of the row there. True."""
    row["version"], row["previous_version"] = number, previous
    validate("article", row)
    prior[row["article_id"]] = Version(number, row["source"]["record_id"], row, text, *story_digests(row))
    if at is None:
        rows.append(row)
    else:
        rows[at] = row
    return True


def _row_of(rows: list[dict[str, Any]], record_id: str) -> int | None:
    """Where the row of ``record_id``'s capture is in ``rows`` (this job's), if it is."""
    return next((i for i, r in enumerate(rows) if r["source"]["record_id"] == record_id), None)


def _withdrawals(log_path: Path, job_id: str, prior: MutableMapping[str, Version],
                 latest: _LatestByUrl | None = None, lost_warcs: set[str] | frozenset[str] = frozenset()
                 ) -> list[dict[str, Any]]:
    """Withdrawn rows of the known articles a capture log records answered 404 or 410, but
    of those whose record is in one of ``lost_warcs`` (names of WARCs stated lost): a row
    points at its record."""
    latest = latest if latest is not None else _LatestByUrl(prior)
    rows = []
    for line in rows_refusing_bad(log_path, "capture-log", f"run `archive verify`; {_NOT_REWRITTEN}"):
        known = latest.get(line["url"])
        if line.get("status") not in (404, 410) or known is None or known.row["status"] == "withdrawn":
            continue
        if lost_warcs and (line.get("warc") or {}).get("filename") in lost_warcs:
            continue
        row = dict(known.row, status="withdrawn", body="", word_count=0, job_id=job_id,
                   version=known.number + 1, previous_version=known.record_id, extractor=extractor_info())
        row["source"] = {"warc_filename": line["warc"]["filename"], "warc_offset": line["warc"]["offset"],
                         "warc_length": line["warc"]["length"], "record_id": line["warc"]["record_id"],
                         "payload_digest": line["payload_digest"], "capture_time": line["started"]}
        validate("article", row)
        prior[row["article_id"]] = version_of(row)
        latest.noted(prior[row["article_id"]])
        rows.append(row)
    return rows


def versions_before(coll: CollectionDir, sequence: int) -> MutableMapping[str, Version]:
    """Latest version of every article after the jobs with a lower manifest sequence: from
    the collection's article versions file (:mod:`archive.article_versions`), or where it
    cannot give them, from the tables."""
    table_doing = f"`{coll.command('extract')}` writes it and the later ones again; {_NOT_REWRITTEN}"
    path = coll.root / VERSIONS
    stored = None
    try:
        stored = remade_if_not_a_database(
            path, lambda: StoredVersions.before(coll, sequence, doing=_NOT_REWRITTEN, table_doing=table_doing),
            made_from="the article tables")
    except (sqlite3.Error, OSError) as exc:  # (locked for long, a store that cannot be written)
        log.warning("%s: %s; the article tables are read instead", path, exc)
    if stored is not None:
        return stored
    prior: dict[str, Version] = {}
    for _, doc in jobs_in_order(coll, doing=_NOT_REWRITTEN):
        if doc["sequence"] >= sequence:
            break
        path = coll.articles / f"{doc['job_id']}.jsonl"
        if not path.exists():
            continue
        fold_table(path, prior, table_doing)
    return prior


def extract_collection(store: Path, collection: str, notes: list[str] | None = None) -> list[tuple[Path, int]]:
    """Re-derive the article files of every job of a collection, in chain order. What a
    stated loss leaves out is said on ``notes`` if given (else in the log)."""
    coll = collection_dir(Path(store), collection)
    if not coll.manifests.is_dir():
        raise UsageError(no_collection(Path(store), collection))
    from archive.verify import refuse_unless_chain_whole

    prior: dict[str, Version] = {}
    with exclusively(coll.extract_lock):  # (not beside a crawl's extraction at its job's end)
        jobs = jobs_in_order(coll, doing=_NOT_REWRITTEN)
        # (versions made without a job of the chain would number an article's edits wrongly)
        refuse_unless_chain_whole(coll, _NOT_REWRITTEN)
        return [extract_job(coll, doc, prior, notes=notes) for _, doc in jobs]
