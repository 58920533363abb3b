"""Loading our JSON Schemas (draft 2020-12) from package data and validating documents.

The schemas live in the repository's top-level ``schemas/`` and are shipped in the wheel as
``archive/schemas``; they are always read through ``importlib.resources``.

Every document is validated before it is written, capture-log lines included (one per
fetch), and every log line again by ``archive verify``. jsonschema, the reference, takes
~130 µs for a log line; so a document is first checked by jsonschema-rs (a validator
written in Rust, ~1.5 µs for a log line, formats checked), and only when that one objects
does jsonschema run, to decide and to name every problem. The fast checks can only say yes
early: a document they refuse is judged by the reference.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from functools import cache, partial
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from archive.errors import SchemaError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

KINDS = ("manifest", "capture-log", "collection", "article")


@cache
def load_schema(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown schema kind {kind!r}; known: {', '.join(KINDS)}")
    text = resources.files("archive.schemas").joinpath(f"{kind}.schema.json").read_text("utf-8")
    return json.loads(text)


# jsonschema, the reference, is imported where it is first called: a document the fast checks
# take (every one a run of verify reads, as a rule) never needs it, and its import is a
# tenth of a second or more of a command's start.


@cache
def validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


# The form every timestamp we write has (UTC, "T" and "Z", a year of four digits that does
# not start with 0), on any day but February 29th: such a string is a date-time to the
# reference too. Year 0000 is refused by the reference, leap years are left to it.
_PLAIN_DATE_TIME_PATTERN = (
    r"[1-9][0-9]{3}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?Z"
)
_PLAIN_DATE_TIME = re.compile(_PLAIN_DATE_TIME_PATTERN).fullmatch


@cache
def _fast(kind: str) -> tuple[Callable[[Any], bool], ...]:
    """jsonschema-rs's ``is_valid`` for the schema, cheapest first, each of which can only
    say yes where the reference does (none if jsonschema-rs cannot take the schema).

    Formats are checked by the reference's own functions (its date-time refuses a leap
    second, jsonschema-rs's accepts one), called back from the validator: half the cost of
    a capture-log line. So the first check takes only a plain date-time, as a pattern
    matched inside the validator, and checks no format; the second calls back for all of
    them (a date-time of the plain form is still taken without calling the reference).
    """
    schema = load_schema(kind)
    # (the formats the schema names: no other is ever checked)
    formats = {name: partial(_conforms, name) for name in _format_names(schema)}
    if "date-time" in formats:
        formats["date-time"] = partial(_date_time, formats["date-time"])
    checks = []
    try:
        try:
            plain = _plain_date_times(schema)
        except _Looser:
            plain = schema  # no first check: it might take what the reference refuses
        else:
            if '"format"' not in json.dumps(plain):
                # No format left to check, and none checked: the formats' callables, even
                # unused, cost a third of a capture-log line's validation.
                checks.append(jsonschema_rs.validator_for(plain, validate_formats=False).is_valid)
        if not checks or plain != schema:
            checks.append(jsonschema_rs.validator_for(schema, validate_formats=True, formats=formats).is_valid)
    except ValueError:
        return ()
    return tuple(checks)


# Keywords under which a stricter subschema can make the whole schema take more (``not``,
# ``oneOf``: one match fewer may mean exactly one), and keywords whose values are data.
_LOOSER_UNDER = frozenset({"not", "oneOf", "if", "contains", "dependentSchemas", "unevaluatedProperties",
                           "unevaluatedItems"})
_DATA = frozenset({"const", "enum", "default", "examples"})


class _Looser(Exception):
    """A date-time format (or a ``$ref``) under a keyword of ``_LOOSER_UNDER``."""


def _plain_date_times(node: Any) -> Any:
    """``node`` with every date-time format turned into the plain form's pattern, which
    takes fewer strings; raises :class:`_Looser` if one is where taking fewer strings could
    make the schema take more documents. (A property named like one of those keywords is
    taken for it: the first check is then left out, never wrong.)"""
    if isinstance(node, list):
        return [_plain_date_times(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _DATA:
            out[key] = value
        elif key in _LOOSER_UNDER:
            text = json.dumps(value)
            if '"format"' in text or '"$ref"' in text:
                raise _Looser(key)
            out[key] = value
        else:
            out[key] = _plain_date_times(value)
    if out.get("format") == "date-time":
        del out["format"]
        out["allOf"] = [*out.get("allOf", []), {"pattern": f"^{_PLAIN_DATE_TIME_PATTERN}$"}]
    return out


def _format_names(node: Any) -> set[str]:
    """Every format named in ``node``, a schema (data taken for a keyword too: a name more
    costs nothing)."""
    if isinstance(node, list):
        return set().union(*map(_format_names, node))
    if not isinstance(node, dict):
        return set()
    named = {node["format"]} if isinstance(node.get("format"), str) else set()
    return named.union(*map(_format_names, node.values()))


@cache
def _format_checker() -> Any:
    from jsonschema import FormatChecker

    return FormatChecker()


def _conforms(name: str, value: Any) -> bool:
    """The reference's check of format ``name`` (one it does not know takes any value, as in
    the reference)."""
    return _format_checker().conforms(value, name)


def _date_time(reference: Callable[[str], bool], value: str) -> bool:
    return _PLAIN_DATE_TIME(value) is not None or reference(value)


def ready(kind: str) -> None:
    """Build the checks of ``kind`` now rather than at their first use: a process about to
    fork lanes that validate builds them once for all (a lane's own would die with it, and
    every run's lanes would build them again)."""
    _fast(kind)


def first_check(kind: str) -> Callable[[Any], bool]:
    """The cheapest fast check of ``kind`` (or one that takes nothing, if there is none), for
    a caller of many documents, a capture log's lines: a document it takes has no problems,
    and of one it does not take (or raises ``ValueError`` or ``TypeError`` for) :func:`problems`
    decides. A call of it costs less than one of :func:`problems`, by a microsecond a line."""
    checks = _fast(kind)
    return checks[0] if checks else _takes_nothing


def _takes_nothing(document: Any) -> bool:
    return False


def problems(kind: str, document: Any) -> list[str]:
    """Every way ``document`` breaks its schema, as ``path: message`` strings."""
    for fast in _fast(kind):
        try:
            if fast(document):
                return []
        except (ValueError, TypeError):
            break  # a Python value it cannot read as JSON: the reference decides
    found = []
    for error in sorted(validator(kind).iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message
        if error.validator == "pattern" and isinstance(error.schema, dict) and "description" in error.schema:
            # A pattern says what it wants better in words than in its regular expression.
            message = f"{error.instance!r} is not {error.schema['description']}"
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            message += _meant(error.instance, error.schema.get("properties") or {})
        found.append(f"{where}: {message}")
    return found


def _meant(instance: dict[str, Any], known: dict[str, Any]) -> str:
    """" (did you mean schedule?)" for keys of ``instance`` its schema does not know that are
    close to one it does (a misspelt option is otherwise only "unexpected")."""
    meant = [close[0] for key in instance if key not in known
             for close in [difflib.get_close_matches(str(key), list(known), n=1)] if close]
    return f" (did you mean {', '.join(meant)}?)" if meant else ""


def validate(kind: str, document: Any) -> None:
    """Raise :class:`SchemaError` naming every problem, or return quietly."""
    found = problems(kind, document)
    if found:
        raise SchemaError(kind, found)
