"""Metadata from what pages declare, in the shapes real news sites use."""

from __future__ import annotations

import pytest

from archive.metadata import inferred_metadata, iso_datetime, page_metadata, parse_html


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
    ("Sat, 14 Mar 2026 07:30:00 GMT", "2026-03-14T07:30:00+00:00"),  # as HTTP and RSS write them
    ("Sat, 14 Mar 2026 08:30:00 +0100", "2026-03-14T08:30:00+01:00"),
    ("Sat, 14 Mar 2026 08:30:00 -0000", "2026-03-14"),  # (RFC 5322: a zone not known)
    ("Sat, 32 Mar 2026 08:30:00 GMT", None),
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


def test_json_ld_nested_deeper_than_the_parser_goes_is_skipped_not_fatal():
    # (one such page stopped the extraction of every job that captured it)
    meta = meta_of('<script type="application/ld+json">' + "[" * 100_000 + "]" * 100_000 + "</script>"
                   '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Still here"}</script>')
    assert meta["headline"] == "Still here" and meta["is_article"]


def test_an_author_given_as_a_reference_into_the_graph_is_named():
    # Yoast's @graph: the article's author is {"@id": ...} of a Person elsewhere in it.
    ld = ('{"@context":"https://schema.org","@graph":[{"@type":"NewsArticle","headline":"Tram line",'
          '"author":{"@id":"https://site.test/#/schema/person/1"},"datePublished":"2026-03-14T08:30:00Z"},'
          '{"@type":"Person","@id":"https://site.test/#/schema/person/1","name":"Rita Levi"},'
          '{"@type":"Organization","@id":"https://site.test/#org","name":"Site Ltd"}]}')
    assert meta_of(f'<script type="application/ld+json">{ld}</script>')["authors"] == ["Rita Levi"]
    org = ld.replace("schema/person/1", "org", 1)  # (a reference to the publisher names nobody)
    assert "authors" not in meta_of(f'<script type="application/ld+json">{org}</script>')


def test_author_links_that_are_phrases_are_not_names():
    body = ('<p class="byline"><a rel="author" href="/a">Sam Poe</a> <a rel="author" href="/a">View all posts by '
            'Sam Poe</a> <a rel="author" href="/a">→</a></p>')
    assert meta_of("", body)["authors"] == ["Sam Poe"]


@pytest.mark.parametrize(("links", "authors"), [
    # Blogger's and themes' profile links, a "y" between two names, a time: no names.
    (["T. V. Raman", "View my complete profile"], ["T. V. Raman"]),
    (["Archiv anzeigen"], None),
    (["Isabel Caro", "y", "José Wilson", "Hace 13 horas"], ["Isabel Caro", "José Wilson"]),
    (["SHOW ALL ARTICLES OF", "Heiko Sauer"], ["Heiko Sauer"]),
    # Names in lower case: a particle within, a user name, a handle.
    (["Ursula von der Leyen"], ["Ursula von der Leyen"]),
    (["jesusfreak", "r23"], ["jesusfreak", "r23"]),
    (["revamp-it Webteam"], ["revamp-it Webteam"]),
    (["Maria do Carmo", "Karl vom Stein", "Jean d'Alembert", "Ali ibn Hassan"],
     ["Maria do Carmo", "Karl vom Stein", "Jean d'Alembert", "Ali ibn Hassan"]),
])
def test_author_links_are_names_only_where_they_read_as_names(links, authors):
    body = "".join(f'<a rel="author" href="/a">{text}</a> ' for text in links)
    assert meta_of("", body).get("authors") == authors


@pytest.mark.parametrize(("author", "authors"), [
    ("Deutsches Weininstitut GmbH", None), ("Bund der Energieverbraucher e.V.", None),
    ("Olympia-Verlag GmbH, Nürnberg, Germany", None),  # (and its address)
    ("Example Ltd., Sam Poe", None), ("Wegewerk Gmbh", None),
    # Initials, and names that only begin as a legal form does.
    ("KG", ["KG"]), ("Anna Se", ["Anna Se"]), ("Agnes Inca", ["Agnes Inca"]),
])
def test_a_company_or_society_named_as_author_is_no_author(author, authors):
    assert meta_of(f'<meta name="author" content="{author}">').get("authors") == authors


