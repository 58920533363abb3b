"""The typed configuration of a collection, its defaults, and its hash.

Defaults live in ``DEFAULTS`` and nowhere else. A configuration is validated once, against
``schemas/collection.schema.json``, when it is built from a dict.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive import __version__
from archive.errors import ConfigError
from archive.urls import (
    canonicalize,
    entry_host_and_port,
    host_in_scope,
    host_of,
    host_pattern,
    port_of,
    same_site,
)
from archive.validation import load_schema, problems

DEFAULTS: dict[str, Any] = {
    "obey_robots": True,
    "scope": {
        "max_depth": 5,
        "max_pages": 10_000,
        "allow_patterns": [],
        "deny_patterns": [],
        "page_requisites": True,
        "allow_private_addresses": False,
    },
    "politeness": {
        "delay": 0.0,
        "concurrency_per_host": 4,
        "autothrottle": False,
        "user_agent": f"archive-corpus/{__version__} (archival crawler)",
        "retry_after_cap": 120.0,
    },
    "recrawl": {
        "window_days": 7.0,  # articles first seen this recently are re-fetched every run
        "backoff": 0.5,  # older ones once this fraction of their age has passed
        "max_interval_days": 30.0,  # but at least this often
    },
    "caps": {
        "max_body_bytes": 0,  # 0: no cap
        "warc_max_bytes": 1_000_000_000,
        "timeout": 60.0,
        # A job is not started, and a running one is stopped (outcome interrupted, reason
        # disk-low), when the store's file system has less free: room is left for the
        # manifest, the indexes and everything else on that disk. 0: no floor.
        "min_free_bytes": 256 << 20,
    },
}

SECRET_KEYS = {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "password", "token"}


@dataclass(frozen=True)
class Collection:
    """One collection as the crawler sees it: seeds plus the merged effective settings."""

    name: str
    urls: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def seeds(self) -> list[dict[str, str]]:
        return (
            [{"url": u, "kind": "url"} for u in self.urls]
            + [{"url": u, "kind": "feed"} for u in self.feeds]
            + [{"url": u, "kind": "sitemap"} for u in self.sitemaps]
        )

    @property
    def scope(self) -> dict[str, Any]:
        return self.settings["scope"]

    @property
    def politeness(self) -> dict[str, Any]:
        return self.settings["politeness"]

    @property
    def recrawl(self) -> dict[str, Any]:
        return self.settings["recrawl"]

    @property
    def caps(self) -> dict[str, Any]:
        return self.settings["caps"]

    def effective(self) -> dict[str, Any]:
        """The configuration a job ran with, secrets redacted: what the manifest holds."""
        doc = {"name": self.name, "urls": list(self.urls), "feeds": list(self.feeds), "sitemaps": list(self.sitemaps)}
        doc.update(copy.deepcopy(self.settings))
        return redact(doc)


def collection_from_dict(doc: dict[str, Any], *, where: str = "configuration") -> Collection:
    """Validate one collection table and merge it over the defaults."""
    found = problems("collection", {"collection": [doc]})
    if found:
        raise ConfigError(f"{where}: " + "; ".join(_of_the_one(_key_path(p)) for p in found))
    check_schedule(doc, where)
    _check_values(doc, where)
    _check_storage(doc.get("storage"), where)
    doc = _as_integers(doc)
    settings = _merge(DEFAULTS, {k: v for k, v in doc.items() if k not in ("name", "urls", "feeds", "sitemaps")})
    urls, feeds, sitemaps = (_seeds(doc, key, where) for key in ("urls", "feeds", "sitemaps"))
    if not (urls or feeds or sitemaps):
        raise ConfigError(f"{where}: no seeds; give urls, feeds or sitemaps")
    scope = settings["scope"]
    if not scope.get("allow_hosts"):
        # Without an explicit scope a crawl keeps to the hosts of its seeds.
        scope["allow_hosts"] = sorted({host_of(u) for u in urls + feeds + sitemaps})
    return Collection(name=doc["name"], urls=urls, feeds=feeds, sitemaps=sitemaps, settings=settings)


def seeds_outside_scope(collection: Collection) -> list[str]:
    """A sentence for each page seed whose host ``scope.allow_hosts`` leaves out though it
    names the seed's site (``example.com`` for a seed on ``www.example.com``, the host on
    another port): the seed is fetched all the same, but unless it redirects into the scope
    (a bare domain to its ``www.`` host, as many do), none of its links to its own host are
    followed, which is seldom what was meant. (A seed on another site, an aggregator's
    page of the site's stories, is a scope of its own choosing; feeds and sitemaps elsewhere
    are usual, and their entries out of the scope are said as they are met.)"""
    allowed = list(collection.scope["allow_hosts"])
    named = [entry_host_and_port(entry.lower())[0].removeprefix("*.") for entry in allowed]
    return [f"seed {url} is outside scope.allow_hosts ({', '.join(allowed)}): it is fetched, but unless it redirects "
            f"into the scope none of its links to {host_pattern(url)} are followed (add {host_pattern(url)} to "
            "allow_hosts to crawl them)"
            for url in collection.urls if not host_in_scope(host_of(url), allowed, port_of(url))
            and any(same_site(host_of(url), host) for host in named)]


def allow_hosts_problem(entry: str) -> str | None:
    """What is wrong with ``entry`` as a ``scope.allow_hosts`` entry, as the collection
    schema says it of one in a configuration (``'*' is not a host ...``), or None: the same
    check for an entry given elsewhere (``archive export --host``)."""
    found = problems("collection", {"collection": [{"name": "x", "scope": {"allow_hosts": [entry]}}]})
    return found[0].partition(": ")[2] if found else None


def _of_the_one(problem: str) -> str:
    """A problem of the one collection validated, without its place in a list of them
    (``collection[0].scope: ...`` -> ``scope: ...``, ``collection[0]: ...`` -> ``...``)."""
    for prefix in ("collection[0].", "collection[0]: "):
        if problem.startswith(prefix):
            return problem[len(prefix):]
    return problem


def _seeds(doc: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    seeds = []
    for i, url in enumerate(doc.get(key, [])):
        try:
            seed = canonicalize(url)
        except ValueError as exc:  # (a bracketed host that is no address, a port out of range)
            raise ConfigError(f"{where}: {key}[{i}]: {url!r} is not a valid URL ({exc})") from None
        host = host_of(seed)
        if not host or any(c.isspace() or c in "<>\"{}|\\^`" for c in host):
            # (said of the seed, not of the scope made of it)
            raise ConfigError(f"{where}: {key}[{i}]: {url!r} has no host a request can be sent to")
        seeds.append(seed)
    return tuple(seeds)


def _check_values(doc: dict[str, Any], where: str, path: str = "") -> None:
    """What the schema cannot say: numbers are finite (TOML has inf and nan, which would
    make a crawl wait for ever), and scope patterns are regular expressions."""
    for key, value in doc.items():
        at = f"{path}{key}"
        if isinstance(value, dict):
            _check_values(value, where, at + ".")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: {at}: {value} is not a finite number")
        elif key == "user_agent" and isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value):
            # (a line break would end the header: sent and archived as another, or cut)
            raise ConfigError(f"{where}: {at}: {value!r} holds a control character, which no header can")
        elif key in ("allow_patterns", "deny_patterns") and isinstance(value, list):
            for i, pattern in enumerate(value):
                try:
                    re.compile(pattern)
                except (re.error, TypeError) as exc:
                    raise ConfigError(f"{where}: {at}[{i}]: {pattern!r} is not a regular expression ({exc})") from None


def _as_integers(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with each count the schema says is an integer as one: TOML's ``1e9`` or
    ``2.0``, which the schema takes (an integral number), went on as a float, into the
    manifest (a config hash other than the same file's with ``2``) and to code that reads
    that many bytes (a part size)."""
    fields = load_schema("collection")["$defs"]["collection"]["properties"]
    out = dict(doc)
    for section, value in doc.items():
        spec = fields.get(section, {}).get("properties")
        if isinstance(value, dict) and spec:
            out[section] = {key: int(v) if isinstance(v, float) and spec.get(key, {}).get("type") == "integer" else v
                            for key, v in value.items()}
    return out


