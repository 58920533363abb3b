"""Deterministic synthetic news website with known ground truth.

Why: crawler, WARC and extraction tests (and the offline ``archive demo``) need a
realistic news site that needs no network, exposes the usual discovery surfaces
(links, feeds, sitemaps, robots.txt) plus awkward HTTP cases, and produces the same
bytes for the same constructor arguments so results can be compared across runs.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .pages import (
    DEFAULT_BASE_URL,
    MONTHS,
    N_IMAGES,
    SECTIONS,
    DemoPage,
    PageRenderer,
    listing_prefix,
    message_page,
    page_count,
    page_path,
    slugify,
)
from .resources import FIXED_ROUTES, ResourceRenderer

__all__ = ["DemoArticle", "DemoPage", "DemoSite", "generate_articles"]

logger = logging.getLogger(__name__)

_ANCHOR = dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.UTC)
_OFFSETS = (0, 60, 60, 60, 120, -300)  # minutes east of UTC; mostly the newsroom's own zone
Route = tuple[str, object]  # (renderer kind, argument), see DemoSite._build_routes


def _split(spec: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Word lists are written as '|'-separated strings to keep the vocabulary compact."""
    return {key: tuple(value.split("|")) for key, value in spec.items()}


_WORDS = _split({
    "place": "Northport|Eastwick|Valmora|Kestrel Bay|Lindholm|Ardmore|Port Selwyn|Carrow|"
             "Brenna Falls|Oldcastle|Marisco|Tarnow Heath|Greyhaven|Westmere|Halden|Rookby",
    "tail": "|after two-year pause|as talks continue|despite storm warnings|amid budget row|"
            "ahead of summer|for first time since 2019|as costs climb|after late surge",
    "first": "Anna|Tomas|Priya|Daniel|Mei|Oliver|Fatima|Lucas|Ingrid|Samuel|Chloe|Ravi|Elena|"
             "Kwame|Sofia|Marcus|Hannah|Yusuf",
    "last": "Okafor|Lindqvist|Hartley|Moreau|Castellano|Brennan|Nakamura|Osei|Whitfield|Kowalski|"
            "Fraser|Delgado|Ahmed|Sutherland|Novak|Pereira|Gallagher|Iversen",
    "role": "a spokesperson for|the chief executive of|a senior researcher at|the chair of|"
            "an adviser to|a director at",
    "weekday": "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday",
    "month": "|".join(MONTHS),
    "future": "resume|be reviewed|expand|be completed|reopen|be scaled back|go ahead",
    "change": "risen|fallen|grown|slipped|climbed",
    "period": "year|six months|decade|two quarters",
    "debate": "negotiations|wrangling|consultation|debate|public hearings",
    "group": "local councillors|union representatives|residents\u2019 groups|national ministers|"
             "business owners|environmental campaigners|independent researchers",
    "adj": "ambitious|overdue|sensible|bold|pragmatic",
    "criticism": "underfunded|poorly managed|overlooked|too slow to adapt",
    "unit": "week|month|weekend",
    "mixed": "mixed|encouraging|modest|better than expected|disappointing",
    "mood": "cautiously optimistic|tense|upbeat|weary|hopeful",
    "road": "coast road|A14 bypass|ring road|old harbour bridge|Halden viaduct",
    "reason": "months of debate|a public consultation|a sharp rise in costs|"
              "pressure from residents|a critical audit",
    "season": "spring|summer|autumn|winter",
    "complaint": "noise|rising rents|heavy traffic|a lack of consultation|repeated delays",
    "trend": "slow|steady|fragile|remarkable",
})
_SECTION_WORDS = {name: _split(spec) for name, spec in {
    "world": {
        "subject": "Harbour cranes|Ferry workers|Border talks|Flood defences|Coalition leaders|"
                   "Rail unions|Election monitors|Aid convoys|Fishing fleets|Water ministers|"
                   "Peace envoys|Regional governors",
        "verb": "return to|stall in|resume in|expand across|face new delays in|win backing in|"
                "spark protests in|draw crowds in|prompt review in|gather pace in",
        "topic": "the new ferry timetable|the flood barrier|the cross-border rail link|"
                 "the water-sharing agreement|the regional budget|the harbour upgrade",
        "org": "the Ministry of Transport|the Northport Port Authority|the Regional Assembly|"
               "the Coastal Communities Fund",
        "tag": "diplomacy|transport|elections|climate|migration|infrastructure"},
    "business": {
        "subject": "Grocery chains|Regional lenders|Chip makers|Shipping costs|Energy prices|"
                   "Pension funds|Car makers|Start-up investors|Mortgage rates|Airline bookings|"
                   "Steel mills|Retail sales",
        "verb": "rebound in|slow in|surge in|cool in|face scrutiny in|draw criticism in|"
                "stabilise in|hit record in|slump in|recover in",
        "topic": "the quarterly results|the proposed merger|the new distribution centre|"
                 "the wage agreement|the price cap|the expansion plan",
        "org": "Calder & Finch|the Eastwick Chamber of Commerce|the Regional Statistics Office|"
               "the Harbour Bank",
        "tag": "markets|retail|energy|jobs|housing|technology"},
    "science": {
        "subject": "Marine biologists|Glacier sensors|Seagrass meadows|Fusion researchers|"
                   "Bat colonies|Soil scientists|Telescope teams|Vaccine trials|Coral surveys|"
                   "Battery chemists|Bird counts|Weather models",
        "verb": "map changes near|report gains near|recover near|reveal surprises near|"
                "expand near|record a first near|face funding gap in|find clues near",
        "topic": "the research programme|the monitoring network|the field survey|"
                 "the new laboratory|the long-term data set|the pilot study",
        "org": "the University of Halden|the National Weather Service|"
               "the Kestrel Bay Marine Institute|the Science Council",
        "tag": "oceans|climate|space|health|wildlife|energy"},
    "culture": {
        "subject": "Jazz festivals|Independent bookshops|Community theatres|Film archivists|"
                   "Street artists|Folk choirs|Museum curators|Young poets|Opera houses|"
                   "Photography collectives",
        "verb": "return to|draw record crowds in|reopen in|celebrate anniversary in|"
                "struggle for funding in|win acclaim in|find new home in",
        "topic": "the festival programme|the restoration project|the touring exhibition|"
                 "the new season|the archive collection|the lottery grant",
        "org": "the Valmora Arts Council|the Kestrel Bay Trust|the Northport Museum|"
               "the Heritage Lottery Board",
        "tag": "music|books|theatre|film|art|heritage"},
    "sport": {
        "subject": "Rowing crews|Cycling teams|Under-21 sides|Marathon runners|"
                   "Rugby sevens squads|Sailing crews|Netball champions|Cricket clubs|"
                   "Ice hockey teams|Swimming squads",
        "verb": "triumph in|stumble in|clinch title in|book final in|set record in|"
                "return to form in|fall short in",
        "topic": "the new stadium|the training programme|the season opener|the youth academy|"
                 "the league restructuring|the club\u2019s finances",
        "org": "the Regional Sports Council|the Northport Rowing Club|the Coastal League|"
               "the Halden Athletics Trust",
        "tag": "rowing|cycling|rugby|athletics|sailing|cricket"},
}.items()}
_SENTENCES = (
    "Officials in {place} said on {weekday} that {topic} would {future} by {month}.",
    "\u201cWe have waited a long time for this,\u201d said {person}, {role} {org}.",
    ("According to figures published by {org}, spending on {topic2} has {change} by {pct} per "
     "cent over the past {period}."),
    "The decision follows months of {debate} between {group} and {group2}.",
    "{person} told reporters that the plan was \u201c{adj}, but not without risks\u201d.",
    "Critics argue that {topic2} has been {criticism} for years.",
    ("Local businesses expect the change to bring around {number} extra visitors to {place} "
     "each {unit}."),
    "A final report is expected in {month}, when {org} will publish its recommendations.",
    ("In {place2}, where similar measures were introduced last year, the results have been "
     "{mixed}."),
    "Residents who spoke to the Ledger described the mood in {place} as {mood}.",
    "The work is estimated to cost \u00a3{money} million, much of it funded by {org}.",
    ("{person}, who has followed the issue since {year}, said the next {days} days would be "
     "decisive."),
    ("Questions remain about who will pay for {topic2} once the initial funding from {org} runs "
     "out."),
    "\u201cIt is not a perfect solution,\u201d {person} admitted, \u201cbut it is a start.\u201d",
    ("Some of the work on {topic} will continue overnight to avoid disrupting traffic on the "
     "{road}."),
    ("The {subject} of {place} have attracted attention well beyond the region\u2019s borders "
     "this {season}."),
    ("Figures seen by the Ledger suggest that {topic2} will need another \u00a3{money} million "
     "before {future_year}."),
    "{person}, {role} {org}, said the timetable was \u201c{adj} but achievable\u201d.",
    ("Opposition to {topic2} has grown steadily in {place2}, where residents complain of "
     "{complaint}."),
    "Similar schemes in {place2} and {place3} were abandoned after {reason}.",
    "By {weekday} evening, more than {number} people had signed a petition about {topic2}.",
    "Asked whether the plan could be delayed again, {person} declined to comment.",
    "Further details are expected at a public meeting in {place} on {weekday}.",
    "Analysts at {org} said the latest numbers pointed to a {trend} recovery.",
)
_DESCRIPTION = "{topic} in {place} is set to {future} after {reason}, {org} said on {weekday}."
STAFF = ("Anna Lindqvist", "Tomas Hartley", "Priya Raman", "Daniel Okafor", "Mei Nakamura",
         "Oliver Brennan", "Fatima Ahmed", "Lucas Moreau", "Ingrid Iversen", "Samuel Osei",
         "Chloe Fraser", "Ravi Menon")