@pytest.mark.parametrize("name", ["admin", "Super User", "publisher", "Unknown", "Name"])
def test_a_placeholder_where_the_authors_name_goes_names_no_one(name):
    assert "authors" not in meta_of(f'<meta name="author" content="{name}">')
    assert meta_of(f'<meta name="author" content="{name}, Sam Poe">')["authors"] == ["Sam Poe"]
    # Nor does it hide a name the page gives elsewhere.
    ld = f'<script type="application/ld+json">{{"@type":"NewsArticle","author":"{name}"}}</script>'
    assert meta_of(ld, '<a rel="author" href="/u/1">Sam Poe</a>')["authors"] == ["Sam Poe"]
    assert meta_of(f'<meta name="author" content="{name}"><meta property="article:author" content="Sam Poe">'
                   )["authors"] == ["Sam Poe"]


@pytest.mark.parametrize("byline", ["By Staff", "Staff Reporter", "By Staff Writer", "Staff and agencies",
                                    "Editorial Staff", "STAFF REPORT", "From staff reports",
                                    "Staff and news service reports", "By the Associated Press staff"])
def test_a_byline_of_a_newsrooms_staff_names_no_author(byline):
    _names_no_author(byline)
    # A staff member named, or a name of the same words and one of its own, is a person.
    assert meta_of('<meta name="author" content="By Jane Doe, Staff Writer">')["authors"] == ["Jane Doe"]
    assert meta_of('<meta name="author" content="Jane Doe and Staff">')["authors"] == ["Jane Doe"]
    assert meta_of('<meta name="author" content="Jörg Staff">')["authors"] == ["Jörg Staff"]


@pytest.mark.parametrize("byline", ["Reuters Staff", "By Reuters Staff", "The Example Times Staff",
                                    "Example Times Staff", "Times Staff Writer", "AP Staff", "By CNN Staff",
                                    "Associated Press Staff", "From Reuters staff reports", "Example News staff",
                                    "REUTERS STAFF", "Harbourview Staff", "Harbourview staff reporter"])
def test_a_byline_of_a_named_newsrooms_staff_names_no_author(byline):
    _names_no_author(byline, '<meta property="og:site_name" content="Harbourview">', "https://harbourview.example/a")


def _names_no_author(byline: str, site: str = "", url: str = "https://news.example/a") -> None:
    """No author is taken from ``byline`` as a meta tag, a rel=author link or a JSON-LD
    person gives it, on a page whose head has ``site``, nor inferred from it shown on the page."""
    assert "authors" not in meta_of(f'{site}<meta name="author" content="{byline}">')
    assert "authors" not in meta_of(site, f'<a rel="author" href="/staff">{byline}</a>')
    ld = f'{{"@type":"NewsArticle","author":{{"@type":"Person","name":"{byline}"}}}}'
    assert "authors" not in meta_of(f'{site}<script type="application/ld+json">{ld}</script>')
    body = (f"<article><h1>Bridge reopens</h1><p class='byline'><span class='author'>{byline}</span></p>"
            f"<p>{'The bridge reopened on Monday. ' * 30}</p></article>")
    tree = parse_html(f"<html><body>{body}</body></html>")
    assert "authors" not in inferred_metadata(tree, url, "2026-11-27T10:00:00Z")


@pytest.mark.parametrize("byline", ["Tom Staff", "TOM STAFF", "Jane Staffordshire", "Jörg Staff", "Ann Staffer"])
def test_a_person_whose_name_has_staff_in_it_is_an_author(byline):
    site = '<meta property="og:site_name" content="Harbourview">'
    assert meta_of(f'{site}<meta name="author" content="By {byline}">')["authors"] == [byline]
    ld = f'{{"@type":"NewsArticle","author":{{"@type":"Person","name":"{byline}"}}}}'
    assert meta_of(f'{site}<script type="application/ld+json">{ld}</script>')["authors"] == [byline]
    assert meta_of(f'<meta name="author" content="{byline}, Political Correspondent">')["authors"] == [byline]
    ld = f'{{"@type":"NewsArticle","author":{{"@type":"Person","name":"{byline}, Political Correspondent"}}}}'
    assert meta_of(f'{site}<script type="application/ld+json">{ld}</script>')["authors"] == [byline]


