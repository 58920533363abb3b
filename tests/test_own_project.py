"""The capture components in a Scrapy project of the user's own, set up as the README says,
crawled with ``scrapy crawl``: a spider that is not ours, settings given as Scrapy gives them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from wire import response, serve_wire

from archive.verify import verify

SETTINGS = """\
BOT_NAME = "proj"
SPIDER_MODULES = ["proj.spiders"]
ROBOTSTXT_OBEY = True
TELNETCONSOLE_ENABLED = False
DOWNLOAD_DELAY = 0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "archive.scrapy.RecordingRobotsTxtMiddleware": 100,
    "archive.scrapy.WarcCaptureMiddleware": 950,
}
EXTENSIONS = {"archive.scrapy.ArchiveJobExtension": 0}
"""

SPIDER = """\
import scrapy


class SiteSpider(scrapy.Spider):
    name = "site"

    def __init__(self, start, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start]

    def parse(self, response):
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse)
"""


def _project(root: Path) -> Path:
    (root / "proj" / "spiders").mkdir(parents=True)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = proj.settings\n")
    (root / "proj" / "__init__.py").write_text("")
    (root / "proj" / "settings.py").write_text(SETTINGS)
    (root / "proj" / "spiders" / "__init__.py").write_text("")
    (root / "proj" / "spiders" / "site.py").write_text(SPIDER)
    return root


def _site() -> dict:
    html = [("Content-Type", "text/html")]
    return {
        "/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nDisallow: /private\n"),
        "/": response("200 OK", html, b"<html><body><a href='/a'>a</a> <a href='/private/x'>p</a></body></html>"),
        "/a": response("200 OK", html, b"<html><body>page a</body></html>"),
        "/private/x": response("200 OK", html, b"<html><body>not for crawlers</body></html>"),
    }


def _scrapy_crawl(project: Path, start: str, *settings: str, command: str = "crawl") -> subprocess.CompletedProcess[str]:
    spider = "site" if command == "crawl" else "run_me.py"  # (runspider: a spider's file, not named as a module is)
    argv = [sys.executable, "-m", "scrapy", command, spider, "-a", f"start={start}"]
    for setting in settings:
        argv += ["-s", setting]
    return subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=120, check=False)


def _capture(project: Path, site, store: Path, name: str, *settings: str,  # type: ignore[no-untyped-def]
             command: str = "crawl") -> subprocess.CompletedProcess[str]:
    """``scrapy crawl`` of ``site`` into collection ``name`` of ``store``."""
    return _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}",
                         "ARCHIVE_COLLECTION=" + json.dumps({"name": name, "urls": [site.base + "/"]}), *settings,
                         command=command)


def _paths(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [head.split(b" ", 2)[1].decode() for head in server.requests]


def test_a_crawl_of_ones_own_spider_is_captured_and_robots_txt_refusals_logged(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}))
        fetched = _paths(site)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "/private/x" not in fetched and {"/robots.txt", "/", "/a"} <= set(fetched)
    [log] = (store / "mine" / "logs").glob("*.captures.jsonl")
    outcomes = {json.loads(line)["url"].removeprefix(site.base): json.loads(line)["outcome"]
                for line in log.read_text().splitlines()}
    assert outcomes == {"/robots.txt": "captured", "/": "captured", "/a": "captured",
                        "/private/x": "robots-disallowed"}
    assert verify(store).ok
    # Provenance from what Scrapy knows, where the spider says nothing (no meta["archive"]).
    lines = {json.loads(line)["url"].removeprefix(site.base): json.loads(line) for line in log.read_text().splitlines()}
    found = {path: (lines[path]["seed"], lines[path]["channel"], lines[path]["via"], lines[path]["hops"],
                    lines[path]["depth"]) for path in ("/", "/a", "/private/x")}
    assert found == {"/": (site.base + "/", "seed", None, "", 0), "/a": (None, "link", site.base + "/", "L", 1),
                     "/private/x": (None, "link", site.base + "/", "L", 1)}


def test_a_spiders_own_meta_archive_that_is_no_provenance_is_left_to_it(tmp_path):
    # meta["archive"] is the bundled spider's provenance; a project may use the key for its own.
    project = _project(tmp_path / "p")
    (project / "proj" / "spiders" / "site.py").write_text(SPIDER.replace(
        "yield response.follow(href, self.parse)", "yield response.follow(href, self.parse, meta={'archive': True})"))
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}))
        fetched = _paths(site)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "/a" in fetched
    [log] = (store / "mine" / "logs").glob("*.captures.jsonl")
    [row] = [row for row in map(json.loads, log.read_text().splitlines()) if row["url"] == site.base + "/a"]
    assert (row["outcome"], row["channel"], row["via"], row["hops"]) == ("captured", "link", site.base + "/", "L")


# (the site spider, its parse logging in with a form and calling an API with JSON)
LOGIN_SPIDER = SPIDER.replace("""\
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse)
""", """\
        yield scrapy.FormRequest(response.urljoin("/login"), callback=self.done, formdata={
            "user": "alice", "password": "s3cr3t&pw", "csrf_token": "k9", "passage": "open"})
        yield scrapy.Request(response.urljoin("/api"), method="POST", callback=self.done,
                             headers={"Content-Type": "application/json"}, body=b'{"apiKey": "xyz", "q": "news"}')

    def done(self, response):
        return None
