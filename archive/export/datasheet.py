"""DATASHEET.md and its chart, in the spirit of "Datasheets for Datasets" (Gebru et al.).

The chart (captures per day by outcome, an SVG drawn here: no plotting dependency for one
small figure) comes first, so a reader sees the shape of the collection before the tables.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

OUTCOMES = [("new content", "#2b6cb0"), ("unchanged (revisit)", "#90cdf4"), ("failed", "#e53e3e"),
            ("refused (robots)", "#ed8936")]


def outcome_of(line: dict[str, Any]) -> str:
    if line["outcome"] == "captured":
        return "unchanged (revisit)" if line.get("revisit") else "new content"
    if line["outcome"] == "robots-disallowed":
        return "refused (robots)"
    return "failed"


def chart_svg(per_day: dict[str, Counter[str]]) -> str:
    days = sorted(per_day)
    width, height, left, bottom, top = max(580, 60 + 28 * len(days)), 220, 48, 40, 30
    peak = max((sum(c.values()) for c in per_day.values()), default=1) or 1
    scale = (height - bottom - top) / peak
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'font-family="sans-serif" font-size="10">'),
             '<title>Captures per day by outcome</title>',
             f'<text x="{left}" y="14" font-size="12">Captures per day by outcome (UTC)</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#333"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>']
    for i, day in enumerate(days):
        x, y = left + 8 + 28 * i, height - bottom
        for name, colour in OUTCOMES:
            n = per_day[day][name]
            if n:
                h = n * scale
                y -= h
                parts.append(f'<rect x="{x}" y="{y:.1f}" width="20" height="{h:.1f}" fill="{colour}">'
                             f'<title>{day}: {n} {escape(name)}</title></rect>')
        parts.append(f'<text x="{x + 10}" y="{height - bottom + 12}" text-anchor="middle">{day[5:]}</text>')
    for i, (name, colour) in enumerate(OUTCOMES):
        x = left + 130 * i
        parts.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{height - 5}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _lost_section(lost: dict[str, Any] | None) -> str:
    """The section on files stated lost (``archive verify --accept-loss``), or nothing."""
    if not lost:
        return ""
    files = "\n".join(f"- `{f['path']}` ({f['kind'] or 'file'}, {f['size']} bytes): stated lost on {f['stated']} "
                      f"by {f.get('operator') or '(no operator named)'}: {f['reason']}" for f in lost["files"])
    left = [f"- Article rows: {lost['rows']}"]
    if lost["warcs_lost"]:
        left.append(f"- Captures the capture logs record in the lost WARC files: {lost['captures']}"
                    + (" (those a lost capture log recorded are not counted)" if lost["logs_lost"] else ""))
        left.append(f"- Revisit records whose original is in no WARC file of this export (presumably in a lost "
                    f"one): {lost['unfounded']}")
    jobs = ("The jobs table counts the captures of each job in this export, not those left out." if lost["filtered"]
            else "The jobs table counts what each job captured, the lost files' captures included.")
    logs = ("\n\nThe fetch attempts a lost capture log recorded are not in the counts of this datasheet (the\n"
            "captures of its job in WARC files that remain are in the WACZ)." if lost["logs_lost"] else "")
    return f"""## Files stated lost

Files the jobs' manifests list that are gone for good, their loss stated in the store
(`archive verify --accept-loss`); what was in them is not in this export:

{files}

Left out because of them{' (of those the filter selects)' if lost['filtered'] else ''}:

{chr(10).join(left)}

{jobs}{logs}