@pytest.mark.parametrize(("name", "author"), [
    ("Jane Doe, Political Correspondent", "Jane Doe"),
    ("By Jane Doe, Chefredakteurin", "Jane Doe"),
    ("Doe, Jane", "Doe, Jane"),  # (one person, surname first: not two authors, nor half a name)
    ("Doe, Jane, Political Correspondent", "Doe, Jane"),
    ("Editor, Jane", "Editor, Jane"),  # (a surname that is a post's word, before the comma)
])
def test_a_json_ld_person_is_named_without_the_post_after_the_name(name, author):
    ld = f'{{"@type":"NewsArticle","author":{{"@type":"Person","name":"{name}"}}}}'
    assert meta_of(f'<script type="application/ld+json">{ld}</script>')["authors"] == [author]


@pytest.mark.parametrize("byline", ["Jane Post, Staff Writer", "Sarah Press, staff reporter", "Max Daily | Staff",
                                    "Kim Globe \u2014 Staff Writer", "Ed Times - Staff"])
def test_a_person_named_as_a_paper_is_with_her_role_after_a_comma_is_an_author(byline):
    """A surname that is a newspaper's word (Post, Press, Daily, Globe) before a comma or a
    dash and "Staff Writer" is a person and her role, as "Jane Doe, Staff Writer" is."""
    site = '<meta property="og:site_name" content="Harbourview">'
    ld = f'{{"@type":"NewsArticle","author":{{"@type":"Person","name":"{byline}"}}}}'
    assert meta_of(f'{site}<script type="application/ld+json">{ld}</script>')["authors"] == [byline.split(",")[0]]
    name = byline.split(",")[0].split(" |")[0].split(" \u2014")[0].split(" -")[0]
    body = (f"<article><h1>Bridge reopens</h1><p class='byline'><span class='author'>By {byline}</span></p>"
            f"<p>{'The bridge reopened on Monday. ' * 30}</p></article>")
    tree = parse_html(f"<html><body>{body}</body></html>")
    assert inferred_metadata(tree, "https://harbourview.example/a", "2026-11-27T10:00:00Z")["authors"] == [name]
    # (a newsroom's own name so written is still none)
    ld = '{"@type":"NewsArticle","author":{"@type":"Person","name":"Harbourview, Staff"}}'
    assert "authors" not in meta_of(f'{site}<script type="application/ld+json">{ld}</script>')


@pytest.mark.parametrize(("url", "title", "headline"), [
    ("https://www.popkultur.de/a", "Die 25 Schauspieler | Popkultur.de", "Die 25 Schauspieler"),
    ("https://www.laweekly.com/a", "Meet the Artist - LA Weekly", "Meet the Artist"),
    ("https://www.petri-heil.ch/a", "Winterhechte | petri-heil.ch | Dein Fischereimagazin", "Winterhechte"),
    ("https://www.bmas.de/a", "BMAS - Neue Nachweise", "Neue Nachweise"),
    ("https://adac.de/a", "Kindersitz-Test 2018|ADAC", "Kindersitz-Test 2018"),
    # No part is the site: the title as it is, its dashes and all.
    ("https://news.example/a", "Brexit - the deal | Politics", "Brexit - the deal | Politics"),
    ("https://news.example/a", "Apple", "Apple"),
])
def test_the_site_named_by_its_host_is_no_part_of_the_headline(url, title, headline):
    tree = parse_html(f'<html><head><meta property="og:title" content="{title}"></head><body></body></html>')
    assert page_metadata(tree, url)["headline"] == headline
    ld = f'{{"@type":"NewsArticle","headline":"{title}"}}'
    tree = parse_html(f'<html><head><script type="application/ld+json">{ld}</script></head><body></body></html>')
    assert page_metadata(tree, url)["headline"] == headline