""")


def test_a_login_forms_password_is_masked_in_its_request_record_and_the_rest_kept_as_sent(tmp_path):
    """A spider that logs in (a paywalled site's subscriber account) had its password kept in
    the clear in the request record, pushed to the bucket and exported with the dataset; the
    Cookie the login gave back was redacted, the password that got it was not."""
    from warcs import fields, read_collection

    project = _project(tmp_path / "p")
    (project / "proj" / "spiders" / "site.py").write_text(LOGIN_SPIDER)
    routes = _site()
    routes["/login"] = response("200 OK", [("Content-Type", "text/html")], b"<html><body>welcome</body></html>")
    routes["/api"] = response("200 OK", [("Content-Type", "application/json")], b"{}")
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}))
    assert done.returncode == 0, done.stderr[-3000:]
    records, _ = read_collection(store / "mine")
    requests = {r.h("WARC-Target-URI").removeprefix(site.base): r for r in records if r.type == "request"}
    # (masked byte for byte: the body keeps the length its Content-Length says; s3cr3t%26pw is 11)
    assert requests["/login"].block.split(b"\r\n\r\n", 1)[1] == \
        b"user=alice&password=***********&csrf_token=**&passage=open"
    assert requests["/api"].block.split(b"\r\n\r\n", 1)[1] == b'{"apiKey": "***", "q": "news"}'
    said = {r.h("WARC-Concurrent-To"): fields(r.payload) for r in records if r.type == "metadata"}
    assert said[requests["/login"].h("WARC-Concurrent-To")]["redactedFields"] == "password,csrf_token"
    assert said[requests["/api"].h("WARC-Concurrent-To")]["redactedFields"] == "apiKey"
    assert verify(store).ok


POSTING_SPIDER = SPIDER.replace("""\
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse)
""", """\
        for path, kind, body in BODIES:
            yield scrapy.Request(response.urljoin(path), method="POST", callback=self.done,
                                 headers={"Content-Type": kind} if kind else {}, body=body)

    def done(self, response):
        return None
""")


def _posted(tmp_path: Path, bodies: list[tuple[str, str, bytes]]) -> dict[str, tuple[bytes, str | None]]:
    """The bodies of the POSTs a spider of one's own sends (path, Content-Type or "" for
    none, body), as their request records hold them, with what their metadata records say
    was masked."""
    from warcs import fields, read_collection

    project = _project(tmp_path / "p")
    (project / "proj" / "spiders" / "site.py").write_text(f"BODIES = {bodies!r}\n" + POSTING_SPIDER)
    routes = _site()
    for path, _, _ in bodies:
        routes[path] = response("200 OK", [("Content-Type", "application/json")], b"{}")
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        done = _capture(project, site, store, "mine")
    assert done.returncode == 0, done.stderr[-3000:]
    assert verify(store).ok  # (the block digest is of the bytes written, the masked ones)
    records, _ = read_collection(store / "mine")
    said = {r.h("WARC-Concurrent-To"): fields(r.payload) for r in records if r.type == "metadata"}
    return {r.h("WARC-Target-URI").removeprefix(site.base): (r.block.split(b"\r\n\r\n", 1)[1],
                                                             said[r.h("WARC-Concurrent-To")].get("redactedFields"))
            for r in records if r.type == "request" and r.h("WARC-Target-URI").removeprefix(site.base) != "/"
            and not r.h("WARC-Target-URI").endswith("/robots.txt")}


def test_a_pin_or_one_time_code_sent_as_a_json_number_is_masked(tmp_path):
    """A one-time code posted as {"otp": 123456} was kept in the clear: only a secret
    field's string values were masked. (A number named for tokens is a count of them.)"""
    body = b'{"user": "ann", "otp": 123456, "pin": -1234, "count": 3, "ids": [1, 2], "max_tokens": 256}'
    got = _posted(tmp_path, [("/verify", "application/json", body)])
    masked = b'{"user": "ann", "otp": ******, "pin": *****, "count": 3, "ids": [1, 2], "max_tokens": 256}'
    assert got == {"/verify": (masked, "otp,pin")}


