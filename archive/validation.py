"""Loading our JSON Schemas (draft 2020-12) from package data and validating documents.

The schemas live in the repository's top-level ``schemas/`` and are shipped in the wheel as
``archive/schemas``; they are always read through ``importlib.resources``.

Every document is validated before it is written, capture-log lines included (one per
fetch), and every log line again by ``archive verify``. jsonschema, the reference, takes
~130 µs for a log line; so a document is first checked by jsonschema-rs (a validator
written in Rust, ~1.6 µs, formats checked), and only when that one objects does jsonschema
run, to decide and to name every problem. The fast check can only say yes early: a
document it refuses is judged by the reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, partial
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker

from archive.errors import SchemaError

KINDS = ("manifest", "capture-log", "collection", "article")


@cache
def load_schema(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown schema kind {kind!r}; known: {', '.join(KINDS)}")
    text = resources.files("archive.schemas").joinpath(f"{kind}.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def validator(kind: str) -> Draft202012Validator:
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


@cache
def _fast(kind: str) -> Callable[[Any], bool] | None:
    """jsonschema-rs's ``is_valid`` for the schema, or None if it cannot take the schema.

    Formats the reference checks are checked by the reference's own functions (its
    date-time refuses a leap second, jsonschema-rs's accepts one): a format never passes
    here that the reference would refuse. A date-time of the plain form we write is taken
    without calling it.
    """
    checker = FormatChecker()
    formats = {name: partial(checker.conforms, format=name) for name in checker.checkers}
    if "date-time" in formats:
        formats["date-time"] = partial(_date_time, formats["date-time"])
    try:
        return jsonschema_rs.validator_for(load_schema(kind), validate_formats=True, formats=formats).is_valid
    except ValueError:
        return None


# The form every timestamp we write has, with a day that every month has: such a string is
# a date-time to the reference too, without the cost of calling it (a third of a log line's
# validation). Year 0000 is refused by the reference, so the year starts 1-9 here.
_PLAIN_DATE_TIME = re.compile(
    r"[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]+)?Z"
).fullmatch


def _date_time(reference: Callable[[str], bool], value: str) -> bool:
    return _PLAIN_DATE_TIME(value) is not None or reference(value)


def problems(kind: str, document: Any) -> list[str]:
    """Every way ``document`` breaks its schema, as ``path: message`` strings."""
    fast = _fast(kind)
    if fast is not None:
        try:
            if fast(document):
                return []
        except (ValueError, TypeError):
            pass  # a Python value it cannot read as JSON: the reference decides
    found = []
    for error in sorted(validator(kind).iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message
        if error.validator == "pattern" and isinstance(error.schema, dict) and "description" in error.schema:
            # A pattern says what it wants better in words than in its regular expression.
            message = f"{error.instance!r} is not {error.schema['description']}"
        found.append(f"{where}: {message}")
    return found


def validate(kind: str, document: Any) -> None:
    """Raise :class:`SchemaError` naming every problem, or return quietly."""
    found = problems(kind, document)
    if found:
        raise SchemaError(kind, found)