class _Slots(dict[str, str]):
    """Fills template slots lazily so only the words a sentence uses consume randomness."""

    def __init__(self, rng: random.Random, fixed: dict[str, str],
                 lists: dict[str, tuple[str, ...]]) -> None:
        super().__init__(fixed)
        self.rng, self.lists = rng, lists

    def __missing__(self, key: str) -> str:
        rng, base = self.rng, key.rstrip("23")  # "place2" is another draw from "place"
        numbers: dict[str, Callable[[], str]] = {
            "pct": lambda: f"{rng.uniform(1.5, 38):.1f}",
            "number": lambda: f"{rng.randrange(200, 9000, 50):,}",
            "money": lambda: str(rng.randrange(2, 480)),
            "days": lambda: str(rng.randrange(3, 22)),
            "year": lambda: str(rng.randrange(2008, 2023)),
            "future_year": lambda: str(rng.randrange(2027, 2032)),
            "person": lambda: f"{rng.choice(_WORDS['first'])} {rng.choice(_WORDS['last'])}",
        }
        if base in numbers:
            return numbers[base]()
        return rng.choice(self.lists.get(base) or _WORDS[base])


class _Deck:
    """Deals templates without repeats until all are used, so one article rarely repeats itself."""

    def __init__(self, rng: random.Random, cards: tuple[str, ...]) -> None:
        self.rng, self.cards, self.pile = rng, cards, list[str]()

    def draw(self) -> str:
        if not self.pile:
            self.pile = list(self.cards)
            self.rng.shuffle(self.pile)
        return self.pile.pop()


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