def test_values_nested_under_a_credentials_name_in_a_json_body_are_masked_and_the_rest_kept_as_sent(tmp_path):
    """A token sent as {"token": {"value": ...}}, API keys as a list, a login's password in a
    "user" object: only a top-level member's own string or number was masked, and these
    were kept in the clear."""
    body = (b'{"token": {"value": "abc", "ttl": 60}, "api_keys": ["k1", 22],\n "auth": {"key": "k\\"2", "n": [1.5]},'
            b' "user": {"name": "ann", "password": "p", "pin": 1234}, "ok": true, "nested": [{"secret": "s"}],'
            b' "usage": {"max_tokens": 256}, "q":"news"}')
    got = _posted(tmp_path, [("/session", "application/json", body)])
    masked = (b'{"token": {"value": "***", "ttl": 60}, "api_keys": ["**", **],\n "auth": {"key": "****", "n": [***]},'
              b' "user": {"name": "ann", "password": "*", "pin": ****}, "ok": true, "nested": [{"secret": "*"}],'
              b' "usage": {"max_tokens": 256}, "q":"news"}')
    assert got == {"/session": (masked, "token,api_keys,auth,password,pin,secret")}


def test_a_credential_in_a_body_sent_without_its_content_type_or_with_another_is_masked(tmp_path):
    """A form or JSON sent with no Content-Type (a Blob posted by sendBeacon) or as
    text/plain (a string posted by fetch()), or JSON sent as a form, was kept in the clear:
    only bodies of the types they are were masked. A binary body is kept as sent."""
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDRpassword=x"
    bodies = [("/beacon", "", b"password=x&user=y"), ("/fetch", "text/plain;charset=UTF-8", b'{"password": "x"}'),
              ("/list", "", b'[{"token": "t1"}]'), ("/typed", "application/x-www-form-urlencoded", b'{"pin": 1234}'),
              ("/jquery", "application/json", b"user=ann&pass=s%20w"), ("/bytes", "", bytes(range(256))),
              ("/octets", "application/octet-stream", b"\x00password=x"), ("/image", "image/png", png),
              ("/text", "text/plain", b"password=x is what I typed")]
    got = _posted(tmp_path, bodies)
    assert got == {"/beacon": (b"password=*&user=y", "password"), "/fetch": (b'{"password": "*"}', "password"),
                   "/list": (b'[{"token": "**"}]', "token"), "/typed": (b'{"pin": ****}', "pin"),
                   "/jquery": (b"user=ann&pass=*****", "pass"), "/bytes": (bytes(range(256)), None),
                   "/octets": (b"\x00password=x", None), "/image": (png, None),
                   "/text": (b"password=x is what I typed", None)}


def test_a_multipart_login_forms_password_is_masked_and_its_other_parts_kept(tmp_path):
    """A login form posted as multipart/form-data (a form with enctype set so, as many
    are) kept its password in the clear: only urlencoded forms and JSON were masked."""
    body = (b'--b0Und\r\nContent-Disposition: form-data; name="user"\r\n\r\nalice\r\n'
            b'--b0Und\r\nContent-Disposition: form-data; name="Password"\r\n\r\ns3cr3t pw\r\n'
            b'--b0Und\r\nContent-Disposition: form-data; name="note"; filename="token.txt"\r\n'
            b'Content-Type: text/plain\r\n\r\nno secret here\r\n--b0Und--\r\n')
    got = _posted(tmp_path, [("/login", "multipart/form-data; boundary=b0Und", body)])
    assert got == {"/login": (body.replace(b"s3cr3t pw", b"*********"), "Password")}


def test_a_credential_named_within_a_longer_field_name_is_masked_and_a_mere_lookalike_kept(tmp_path):
    """A two-factor login's code posted as user[otp_attempt] (Devise's name for it), a
    session[pin] or a pinCode was kept in the clear: only fields named exactly pin, otp
    or pass were masked."""
    body = b"user%5Botp_attempt%5D=123456&session[pin]=4321&pinCode=99&login[pass]=pw1&shipping=fast&spin=2&passage=3"
    got = _posted(tmp_path, [("/two-factor", "application/x-www-form-urlencoded", body)])
    masked = b"user%5Botp_attempt%5D=******&session[pin]=****&pinCode=**&login[pass]=***&shipping=fast&spin=2&passage=3"
    assert got == {"/two-factor": (masked, "user[otp_attempt],session[pin],pinCode,login[pass]")}


