"""A page's links found in a process of its own, so the crawl process does not parse HTML.

Parsing each page with lxml to find its links and requisites was a fifth of the crawl
process's CPU, and the crawl process is bound to one core. :class:`PageParser` hands the
parse to a second process, ``python -m crawler.page_parser``: the spider sends the page's
bytes (as :func:`archive.links.html_bytes` prepares them) down a pipe, awaits the hrefs as
written, and resolves, filters and schedules them itself, as before.

- Same answers: the child runs the same functions of :mod:`archive.links` on the same
  bytes.
- No page loses its links: if the child cannot be started, dies, fails on a page, sends
  something that is not a reply, or leaves a page unanswered for ``PAGE_SECONDS``, that
  page is parsed in the crawl process (:class:`ParserGone` says so to the caller); after
  anything but a failure on one page, every page is.
- Only where it can pay: on two cores or more, under Scrapy's asyncio reactor, with
  ``ARCHIVE_PARSE_PROCESS`` (default True).
- The child ends when its input closes: when the crawl closes it, or when the crawl
  process dies. Ctrl-C and SIGTERM reach it with its process group and are ignored: the
  crawl process decides when to stop.

Frames: a request is ``(id, length, flags)`` packed, then the page's bytes; a reply is
``(mark, id, length, failed)`` packed, then a pickled ``(links, requisites, frames, favicon)`` or the text
of an error. The child writes replies to a descriptor of its own, not to its standard
output (which goes to standard error, where stray prints belong).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
from typing import Any, BinaryIO

from archive.links import names_icon, page_frames, page_links, page_requisites, parse_html_bytes
from archive.runtime import sigint_ignored_by_children, sigint_unblocked, usable_cores, widen_pipe

log = logging.getLogger(__name__)

_REQUEST = struct.Struct("!IIB")  # id, length of the page's bytes, flags
# A reply starts with a mark: whatever else reaches the pipe (a start-up script that prints,
# say) is noticed as such instead of being read as a length to wait for.
_MARK = b"APP1"
_REPLY = struct.Struct("!4sIIB")  # mark, id, length of the payload, 1 if the payload is an error's text
# A page the child has not answered for this long means it is stuck: it is stopped, and
# every page is parsed in the crawl process from then on.
PAGE_SECONDS = 60.0
_LINKS, _REQUISITES = 1, 2
_PIPE_BYTES = 1 << 20

Hrefs = tuple[list[str], list[str], list[str], bool]


class ParserGone(Exception):
    """The child could not parse this page (or is gone): parse it here."""


def hrefs(data: bytes, links: bool, requisites: bool) -> Hrefs:
    """A page's links, requisites and frames as written (what the child answers), frames
    with either; and, with requisites, whether a browser would ask for the ``/favicon.ico``
    of the page's host (it names no icon)."""
    root = parse_html_bytes(data)
    return ((page_links(root) if links else []), (page_requisites(root) if requisites else []),
            (page_frames(root) if links or requisites else []), requisites and not names_icon(root))


def worth_it() -> bool:
    """Whether a second process can take work off this one: there is another core it may
    run on."""
    return usable_cores() >= 2


