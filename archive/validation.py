"""Loading our JSON Schemas (draft 2020-12) from package data and validating documents.

The schemas live in the repository's top-level ``schemas/`` and are shipped in the wheel as
``archive/schemas``; they are always read through ``importlib.resources``.

Every document is validated before it is written, capture-log lines included (one per
fetch). jsonschema, the reference, takes ~130 µs for a log line; so a document is first
checked by a validator that fastjsonschema compiles to Python code (~7 µs), and only when
that one objects does jsonschema run, to decide and to name every problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
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
def _compiled(kind: str) -> Callable[[Any], Any] | None:
    """A compiled validator, or None when fastjsonschema cannot take the schema."""
    schema = dict(load_schema(kind))
    # Our schemas use no keyword that draft-07 lacks; fastjsonschema reads draft-07.
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    try:
        return fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException:
        return None


def problems(kind: str, document: Any) -> list[str]:
    """Every way ``document`` breaks its schema, as ``path: message`` strings."""
    check = _compiled(kind)
    if check is not None:
        try:
            check(document)
            return []
        except fastjsonschema.JsonSchemaException:
            pass  # the reference decides and names the problems
    found = []
    for error in sorted(validator(kind).iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        found.append(f"{where}: {error.message}")
    return found


def validate(kind: str, document: Any) -> None:
    """Raise :class:`SchemaError` naming every problem, or return quietly."""
    found = problems(kind, document)
    if found:
        raise SchemaError(kind, found)