def test_a_token_or_a_secret_is_masked_by_the_word_and_a_name_that_only_begins_so_kept(tmp_path):
    """A newsroom's form or API call with a secretary, a tokenizer, a secretariat or an
    author's token count in it had those masked: "secret" and "token" were looked for
    anywhere in a name, as if they were credentials."""
    form = (b"secretary=Ann+Lee&tokenizer=bpe&secretariat=UN&author_token_count=812&token_type=Bearer&"
            b"secret=s1&client_secret=s22&api_token=t3&access-token=t44&authToken=t5&x-auth-token=t66&"
            b"csrfmiddlewaretoken=c7")
    body = b'{"secretary": "Ann", "tokenizer": {"name": "bpe"}, "clientSecret": "s8", "user": {"refresh_token": "r9"}}'
    got = _posted(tmp_path, [("/form", "application/x-www-form-urlencoded", form), ("/api", "application/json", body)])
    form_kept = (b"secretary=Ann+Lee&tokenizer=bpe&secretariat=UN&author_token_count=812&token_type=Bearer&"
                 b"secret=**&client_secret=***&api_token=**&access-token=***&authToken=**&x-auth-token=***&"
                 b"csrfmiddlewaretoken=**")
    body_kept = b'{"secretary": "Ann", "tokenizer": {"name": "bpe"}, "clientSecret": "**", "user": {"refresh_token": "**"}}'
    assert got == {
        "/form": (form_kept, "secret,client_secret,api_token,access-token,authToken,x-auth-token,csrfmiddlewaretoken"),
        "/api": (body_kept, "clientSecret,refresh_token")}


def test_an_api_key_or_a_token_sent_in_a_request_header_is_redacted(tmp_path):
    """A spider calling a paywalled site's API with X-Api-Key or X-Auth-Token kept the key
    in the clear in the request record: only Authorization, Cookie and Proxy-Authorization
    were redacted. Other headers are kept as sent."""
    from warcs import fields, read_collection

    project = _project(tmp_path / "p")
    (project / "proj" / "spiders" / "site.py").write_text(SPIDER.replace("""\
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse)
""", """\
        yield scrapy.Request(response.urljoin("/api"), callback=self.done, headers={
            "X-Api-Key": "k-123", "X-Auth-Token": "t-456", "X-Requested-With": "XMLHttpRequest"})

    def done(self, response):
        return None
"""))
    routes = _site()
    routes["/api"] = response("200 OK", [("Content-Type", "application/json")], b"{}")
    store = tmp_path / "store"
    with serve_wire(routes) as site:
        done = _capture(project, site, store, "mine")
    assert done.returncode == 0, done.stderr[-3000:]
    records, _ = read_collection(store / "mine")
    [request] = [r for r in records if r.type == "request" and r.h("WARC-Target-URI") == site.base + "/api"]
    head = request.block.split(b"\r\n\r\n", 1)[0]
    assert b"k-123" not in head and b"t-456" not in head
    assert b"X-Api-Key: [redacted]" in head and b"X-Auth-Token: [redacted]" in head
    assert b"X-Requested-With: XMLHttpRequest" in head
    said = {r.h("WARC-Concurrent-To"): fields(r.payload) for r in records if r.type == "metadata"}
    assert said[request.h("WARC-Concurrent-To")]["redactedHeaders"] == "X-Api-Key,X-Auth-Token"
    assert verify(store).ok