"""


def datasheet(facts: dict[str, Any]) -> str:
    """The Markdown text; ``facts`` is assembled by the exporter from manifests, logs, rows."""
    f = facts
    seeds = "\n".join(f"- {s['kind']}: {s['url']}" for s in f["seeds"]) or "- (none recorded)"
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(f["by_status"].items())) or "none"
    errors = "\n".join(f"- {k}: {v}" for k, v in sorted(f["by_error"].items())) or "- none"
    software = "\n".join(f"- {k} {v}" for k, v in sorted(f["software"].items()))
    jobs = "\n".join(f"| {j['job_id']} | {j['started']} | {j['outcome']} | {j['captured']} |" for j in f["jobs"])
    outside = (f";\n  and {f['originals_outside']} captured outside the filter, whose bytes revisits in it refer to"
               if f["originals_outside"] else "")
    subset = ("; each keeps the name of the store's file its records were copied\n  from, byte for byte, "
              "but holds only those the filter chose (and what they need)" if f["filtered"] else "")
    earlier = (f";\n  {_plural(f['earlier_outside'], 'row')} {'names' if f['earlier_outside'] == 1 else 'name'} "
               "as `previous_version` a version this export does not hold (captured outside\n  its filter, "
               "or in a file stated lost)" if f["earlier_outside"] else "")
    verify_command = ("archive verify --key ARCHIVE.pub .      # hashes, the signature by the archive's published key,\n"
                      "                                        # every record digest, each row's pointer"
                      if f["signed_note"] else
                      "archive verify .                        # hashes, every record digest, each row's pointer")
    return f"""# Datasheet: {f['title']}

![Captures per day by outcome](captures-per-day.svg)

## Motivation and description

{f['description'] or '(no description in the collection configuration)'}

Collected by the `{f['collection']}` collection of an archive-corpus store; exported
{f['created']} (the time of the newest capture; the export itself is reproducible).

- Licence: {f['license'] or '(none given in the collection configuration)'}
- Time span of captures: {f['first_capture']} to {f['last_capture']}
- Filter: {f['filter']}

## Composition

- Captures (HTTP responses recorded): {f['captured']} ({f['new']} with bytes not captured before, {f['revisits']}
  recorded as revisit records: the same bytes as an earlier capture, not always the one before, or a
  304 Not Modified to a request that named one){outside}
- Articles (by `article_id`): {f['article_ids']}, in {_plural(f['articles'], 'row')} of `articles.jsonl` /
  `articles.parquet`, each row one version ({f['withdrawn']} of them {'a withdrawal' if f['withdrawn'] == 1 else 'withdrawals'}: the page answered 404 or 410){earlier}
- Distinct article URLs: {f['article_urls']}
- HTML pages captured (2xx) that are no article of the collection: {f['pages_without_rows']} (home, section and
  other lists, pages too short for an article, as a paywall's teaser is, and copies of an article's
  page at another URL; `archive extract` in the archive's README gives the rules)
- WARC files in the WACZ: {f['warc_files']}, {f['warc_bytes']} bytes{subset}
- HTTP statuses: {statuses}

## Collection process

Seeds:

{seeds}

Jobs{' with captures in this export (the captures column counts those)' if f['filtered'] else ''}:

| job | started | outcome | captures |
|---|---|---|---|
{jobs}

Scope, politeness and caps are in each job's manifest (`config`), with the configuration's
SHA-256. robots.txt was {f['robots_policy']}.

## What failed or was excluded

From the capture logs of the jobs (not part of this export; each job's log is listed, with
its SHA-256, in the job's manifest){', for the captures and attempts the filter selects' if f['filtered'] else ''}:

- Responses with an error status (4xx or 5xx; captured, and counted in the HTTP statuses above,
  but for robots.txt files answered 4xx, which say a site has none): {f['http_errors']}
- Fetch attempts that failed (no response): {f['failed']}
- URLs refused by robots.txt: {f['robots_disallowed']}
- URLs outside the scope or over limits: {f['out_of_scope']}
- Responses truncated by a size cap, the download timeout or a cut connection (no article rows are
  taken from them): {f['truncated']}
- Feeds or sitemaps that could not be read safely: {f['bad_documents']}

Failures by kind (attempts without a response, and responses cut short):

{errors}

{_lost_section(f.get('lost'))}## Software

{software}

## How to cite

{f['citation']}

## How to verify

Every file of this export is listed with its SHA-256 in `datapackage.json`{f['signed_note']}.

```
{verify_command}
wacz validate -f {f['wacz_name']}       # the WACZ against its spec (py-wacz)
```

Each article row points at its response record inside the WACZ (`source.warc_filename`,
`warc_offset`, `warc_length`, `record_id`), or at its revisit record where the server sent
bytes captured before (the record's `WARC-Refers-To` names the original, whose payload the
row was read from); `archive.dataset.open(".")` reads rows, the raw archived responses and
each row's payload record.
"""