def _check_storage(storage: dict[str, Any] | None, where: str) -> None:
    """The bucket and endpoint a job's push will use, read now, as the push reads them: a
    bad one was found only once the crawl was done, and said to be retried by the next."""
    if storage is None:
        return
    from archive.errors import UsageError
    from archive.storage.s3 import parse_s3_url

    try:
        parse_s3_url(storage["to"])
    except UsageError as exc:
        raise ConfigError(f"{where}: storage.to: {exc}") from None
    endpoint = storage.get("endpoint_url")
    if endpoint is not None:
        try:
            usable = bool(urlsplit(endpoint).hostname)
        except ValueError:
            usable = False
        if not usable:
            raise ConfigError(f"{where}: storage.endpoint_url: {endpoint!r} is not an http(s) URL with a host")


def one_off(
    name: str,
    *,
    urls: list[str] = (),  # type: ignore[assignment]
    feeds: list[str] = (),  # type: ignore[assignment]
    sitemaps: list[str] = (),  # type: ignore[assignment]
    max_pages: int | None = None,
    max_depth: int | None = None,
    warc_max_bytes: int | None = None,
    min_free_bytes: int | None = None,
) -> Collection:
    """A collection made from command-line flags."""
    doc: dict[str, Any] = {"name": name, "urls": list(urls), "feeds": list(feeds), "sitemaps": list(sitemaps)}
    return with_overrides(collection_from_dict(doc, where="command line"), max_pages=max_pages,
                          max_depth=max_depth, warc_max_bytes=warc_max_bytes, min_free_bytes=min_free_bytes)


