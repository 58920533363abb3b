"""Collections files: validated, errors name the file and the key path or line, nothing crawled."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from warcs import read_collection

from archive.config import (
    collection_from_dict,
    load_collections,
    seeds_outside_scope,
    with_overrides,
)
from archive.errors import ConfigError


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archive", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def write(tmp_path, text: str):
    path = tmp_path / "collections.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, expected", [
    ('[[collection]]\nname = "x"\nurls = ["http://a/"\n', "invalid TOML"),
    ('[[collection]]\nname = "x"\n\nurls = [1]\n', "collection[0].urls[0]: 1 is not of type 'string'"),
    ('[[collection]]\nname = "Bad Name"\nurls = ["http://a/"]\n', "collection[0].name"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nscope = { max_depth = -1 }\n',
     "collection[0].scope.max_depth: -1 is less than the minimum of 0"),
    # (past 2**53 a number is no count JSON readers agree on; past 2**64 one reader took it for a
    # float, and the job's manifest then failed its own config hash)
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nscope = { max_pages = 18446744073709551616 }\n',
     "collection[0].scope.max_pages: 18446744073709551616 is greater than the maximum of 9007199254740991"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\npoliteness = { speed = 3 }\n',
     "collection[0].politeness: Additional properties are not allowed ('speed' was unexpected)"),
    # (a misspelt option: the one meant is named)
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nschedul = "0 * * * *"\n',
     "collection[0]: Additional properties are not allowed ('schedul' was unexpected) (did you mean schedule?)"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nscope = { max_page = 3 }\n',
     "collection[0].scope: Additional properties are not allowed ('max_page' was unexpected) (did you mean max_pages?)"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\n[[collection]]\nname = "x"\nurls = ["http://b/"]\n',
     "collection[1].name: 'x' is used twice"),
    ('[[collection]]\nname = "x"\n', ": collection 'x': no seeds; give urls, feeds or sitemaps"),
    ('[[collection]]\nname = "x"\nurls = ["ftp://a/"]\n',
     "collection[0].urls[0]: 'ftp://a/' is not an http:// or https:// URL with a host"),
    ('[[collection]]\nname = "x"\nurls = ["https:// a/"]\n', "'https:// a/' is not an http:// or https:// URL"),
    ('[[collection]]\nname = "x"\nurls = ["https://\\u001ca/"]\n', "is not an http:// or https:// URL"),
    ('[[collection]]\nname = "x"\nurls = ["http://127.0.0.1:99999/"]\n',
     "urls[0]: 'http://127.0.0.1:99999/' is not a valid URL (Port out of range"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nsitemaps = ["http://[zz]/s.xml"]\n',
     "sitemaps[0]: 'http://[zz]/s.xml' is not a valid URL"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\npoliteness = { delay = inf }\n',
     "politeness.delay: inf is greater than the maximum of 86400"),
    # (taken, then a crawl that waited for ever, or each crawl after the first a traceback)
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\npoliteness = { delay = 1e300 }\n',
     "politeness.delay: 1e+300 is greater than the maximum of 86400"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nrecrawl = { window_days = 1e10 }\n',
     "recrawl.window_days: 10000000000.0 is greater than the maximum of 36500"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nrecrawl = { window_days = 0, backoff = 1e300 }\n',
     "recrawl.backoff: 1e+300 is greater than the maximum of 1000"),
    # (found once the crawl was done, and said to be retried by the next crawl, which it could not be)
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nstorage = { to = "s3://My_Bucket/p" }\n',
     "storage.to: 's3://My_Bucket/p' is not an s3://BUCKET[/PREFIX] URL"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nstorage = { to = "s3://bkt//p" }\n',
     "storage.to: 's3://bkt//p': empty path segment in the prefix"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nstorage = { to = "s3://b-1/p", endpoint_url = "http://" }\n',
     "storage.endpoint_url: 'http://' is not an http(s) URL with a host"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\npoliteness = { user_agent = "ua\\r\\nX-Injected: 1" }\n',
     "politeness.user_agent: 'ua\\r\\nX-Injected: 1' holds a control character, which no header can"),
    ('[[collection]]\nname = "x"\nurls = ["http://exa mple.example/"]\n',
     "urls[0]: 'http://exa mple.example/' has no host a request can be sent to"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\npoliteness = { delay = nan }\n',
     "politeness.delay: nan is not a finite number"),
    ('[[collection]]\nname = "x"\nurls = ["http://a/"]\nscope = { deny_patterns = ["(open"] }\n',
     "scope.deny_patterns[0]: '(open' is not a regular expression"),
])
def test_config_errors_name_the_file_and_the_place(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_collections(path)
    assert str(err.value).startswith(str(path)) and expected in str(err.value)


def test_an_error_about_a_value_names_its_line(tmp_path):
    """A file of many collections said "collection[7].feeds[1]" and left the lines to be
    counted; the line that holds the value is named, in each collection's own part."""
    path = write(tmp_path, '[[collection]]\nname = "a"\nfeeds = ["http://a/feed", "not a url"]\n\n'
                           '[[collection]]\nname = "b"\nurls = [\n  "http://b/",\n  "not a url",\n]\n')
    with pytest.raises(ConfigError) as err:
        load_collections(path)
    assert str(err.value) == (f"{path}: collection[0].feeds[1]: 'not a url' is not an http:// or https:// URL with a "
                              "host (line 3); collection[1].urls[1]: 'not a url' is not an http:// or https:// URL "
                              "with a host (line 9)")
    path = write(tmp_path, '[[collection]]\nname = "a"\nurls = ["http://a/"]\n\n[collection.scope]\n'
                           "deny_patterns = ['/live/', '(open']\n\n[[collection]]\nname = \"b\"\n"
                           'sitemaps = ["http://b:99999/s.xml"]\n')
    with pytest.raises(ConfigError, match=r"^.*: collection 'a': scope.deny_patterns\[1\]: '\(open' is not a regular "
                                          r"expression \(.*\) \(line 6\)$"):
        load_collections(path)
    with pytest.raises(ConfigError, match=r"collection 'b': sitemaps\[0\]: .* \(line 10\)$"):
        load_collections(path, ["b"])
    # (a value written twice in its collection: no line is named rather than a wrong one)
    path = write(tmp_path, '[[collection]]\nname = "x"\nurls = ["http://a/"]\nfeeds = ["nope", "nope"]\n')
    with pytest.raises(ConfigError) as err:
        load_collections(path)
    assert "line" not in str(err.value)