@dataclass(frozen=True)
class DemoArticle:
    """Ground truth for one article; extraction quality is measured against these fields."""

    path: str
    headline: str
    authors: list[str]
    published: str
    modified: str
    section: str
    description: str
    paragraphs: list[str]
    language: str = "en"
    tags: list[str] = field(default_factory=list)
    caption: str = ""
    image: int = 0

    @property
    def body_text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def url(self, base_url: str = DEFAULT_BASE_URL) -> str:
        return base_url.rstrip("/") + self.path


def _headline(rng: random.Random, words: dict[str, tuple[str, ...]],
              taken: set[str]) -> tuple[str, str, str]:
    for _ in range(200):
        subject, place = rng.choice(words["subject"]), rng.choice(_WORDS["place"])
        verb, tail = rng.choice(words["verb"]), rng.choice(_WORDS["tail"])
        headline = f"{subject} {verb} {place} {tail}".strip()
        if headline not in taken:
            return headline, subject, place
    return f"{headline}, report {len(taken)}", subject, place


def _unique_path(path: str, taken: set[str]) -> str:
    candidates = (path if k == 1 else f"{path}-{k}" for k in range(1, 10_000))
    return next(p for p in candidates if p not in taken)


def _make_article(rng: random.Random, moment: dt.datetime, n_range: tuple[int, int], index: int,
                  taken: set[str]) -> DemoArticle:
    """One article; ``taken`` holds used headlines and paths so both stay unique."""
    section = rng.choice(SECTIONS)
    words = _SECTION_WORDS[section]
    headline, subject, place = _headline(rng, words, taken)
    published = moment.astimezone(dt.timezone(dt.timedelta(minutes=rng.choice(_OFFSETS))))
    modified = published + dt.timedelta(minutes=rng.choice((0, 0, rng.randrange(5, 2880, 5))))
    slug = "-".join(slugify(headline).split("-")[:7])
    path = _unique_path(f"/{section}/{published:%Y/%m/%d}/{slug}", taken)
    taken.update((headline, path))
    fixed = {"place": place, "subject": subject.lower(), "topic": rng.choice(words["topic"])}
    slots, deck = _Slots(rng, fixed, words), _Deck(rng, _SENTENCES)
    paragraphs = [" ".join(_capital(deck.draw().format_map(slots))
                           for _ in range(rng.randint(2, 4)))
                  for _ in range(rng.randint(*n_range))]
    return DemoArticle(
        path=path, headline=headline, authors=sorted(rng.sample(STAFF, rng.choice((1, 1, 2)))),
        published=published.isoformat(), modified=modified.isoformat(), section=section,
        description=_capital(_DESCRIPTION.format_map(slots)), paragraphs=paragraphs,
        tags=[slugify(place), *sorted(rng.sample(words["tag"], rng.randint(1, 3)))],
        caption=f"{subject} in {place} earlier this {slots['season']}.", image=index % N_IMAGES)


