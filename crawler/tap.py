"""Request and response heads as they crossed the wire: a tap on Scrapy's HTTP/1.1 connections.

Scrapy's HTTP/1.1 client gives a downloader middleware the status code and its own
normalised copy of the headers: no reason phrase, names re-cased, connection headers
dropped, and ``Content-Length: 0`` for every response without a body whatever the server
said. :class:`TappingDownloadHandler` is Scrapy's handler with one addition: each
connection's protocol keeps the bytes of the response's status line and header block as
they arrived, up to and including the blank line, before Twisted parses them.

The head reaches the capture middleware through the ``headers_received`` signal, which
Scrapy sends from within the very call that delivers the bytes ending the head (Twisted
fires a response as soon as its head is parsed). While that call runs, :data:`current`
holds the head; the middleware takes it there (see ``crawler.middlewares``). Anything that
does not fit, such as an HTTP/2 connection, a handler that is not this one, or a status
that differs from the response's, leaves the middleware to rebuild the head from what
Scrapy exposes, and the record says what was rebuilt.

The request head is taken the same way: Twisted writes a request's line and headers in one
call to the connection's transport, from within ``request()``, and the tap keeps those bytes
(``Head.sent``), so that the request record holds the request as it went out, absolute
target and ``Host`` header included, rather than one rebuilt from Scrapy's headers.

Only the heads are tapped: the bodies' bytes go on untouched and uncopied.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from twisted.web._newclient import ParseError

from archive.warc.records import http_head_end as head_end

log = logging.getLogger(__name__)



class Head:
    """A response head as received (``raw``), the head of the request it answers as written
    (``sent``, or None if the tap did not see it), and Scrapy's reader of that response's
    body (``reader``) while the body comes, for :func:`received_so_far`. The capture middleware
    lets the reader go once the body is whole or the download has failed, so that the
    request's meta holds none of Twisted's objects for as long as Scrapy holds the request,
    and no reference cycle through the reader (which refers to the request) outlives the
    download; ``sent`` goes with it, once recorded, since it holds the request's secrets
    unredacted (cookies, credentials), which the meta would otherwise carry on to the
    spider and into redirected and retried requests."""

    __slots__ = ("done", "interim", "raw", "reader", "sent")

    def __init__(self, raw: bytes, sent: bytes | None = None, interim: str | None = None):
        self.raw = raw
        self.sent = sent
        # The status codes of the interim (1xx) responses that came before it, in order
        # ("100", "103 103"), or None: Twisted passes over them, the record says they came.
        self.interim = interim
        self.reader: Any = None
        self.done = False

    def release(self) -> None:
        """The download has ended, one way or another, and been recorded: the reader and
        the request head are not needed."""
        self.done, self.reader, self.sent = True, None, None


# The head whose response is being delivered at this moment, or None. The reactor runs in
# one thread and the delivery is one synchronous call, so one slot is enough.
current: Head | None = None

# Past this many bytes without a blank line the tap gives up on the response (Twisted
# refuses no number of header lines, only long ones: see MAX_LINE).
_MAX_HEAD = 1 << 20

# The longest status or header line taken: Twisted's parser refuses lines over 16 KiB,
# which real sites exceed (a Content-Security-Policy or Link header of preloads, a pile of
# cookies), while browsers take heads of up to 256 KiB. Longer, the download fails with a
# ParseError that says so, rather than with the bare "Connection was closed cleanly" that
# Twisted's dropped connection gives.
MAX_LINE = 256 << 10


def _line_too_long(line: bytes) -> None:
    raise ParseError(f"a status or header line of more than {MAX_LINE} bytes", line[:64])


def _interim(head: bytes | bytearray) -> bytes | None:
    """The status code of a 1xx head, which Twisted skips (the final response follows), or
    None for any other head."""
    parts = head[:head.find(b"\n")].split(None, 2)
    return parts[1] if len(parts) > 1 and len(parts[1]) == 3 and parts[1][:1] == b"1" else None


def tap(protocol: Any) -> None:
    """Keep each response's head on ``protocol`` (an HTTP11ClientProtocol).

    The tap is put in place by each ``request()`` and taken away once the head has passed,
    so a body's bytes reach the protocol with no extra call. The functions put on the
    protocol hold it weakly: a protocol that refers to itself would wait for the cyclic
    collector instead of going when its connection does."""
    cls = type(protocol)
    real_data, real_request = cls.dataReceived, cls.request
    ref = weakref.ref(protocol)
    pending = bytearray()  # a head that has come in parts
    sent: list[bytes | None] = [None]  # the head of the request on the wire now
    interim: list[str] = []  # the codes of the 1xx heads passed over for the response now

    def request(txrequest: Any) -> Any:
        proto = ref()
        pending.clear()
        interim.clear()
        sent[0] = None
        proto.dataReceived = head_data  # type: ignore[union-attr]
        transport = proto.transport  # type: ignore[union-attr]
        try:
            transport.writeSequence = request_head
        except AttributeError:  # (a transport that takes no attributes: the head is rebuilt)
            transport = None
        try:
            return real_request(proto, txrequest)
        finally:
            if transport is not None:
                transport.__dict__.pop("writeSequence", None)
            parser = getattr(proto, "_parser", None)
            if parser is not None:
                parser.MAX_LENGTH = MAX_LINE
                parser.lineLengthExceeded = _line_too_long

    def request_head(data: Any) -> None:
        # Twisted writes the request line and headers in one call, before any body.
        transport = ref().transport  # type: ignore[union-attr]
        transport.__dict__.pop("writeSequence", None)
        if not isinstance(data, list):
            data = list(data)
        sent[0] = b"".join(data)
        transport.writeSequence(data)

    def head_data(data: bytes) -> None:
        global current
        proto = ref()
        if pending:
            start = max(0, len(pending) - 2)
            pending.extend(data)
            buf: bytes | bytearray = pending
        else:
            start, buf = 0, data
        end = head_end(buf, start)
        while end >= 0 and buf[9:10] == b"1" and (code := _interim(buf[:end])) is not None:  # ("HTTP/1.1 1xx")
            interim.append(code.decode("latin-1"))
            buf = buf[end:]
            end = head_end(buf)
        if end < 0:
            if buf is not pending:
                pending[:] = buf
            if len(pending) > _MAX_HEAD:
                pending.clear()
                proto.__dict__.pop("dataReceived", None)
            real_data(proto, data)
            return
        head = current = Head(bytes(buf[:end]), sent[0], " ".join(interim) if interim else None)
        pending.clear()
        proto.__dict__.pop("dataReceived", None)  # the class's own, for the body
        parser = getattr(proto, "_parser", None)
        try:
            real_data(proto, data)
        finally:
            current = None
        # The response has been handed to Scrapy by now, and its body to Scrapy's reader,
        # which Twisted forgets when the connection goes: keep it for received_so_far(),
        # unless the download has already ended (a reactor that runs the middleware within
        # this very call).
        if not head.done:
            head.reader = getattr(getattr(parser, "response", None), "_bodyProtocol", None)

    protocol.request = request


def received_so_far(head: Head) -> tuple[bytes, Any, Any] | None:
    """The body bytes Scrapy's client had read of the response with ``head``, with the
    peer's address and certificate as the client saw them; for a download abandoned midway
    (its timeout ran out), whose bytes Scrapy drops. None where this Scrapy or Twisted keeps
    them elsewhere.

    This reads private attributes (Twisted's response keeps the protocol that reads its
    body, Scrapy's reader its buffer): a test fails if either library moves them."""
    try:
        reader = head.reader
        return reader._bodybuf.getvalue(), reader._ip_address, reader._certificate
    except AttributeError:
        return None


def tapping_factory(base: type) -> type:
    """A subclass of the connection pool's protocol factory ``base`` whose protocols are
    tapped."""

    class TappingFactory(base):  # type: ignore[misc, valid-type]
        def buildProtocol(self, addr: Any) -> Any:
            protocol = super().buildProtocol(addr)
            tap(protocol)
            return protocol

    TappingFactory.__qualname__ = f"Tapping{base.__name__}"
    return TappingFactory


class TappingDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 download handler whose connections keep each response's head as
    received and each request's as written (see the module's description). Set it for ``http`` and ``https`` in
    ``DOWNLOAD_HANDLERS``."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        pool = getattr(self, "_pool", None)
        factory = getattr(pool, "_factory", None)
        if not isinstance(factory, type) or not hasattr(factory, "buildProtocol"):
            log.warning("this Scrapy's HTTP/1.1 handler has no connection pool to tap: request and response heads "
                        "are rebuilt from the parsed headers, and the metadata records say so")
            return
        pool._factory = tapping_factory(factory)  # type: ignore[union-attr]