def with_overrides(
    collection: Collection,
    *,
    max_pages: int | None = None,
    max_depth: int | None = None,
    warc_max_bytes: int | None = None,
    min_free_bytes: int | None = None,
) -> Collection:
    """Command-line ``--max-pages``, ``--depth``, ``--warc-max-bytes`` and
    ``--min-free-bytes`` win over the config."""
    doc = collection.effective()
    if max_pages is not None:
        doc["scope"]["max_pages"] = max_pages
    if max_depth is not None:
        doc["scope"]["max_depth"] = max_depth
    if warc_max_bytes is not None:
        doc["caps"]["warc_max_bytes"] = warc_max_bytes
    if min_free_bytes is not None:
        doc["caps"]["min_free_bytes"] = min_free_bytes
    return collection_from_dict(doc, where="command line")


def load_collections(path: Path, names: list[str] | None = None) -> list[Collection]:
    """Read a TOML collections file; every error names the file and the line or key path."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8-sig"))  # (a byte-order mark, as Notepad writes one, is no statement)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    text = raw.decode("utf-8-sig")
    found = problems("collection", doc)
    if found:
        raise ConfigError(f"{path}: " + "; ".join(_on_its_line(_key_path(p), text, doc) for p in found))
    tables = doc["collection"]
    seen: set[str] = set()
    for index, table in enumerate(tables):
        if table["name"] in seen:
            raise ConfigError(f"{path}: collection[{index}].name: {table['name']!r} is used twice")
        seen.add(table["name"])
    if names:
        unknown = [n for n in names if n not in seen]
        if unknown:
            raise ConfigError(f"{path}: no collection named {', '.join(map(repr, unknown))}; "
                              f"the file has {', '.join(sorted(seen))}")
    collections = []
    for index, table in enumerate(tables):
        if names and table["name"] not in names:
            continue
        where = f"{path}: collection {table['name']!r}"
        try:
            collections.append(collection_from_dict(table, where=where))
        except ConfigError as exc:
            said = str(exc).removeprefix(where + ": ")
            raise ConfigError(f"{where}: {_on_its_line(f'collection[{index}].{said}', text, doc, shown=said)}") \
                from None
    return collections


# A problem's key path, as _key_path writes it: collection[0].scope.deny_patterns[1]: ...
_PROBLEM_PATH = re.compile(r"^(collection\[\d+\](?:\.[A-Za-z_]+|\[\d+\])*): ")
_COLLECTION_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*collection[ \t]*\]\]", re.MULTILINE)


def _on_its_line(problem: str, text: str, doc: dict[str, Any], shown: str | None = None) -> str:
    """``problem`` (or ``shown`` for it) with the line of the file that holds the string it
    is about, where that string is written there once within its collection: "(line 7)".
    (TOML readers keep no places; the key path alone leaves a long file to be counted.)"""
    shown = problem if shown is None else shown
    found = _PROBLEM_PATH.match(problem)
    if found is None:
        return shown
    value: Any = doc
    for key in re.findall(r"[A-Za-z_]+|\d+", found.group(1)):
        try:
            value = value[int(key)] if key.isdigit() else value[key]
        except (KeyError, IndexError, TypeError):
            return shown
    if not isinstance(value, str) or not value:
        return shown
    index = int(re.match(r"collection\[(\d+)\]", problem).group(1))  # type: ignore[union-attr]
    starts = [m.start() for m in _COLLECTION_HEADER.finditer(text)]
    if len(starts) != len(doc.get("collection", [])):  # (an inline array of tables: no headers to go by)
        return shown
    part = text[starts[index]:starts[index + 1] if index + 1 < len(starts) else len(text)]
    spellings = {json.dumps(value, ensure_ascii=False), f"'{value}'"}
    at = [m.start() for spelling in spellings for m in re.finditer(re.escape(spelling), part)]
    if len(at) != 1:
        return shown
    return f"{shown} (line {text.count(chr(10), 0, starts[index] + at[0]) + 1})"


# Cron values croniter takes that a schedule must not use: random or hashed ones (R, H),
# which croniter draws anew each time it is asked, so that a collection would run several
# times in one period.
_DRAWN = re.compile(r"(?:^|[,/-])[RH](?:$|[,/(-])", re.IGNORECASE)


def check_schedule(doc: dict[str, Any], where: str, *, to_come: bool = False) -> None:
    """Cron syntax and time zone are checked when the file is read, not when the job is due;
    with ``to_come``, that the schedule fires again (``archive schedule`` asks: a crawl, or
    the configuration a finished job recorded, may have a schedule whose last date, a year's,
    has passed)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import CroniterBadDateError, croniter

    if "schedule" in doc:
        expr = doc["schedule"]
        fields = expr.split() if isinstance(expr, str) else []
        if not croniter.is_valid(expr) or any(_DRAWN.search(f) for f in fields):
            raise ConfigError(f"{where}: schedule: {expr!r} is not a valid cron expression (five fields: minute hour "
                              "day-of-month month day-of-week; a sixth field is seconds (0-59), a seventh the year; no R or H)")
    if "schedule" in doc and to_come:
        try:  # valid, yet naming no date to come ("0 0 30 2 *")
            croniter(doc["schedule"]).get_next()
        except CroniterBadDateError:
            raise ConfigError(f"{where}: schedule: {doc['schedule']!r} never fires: no date to come matches "
                              "it") from None
    if "timezone" in doc:
        try:
            ZoneInfo(doc["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}: timezone: {doc['timezone']!r} is not a known IANA time zone") from None


def _key_path(problem: str) -> str:
    """``collection/0/scope/max_depth: msg`` -> ``collection[0].scope.max_depth: msg``."""
    where, _, message = problem.partition(": ")
    parts = where.split("/")
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return f"{out}: {message}"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def redact(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: ("[redacted]" if k.lower() in SECRET_KEYS else redact(v)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact(v) for v in doc]
    return doc


def canonical_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def config_hash(doc: Any) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no whitespace) of a redacted config."""
    return "sha256:" + hashlib.sha256(canonical_json(doc)).hexdigest()
