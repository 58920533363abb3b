"""A fast server of the demo news site's pre-rendered bytes, for benchmarks only.

``archive.demo.serve`` is a threaded ``http.server``: right for tests, but on a two-core
machine its per-request Python work competes with the crawler being measured. This
server renders every route once (``DemoSite.prerender``), builds each complete HTTP
response (plain and gzip) up front, and answers from a single asyncio loop: a request
costs a dict lookup and one ``write``.

It binds 127.0.0.1 only, prints ``http://127.0.0.1:PORT`` on stdout when ready, and stops
when stdin closes (its parent went away) or after ``--max-seconds``.

What it leaves out compared with the demo server: conditional requests (a benchmark
crawl starts from an empty store and sends none) and the ``Host``-dependent base URL (all
clients use the printed one).

    python benchmarks/site_server.py --articles 2000
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import sys
from http import HTTPStatus

from archive.demo import DemoPage, DemoSite

Responses = dict[str, tuple[bytes, bytes | None, float]]  # path -> (plain, gzip, delay)


def _head(page: DemoPage, gzipped: bool, length: int | None, date: str) -> bytes:
    try:
        phrase = HTTPStatus(page.status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {page.status} {phrase}", "Server: ArchiveBenchSite/1.0", f"Date: {date}"]
    for name, value in page.headers:
        if name.lower() == "content-length":
            continue
        if name.lower() == "etag" and gzipped:
            value = f'{value[:-1]}-gzip"'
        lines.append(f"{name}: {value}")
    if page.compressible:
        lines.append("Vary: Accept-Encoding")
    if gzipped:
        lines.append("Content-Encoding: gzip")
    if length is None:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def build_responses(site: DemoSite, base_url: str) -> tuple[Responses, bytes]:
    """Every route's complete responses, and the 404 response."""
    date = email.utils.formatdate(usegmt=True)
    site.prerender(base_url)
    out: Responses = {}
    for path in site.routes():
        page = site.render(path, base_url=base_url)
        if page is None:
            continue
        if page.stream is not None:
            body = b"".join(page.iter_body())
            out[path] = (_head(page, False, len(body), date) + body, None, page.delay)
        elif page.chunk_size:
            chunks = [page.body[i:i + page.chunk_size] for i in range(0, len(page.body), page.chunk_size)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
            out[path] = (_head(page, False, None, date) + body, None, page.delay)
        else:
            plain = _head(page, False, len(page.body), date) + page.body
            gz = None
            if page.compressible and page.body:
                zipped = page.gzipped()
                gz = _head(page, True, len(zipped), date) + zipped
            out[path] = (plain, gz, page.delay)
    missing = site.not_found()
    return out, _head(missing, False, len(missing.body), date) + missing.body


class _Http(asyncio.Protocol):
    def __init__(self, responses: Responses, not_found: bytes):
        self.responses = responses
        self.not_found = not_found
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            self._answer(head)

    def _answer(self, head: bytes) -> None:
        assert self.transport is not None
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            self.transport.close()
            return
        method, target, version = parts
        gzip_ok = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"accept-encoding":
                gzip_ok = b"gzip" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if version == b"HTTP/1.0":
            close = True
        path = target.decode("latin-1")
        if path.startswith(("http://", "https://")):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        path = path.partition("#")[0].partition("?")[0]
        found = self.responses.get(path)
        if found is None:
            data, delay = self.not_found, 0.0
        else:
            plain, gz, delay = found
            data = gz if gzip_ok and gz is not None else plain
        if method == b"HEAD":
            data = data[: data.find(b"\r\n\r\n") + 4]
        if delay:
            asyncio.get_running_loop().call_later(delay, self._send, data, close)
        else:
            self._send(data, close)

    def _send(self, data: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(data)
        if close:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    responses: Responses = {}
    not_found = [b""]
    server = await loop.create_server(lambda: _Http(responses, not_found[0]), "127.0.0.1", args.port,
                                      backlog=1024)
    port = server.sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    site = DemoSite(n_articles=args.articles, padding_kb=(args.padding_min, args.padding_max))
    built, not_found[0] = build_responses(site, base_url)
    responses.update(built)
    print(base_url, len(responses), flush=True)
    stdin_closed = loop.create_future()

    def on_stdin() -> None:
        if not sys.stdin.buffer.read1(4096) and not stdin_closed.done():
            stdin_closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    try:
        await asyncio.wait_for(stdin_closed, timeout=args.max_seconds)
    except TimeoutError:
        pass
    server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--padding-min", type=int, default=30, help="KB of padding per page, at least")
    parser.add_argument("--padding-max", type=int, default=60, help="KB of padding per page, at most")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=4 * 3600, help="stop after this long at the latest")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