def test_a_page_fetched_in_scrapy_shell_is_captured_and_its_job_closed(tmp_path):
    # The shell ends without closing its spider: the job is closed at exit, its last captures kept.
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        argv = [sys.executable, "-m", "scrapy", "shell", site.base + "/a", "-c", "response.status",
                "-s", f"ARCHIVE_STORE={store}",
                "-s", "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]})]
        done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "200", done.stderr[-3000:]
    assert "the crawl process went away" not in done.stderr
    [log] = (store / "mine" / "logs").glob("*.captures.jsonl")
    assert [row["url"] for row in map(json.loads, log.read_text().splitlines()) if row["outcome"] == "captured"] \
        == [site.base + "/robots.txt", site.base + "/a"]
    [manifest] = (store / "mine" / "manifests").glob("*.json")
    assert json.loads(manifest.read_text())["outcome"] == "interrupted"
    assert verify(store).ok

def test_a_local_site_outside_the_collections_hosts_is_refused_and_the_crawl_log_says_so(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": ["https://example.org/"]}))
        fetched = _paths(site)
    assert done.returncode == 0 and fetched == []
    said = [line for line in done.stderr.splitlines() if "every URL of 127.0.0.1 is refused" in line]
    assert len(said) == 1 and "WARNING" in said[0] and "allow_private_addresses" in said[0]


def test_with_capture_off_robots_txt_is_still_obeyed(tmp_path):
    # Scrapy's own robots.txt middleware is switched off by the settings the README gives;
    # the one in its place must keep to robots.txt with or without a store to record into.
    project = _project(tmp_path / "p")
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/")
        fetched = _paths(site)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {"/robots.txt", "/", "/a"} <= set(fetched) and "/private/x" not in fetched
    assert "Disabled archive.scrapy.WarcCaptureMiddleware: set ARCHIVE_STORE and ARCHIVE_COLLECTION" in done.stderr


def test_with_capture_off_the_readmes_resolver_refuses_nothing(tmp_path):
    # The resolver keeps to a collection's address policy; with no collection (capture off,
    # the settings of the README left in place) the crawl fetches what plain Scrapy would.
    project = _project(tmp_path / "p")
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base.replace("127.0.0.1", "localhost") + "/",
                             "TWISTED_DNS_RESOLVER=archive.scrapy.ScopedResolver")
        fetched = _paths(site)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {"/robots.txt", "/", "/a"} <= set(fetched) and "/private/x" not in fetched
    assert "DNS lookup failed" not in done.stderr

def test_responses_from_scrapys_http_cache_are_not_captured_and_the_crawl_log_says_so(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        settings = (f"ARCHIVE_STORE={store}", "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}),
                    "HTTPCACHE_ENABLED=True", f"HTTPCACHE_DIR={tmp_path / 'cache'}")
        first = _scrapy_crawl(project, site.base + "/", *settings)
        again = _scrapy_crawl(project, site.base + "/", *settings)
    assert first.returncode == 0 and again.returncode == 0, again.stderr[-3000:]
    assert "HTTP cache" not in first.stderr
    said = [line for line in again.stderr.splitlines() if "came from Scrapy's HTTP cache" in line]
    assert len(said) == 1 and "WARNING" in said[0] and "not captured" in said[0]
    second = max((store / "mine" / "logs").glob("*.captures.jsonl"))
    assert [row["outcome"] for row in map(json.loads, second.read_text().splitlines())] == ["robots-disallowed"]

@pytest.mark.parametrize("quiet", ["LOG_LEVEL=WARNING", "LOG_ENABLED=False"])
def test_the_capture_worker_logs_no_more_than_the_crawls_log_level(tmp_path, quiet):
    # `scrapy crawl -L WARNING` and `--nolog`: the capture worker's lines obey them too.
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}), quiet)
    assert done.returncode == 0, done.stderr[-3000:]
    assert " INFO: " not in done.stderr and "capture worker" not in done.stderr
    assert verify(store).ok

@pytest.mark.parametrize(("settings", "said"), [
    (["ARCHIVE_COLLECTION=mysite"], "ARCHIVE_COLLECTION: not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    (['ARCHIVE_COLLECTION=["x"]'], ("ARCHIVE_COLLECTION: a collection is an object (a dict) with a name and urls, "
                                   "not list ['x']")),
    (['ARCHIVE_COLLECTION={"urls": ["http://127.0.0.1:1/"]}'], "ARCHIVE_COLLECTION: 'name' is a required property"),
    (["ARCHIVE_COLLECTION="], "ARCHIVE_STORE is set but ARCHIVE_COLLECTION is not"),
    # (each capture-log line and the manifest failed their schema: nothing recorded, exit 0)
    (['ARCHIVE_COLLECTION={"name": "mine", "urls": ["http://127.0.0.1:1/"]}', "ARCHIVE_JOB_ID=mine-run1"],
     "ARCHIVE_JOB_ID: 'mine-run1' is not a job id of mine, whose jobs are named mine-YYYYMMDDTHHMMSSZ-xxxx"),
    # (another collection's: its manifest failed verify, and archive crawl took the folder for one renamed by hand)
    (['ARCHIVE_COLLECTION={"name": "mine", "urls": ["http://127.0.0.1:1/"]}',
      "ARCHIVE_JOB_ID=other-20260301T000000Z-abcd"],
     "ARCHIVE_JOB_ID: 'other-20260301T000000Z-abcd' is not a job id of mine, whose jobs are named mine-"),
    (['ARCHIVE_COLLECTION={"name": "mine", "urls": ["http://127.0.0.1:1/"]}',
      "ARCHIVE_JOB_ID=old-mine-20260301T000000Z-abcd"],
     "ARCHIVE_JOB_ID: 'old-mine-20260301T000000Z-abcd' is not a job id of mine"),
    (['ARCHIVE_COLLECTION={"name": "mine", "urls": ["http://127.0.0.1:1/"]}',
      "ARCHIVE_JOB_ID=mine-20261399T250000Z-abcd"],  # (no time)
     "ARCHIVE_JOB_ID: 'mine-20261399T250000Z-abcd' is not a job id of mine"),
    # (taken for the collection's newest job ever after, and each scheduled run since for one that failed)
    (['ARCHIVE_COLLECTION={"name": "mine", "urls": ["http://127.0.0.1:1/"]}',
      "ARCHIVE_JOB_ID=mine-20990101T000000Z-abcd"],
     "ARCHIVE_JOB_ID: mine-20990101T000000Z-abcd holds the time 2099-01-01T00:00:00Z, ahead of the clock ("),
])
def test_settings_that_cannot_capture_stop_the_crawl_with_one_line(tmp_path, settings, said):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}", *settings)
        fetched = _paths(site)
    assert done.returncode == 1
    assert f"ERROR: {said}" in done.stderr
    assert "Traceback" not in done.stderr and fetched == [] and not store.exists()


