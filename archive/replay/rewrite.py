"""Rewriting archived HTML and CSS so that links and page resources stay in the archive.

HTML is tokenised with the standard library's ``html.parser`` and only the spans that need
it are replaced (URL attribute values, ``style`` attributes and elements, meta refresh); all
other bytes are copied unchanged. The document is handled as Latin-1 text, which maps every
byte to one character and back, so the rewriter needs no charset and cannot damage text in
any ASCII-compatible encoding (the page keeps its archived ``Content-Type`` charset).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from archive.links import css_unescape, image_set_strings, srcset_spans
from archive.urls import join_url, refresh_parts

MakeUrl = Callable[[str], str]  # absolute archived URL -> replay URL

_URL_ATTRS = {"href", "xlink:href", "src", "action", "formaction", "poster", "background", "longdesc", "cite"}
_KEEP_SCHEMES = ("javascript:", "data:", "mailto:", "tel:", "about:", "blob:", "#")
# (an unquoted value ends only at white space or ">", as browsers read it: "=" and quotes
# inside it are part of it, as in ``href=/q?a=2``)
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
_CSS_URL = re.compile(r"""url\(\s*(["']?)(.*?)\1\s*\)""", re.IGNORECASE | re.DOTALL)
_CSS_IMPORT = re.compile(r"""@import\s+(["'])(.*?)\1""", re.IGNORECASE)
# HTML §4.2.5.3 (shared declarative refresh steps): a delay of digits and dots, then ";", ","
# or whitespace, then the URL, "url=" and quotes optional ("5; http://x", "0,URL='x'").
_COMMENT_END = re.compile(r"--!?>")


def _raw_text_end(elem: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(elem)}(?=[\t\n\r\f />])", re.IGNORECASE)


def page_encoding(content_type: str | None, body: bytes) -> str:
    """The encoding a page's URLs are read in, as the crawl read them: a byte order mark's,
    the ``Content-Type`` charset, a ``<meta>``'s, else UTF-8 (as Python names it). One that
    is no ASCII superset is read as UTF-8, as the rest of the rewriter reads it."""
    encoding = (read_bom(body)[0] or http_content_type_encoding(content_type)
                or html_body_declared_encoding(body[:4096]) or "utf-8")
    try:
        ascii_superset = _ASCII.decode(encoding) == _ASCII.decode("ascii")  # (not UTF-16, UTF-7, ISO-2022-JP, EBCDIC)
    except (LookupError, UnicodeError):  # (or a codec of no text: "charset=base64")
        ascii_superset = False
    return encoding if ascii_superset else "utf-8"


_ASCII = bytes(range(128))


_PAGE_RUN = re.compile("[\x00-\xff]+")  # (whole: the second byte of a character may be ASCII, as in Shift_JIS)


def _decoded(text: str, encoding: str) -> str:
    """Page text (Latin-1 characters for the page's bytes, those above U+00FF from
    character references) as the browser reads it: the bytes in the page's encoding, those
    that are no character of it as lone surrogates, which _ascii writes back as they were."""
    if text.isascii() or encoding == "utf-8":  # (UTF-8 bytes are percent-encoded as they are)
        return text
    return _unicode(text, encoding)


def _unicode(text: str, encoding: str) -> str:
    def run(m: re.Match[str]) -> str:
        data = m.group().encode("latin-1")
        try:
            return data.decode(encoding, "surrogateescape")
        except UnicodeDecodeError:  # (an escape sequence of ISO-2022-JP gone wrong): the bytes as they are
            return data.decode("ascii", "surrogateescape")

    return _PAGE_RUN.sub(run, text)


def _page_text(text: str, encoding: str) -> str:
    """What _unicode read, as page text again."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 128:
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(chr(code - 0xDC00))
        else:
            try:
                out.append(ch.encode(encoding).decode("latin-1"))
            except UnicodeEncodeError:
                out.append(ch)
    return "".join(out)


def _css_unescaped(text: str, encoding: str) -> str:
    """A URL in CSS (page text) with its escapes undone, as page text: read in the page's
    characters, since a backslash byte may be the second byte of one (in Shift_JIS)."""
    if "\\" not in text:
        return text
    return _page_text(css_unescape(_unicode(text, encoding)), encoding)


def _escaped(text: str, encoding: str, charrefs: bool = False) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if code < 128:
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte of the page that is no character of its encoding
            out.append(f"%{code - 0xDC00:02X}")
        else:
            try:
                data = ch.encode(encoding)
            except UnicodeEncodeError:  # (only in a query: browsers send "&#N;")
                out.append(f"%26%23{code}%3B" if charrefs else "".join(f"%{b:02X}" for b in ch.encode("utf-8")))
                continue
            out.extend(f"%{b:02X}" for b in data)
    return "".join(out)


def _ascii(url: str, encoding: str = "utf-8") -> str:
    """``url`` (as _decoded gives it) percent-encoded as a browser sends it: its query in the
    page's encoding, the rest in UTF-8. On a UTF-8 page, Latin-1 characters stand for the
    page's own bytes and are sent as they are."""
    if url.isascii():
        return url
    if encoding == "utf-8":
        return _escaped(url.translate(_PAGE_BYTES), "utf-8")
    end = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    if url[end:end + 1] != "?":
        return _escaped(url, "utf-8")
    query_end = url.find("#", end)
    query_end = len(url) if query_end < 0 else query_end
    return (_escaped(url[:end], "utf-8") + _escaped(url[end:query_end], encoding, charrefs=True)
            + _escaped(url[query_end:], "utf-8"))


def rewrite_url(value: str, base: str, make: MakeUrl, encoding: str = "utf-8") -> str | None:
    """The replay URL for a link ``value`` found in a document at ``base``; None to keep it.
    ``encoding``: the document's, in which its non-ASCII characters are read and its query
    sent, as browsers do."""
    text = _decoded(value.strip(), encoding)
    if not text or text.lower().startswith(_KEEP_SCHEMES):
        return None
    try:
        absolute = join_url(base, text)
        scheme = urlsplit(absolute).scheme
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None
    return make(_ascii(absolute, encoding))


def rewrite_refresh(value: str, base: str, make: MakeUrl, encoding: str = "utf-8") -> str | None:
    """A ``<meta http-equiv=refresh>`` content or ``Refresh`` header pointing into the archive."""
    parts = refresh_parts(value)
    if parts is None:
        return None
    new = rewrite_url(parts[1], base, make, encoding)
    return None if new is None else parts[0] + new


def rewrite_css(css: str, base: str, make: MakeUrl, encoding: str = "utf-8") -> str:
    # The URL as the browser reads it (escapes undone), written back where no character of
    # it can end the string or begin an escape.
    def url_sub(m: re.Match[str]) -> str:
        new = rewrite_url(_css_unescaped(m.group(2), encoding), base, make, encoding)
        return m.group(0) if new is None else f'url("{_css_string(new)}")'

    def import_sub(m: re.Match[str]) -> str:
        new = rewrite_url(_css_unescaped(m.group(2), encoding), base, make, encoding)
        return m.group(0) if new is None else f'@import "{_css_string(new)}"'

    for start, end in reversed(image_set_strings(css)):  # (first: the spans are of the text as it is)
        new = rewrite_url(_css_unescaped(css[start:end], encoding), base, make, encoding)
        if new is not None:
            css = css[:start] + _css_string(new).replace("'", "%27") + css[end:]
    return _CSS_IMPORT.sub(import_sub, _CSS_URL.sub(url_sub, css))


def _css_string(url: str) -> str:
    """``url`` as it can stand between double quotes in CSS."""
    return url.replace("\\", "%5C").replace('"', "%22").replace("\n", "%0A")


def rewrite_css_bytes(body: bytes, base: str, make: MakeUrl, encoding: str = "utf-8") -> bytes:
    return rewrite_css(body.decode("latin-1"), base, make, encoding).encode("latin-1")


# A start tag of an XML document, and within it (walked attribute by attribute with _ATTR,
# so that text inside another attribute's value is not taken for one) the href of an SVG
# element: SVG 2's, or SVG 1.1's xlink:href.
_XML_TAG = re.compile(r"<([A-Za-z_][^\s/>]*)([^>]*)>")
_SVG_HREFS = ("href", "xlink:href")


def rewrite_svg_bytes(body: bytes, base: str, make: MakeUrl) -> bytes:
    """An SVG document with the URLs its elements refer to (links, images, ``<use>``s of
    another file) pointed into the archive; references within the document (``#id``) are
    left as they are. Its scripts do not run in replay (it is sandboxed), but a link in it
    is followed when clicked."""

    def attr(m: re.Match[str]) -> str:
        value = m.group(2)
        if m.group(1) not in _SVG_HREFS or not value or value[:1] not in "\"'" or len(value) < 2:
            return m.group(0)
        url = html.unescape(value[1:-1])
        new = None if url.strip().startswith("#") else rewrite_url(url, base, make)
        return m.group(0) if new is None else f'{m.group(1)}="{html.escape(new)}"'

    def tag(m: re.Match[str]) -> str:
        attrs = m.group(2)
        if "href" not in attrs:
            return m.group(0)
        return f"<{m.group(1)}{_ATTR.sub(attr, attrs)}>"

    return _XML_TAG.sub(tag, body.decode("latin-1")).encode("latin-1")


# The starts of an HTML document a browser recognises in a body of no type (the MIME
# Sniffing Standard's HTML patterns), each followed by a space or ">".
_HTML_STARTS = tuple(b"<" + tag for tag in (b"!DOCTYPE HTML", b"HTML", b"HEAD", b"SCRIPT", b"IFRAME", b"H1", b"DIV",
                                            b"FONT", b"TABLE", b"A", b"STYLE", b"TITLE", b"B", b"BODY", b"BR", b"P",
                                            b"!--"))


def sniffs_as_html(body: bytes) -> bool:
    """Whether a browser takes ``body``, sent with no type, for HTML."""
    start = body[:512].lstrip(b"\t\n\x0c\r ").upper()
    return any(start.startswith(pattern) and start[len(pattern):len(pattern) + 1] in (b" ", b">")
               for pattern in _HTML_STARTS)


def _srcset(value: str, base: str, make: MakeUrl, encoding: str = "utf-8") -> str | None:
    """``value`` with each candidate's URL rewritten, all else as it was; None if none is."""
    out, done = [], 0
    for start, end in srcset_spans(value):
        new = rewrite_url(value[start:end], base, make, encoding)
        if new is not None:
            out += [value[done:start], new]
            done = end
    return "".join(out) + value[done:] if out else None


ImportMap = dict[str, Any]  # an import map document: {"imports": {...}, "scopes": {...}}


def import_map_tag(doc: ImportMap) -> str:
    """A ``<script type="importmap">`` of ``doc`` (ASCII, as ``first`` must be)."""
    return f'<script type="importmap">{_json_text(doc)}</script>'


# The page's own bytes above ASCII, as the Latin-1 text stands for them, are carried through
# a parse of its JSON as these code points (Python's surrogateescape), and written back as
# the same bytes; characters a JSON escape gave are written as escapes again.
_PAGE_BYTES = str.maketrans({chr(b): chr(0xDC00 + b) for b in range(0x80, 0x100)})
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")


def _written(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return chr(code - 0xDC00)
    units = match.group().encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


def _as_page_text(value: str) -> str:
    """A string of a parsed import map as Latin-1 text of bytes, as the rest of the page is
    handled: the page's own bytes as they were, a character an escape gave in UTF-8."""
    out = bytearray()
    for ch in value:
        code = ord(ch)
        if code < 0x80:
            out.append(code)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(code - 0xDC00)
        else:
            out += ch.encode("utf-8", "surrogatepass")
    return out.decode("latin-1")


def _json_text(doc: Any) -> str:
    """JSON of ``doc`` as Latin-1 text of the page's bytes, which cannot end the script
    element it is in."""
    return _NOT_ASCII.sub(_written, json.dumps(doc, ensure_ascii=False)).replace("<", "\\u003c")


def _url_like(key: str) -> bool:
    """Whether an import map key is a URL (matched as one) rather than a bare name."""
    return key.startswith(("/", "./", "../", "http://", "https://"))


def rewrite_import_map(text: str, base: str, make: MakeUrl, extra: ImportMap | None = None) -> str | None:
    """A page's import map with the addresses it maps to, and the scopes it maps within,
    in the archive, and ``extra``'s scopes merged in (the page's own entries first). Its
    keys stay as written, since modules import by the specifiers as written; a key that is
    a URL gets its archived form too, for a relative import resolved in the archive. None
    when the text is no import map JSON can read (the browser cannot read it either)."""
    try:
        doc = json.loads(text.translate(_PAGE_BYTES))
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None

    def addresses(mapping: Any) -> Any:
        if not isinstance(mapping, dict):
            return mapping
        out = {}
        for key, value in mapping.items():
            new = (rewrite_url(_as_page_text(value), base, make) or value) if isinstance(value, str) else value
            out[key] = new
            archived = rewrite_url(_as_page_text(key), base, make) if _url_like(key) else None
            if archived is not None and archived not in mapping:
                out[archived] = new
        return out

    new = dict(doc)
    if "imports" in doc:
        new["imports"] = addresses(doc["imports"])
    scopes = doc.get("scopes")
    if isinstance(scopes, dict):
        new["scopes"] = {(rewrite_url(_as_page_text(scope), base, make) or scope): addresses(mapping)
                         for scope, mapping in scopes.items()}
    if extra and isinstance(new.get("scopes", {}), dict):
        # Scopes are looked in before the top level: the page's own URL entries go into
        # ours, which would otherwise take their specifiers first.
        imports = new.get("imports")
        own_urls = {k: v for k, v in imports.items() if _url_like(k)} if isinstance(imports, dict) else {}
        merged = dict(new.get("scopes", {}))
        for scope, entries in extra.get("scopes", {}).items():
            own = merged.get(scope)
            merged[scope] = {**entries, **own_urls, **(own if isinstance(own, dict) else {})}
        new["scopes"] = merged
    return text if new == doc else _json_text(new)


class _Rewriter(HTMLParser):
    def __init__(self, text: str, base: str, make: MakeUrl, banner: str | None, first: str | None = None,
                 imports: ImportMap | None = None, encoding: str = "utf-8"):
        super().__init__(convert_charrefs=False)
        self.text = text
        self.base = base
        self.make = make
        self.encoding = encoding
        self.based = False  # (a <base href> was read)
        self.banner = banner
        self.first = first
        # Merged into the page's own import map if it has one (browsers that take one map
        # only take the first), else placed after ``first`` (see result()).
        self.imports = imports if first is not None else None
        self.given_imports = imports
        self.in_import_map = False
        self.first_at: int | None = None  # the edit that places ``first``
        self.edits: list[tuple[int, int, str]] = []
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.banner_done = banner is None
        self.first_done = first is None
        self.head_end: int | None = None
        # Just past a byte order mark, the doctype (or XML declaration) and the <html> start
        # tag, where there are: nothing is inserted before them.
        self.bom_end = 3 if text.startswith("\xef\xbb\xbf") else 0
        self.html_end = 0
        self.decl_end = 0

    def _pos(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text()
        if raw is None:
            return
        if tag == "script":
            self.in_import_map = (dict(attrs).get("type") or "").strip().lower() == "importmap"
        start = self._pos()
        if tag == "html" and not self.html_end:
            self.html_end = start + len(raw)
        if not self.first_done:
            self._place_first(tag, start, start + len(raw))
        new = self._rewrite_tag(tag, raw)
        if new != raw:
            self.edits.append((start, start + len(raw), new))
        if tag == "body" and not self.banner_done:
            assert self.banner is not None
            self.edits.append((start + len(raw), start + len(raw), self.banner))
            self.banner_done = True
        elif tag == "frameset":
            # A page of frames has no body to hold the banner, and the banner before its
            # frameset would start one: the browser then showed the banner alone, no frame.
            self.banner_done = True

    def _place_first(self, tag: str, start: int, end: int) -> None:
        """``first`` goes just inside <head>, or before the first element that is neither
        <html> nor <head>: before any script of the page, and after the doctype (text before
        it would put the page in quirks mode)."""
        assert self.first is not None
        if tag == "html":
            return
        self.edits.append((end, end, self.first) if tag == "head" else (start, start, self.first))
        self.first_at = len(self.edits) - 1
        self.first_done = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_decl(self, decl: str) -> None:
        if not self.decl_end:
            end = self.text.find(">", self._pos())
            self.decl_end = end + 1 if end >= 0 else 0

    handle_pi = handle_decl  # (<?xml ...?>)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head" and self.head_end is None:
            end = self.text.find(">", self._pos())
            self.head_end = end + 1 if end >= 0 else None

    # html.parser (before Python 3.13.4) ends comments, "<![" sections and script or style text
    # elsewhere than browsers do, and markup it reads as a comment or script a browser may act
    # on (a meta refresh after "<!-->"). These three follow HTML §13.2.5 instead.

    def parse_comment(self, i: int, report: bool = True) -> int:
        text = self.rawdata
        if text.startswith((">", "->"), i + 4):  # "<!-->" and "<!--->" are whole comments
            start = end = text.index(">", i + 4)
        else:
            m = _COMMENT_END.search(text, i + 4)
            if m is None:
                return -1
            start, end = m.start(), m.end() - 1
        if report:
            self.handle_comment(text[i + 4:start])
        return end + 1

    def parse_html_declaration(self, i: int) -> int:
        if self.rawdata.startswith("<![", i):  # CDATA sections exist in SVG and MathML only
            return self.parse_bogus_comment(i)
        return super().parse_html_declaration(i)

    def set_cdata_mode(self, elem: str, *args: Any, **kwargs: Any) -> None:
        super().set_cdata_mode(elem, *args, **kwargs)
        self.interesting = _raw_text_end(elem)

    def parse_endtag(self, i: int) -> int:
        if self.cdata_elem is not None and _raw_text_end(self.cdata_elem).match(self.rawdata, i):
            end = self.rawdata.find(">", i)  # "</script foo>" ends a script
            if end < 0:
                return -1
            self.handle_endtag(self.cdata_elem)
            self.clear_cdata_mode()
            return end + 1
        return super().parse_endtag(i)

    def handle_data(self, data: str) -> None:
        new: str | None = None
        if self.cdata_elem == "style":
            new = rewrite_css(data, self.base, self.make, self.encoding)
        elif self.cdata_elem == "script" and self.in_import_map:
            new = rewrite_import_map(data, self.base, self.make, self.imports)
            if new is not None:
                self.imports = None  # (merged: into the first map only)
        if new is not None and new != data:
            start = self._pos()
            self.edits.append((start, start + len(data), new))

    def _rewrite_tag(self, tag: str, raw: str) -> str:
        name_end = len(tag) + 1
        attrs = {m.group(1).lower(): m for m in _ATTR.finditer(raw, name_end)}
        if tag == "base" and "href" in attrs and not self.based:  # (the first one counts, HTML §4.2.3)
            self.based = True
            href = _decoded(html.unescape(_unquote(attrs["href"].group(2) or "")), self.encoding)
            self.base = _ascii(join_url(self.base, href), self.encoding)
        out, last = [], 0
        for m in _ATTR.finditer(raw, name_end):
            name, value = m.group(1).lower(), m.group(2)
            replacement = None
            if name == "integrity" and tag in ("link", "script"):
                # A rewritten stylesheet no longer matches its subresource-integrity hash.
                replacement = "data-archive-" + m.group(0)
            elif name == "type" and tag == "script" and _text(value).lower() == "speculationrules":
                # Rules by which the browser prefetches or prerenders pages, from the live web
                # where they name its URLs (no CSP covers a prefetch): kept, inert.
                replacement = 'type="text/x-archived-speculationrules"'
            elif name == "referrerpolicy" or (name == "content" and tag == "meta" and _kept_aside(attrs)):
                # A page that sends no Referer leaves the server no way to put a request that
                # missed the replay prefix back into the archive; the page's own policy names
                # the live site's hosts (or upgrades every request to https).
                replacement = "data-archive-" + m.group(0)
            elif name == "srcdoc" and tag == "iframe" and value is not None:
                # A document of its own, whose scripts could navigate to the live web: rewritten
                # as the page is, client script included. (Only the entities that quote markup
                # are read: any other stays as written, and reads the same after escaping.)
                inner = _SRCDOC_ENTITY.sub(lambda e: _SRCDOC_ENTITIES[e.group(0).lower()], _unquote(value))
                new = _Rewriter(inner, self.base, self.make, None, self.first, self.given_imports,
                                self.encoding).result()
                if new != inner:
                    replacement = f'{m.group(1)}="{html.escape(new, quote=True)}"'
            elif value is not None:
                replacement = self._rewrite_attr(tag, name, html.unescape(_unquote(value)), attrs)
                if replacement is not None:
                    replacement = f'{m.group(1)}="{html.escape(replacement, quote=True)}"'
            if replacement is not None:
                out.append(raw[last:m.start()])
                out.append(replacement)
                last = m.end()
        out.append(raw[last:])
        return "".join(out)

    def _rewrite_attr(self, tag: str, name: str, value: str, attrs: dict[str, re.Match[str]]) -> str | None:
        if name in _URL_ATTRS or (name == "data" and tag == "object"):
            return rewrite_url(value, self.base, self.make, self.encoding)
        if name in ("srcset", "imagesrcset"):
            return _srcset(value, self.base, self.make, self.encoding)
        if name == "style":
            new = rewrite_css(value, self.base, self.make, self.encoding)
            return new if new != value else None
        if name == "content" and tag == "meta" and "http-equiv" in attrs \
                and _text(attrs["http-equiv"].group(2)).lower() == "refresh":
            return rewrite_refresh(value, self.base, self.make, self.encoding)
        return None

    def result(self) -> str:
        self.feed(self.text)
        self.close()
        top = max(self.html_end, self.decl_end, self.bom_end)  # (nothing before the doctype: quirks mode)
        if not self.first_done and self.first is not None:
            self.edits.append((top, top, self.first))
            self.first_at = len(self.edits) - 1
        if self.imports is not None and self.first_at is not None:  # (no map of the page's took them)
            start, end, first = self.edits[self.first_at]
            self.edits[self.first_at] = (start, end, first + import_map_tag(self.imports))
        if not self.banner_done and self.banner is not None:
            at = self.head_end if self.head_end is not None else top
            self.edits.append((at, at, self.banner))
        out, last = [], 0
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], e[1])):
            if start < last:  # the parser re-reported a span; keep the first edit
                continue
            out.append(self.text[last:start])
            out.append(new)
            last = end
        out.append(self.text[last:])
        return "".join(out)


_SRCDOC_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#34;": '"', "&#x22;": '"', "&apos;": "'",
                    "&#39;": "'", "&#x27;": "'", "&amp;": "&"}
