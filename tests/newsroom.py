"""A small news site that changes between crawls, served by the wire server.

Articles can be edited, added and removed; untouched pages stay byte-identical. Article
pages honour If-None-Match (one, ``/a/plain``, ignores validators like many servers do).
"""

from __future__ import annotations

import hashlib
import json

from wire import response


def article_html(slug: str, headline: str, paragraphs: list[str]) -> bytes:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": headline,
          "author": [{"@type": "Person", "name": "Ada Reporter"}],
          "datePublished": "2026-11-20T08:00:00+00:00", "dateModified": "2026-11-20T08:00:00+00:00"}
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    filler = "<!-- " + ("layout " * 800) + "-->"  # page weight, as real pages carry
    return (f"<html lang='en'><head><title>{headline}</title><script type='application/ld+json'>"
            f"{json.dumps(ld)}</script></head><body><nav><a href='/'>Home</a></nav><article><h1>{headline}</h1>"
            f"{body}</article>{filler}</body></html>").encode()


class Newsroom:
    def __init__(self) -> None:
        self.articles: dict[str, tuple[str, list[str]]] = {}
        for i in range(16):
            self.articles[f"story-{i}"] = (f"Story number {i} headline", [
                f"Paragraph {k} of story {i}: " + "council budget harbour weather " * 12 for k in range(5)])
        self.articles["plain"] = ("Plain server story", ["Plain text " * 40, "More plain text " * 30])

    def routes(self) -> dict:
        routes = {
            "/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
            "/": response("200 OK", [("Content-Type", "text/html")], self._home()),
            "/feed": response("200 OK", [("Content-Type", "application/rss+xml")], self._feed()),
        }
        for slug, (headline, paragraphs) in self.articles.items():
            routes[f"/a/{slug}"] = self._article(slug, article_html(slug, headline, paragraphs))
        return routes

    def _home(self) -> bytes:
        links = "".join(f"<li><a href='/a/{s}'>{h}</a></li>" for s, (h, _) in sorted(self.articles.items()))
        return f"<html><body><h1>Front page</h1><ul>{links}</ul></body></html>".encode()

    def _feed(self) -> bytes:
        items = "".join(f"<item><title>{h}</title><link>/a/{s}</link><guid>{s}</guid></item>"
                        for s, (h, _) in sorted(self.articles.items()))
        return f"<?xml version='1.0'?><rss version='2.0'><channel><title>N</title>{items}</channel></rss>".encode()

    def _article(self, slug: str, body: bytes):
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        full = response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("ETag", etag)], body)
        not_modified = response("304 Not Modified", [("ETag", etag)], b"", length=False)

        def route(head: bytes):
            conditional = f"If-None-Match: {etag}".encode() in head
            if conditional and slug != "plain":
                return [not_modified(head)[0][:-2] + b"Content-Length: 0\r\n\r\n"]
            return full(head)

        return route