def test_a_job_id_a_job_has_had_is_refused_and_that_jobs_files_are_left_as_they_were(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    job_id = "mine-20260301T000000Z-abcd"
    with serve_wire(_site()) as site:
        settings = (f"ARCHIVE_STORE={store}", "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}),
                    f"ARCHIVE_JOB_ID={job_id}")
        first = _scrapy_crawl(project, site.base + "/", *settings)
        assert first.returncode == 0, first.stderr[-3000:]
        files = {path: path.read_bytes() for path in store.rglob("*") if path.is_file()}
        again = _scrapy_crawl(project, site.base + "/", *settings)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert f"ERROR: ARCHIVE_JOB_ID: job {job_id} has run already" in again.stderr
    assert {path: path.read_bytes() for path in store.rglob("*") if path.is_file()} == files
    assert verify(store).ok

def test_the_manifest_records_what_the_projects_settings_made_the_crawl_do(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    doc = {"name": "mine", "urls": ["http://127.0.0.1/"], "obey_robots": False,
           "politeness": {"user_agent": "mybot/1.0"}, "caps": {"min_free_bytes": 12345, "timeout": 30},
           "scope": {"max_pages": 3}}
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}", "ARCHIVE_COLLECTION=" + json.dumps(doc),
                             "USER_AGENT=projectbot/2.0", "DOWNLOAD_TIMEOUT=30")
        agents = {line.split(b": ", 1)[1] for head in site.requests for line in head.split(b"\r\n")
                  if line.lower().startswith(b"user-agent:")}
    assert done.returncode == 0, done.stderr[-3000:]
    warned = [line.split("WARNING: ", 1)[1] for line in done.stderr.splitlines() if "ARCHIVE_COLLECTION" in line]
    assert warned == [
        ("ARCHIVE_COLLECTION obey_robots is False, but this crawl's ROBOTSTXT_OBEY is True, which is what it does and "
        "what its manifest records: set ROBOTSTXT_OBEY to change it"),
        ("ARCHIVE_COLLECTION politeness.user_agent is 'mybot/1.0', but this crawl's USER_AGENT is 'projectbot/2.0', "
        "which is what it does and what its manifest records: set USER_AGENT to change it"),
        ("ARCHIVE_COLLECTION scope.max_pages is kept to by `archive crawl`'s spider only (recorded in the manifest as "
        "given); a spider of your own decides what it fetches")]
    [manifest] = (store / "mine" / "manifests").glob("*.json")
    config = json.loads(manifest.read_text())["config"]
    assert agents == {b"projectbot/2.0"} and config["politeness"]["user_agent"] == "projectbot/2.0"
    assert config["obey_robots"] is True and config["caps"]["timeout"] == 30
    assert config["caps"]["min_free_bytes"] == 12345  # (unset in the project: the collection's, which it kept to)
    assert config["politeness"]["concurrency_per_host"] == 8  # (Scrapy's default, which ran)
    assert verify(store).ok


def test_a_store_the_job_cannot_start_in_stops_the_crawl_with_one_line(tmp_path):
    project = _project(tmp_path / "p")
    (tmp_path / "afile").write_text("not a folder")
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={tmp_path / 'afile'}",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}))
        fetched = _paths(site)
    assert done.returncode == 1 and "Traceback" not in done.stderr and fetched == []
    assert (f"ERROR: ARCHIVE_STORE: the capture worker did not start: cannot create "
            f"{tmp_path / 'afile' / 'mine' / 'warcs'}: {tmp_path / 'afile'} is a file, not a folder") in done.stderr
    assert done.stderr.count("ERROR") == 1  # (the worker's own word of it is no second error)