@pytest.mark.parametrize(("title", "h1", "headline"), [
    # A kicker, a site's name, a date about the <h1>'s headline: the headline.
    ("Chronik: Lotte Tobisch ist tot", "Lotte Tobisch ist tot", "Lotte Tobisch ist tot"),
    ("So viel Regen gab es lange nicht : 31.10.2023, 10.19 Uhr", "So viel Regen gab es lange nicht",
     "So viel Regen gab es lange nicht"),
    # The title with the page's own quotation marks and dashes: as the page shows it.
    ("'Welches Europa wir wollen' - ein Gespräch", "„Welches Europa wir wollen“ – ein Gespräch",
     "„Welches Europa wir wollen“ – ein Gespräch"),
    ("Editor's Letter: bye OC Baby", "Editor’s Letter: bye OC Baby", "Editor’s Letter: bye OC Baby"),
    # A section's name, or a short <h1>, within the title: the title.
    ("Politik: Senat beschließt das Gesetz", "Politik", "Politik: Senat beschließt das Gesetz"),
    ("International Politics: the Senate passes the bill after a long night of debate", "International Politics",
     "International Politics: the Senate passes the bill after a long night of debate"),
])
def test_the_h1_within_a_longer_declared_title_is_the_headline(title, h1, headline):
    for head in (f'<meta property="og:title" content="{title}">',
                 f'<script type="application/ld+json">{{"@type":"NewsArticle","headline":"{title}"}}</script>'):
        assert meta_of(head, f"<h1>{h1}</h1>")["headline"] == headline


def test_a_title_the_pages_h1_gives_whole_keeps_the_part_that_is_the_sites_name():
    title = "Arsenal - Chelsea: match report"
    for head in (f'<meta property="og:title" content="{title}">',
                 f'<script type="application/ld+json">{{"@type":"NewsArticle","headline":"{title}"}}</script>'):
        page = f"<html><head>{head}</head><body><h1>{title}</h1></body></html>"
        assert page_metadata(parse_html(page), "https://www.arsenal.com/news/x")["headline"] == title


def test_a_title_that_is_only_the_sites_host_is_no_headline():
    def headline(url: str, title: str, body: str = "") -> str | None:
        page = f'<html><head><meta property="og:title" content="{title}"></head><body>{body}</body></html>'
        return page_metadata(parse_html(page), url).get("headline")

    assert headline("https://www.l-mag.de/news-1010/x", "L-Mag", "<h1>Lesbian remembrance</h1>") \
        == "Lesbian remembrance"
    assert headline("https://www.l-mag.de/news-1010/x", "L-Mag") is None
    assert headline("http://www.jan-grosser.de/art/385", "jan-grosser.de", "<h1>Jan-Grosser.de</h1>") is None
    # A page whose declared name is its title keeps it.
    page = ('<html><head><meta property="og:title" content="EFF Annual Report">'
            '<meta property="og:site_name" content="EFF Annual Report"></head><body></body></html>')
    assert page_metadata(parse_html(page), "https://www.eff.org/files/x")["headline"] == "EFF Annual Report"


def test_odd_json_ld_types_and_references_neither_fail_nor_lose_the_author():
    # A @type that is a number raised, stopping the whole job's extraction; a bare
    # reference to the author listed after the person itself hid the name.
    ld = ('{"@graph":[{"@type":5},{"@type":"NewsArticle","author":{"@id":"#p"}},'
          '{"@type":"Person","@id":"#p","name":"Rita Levi"},{"@id":"#p"}]}')
    assert meta_of(f'<script type="application/ld+json">{ld}</script>')["authors"] == ["Rita Levi"]


@pytest.mark.parametrize(("head", "body", "headline"), [
    # the site's declared name, after or before the title
    (('<meta property="og:title" content="Bridge reopens | The Gazette">'
      '<meta property="og:site_name" content="The Gazette">'), "", "Bridge reopens"),
    (('<meta property="og:title" content="The Gazette \u2013 Bridge reopens">'
      '<meta property="og:site_name" content="the gazette">'), "", "Bridge reopens"),
    # no name declared: the <h1> the title begins with, a shorter name after it
    ('<meta property="og:title" content="Bridge reopens: what changes \u203a Herr Pfleger">',
     "<h1>Bridge reopens: what changes</h1>", "Bridge reopens: what changes"),
    # an <h1> that is the site's logo, before the story's title, is not the headline
    ('<meta property="og:title" content="The Gazette - Council approves the new bridge budget">',
     "<h1>The Gazette</h1>", "The Gazette - Council approves the new bridge budget"),
    # a title whose own words hold a separator stays whole
    ('<meta property="og:title" content="Rain - and more rain - for the weekend">', "",
     "Rain - and more rain - for the weekend"),
])
def test_the_headline_is_the_og_title_without_the_sites_name(head, body, headline):
    assert meta_of(head, body)["headline"] == headline