@pytest.mark.parametrize("url", ["http://[::1]:8131/", "http://a_b.example/", "https://[2001:db8::1]/"])
def test_a_seed_on_an_ipv6_address_or_a_host_with_an_underscore_is_taken(tmp_path, url):
    """Refused, with a complaint about the scope made of it: `scope.allow_hosts[0]: '::1'
    does not match ...`, said to be on the command line."""
    [collection] = load_collections(write(tmp_path, f'[[collection]]\nname = "x"\nurls = ["{url}"]\n'))
    assert with_overrides(collection, max_pages=3).urls == (url,)


def test_a_seed_with_its_scheme_in_capitals_is_taken(tmp_path):
    """A scheme is read in any case (RFC 3986): "HTTPS://News.Example/" was "not an http://
    or https:// URL with a host" in a collections file and on the command line."""
    [collection] = load_collections(write(tmp_path, '[[collection]]\nname = "x"\nurls = ["HTTPS://News.Example/a"]\n'
                                                    'feeds = ["Http://news.example/feed"]\n'))
    assert (collection.urls, collection.feeds) == (("https://news.example/a",), ("http://news.example/feed",))
    assert collection.scope["allow_hosts"] == ["news.example"]
    from archive.commands.common import http_url

    assert http_url("HTTP://127.0.0.1:9/") == "HTTP://127.0.0.1:9/"