def test_scope_options_as_the_defaults_have_them_are_no_warning(tmp_path):
    # (a whole collection, as Collection.effective() gives it, carries every scope option)
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        doc = {"name": "mine", "urls": [site.base + "/"], "scope": {"max_depth": 5, "max_pages": 10000}}
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}", "ARCHIVE_COLLECTION=" + json.dumps(doc))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "is kept to by `archive crawl`'s spider only" not in done.stderr


def test_a_collections_storage_is_not_pushed_by_a_crawl_of_ones_own_and_the_crawl_log_says_what_to_run(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    doc = {"name": "mine", "urls": ["http://127.0.0.1/"], "storage": {"to": "s3://bucket/prefix"}}
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}", "ARCHIVE_COLLECTION=" + json.dumps(doc))
    assert done.returncode == 0, done.stderr[-3000:]
    said = [line for line in done.stderr.splitlines() if "ARCHIVE_COLLECTION storage" in line]
    assert len(said) == 1 and "WARNING" in said[0] and "run `archive push --to s3://bucket/prefix`" in said[0]

def test_the_user_agent_recorded_is_the_one_sent(tmp_path):
    # Scrapy's default headers come before USER_AGENT: the manifest recorded USER_AGENT's.
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        doc = {"name": "mine", "urls": [site.base + "/"]}
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}", "ARCHIVE_COLLECTION=" + json.dumps(doc),
                             'DEFAULT_REQUEST_HEADERS={"User-Agent": "hdr-ua/2"}')
        agents = {line.split(b": ", 1)[1] for head in site.requests for line in head.split(b"\r\n")
                  if line.lower().startswith(b"user-agent:")}
    assert done.returncode == 0, done.stderr[-3000:]
    [manifest] = (store / "mine" / "manifests").glob("*.json")
    assert agents == {b"hdr-ua/2"} and json.loads(manifest.read_text())["config"]["politeness"]["user_agent"] == "hdr-ua/2"


ROTATING = """\
import itertools


class RotateUserAgent:
    agents = itertools.cycle(["rot-a/1", "rot-b/1", "rot-c/1"])

    def process_request(self, request, spider=None):
        request.headers["User-Agent"] = next(self.agents)
"""


def test_the_manifest_counts_the_user_agents_a_rotating_middleware_sent(tmp_path):
    # The configured user agent is one; a middleware of the project's own sent three.
    project = _project(tmp_path / "p")
    (project / "proj" / "rotate.py").write_text(ROTATING)
    settings = project / "proj" / "settings.py"
    settings.write_text(settings.read_text().replace('DOWNLOADER_MIDDLEWARES = {\n',
                                                     'DOWNLOADER_MIDDLEWARES = {\n    "proj.rotate.RotateUserAgent": 550,\n'))
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        done = _capture(project, site, store, "mine")
        sent = Counter(line.split(b": ", 1)[1].decode() for head in site.requests for line in head.split(b"\r\n")
                       if line.lower().startswith(b"user-agent:"))
    assert done.returncode == 0, done.stderr[-3000:]
    [manifest] = (store / "mine" / "manifests").glob("*.json")
    counts = json.loads(manifest.read_text())["counts"]
    assert len(sent) >= 2 and counts["by_user_agent"] == dict(sent), (counts, sent)
    assert verify(store / "mine").ok


# The capture worker, a child of the crawl process, killed as the first page comes in.
KILL_THE_WORKER = """\
        for proc in Path("/proc").iterdir():
            try:
                stat = (proc / "stat").read_text()
                argv = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"archive.job_worker" in argv and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                os.kill(int(proc.name), signal.SIGKILL)
"""
KILLING_SPIDER = "import os\nimport signal\nfrom pathlib import Path\n\n" + SPIDER.replace(
    "    def parse(self, response):\n", "    def parse(self, response):\n" + KILL_THE_WORKER)


@pytest.mark.parametrize(("command", "commands"), [("crawl", False), ("crawl", True), ("runspider", True)])
def test_scrapy_crawl_exits_1_when_capture_failed_with_the_readmes_commands_module(tmp_path, command, commands):
    project = _project(tmp_path / "p")
    (project / "proj" / "spiders" / "site.py").write_text(KILLING_SPIDER)
    (project / "run_me.py").write_text(KILLING_SPIDER)
    if commands:
        settings = project / "proj" / "settings.py"
        settings.write_text(settings.read_text() + 'COMMANDS_MODULE = "archive.scrapy_commands"\n')
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        done = _capture(project, site, store, "mine", command=command)
    assert "the capture worker stopped" in done.stderr, done.stderr[-3000:]
    # Scrapy's own command exits 0 whatever stopped the spider; ours says capture failed.
    assert done.returncode == (1 if commands else 0), done.stderr[-3000:]


