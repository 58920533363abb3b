"""The fast schema check may only say yes where the reference (jsonschema) says yes; a
capture log's odd lines are judged as the json module judges them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from archive import validation
from archive.checks import log_lines
from archive.validation import problems, validator

GOOD = {
    "job_id": "news-20260314T083000Z-ab12", "spider": "news", "url": "http://127.0.0.1:9/a",
    "url_as_linked": None, "method": "GET", "outcome": "captured", "status": 200, "error": None,
    "seed": "http://127.0.0.1:9/", "channel": "link", "source": None, "source_id": None,
    "via": "http://127.0.0.1:9/", "hops": "L", "depth": 1, "robots": "allowed", "remote_ip": "127.0.0.1",
    "protocol": "HTTP/1.1", "tls_cert_sha256": None, "user_agent": "ua", "started": "2026-03-14T08:30:00.123456Z",
    "duration_ms": 1.5, "request_bytes": 120, "response_bytes": 5000, "mime": "text/html",
    "payload_digest": "sha1:" + "A" * 32, "etag": None, "last_modified": None, "revisit": None, "truncated": None,
    "warc": {"filename": "x.warc.gz", "offset": 0, "length": 10,
             "record_id": "<urn:uuid:12345678-1234-1234-1234-123456789abc>"},
}

# (field, value): each makes a line that one validator or the other may refuse.
MUTATIONS = [
    ("status", True), ("status", 99), ("status", 1000), ("status", 200.0), ("status", 200.5), ("status", "200"),
    ("depth", -1), ("depth", 2**70), ("depth", False), ("depth", 1.0), ("duration_ms", float("nan")),
    ("duration_ms", float("inf")), ("duration_ms", -0.0), ("duration_ms", -1e-9),
    ("job_id", "news-20260314T083000Z-ab12\n"), ("job_id", "News-20260314T083000Z-ab12"),
    ("hops", "LQ"), ("hops", ""), ("hops", "L\n"), ("payload_digest", "sha1:" + "a" * 32),
    ("payload_digest", "sha1:" + "A" * 31), ("tls_cert_sha256", "sha256:" + "0" * 64 + "\n"),
    ("started", "2026-03-14T08:30:00Z"), ("started", "2026-03-14t08:30:00z"), ("started", "2026-03-14 08:30:00Z"),
    ("started", "2026-03-14T08:30:00"), ("started", "2026-02-30T08:30:00Z"), ("started", "2026-03-14T24:00:00Z"),
    ("started", "2026-12-31T23:59:60Z"), ("started", "2026-03-14T08:30:00+01:00"), ("started", "not a date"),
    ("started", 20260314),
    ("started", "0000-03-14T08:30:00Z"), ("started", "0999-03-14T08:30:00Z"), ("started", "2026-03-14T08:30:00.Z"),
    ("started", "2026-03-14T08:30:00.5Z\n"), ("started", "2024-02-29T08:30:00Z"), ("started", "2026-02-29T08:30:00Z"),
    ("started", "２026-03-14T08:30:00Z"), ("outcome", "Captured"), ("channel", "rss"), ("robots", None),
    ("truncated", "length"), ("truncated", "cut"), ("url", ""), ("extra_field", 1), ("warc", {}),
    ("warc", {"filename": "x.warc", "offset": 0, "length": 10, "record_id": "<urn:uuid:x>"}),
    ("revisit", {"profile": "p", "refers_to": "r", "refers_to_uri": "u", "refers_to_date": "d"}),
    ("revisit", {"profile": "p"}), ("mime", ["text/html"]), ("mime", ("text/html",)),
]


@pytest.mark.parametrize("field,value", MUTATIONS, ids=[f"{f}={v!r}" for f, v in MUTATIONS])
def test_fast_check_never_accepts_what_the_reference_refuses(field: str, value: object) -> None:
    doc = copy.deepcopy(GOOD)
    doc[field] = value
    reference = sorted(e.message for e in validator("capture-log").iter_errors(doc))
    assert bool(problems("capture-log", doc)) == bool(reference)


def test_a_good_line_is_good_and_a_missing_field_is_named() -> None:
    assert problems("capture-log", GOOD) == []
    doc = dict(GOOD)
    del doc["robots"]
    assert problems("capture-log", doc) == ["(top level): 'robots' is a required property"]


def test_log_lines_are_judged_the_same_with_no_fast_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = dict(GOOD)
    del bad["robots"]
    log = tmp_path / "x.captures.jsonl"
    log.write_bytes(json.dumps(GOOD).encode() + b"\n" + json.dumps(bad).encode() + b"\n")
    found = log_lines(log)[:2]
    assert found == (2, [("line 2", "(top level): 'robots' is a required property")])
    monkeypatch.setattr(validation, "_fast", lambda kind: ())  # (as where jsonschema-rs cannot take a schema)
    assert log_lines(log)[:2] == found


def test_odd_log_lines_are_judged_as_the_json_module_judges_them(tmp_path: Path) -> None:
    good = json.dumps(GOOD).encode()
    lines = [
        good,
        good.replace(b'"duration_ms": 1.5', b'"duration_ms": NaN'),  # json reads NaN; the schema decides
        good.replace(b'"depth": 1', b'"depth": 1180591620717411303424'),  # 2**70: beyond 64 bits
        good.replace(b'"error": null', b'"error": "\\ud800"'),  # a lone surrogate: json reads it
        good.replace(b'"spider": "news"', b'"spider": "n\xffws"'),  # not UTF-8
        b'{"job_id": ',  # cut short
        b"\xef\xbb\xbf" + good,  # a byte order mark
        b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # nested beyond any parser's limit
    ]
    log = tmp_path / "x.captures.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    count, found, _ = log_lines(log)
    assert count == len(lines)
    by_line: dict[str, list[str]] = {}
    for where, message in found:
        by_line.setdefault(where, []).append(message)
    for number, line in enumerate(lines, start=1):
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError):
            assert by_line[f"line {number}"][0].startswith("not valid JSON ("), number
            continue
        # Whatever the json module reads is judged by the schema, as the reference judges it.
        reference = [e.message for e in validator("capture-log").iter_errors(doc)]
        assert len(by_line.get(f"line {number}", [])) == len(reference), number
    assert [m for m in by_line["line 5"]] == [by_line["line 5"][0]]
    assert by_line["line 5"][0].startswith("not valid JSON (not UTF-8")
    assert "line 1" not in by_line and "line 3" not in by_line and "line 4" not in by_line
    assert "line 6" in by_line and "line 7" not in by_line  # json.loads reads bytes after a BOM
    assert by_line["line 8"] == ["not valid JSON (nested too deeply)"]
    # (where in the line: a control character said "Invalid control character at", no more)
    assert by_line["line 6"] == ["not valid JSON (Expecting value at column 12)"]
    log.write_bytes(good.replace(b'"spider": "news"', b'"spider": "ne\tws"') + b"\n")
    column = good.index(b'"spider": "news"') + len(b'"spider": "ne') + 1
    assert log_lines(log)[1] == [("line 1", f"not valid JSON (Invalid control character at column {column})")]


@pytest.mark.parametrize("space", [chr(c) for c in range(0x3001) if chr(c).isspace()] + ["\ufeff"])
def test_a_seed_url_starting_its_host_with_any_kind_of_space_is_judged_as_the_reference_does(space: str) -> None:
    """JSON Schema patterns are ECMA-262 regular expressions, whose \\s is not Python's; the
    schema spells the class out so the fast check and the reference agree."""
    doc = {"collection": [{"name": "x", "urls": [f"https://{space}example.org/"]}]}
    reference = list(validator("collection").iter_errors(doc))
    assert bool(problems("collection", doc)) == bool(reference)
    assert bool(reference) == (space != "\ufeff")  # Python's \s, as before: not the BOM


_DAYS = [f"{year}-{month:02d}-{day:02d}" for year in (2026, 2024, 2100, 2000, 1000, 999)
         for month in range(1, 13) for day in (0, 1, 28, 29, 30, 31, 32)]
_TIMES = ["T08:30:00Z", "T08:30:00.5Z", "T23:59:59.999999Z", "T23:59:60Z", "T24:00:00Z", "t08:30:00z",
          "T08:30:00+01:00", "T08:30:00Z\n", "T08:30:00.Z", " 08:30:00Z"]


def test_each_fast_check_alone_takes_a_date_time_only_if_the_reference_does() -> None:
    """The first check matches date-times by a pattern (no call back into Python), the second
    by a call back: neither may take what the reference refuses, and the first takes every
    timestamp of the form we write but on February 29th."""
    from archive.validation import _fast

    checks = _fast("capture-log")
    assert len(checks) == 2
    reference = validator("capture-log")
    taken_first = set()
    for value in [day + "T08:30:00Z" for day in _DAYS] + ["2026-03-14" + time for time in _TIMES]:
        doc = dict(GOOD, started=value)
        valid = reference.is_valid(doc)
        for number, check in enumerate(checks):
            assert not check(doc) or valid, (number, value)
        if checks[0](doc):
            taken_first.add(value)
    plain = {f"{year}-{month:02d}-{day:02d}T08:30:00Z" for year in (2026, 2024, 2100, 2000, 1000)
             for month in range(1, 13) for day in range(1, 32) if not (month == 2 and day == 29)}
    plain = {value for value in plain if reference.is_valid(dict(GOOD, started=value))}
    assert plain & {day + "T08:30:00Z" for day in _DAYS} <= taken_first
    assert {"2026-01-31T08:30:00Z", "2026-12-30T08:30:00Z", "2026-03-14T08:30:00.5Z"} <= taken_first
    assert "2024-02-29T08:30:00Z" not in taken_first and not checks[1](dict(GOOD, started="2026-02-29T08:30:00Z"))
    assert checks[1](dict(GOOD, started="2024-02-29T08:30:00Z"))


@pytest.mark.parametrize("schema", [
    {"properties": {"t": {"not": {"type": "string", "format": "date-time"}}}},
    {"properties": {"t": {"oneOf": [{"type": "string", "format": "date-time"}, {"pattern": "-02-29T"}]}}},
    {"type": "array", "contains": {"format": "date-time"}, "maxContains": 1},
    {"$defs": {"t": {"format": "date-time"}}, "properties": {"t": {"not": {"$ref": "#/$defs/t"}}}},
])
def test_no_first_check_where_a_stricter_date_time_could_take_more(schema: dict) -> None:
    """Under ``not``, ``oneOf`` or ``contains`` with ``maxContains``, taking fewer date-times
    can make a schema take more documents: the pattern is not put there."""
    from archive.validation import _Looser, _plain_date_times

    with pytest.raises(_Looser):
        _plain_date_times(schema)


def test_values_that_are_data_are_not_rewritten() -> None:
    from archive.validation import _plain_date_times

    schema = {"properties": {"a": {"const": {"format": "date-time"}}, "b": {"type": "string", "format": "date-time"}}}
    plain = _plain_date_times(schema)
    assert plain["properties"]["a"] == {"const": {"format": "date-time"}}
    assert "format" not in plain["properties"]["b"] and plain["properties"]["b"]["allOf"][0]["pattern"].startswith("^")