class PageParser:
    """The crawl process's side: starts the child, sends pages, hands out the answers to
    whoever awaits them."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: asyncio.WriteTransport | None = None
        self._receive: asyncio.ReadTransport | None = None
        self._waiting: dict[int, tuple[asyncio.Future[Hrefs], float]] = {}  # and when it was sent
        self._next = 0
        self._gone: str | None = None  # why the child cannot answer, once it cannot
        self._replies: BinaryIO | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._watch: asyncio.TimerHandle | None = None
        self.answered = 0  # pages the child parsed

    def start(self) -> None:
        """Start the child and connect its pipes to the running loop. Until they are (the
        next turn of the loop), pages are parsed in the crawl process."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not under the asyncio reactor: nothing would hear the child
            self._gone = "no asyncio loop"
            return
        replies, to_us = os.pipe()  # the child's replies, apart from its standard output
        try:
            with sigint_ignored_by_children():
                self._proc = subprocess.Popen([sys.executable, "-m", "crawler.page_parser", str(to_us)],
                                              stdin=subprocess.PIPE, stdout=sys.stderr.fileno(),
                                              pass_fds=(to_us,), close_fds=True)
        except (OSError, ValueError) as exc:
            os.close(replies)
            self._lost(f"could not start the page parser: {exc}")
            return
        finally:
            os.close(to_us)
        self._replies = os.fdopen(replies, "rb", buffering=0)
        task = loop.create_task(self._connect(loop, self._proc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._watch = loop.call_later(PAGE_SECONDS / 4, self._check, loop)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        """Every quarter of ``PAGE_SECONDS``: give up on a child that sits on a page."""
        if self._gone is not None:
            return
        oldest = min((sent for _, sent in self._waiting.values()), default=None)
        if oldest is not None and loop.time() - oldest > PAGE_SECONDS:
            self._lost(f"the page parser left a page unanswered for {PAGE_SECONDS:.0f} s", stop=True)
            return
        self._watch = loop.call_later(PAGE_SECONDS / 4, self._check, loop)

    async def _connect(self, loop: asyncio.AbstractEventLoop, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and self._replies is not None
        widen_pipe(proc.stdin.fileno(), _PIPE_BYTES)
        try:
            self._receive, _ = await loop.connect_read_pipe(lambda: _Replies(self), self._replies)
            send, _ = await loop.connect_write_pipe(lambda: _Sender(self), proc.stdin)
        except (OSError, ValueError) as exc:
            proc.stdin.close()  # (its end of input: the child ends)
            self._lost(f"could not reach the page parser: {exc}")
            return
        if self._gone is None:
            self._send = send
        else:  # closed while connecting
            send.close()

    async def hrefs(self, data: bytes, *, links: bool = True, requisites: bool = True) -> Hrefs:
        """The page's links and requisites, found by the child; :class:`ParserGone` if it
        cannot answer (or is not ready yet)."""
        if self._send is None or self._gone is not None:
            raise ParserGone(self._gone or "not ready yet")
        if len(data) > 0xFFFFFFFF:
            raise ParserGone("a page too large for a frame")
        ident = self._next
        self._next = (ident + 1) & 0xFFFFFFFF
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Hrefs] = loop.create_future()
        self._waiting[ident] = (answer, loop.time())
        flags = (_LINKS if links else 0) | (_REQUISITES if requisites else 0)
        # Written in order, buffered by the transport when the pipe is full; the number of
        # pages waiting is bounded by Scrapy, which holds only so many responses at once.
        self._send.write(_REQUEST.pack(ident, len(data), flags))
        self._send.write(data)
        return await answer

    def _answer(self, ident: int, payload: bytes, failed: bool) -> None:
        answer, _ = self._waiting.pop(ident, (None, 0.0))
        if answer is None or answer.done():
            return
        if failed:
            answer.set_exception(ParserGone(payload.decode("utf-8", "replace")))
            return
        try:
            answer.set_result(pickle.loads(payload))
        except Exception as exc:  # noqa: BLE001 -- a reply that is not one: the child is no use
            answer.set_exception(ParserGone("an unreadable reply"))
            self._lost(f"the page parser sent an unreadable reply ({type(exc).__name__})", stop=True)
            return
        self.answered += 1

    def _lost(self, why: str, *, stop: bool = False) -> None:
        """The child is gone (``stop``: is of no use, and is stopped): every page waiting
        for it, and every page after, is parsed in the crawl process."""
        if self._gone is None:
            self._gone = why
            log.warning("%s; pages are parsed in the crawl process from now on", why)
        if stop and self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        waiting, self._waiting = self._waiting, {}
        for answer, _ in waiting.values():
            if not answer.done():
                answer.set_exception(ParserGone(why))

    async def close(self) -> None:
        """Close the child's input (it ends once it has answered what it has) and wait for
        it to end, five seconds at most."""
        self._gone = self._gone or "closed"
        if self._watch is not None:
            self._watch.cancel()
        if self._send is not None:
            self._send.close()
        proc, self._proc = self._proc, None
        if proc is not None:
            for _ in range(500):
                if proc.poll() is not None:
                    break
                await asyncio.sleep(0.01)  # (the loop closes the pipe on its next turn)
            else:
                proc.kill()
                proc.wait()
        if self._receive is not None:
            self._receive.close()
        elif self._replies is not None:
            self._replies.close()


class _Sender(asyncio.Protocol):
    def __init__(self, parser: PageParser):
        self.parser = parser

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.parser._lost(f"the page parser stopped reading ({exc})")


class _Replies(asyncio.Protocol):
    """Frames from the child, taken apart as they come in."""

    def __init__(self, parser: PageParser):
        self.parser = parser
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while len(buffer) >= _REPLY.size:
            mark, ident, length, failed = _REPLY.unpack_from(buffer)
            if mark != _MARK:
                buffer.clear()
                self.parser._lost("the page parser sent something that is not a reply", stop=True)
                return
            end = _REPLY.size + length
            if len(buffer) < end:
                return
            payload = bytes(buffer[_REPLY.size:end])
            del buffer[:end]
            self.parser._answer(ident, payload, bool(failed))

    def connection_lost(self, exc: Exception | None) -> None:
        self.parser._lost("the page parser ended" + (f" ({exc})" if exc else ""))


# -- the child ----------------------------------------------------------------------------------


def serve(inbox: BinaryIO, outbox: BinaryIO) -> int:
    """Answer every page read from ``inbox`` until it ends."""
    while True:
        head = inbox.read(_REQUEST.size)
        if len(head) < _REQUEST.size:
            return 0  # the crawl closed its end (or died)
        ident, length, flags = _REQUEST.unpack(head)
        data = inbox.read(length)
        if len(data) < length:
            return 0
        try:
            payload = pickle.dumps(hrefs(data, bool(flags & _LINKS), bool(flags & _REQUISITES)),
                                   protocol=pickle.HIGHEST_PROTOCOL)
            failed = 0
        except Exception as exc:  # noqa: BLE001 -- the crawl process parses this page itself
            payload, failed = f"{type(exc).__name__}: {exc}".encode(), 1
        outbox.write(_REPLY.pack(_MARK, ident, len(payload), failed) + payload)
        outbox.flush()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sigint_unblocked()
    with os.fdopen(0, "rb", buffering=_PIPE_BYTES) as inbox, \
            os.fdopen(int(argv[0]), "wb", buffering=1 << 16) as outbox:
        try:
            return serve(inbox, outbox)
        except BrokenPipeError:
            return 0  # the crawl process is gone


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