def test_counts_written_as_floats_are_integers(tmp_path):
    """``max_depth = 1.0`` or ``part_size = 8e6`` went on as floats: another config hash
    than the same file's with integers, and a part size no file can be read by."""
    [collection] = load_collections(write(tmp_path, '[[collection]]\nname = "x"\nurls = ["http://a/"]\n'
                                                    'scope = { max_depth = 1.0 }\ncaps = { warc_max_bytes = 1e9 }\n'
                                                    'storage = { to = "s3://b-1/p", part_size = 8e6 }\n'))
    values = (collection.scope["max_depth"], collection.caps["warc_max_bytes"], collection.settings["storage"]["part_size"])
    assert values == (1, 1_000_000_000, 8_000_000) and all(type(v) is int for v in values)


def test_a_collections_file_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[[collection]]\nname = "a"\nurls = ["http://127.0.0.1:9/"]\n')
    assert [c.name for c in load_collections(path)] == ["a"]


def test_toml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, '[[collection]]\nname = "x"\nurls = "http://a/\n')
    with pytest.raises(ConfigError, match=r"line 3"):
        load_collections(path)


def test_cli_config_error_exits_2_and_crawls_nothing(tmp_path):
    path = write(tmp_path, '[[collection]]\nname = "x"\nurls = ["http://127.0.0.1:9/"]\nscope = { max_pages = 0 }\n')
    proc = run("crawl", str(path), "--store", str(tmp_path / "store"))
    assert proc.returncode == 2 and "collection[0].scope.max_pages" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "store").exists()
    assert run("crawl", str(tmp_path / "missing.toml")).returncode == 2


def test_config_crawl_runs_the_chosen_collections_with_their_settings(wire_site, tmp_path):
    base = wire_site.base
    path = write(tmp_path, f'''
[[collection]]
name = "first"
urls = ["{base}/"]
scope = {{ max_depth = 0, page_requisites = false }}
politeness = {{ user_agent = "test-archiver/1.0 (+https://archive.invalid/contact)" }}
dataset = {{ license = "CC-BY-4.0", description = "test" }}
schedule = "*/30 * * * *"

[[collection]]
name = "second"
urls = ["{base}/final"]
''')
    proc = run("crawl", str(path), "--collection", "first", "--store", str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "store" / "second").exists()
    _, lines = read_collection(tmp_path / "store" / "first")
    assert {l["channel"] for l in lines} == {"seed", "robots"}
    assert all(l["user_agent"].startswith("test-archiver/1.0") for l in lines)
    manifest = json.loads(next((tmp_path / "store" / "first" / "manifests").glob("*.json")).read_text())
    assert manifest["config"]["dataset"]["license"] == "CC-BY-4.0"
    assert manifest["config"]["schedule"] == "*/30 * * * *"
    proc = run("crawl", str(path), "--collection", "nope", "--store", str(tmp_path / "store"))
    assert proc.returncode == 2 and "no collection named 'nope'" in proc.stderr


@pytest.mark.parametrize("seed, allow_hosts, said", [
    ("https://www.example.com/", ["example.com"], True),
    ("https://example.com/", ["www.example.com"], True),
    ("https://example.com/", ["*.example.com"], False),  # (the domain itself is in)
    ("https://live.example.com/", ["example.com", "news.example.com"], True),
    ("http://127.0.0.1:8080/", ["127.0.0.1:8000"], True),
    ("http://127.0.0.1:8080/", ["127.0.0.1"], False),
    ("https://aggregator.example/", ["example.com"], False),
])
def test_a_seed_outside_the_scope_of_its_own_site_is_said(seed, allow_hosts, said):
    found = seeds_outside_scope(collection_from_dict({"name": "c", "urls": [seed], "scope": {"allow_hosts": allow_hosts}}))
    assert bool(found) == said, found
