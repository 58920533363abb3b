"""url()s in styles that a replayed page's scripts set, CSS escapes and all, read by the
client script as the browser reads them, and the background images they set, in headless
Chromium."""

from __future__ import annotations

import json

import pytest
from test_replay_browser import CHROMIUM, _archived_site, _live_web, _png, browser  # noqa: F401 (browser: a fixture)

from archive.replay import serve_in_thread

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="/usr/bin/chromium is absent (apt-get install chromium; .ci/run does)")

# (JavaScript string literals: "\\2f " is the CSS escape \2f , a "/")
STYLED = {
    "property": r"""el.style.backgroundImage = 'url(\\2f img\\2f a.png)'""",
    "text": r"""el.style.cssText = 'width:1px;height:1px;background-image:url("\\2f img\\2f a\\2e png")'""",
    "attribute": r"""el.setAttribute("style", "background-image:url(\\2f img\\2f a.png)")""",
    "absolute": r"""el.style.backgroundImage = 'url(SITE\\2f img\\2f a.png)'""",
    "scheme": r"""el.setAttribute("style", "background:url(http\\3a //HOST/img/a.png) no-repeat")""",
    "quoted": r"""el.setAttribute("style", "background-image:url('\\2f img\\2f it\\'s.png')")""",
    "string": r"""el.setAttribute("style", 'background-image:url("\\2f img\\2f \\"q\\".png")')""",
    "continued": "el.setAttribute(\"style\", 'background-image:url(\"/img/a\\\\\\n.png\")')",
    "markup": r"""el.innerHTML = '<i style="display:block;background-image:url(\\2f img\\2f a.png)"></i>'""",
}


def _page(site: str) -> bytes:
    host = site.removeprefix("http://")
    lines = [f"el = document.getElementById({name!r}); {code.replace('SITE', site).replace('HOST', host)};"
             for name, code in STYLED.items()]
    divs = "".join(f'<div id="{name}"></div>' for name in STYLED)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{divs}<script>var el;\n'
            + "\n".join(lines) + "\n</script></body></html>").encode()


def test_css_escapes_in_urls_a_script_sets_are_read_as_the_browser_reads_them(browser, tmp_path):  # noqa: F811
    with _live_web() as live:
        site = f"http://127.0.0.1:{live.server_port}"
        png = (b"image/png", _png())
        store = _archived_site(tmp_path / "store", "styled", site, {
            "/page": (b"text/html", _page(site)), "/img/a.png": png, "/img/it's.png": png,
            '/img/"q".png': png})
        with serve_in_thread(store) as base:
            prefix = f"{base}/styled/20260301120000/{site}"
            browser.navigate(f"{prefix}/page")
            computed = json.loads(browser.evaluate(
                "JSON.stringify(Object.fromEntries(" + json.dumps(list(STYLED))
                + ".map(id => { var el = document.getElementById(id); el = el.firstElementChild || el; "
                "return [id, getComputedStyle(el).backgroundImage]; })))"))
    assert computed == {
        **dict.fromkeys(STYLED, f'url("{prefix}/img/a.png")'),
        "quoted": f'url("{prefix}/img/it\'s.png")', "string": f'url("{prefix}/img/%22q%22.png")'}
    assert live.requests == [] and live.connections == 0


def test_background_images_a_script_sets_on_a_body_and_table_cells_come_from_the_archive(browser, tmp_path):  # noqa: F811
    script = """var cell = document.getElementById("cell"); cell.setAttribute("background", "/img/a.png");
    document.getElementById("written").innerHTML =
      '<table><tr><td id="inner" background="SITE/img/a.png">x</td></tr></table>';
    document.body.background = "SITE/img/a.png";"""
    with _live_web() as live:
        site = f"http://127.0.0.1:{live.server_port}"
        page = (f'<html><body><table><tr><td id="cell">x</td></tr></table><div id="written"></div>'
                f"<script>{script.replace('SITE', site)}</script></body></html>").encode()
        store = _archived_site(tmp_path / "store", "styled", site, {
            "/page": (b"text/html", page), "/img/a.png": (b"image/png", _png())})
        with serve_in_thread(store) as base:
            prefix = f"{base}/styled/20260301120000/{site}"
            browser.navigate(f"{prefix}/page")
            computed = json.loads(browser.evaluate(
                "JSON.stringify([cell, document.getElementById('inner'), document.body]"
                ".map(el => getComputedStyle(el).backgroundImage))"))
    assert computed == [f'url("{prefix}/img/a.png")'] * 3
    assert live.requests == [] and live.connections == 0