_SRCDOC_ENTITY = re.compile("|".join(re.escape(e) for e in _SRCDOC_ENTITIES), re.IGNORECASE)


def _kept_aside(attrs: dict[str, re.Match[str]]) -> bool:
    """Whether a ``<meta>`` is a referrer policy or a Content-Security-Policy, whose content
    replay keeps aside as it does the same headers."""
    def value(name: str) -> str:
        m = attrs.get(name)
        return "" if m is None else _text(m.group(2)).lower()

    return value("name") == "referrer" or value("http-equiv") == "content-security-policy"


def _text(value: str | None) -> str:
    """An attribute's value as the browser reads it (quotes off, character references
    decoded, as in ``type="speculation&#114;ules"``), white space at its ends dropped."""
    return html.unescape(_unquote(value or "")).strip()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def rewrite_html(body: bytes, base: str, make: MakeUrl, banner: str | None = None, first: str | None = None,
                 imports: ImportMap | None = None, encoding: str = "utf-8") -> bytes:
    """``body`` with its links pointing into the archive, ``banner`` after ``<body>`` and
    ``first`` (markup to come before the page's own scripts) at the start of the head.
    ``imports``: an import map (its scopes) to come with ``first``, merged into the page's
    own map if it has one. ``encoding``: the page's (:func:`page_encoding`), in which
    the non-ASCII characters of its URLs are read and their queries sent.

    ``banner``, ``first`` and ``imports`` must be ASCII (character references for anything
    else), so that they are the same text in whatever charset the page is in.
    """
    return _Rewriter(body.decode("latin-1"), base, make, banner, first, imports, encoding).result().encode("latin-1")


_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def declared_charset(body: bytes) -> str | None:
    """The charset a ``<meta>`` in the first 1,024 bytes declares, where a browser looks
    for one (HTML §13.2.3.2, much simplified); None if there is none."""
    m = _META_CHARSET.search(body, 0, 1024)
    if m is None:
        return None
    charset = m.group(1).decode("ascii")
    # A <meta> cannot switch to UTF-16 (the page would not be ASCII-compatible to say so): a
    # browser reads UTF-8 instead, and windows-1252 for x-user-defined.
    return {"x-user-defined": "windows-1252"}.get(charset.lower(), "utf-8" if charset.lower().startswith("utf-16")
                                                  else charset)
