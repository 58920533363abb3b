"""The thin banner on top of every replayed HTML page.

It says what the page is (capture time, original URL, payload digest), links to the
capture's provenance and to every capture of the URL, and can be hidden. It is ASCII only
(``xmlcharrefreplace``), so it reads the same in any charset the archived page uses.
"""

from __future__ import annotations

import html

_STYLE = ("all:initial;display:block;position:relative;z-index:2147483647;box-sizing:border-box;"
          "width:100%;padding:3px 8px;background:#fdf6d8;color:#222;border-bottom:1px solid #c9b45c;"
          "font:12px/1.5 system-ui,sans-serif")
_LINK = "all:initial;color:#1a4fa0;text-decoration:underline;cursor:pointer;font:inherit"
_BUTTON = ("all:initial;float:right;cursor:pointer;font:inherit;color:#444;border:1px solid #aaa;"
           "border-radius:3px;padding:0 6px;background:#fff")


def _esc(text: str) -> str:
    return html.escape(text, quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")


def human_time(timestamp: str) -> str:
    t = timestamp
    return f"{t[0:4]}-{t[4:6]}-{t[6:8]} {t[8:10]}:{t[10:12]}:{t[12:14]} UTC"


def banner_html(*, timestamp: str, url: str, digest: str, provenance_href: str, captures_href: str) -> str:
    return (
        f'<div id="archive-replay-banner" role="note" style="{_STYLE}">'
        f'<button type="button" style="{_BUTTON}" title="Hide this banner" '
        "onclick=\"this.parentNode.style.display='none'\">hide</button>"
        f"Archived copy captured <b style=\"all:initial;font:inherit;font-weight:bold\">{human_time(timestamp)}</b>"
        f" of <code style=\"all:initial;font:inherit;font-family:monospace\">{_esc(url)}</code>"
        f" &#183; payload {_esc(digest or 'unknown')}"
        f' &#183; <a style="{_LINK}" href="{_esc(provenance_href)}">provenance</a>'
        f' &#183; <a style="{_LINK}" href="{_esc(captures_href)}">all captures</a>'
        "</div>"
    )