def test_a_store_folder_renamed_by_hand_starts_no_job(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        first = _capture(project, site, store, "mine")
        (store / "mine").rename(store / "yours")
        done = _capture(project, site, store, "yours")
    assert first.returncode == 0, first.stderr[-3000:]
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "ERROR: ARCHIVE_STORE: the job was not started: " in done.stderr
    assert "holds the manifests of collection 'mine', whose records name it too, not of 'yours'" in done.stderr
    assert len(list((store / "yours" / "manifests").glob("*.json"))) == 1


def test_a_store_below_its_free_space_floor_starts_no_job(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}),
                             f"ARCHIVE_MIN_FREE_BYTES={10 ** 18}")
        fetched = _paths(site)
    assert done.returncode == 1 and "Traceback" not in done.stderr and fetched == []
    assert "ERROR: ARCHIVE_STORE: the job was not started: only " in done.stderr
    assert "lower the floor (the ARCHIVE_MIN_FREE_BYTES setting, or caps.min_free_bytes in ARCHIVE_COLLECTION)" \
        in done.stderr
    assert not (store / "mine" / "logs").exists() or not list((store / "mine" / "logs").iterdir())


def test_with_the_readmes_resolver_a_host_name_resolving_to_a_private_address_is_refused(tmp_path):
    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    routes = _site()
    with serve_wire(routes) as site:
        port = site.base.rsplit(":", 1)[1]
        routes["/"] = response("200 OK", [("Content-Type", "text/html")],
                               f"<html><body><a href='http://localhost:{port}/a'>a</a></body></html>".encode())
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}),
                             "TWISTED_DNS_RESOLVER=archive.scrapy.ScopedResolver")
        fetched = _paths(site)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "/a" not in fetched and "/" in fetched
    assert "every URL of localhost is refused: localhost resolves to 127.0.0.1, a private or local address" \
        in done.stderr
    [log] = (store / "mine" / "logs").glob("*.captures.jsonl")
    [refused] = [row for row in map(json.loads, log.read_text().splitlines()) if row["url"].endswith("localhost:"
                                                                                                    f"{port}/a")]
    assert refused["outcome"] == "failed" and refused["error"].startswith("RefusedAddress: localhost resolves to")


def test_a_collection_that_is_not_valid_is_one_line_with_the_resolver_too(tmp_path):
    project = _project(tmp_path / "p")
    with serve_wire(_site()) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={tmp_path / 'store'}",
                             "ARCHIVE_COLLECTION={bad", "TWISTED_DNS_RESOLVER=archive.scrapy.ScopedResolver")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.count("ERROR: ARCHIVE_COLLECTION: not valid JSON") == 1


def test_one_page_linked_with_tracking_parameters_is_one_article(tmp_path):
    """A spider of one's own fetches links as they are: the story under "?utm_source=..."
    and "?fbclid=..." too, with no rel=canonical to say they are one page. Each was an
    article of its own."""
    from newsroom import article_html

    from archive.extract import extract_collection

    project = _project(tmp_path / "p")
    store = tmp_path / "store"
    html = [("Content-Type", "text/html; charset=utf-8")]
    links = "".join(f"<a href='/a.html{query}'>Bridge</a> " for query in (
        "?utm_source=x&utm_medium=rss", "?fbclid=IwAR0abc", "?gclid=Cj0KCQ", ""))
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/": response("200 OK", html, f"<html><body>{links}</body></html>".encode()),
              "/a.html": response("200 OK", html, article_html("a", "Bridge opens", ["The council met. " * 60] * 3))}
    with serve_wire(routes) as site:
        done = _scrapy_crawl(project, site.base + "/", f"ARCHIVE_STORE={store}", "CONCURRENT_REQUESTS=1",
                             "ARCHIVE_COLLECTION=" + json.dumps({"name": "mine", "urls": [site.base + "/"]}))
        assert done.returncode == 0, done.stderr[-3000:]
        assert sum(path.startswith("/a.html") for path in _paths(site)) == 4
    [(table, rows)] = extract_collection(store, "mine")
    [row] = [json.loads(line) for line in table.read_text().splitlines()]
    assert rows == 1 and row["canonical_url"] == site.base + "/a.html"
    assert row["url"] == site.base + "/a.html"  # (the page's own capture, though a copy's came first)
