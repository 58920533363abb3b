"""The replay server's own HTML pages: collections, page search, capture list, not found."""

from __future__ import annotations

import html
from typing import Any

from archive.replay.banner import human_time

_CSS = ("body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 8px;"
        "border-bottom:1px solid #ddd;vertical-align:top}code{font-size:90%}.muted{color:#666}")


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, body: str) -> bytes:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n").encode()


def collections_page(names: list[str]) -> bytes:
    items = "".join(f'<li><a href="/{esc(n)}/">{esc(n)}</a></li>' for n in names)
    return page("Archive collections", f"<h1>Collections</h1><ul>{items or '<li>none yet</li>'}</ul>")


def search_page(coll: str, rows: list[dict[str, Any]], query: str, limit: int) -> bytes:
    trs = "".join(
        f'<tr><td><a href="/{esc(coll)}/{esc(r["timestamp"])}/{esc(r["url"])}">{esc(r["title"] or r["url"])}</a>'
        f'<br><code class="muted">{esc(r["url"])}</code></td><td>{esc(human_time(r["timestamp"]))}</td></tr>'
        for r in rows)
    more = f'<p class="muted">Showing the first {limit}; narrow the search.</p>' if len(rows) >= limit else ""
    return page(f"{coll}: captured pages", (
        f'<p><a href="/">collections</a></p><h1>{esc(coll)}</h1>'
        f'<form method="get" action="/{esc(coll)}/"><input name="q" value="{esc(query)}" '
        'placeholder="title or URL" size="40"> <button>Search</button></form>'
        f"<p>{len(rows)} page{'s' if len(rows) != 1 else ''}{' matching ' + esc(repr(query)) if query else ''}.</p>"
        f"<table><tr><th>Page</th><th>Captured</th></tr>{trs}</table>{more}"))


def captures_page(coll: str, url: str, entries: list[Any]) -> bytes:
    trs = "".join(
        f'<tr><td><a href="/{esc(coll)}/{esc(e.timestamp)}/{esc(e.url)}">{esc(human_time(e.timestamp))}</a></td>'
        f"<td>{esc(e.status or '-')}</td><td>{esc(e.mime)}</td><td><code>{esc(e.digest)}</code></td>"
        f'<td><a href="/{esc(coll)}/{esc(e.timestamp)}prov_/{esc(e.url)}">provenance</a></td></tr>'
        for e in entries)
    return page(f"Captures of {url}", (
        f'<p><a href="/{esc(coll)}/">{esc(coll)}</a></p><h1>Captures of <code>{esc(url)}</code></h1>'
        f"<p>{len(entries)} capture{'s' if len(entries) != 1 else ''}.</p>"
        "<table><tr><th>Time</th><th>Status</th><th>Type</th><th>Payload digest</th><th></th></tr>"
        f"{trs}</table>"))


def not_found_page(coll: str | None, what: str, detail: str = "") -> bytes:
    back = f'<p><a href="/{esc(coll)}/">Search the {esc(coll)} collection</a></p>' if coll else ""
    return page("Not in the archive", (
        f"<h1>Not in the archive</h1><p><code>{esc(what)}</code> is not found"
        f"{' in ' + esc(coll) if coll else ''}.</p>{'<p>' + esc(detail) + '</p>' if detail else ''}{back}"
        '<p><a href="/">All collections</a></p>'))


def error_page(status: str, message: str) -> bytes:
    return page(status, f"<h1>{esc(status)}</h1><p>{esc(message)}</p>")
