"""A response whose charset names a codec of no text is read as if it named none.

w3lib, which Scrapy decodes a response's text with, takes a charset for any of Python's
codecs, and ``charset=base64`` or ``rot13`` (in the ``Content-Type`` header or a
``<meta>``) then stopped every reading of the text with a ``LookupError``: the page was
captured, but its links went unfollowed, with a traceback in the crawl log and no error
counted. A browser passes over a label it does not know; so does the spider's copy of the
response here (the record keeps the header as sent).
"""

from __future__ import annotations

from typing import Any

from scrapy.http import Request, Response, TextResponse
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom


def _is_text(encoding: str | None) -> bool:
    if encoding is None:
        return True
    try:
        b"a".decode(encoding)  # (an empty one is let through)
    except LookupError:
        return False
    return True


class TextCharsetMiddleware:
    """Order 585: after the body is decoded (590), before the meta refresh (580) reads it."""

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if not isinstance(response, TextResponse) or read_bom(response.body)[0]:
            return response
        header = http_content_type_encoding(response.headers.get("Content-Type", b"").decode("latin-1"))
        if header is not None and _is_text(header):
            return response  # (the body's declaration is not read: the header's comes first)
        declared = html_body_declared_encoding(response.body)
        if header is None and _is_text(declared):
            return response
        return response.replace(encoding=declared if declared and _is_text(declared) else "utf-8")