def test_a_logo_in_the_header_is_not_the_pages_h1():
    # The first <h1> in the document was taken, often the site's logo in its header.
    body = ("<header><h1><a href='/'>The New York Times</a></h1></header>"
            "<main><h1>Biden <em>wins</em></h1></main>")
    assert meta_of('<meta property="og:title" content="The New York Times - Biden wins">', body)["headline"] \
        == "The New York Times - Biden wins"
    assert meta_of("", body)["headline"] == "Biden wins"


@pytest.mark.parametrize(("head", "body", "authors"), [
    ('<meta name="author" content="Von Roland Brockmann und Sebastian Drescher">', "",
     ["Roland Brockmann und Sebastian Drescher"]),
    ("", '<a rel="author" href="/u/1">View all posts by Daniel Lemire</a>', ["Daniel Lemire"]),
    ("", '<a rel="author" href="/u/2">Zum Profil von Jesusfreak</a>', ["Jesusfreak"]),
    ("", '<a rel="author" href="/u/3">Zeige alle Beiträge von Petra Ruland</a>', ["Petra Ruland"]),
    ('<meta name="author" content="Auteur Anna Kubišta">', "", ["Anna Kubišta"]),
    ('<meta name="author" content="Artikel von hausinfo">', "", ["hausinfo"]),
    ('<meta name="author" content="Written by Sam Poe">', "", ["Sam Poe"]),
    # the post after the name is no second author
    ('<meta name="author" content="Jane Doe, Political Correspondent">', "", ["Jane Doe"]),
    ('<meta name="author" content="By Jane Doe and John Roe, Reporters">', "", ["Jane Doe", "John Roe"]),
    ('<meta name="author" content="Von Eva Ernst, Wirtschaftsredakteurin">', "", ["Eva Ernst"]),
    ('<meta name="author" content="Ada Reporter, Ben Writer">', "", ["Ada Reporter", "Ben Writer"]),
    # a JSON-LD person named as the byline reads
    (('<script type="application/ld+json">{"@type":"NewsArticle","author":{"@type":"Person","name":"By Ivy Lamp"}}'
     '</script>'), "", ["Ivy Lamp"]),
    (('<script type="application/ld+json">{"@type":"NewsArticle","author":[{"@type":"Person","name":"Von Jan Ott"},'
     '{"@type":"Person","name":"Byron Bay"}]}</script>'), "", ["Jan Ott", "Byron Bay"]),
    # ... and the post after a JSON-LD person's or a rel=author link's name, as after a meta tag's
    (('<script type="application/ld+json">{"@type":"NewsArticle","author":[{"@type":"Person","name":'
      '"Jane Doe, Political Correspondent"},{"@type":"Person","name":"Ben Roe, Staff Writer"}]}</script>'), "",
     ["Jane Doe", "Ben Roe"]),
    ("", '<a rel="author" href="/u/4">By Jane Doe, Staff Writer</a>', ["Jane Doe"]),
    (('<script type="application/ld+json">{"@type":"NewsArticle","author":{"@type":"Person","name":"Doe, Jane"}}'
      '</script>'), "", ["Doe, Jane"]),
])
def test_what_bylines_say_before_a_name_is_not_part_of_it(head, body, authors):
    assert meta_of(head, body)["authors"] == authors


@pytest.mark.parametrize("content, authors", [
    ("Doe, Jane", ["Doe, Jane"]),  # (one person written surname first, as a JSON-LD name keeps it)
    ("By Doe, Jane, Political Correspondent", ["Doe, Jane"]),
    ("Müller, Jörg", ["Müller, Jörg"]),
    ("Jane Doe, John Roe", ["Jane Doe", "John Roe"]),  # (two people, each named in full)
    ("Reuters, AP", ["Reuters", "AP"]),  # (two newsrooms)
])
def test_a_byline_written_surname_first_is_one_author(content, authors):
    assert meta_of(f'<meta name="author" content="{content}">')["authors"] == authors
