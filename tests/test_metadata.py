"""Metadata from what pages declare, in the shapes real news sites use."""

from __future__ import annotations

import pytest

from archive.metadata import iso_datetime, page_metadata, parse_html


def meta_of(head: str, body: str = "") -> dict:
    return page_metadata(parse_html(f"<html lang='de'><head>{head}</head><body>{body}</body></html>"))


@pytest.mark.parametrize("raw, expected", [
    ("2026-03-14T08:30:00+01:00", "2026-03-14T08:30:00+01:00"),
    ("2026-03-14T07:30:00Z", "2026-03-14T07:30:00+00:00"),
    ("2026-03-14T08:30:00.250+01:00", "2026-03-14T08:30:00.250000+01:00"),
    ("2026-03-14T08:30:00", "2026-03-14"),  # no zone: the date only, no invented offset
    ("2026-03-14", "2026-03-14"),
    ("14 March 2026", None),
    ("", None),
])
def test_dates(raw, expected):
    assert iso_datetime(raw) == expected


def test_json_ld_graph_with_people_and_an_organisation():
    ld = ('{"@context":"https://schema.org","@graph":[{"@type":"WebPage"},{"@type":["NewsArticle"],'
          '"headline":"Bridge reopens","author":[{"@type":"Person","name":"Ada Lovelace"},'
          '{"@type":"Organization","name":"Newsroom Ltd"}],"datePublished":"2026-03-14T08:30:00",'
          '"dateModified":"2026-03-15T09:00:00+01:00","articleSection":["Local","Transport"]}]}')
    head = (f'<script type="application/ld+json">{ld}</script>'
            '<meta property="article:published_time" content="2026-03-14T08:30:00+01:00">')
    meta = meta_of(head)
    assert meta["is_article"] and meta["headline"] == "Bridge reopens"
    assert meta["authors"] == ["Ada Lovelace"]
    assert meta["published"] == "2026-03-14T08:30:00+01:00"  # the zoned OpenGraph time wins over a naive one
    assert meta["modified"] == "2026-03-15T09:00:00+01:00"
    assert meta["section"] == "Local" and meta["language"] == "de"


def test_opengraph_and_meta_only():
    head = ('<meta property="og:type" content="article"><meta property="og:title" content="Flood warning">'
            '<meta name="author" content="By Jane Doe and John Roe">'
            '<meta property="article:author" content="https://example.org/authors/jane">'
            '<meta name="parsely-pub-date" content="2026-03-14T08:30:00Z">')
    meta = meta_of(head)
    assert meta["headline"] == "Flood warning" and meta["authors"] == ["Jane Doe", "John Roe"]
    assert meta["published"] == "2026-03-14T08:30:00+00:00"


def test_page_markup_when_nothing_is_declared():
    body = ('<article><h1>Council votes</h1><p class="byline">By <a rel="author" href="/a">Sam Poe</a>'
            ' <a rel="author" href="/a">Sam Poe</a></p><time datetime="2026-03-14T10:00:00+00:00">'
            'today</time></article>')
    meta = meta_of("", body)
    assert not meta["is_article"]
    assert meta["headline"] == "Council votes" and meta["authors"] == ["Sam Poe"]
    assert meta["published"] == "2026-03-14T10:00:00+00:00"


def test_broken_json_ld_is_skipped_not_fatal():
    meta = meta_of('<script type="application/ld+json">{"@type": "NewsArticle", </script>'
                   '<meta property="og:title" content="Still here">')
    assert meta["headline"] == "Still here"