def generate_articles(n: int, seed: int, body_paragraphs: tuple[int, int]) -> list[DemoArticle]:
    """Newest first; each article has its own RNG, so article i is the same for any ``n`` > i."""
    rng, moment, taken = random.Random(seed), _ANCHOR, set[str]()
    articles = []
    for i in range(n):
        moment -= dt.timedelta(minutes=rng.randrange(90, 14 * 60, 5))
        article_rng = random.Random(f"{seed}:{i}")
        articles.append(_make_article(article_rng, moment, body_paragraphs, i, taken))
    return articles


class DemoSite(PageRenderer, ResourceRenderer):
    """The synthetic site: ground-truth articles plus a route table rendered on demand.

    Rendering is lazy and cached per (base URL, path) because a benchmark crawl of
    thousands of padded pages must be limited by the crawler, not by the site.
    """

    def __init__(self, n_articles: int = 50, seed: int = 1,
                 body_paragraphs: tuple[int, int] = (4, 9),
                 padding_kb: int | tuple[int, int] = 0) -> None:
        lo, hi = body_paragraphs
        if n_articles < 0 or not 1 <= lo <= hi:
            raise ValueError("need n_articles >= 0 and body_paragraphs (min, max), 1 <= min <= max")
        self.n_articles, self.seed, self.body_paragraphs = n_articles, seed, (lo, hi)
        self.padding_kb = _check_padding(padding_kb)
        self.articles = generate_articles(n_articles, seed, self.body_paragraphs)
        self._cache: dict[tuple[str, str], DemoPage] = {}
        self._index = self._build_index()
        self._routes = self._build_routes()
        logger.debug("demo site: %d articles, %d routes", n_articles, len(self._routes))

    def routes(self) -> list[str]:
        """Every path the site answers (redirects and special pages included), in table order."""
        return list(self._routes)

    def render(self, path: str, query: str = "", *,
               base_url: str | None = None) -> DemoPage | None:
        """Response for ``path``, or None when it is not in the route table.

        Paths are looked up verbatim in the generated table, never on the filesystem;
        ``base_url`` only affects absolute URLs (canonical, feeds, sitemaps, robots.txt).
        """
        if not query and "?" in path:
            path, _, query = path.partition("?")
        if ".." in path.split("/") or path not in self._routes:
            return None
        kind, arg = self._routes[path]
        if kind == "big":  # query-dependent and streamed, so never cached
            return self._big(query)
        key = ((base_url or DEFAULT_BASE_URL).rstrip("/"), path)
        page = self._cache.get(key)
        if page is None:
            page = self._cache[key] = getattr(self, f"_render_{kind}")(key[0], arg)
        return page

    def prerender(self, base_url: str | None = None, *, compress: bool = True) -> int:
        """Fill the cache for every route (and its gzip form) so a benchmark times only the crawler.

        Pass the base URL the crawler will use (``serve`` yields it); returns the page count.
        """
        pages = [page for path in self._routes if (page := self.render(path, base_url=base_url))]
        if compress:
            for page in pages:
                if page.compressible and page.body:
                    page.gzipped()
        return len(pages)

    def not_found(self) -> DemoPage:
        """The 404 page; it never echoes the request, so one cached body serves every miss."""
        key = ("", "\x00404")
        if key not in self._cache:
            self._cache[key] = message_page(404, "Page not found", "Sorry, we could not find that "
                                            "page. It may have moved or been removed.")
        return self._cache[key]

    def _build_index(self) -> dict[str, dict[str, list[int]]]:
        """Article positions by section, tag and author slug (newest first)."""
        index: dict[str, dict[str, list[int]]] = {
            "section": {s: [] for s in SECTIONS}, "tag": {}, "author": {}}
        for i, article in enumerate(self.articles):
            index["section"][article.section].append(i)
            for tag in article.tags:
                index["tag"].setdefault(tag, []).append(i)
            for name in article.authors:
                index["author"].setdefault(slugify(name), []).append(i)
        return index

    def _build_routes(self) -> dict[str, Route]:
        """The only source of truth for what exists: path -> (renderer kind, argument)."""
        routes: dict[str, Route] = {
            "/": ("home", None), "/about/": ("info", "about"), "/contact/": ("info", "contact"),
            "/private/secret-page": ("info", "private")}
        for kind, groups in self._index.items():
            for key, items in groups.items():
                prefix = listing_prefix(kind, key)
                for page in range(1, page_count(len(items)) + 1):
                    routes[page_path(prefix, page)] = ("listing", (kind, key, page))
        for i, article in enumerate(self.articles):
            routes[article.path] = ("article", i)
            routes[f"/old/story-{1000 + i}.html"] = ("redirect", (301, article.path))
        routes.update(FIXED_ROUTES)
        return routes


def _check_padding(padding_kb: int | tuple[int, int]) -> int | tuple[int, int]:
    if isinstance(padding_kb, tuple | list):
        lo, hi = (int(v) for v in padding_kb)
        if not 0 <= lo <= hi:
            raise ValueError("padding_kb range must satisfy 0 <= min <= max")
        return (lo, hi)
    if int(padding_kb) < 0:
        raise ValueError("padding_kb must be >= 0")
    return int(padding_kb)
