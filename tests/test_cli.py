"""The archive command end to end: crawl, demo, and its errors (one sentence, exit 2)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
from warcs import read_collection
from wire import response, serve_wire

from archive.cli import main
from archive.config import collection_from_dict
from archive.crawl import crawl


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archive", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_crawl_prints_progress_and_a_summary_and_respects_max_pages(wire_site, tmp_path):
    store = tmp_path / "s"
    proc = run("crawl", "--url", wire_site.base + "/", "--store", str(store), "--max-pages", "3",
               "--collection", "cli")
    assert proc.returncode == 0, proc.stderr
    assert "pages/s" in proc.stderr and "errors" in proc.stderr
    assert "responses captured" in proc.stdout
    assert f"archive verify {store / 'cli'}" in proc.stdout
    _, lines = read_collection(store / "cli")
    pages = [l for l in lines if l["channel"] in ("seed", "link")]
    assert len({l["url"] for l in pages}) == 3
    assert run("verify", str(store)).returncode == 0


def test_depth_zero_fetches_the_seed_and_its_requisites_only(wire_site, tmp_path):
    assert main(["crawl", "--url", wire_site.base + "/", "--store", str(tmp_path), "--depth", "0"]) == 0
    _, lines = read_collection(tmp_path / "default")
    assert {l["channel"] for l in lines} == {"seed", "embed", "robots"}
    embeds = {l["url"].rsplit("/", 1)[1]: l for l in lines if l["channel"] == "embed"}
    # print.css and bg.png from the CSS; favicon.ico as a browser asks for it (the page names no icon)
    assert set(embeds) == {"style.css", "img.png", "print.css", "bg.png", "favicon.ico"}
    assert embeds["bg.png"]["hops"] == "EE" and embeds["bg.png"]["via"].endswith("/style.css")


@pytest.mark.parametrize(
    "args, message",
    [
        (["crawl", "--url", "ftp://example.org/"], "is not an http:// or https:// URL"),
        (["crawl"], "at least one seed with --url, --feed or --sitemap"),
        (["crawl", "--url", "http://127.0.0.1:9/", "--max-pages", "-3"], "must not be negative"),
        (["crawl", "--url", "http://127.0.0.1:9/", "--collection", "Bad_Name"], "is not a collection name"),
        (["crawl", "--url", "http://127.0.0.1:9/", "--warc-max-bytes", "0"], "warc_max_bytes"),
        (["verify", "/nonexistent/store"], "does not exist"),
        (["nonsense"], "invalid choice"),
        # (an empty path is the current directory to the system, and an empty address every interface)
        (["status", "--store", ""], "argument --store: must not be empty"),
        (["push", "--to", "s3://bucket/p", "--endpoint-url", "http://127.0.0.1:99999"],
         "argument --endpoint-url: 'http://127.0.0.1:99999' is not a valid URL (Port out of range"),
        (["crawl", "--url", "http://127.0.0.1:70000/"], "is not a valid URL (Port out of range"),
        (["verify", ""], "argument PATH: must not be empty"),
        (["replay", "--host", ""], "argument --host: must not be empty"),
        (["export", "--collection", "c", "--out", ""], "argument --out: must not be empty"),
        (["crawl", "--url", "http://127.0.0.1:9/", "--max-pages", "18446744073709551616"],
         "max_pages: 18446744073709551616 is greater than the maximum of 9007199254740991"),
        # (no abbreviations: `--delete` was taken for --delete-local, which removes local WARCs)
        (["push", "--to", "s3://bucket/p", "--delete"], "unrecognized arguments: --delete"),
        # (said under the command's usage and name, not the top level's, with the option meant)
        (["demo", "--bogus"], "usage: archive demo [-h]"),
        (["status", "--stor", "x"], "archive status: error: unrecognized arguments: --stor x (did you mean --store?)"),
        (["index", "archive-store/demo"], "archive index: error: unrecognized arguments: archive-store/demo\n"),
    ],
)
def test_usage_errors_are_one_clear_line_and_exit_2(args, message):
    proc = run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_store_that_cannot_be_made_is_one_clear_line(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    store = tmp_path / "a-file" / "store"
    proc = run("crawl", "--url", "http://127.0.0.1:9/", "--store", str(store), "--collection", "c")
    assert proc.returncode == 1, proc.stderr
    assert f"cannot create {store / 'c' / 'warcs'}: {tmp_path / 'a-file'} is a file, not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_demo_crawls_the_bundled_site_and_verifies(tmp_path, capsys):
    tmp_path = tmp_path / "my store"  # (the command it prints is pasted as it is)
    assert main(["demo", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "OK:" in out and "50 articles" in out and f"Verify it:  archive verify '{tmp_path / 'demo'}'\n" in out
    _, lines = read_collection(tmp_path / "demo")
    statuses = {l.get("status") for l in lines}
    assert 200 in statuses and 404 in statuses and 301 in statuses
    assert any(l["outcome"] == "robots-disallowed" for l in lines)
    assert sum(1 for l in lines if l["url"].count("/") >= 6 and l.get("status") == 200) >= 50
    # Its verify is the store's last, as `archive status` tells.
    assert main(["status", "--store", str(tmp_path)]) == 0
    assert "  verify     passed at " in capsys.readouterr().out


def test_demo_serve_serves_the_site_until_stopped():
    proc = subprocess.Popen([sys.executable, "-m", "archive", "demo", "--serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = re.search(r"at (http://127\.0\.0\.1:\d+)/ until stopped", proc.stdout.readline()).group(1)
        with urllib.request.urlopen(base + "/robots.txt", timeout=10) as answer:
            assert answer.status == 200 and b"Disallow" in answer.read()
        assert f"archive crawl --url {base}/ --collection local" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0 and "Traceback" not in proc.stderr.read()


def test_a_body_over_the_cap_is_truncated_and_marked(tmp_path):
    big = bytes(range(256)) * 4096  # 1 MiB
    routes = {"/": response("200 OK", [("Content-Type", "application/octet-stream")], big)}
    with serve_wire(routes) as server:
        coll = collection_from_dict({"name": "cap", "urls": [server.base + "/"], "obey_robots": False,
                                     "caps": {"max_body_bytes": 100_000}})
        crawl(tmp_path, coll)
    records, lines = read_collection(tmp_path / "cap")
    resp = next(r for r in records if r.type == "response")
    assert resp.h("WARC-Truncated") == "length"
    assert 100_000 <= len(resp.payload) < len(big) and big.startswith(resp.payload)
    assert lines[0]["truncated"] == "length" and lines[0]["robots"] == "ignored"


def test_python_dash_m_archive_shows_help():
    proc = run("--help")
    assert proc.returncode == 0 and "verify" in proc.stdout and "crawl" in proc.stdout


def test_crawl_can_run_from_a_worker_thread(wire_site, tmp_path):
    import threading

    results = {}
    coll = collection_from_dict({"name": "thread", "urls": [wire_site.base + "/final"], "obey_robots": False})
    worker = threading.Thread(target=lambda: results.update(result=crawl(tmp_path, coll)))
    worker.start()
    worker.join(timeout=120)
    assert results["result"].outcome == "finished" and results["result"].counts["captured"] == 2  # (and /favicon.ico)


@pytest.mark.parametrize("obey_robots", [True, False])
def test_a_crawl_whose_seed_cannot_be_fetched_says_why_and_fails(tmp_path, capsys, obey_robots):
    from wire import free_port

    seed = f"http://127.0.0.1:{free_port()}/"
    config = tmp_path / "c.toml"
    config.write_text(f'[[collection]]\nname = "down"\nurls = ["{seed}"]\nobey_robots = {str(obey_robots).lower()}\n')
    assert main(["crawl", str(config), "--store", str(tmp_path / "s"), "--min-free-bytes", "0"]) == 1
    out, err = capsys.readouterr()
    assert "Job down-" in out and " finished: 0 responses captured" in out
    said = err.splitlines()
    at = said.index("archive crawl: no seed of collection down could be fetched")
    assert said[at + 1].startswith(f"  {seed}: ") and "Connection was refused" in said[at + 1]
    if obey_robots:
        assert "robots.txt could not be fetched" in said[at + 1]


def test_a_crawl_that_fetched_its_seed_but_captured_nothing_else_is_no_failure(tmp_path, capsys):
    # (a seed that answered, even 404, was fetched: the site is there)
    with serve_wire({}) as site:
        code = main(["crawl", "--url", site.base + "/", "--store", str(tmp_path / "s"), "--min-free-bytes", "0"])
    assert code == 0 and "could be fetched" not in capsys.readouterr().err


def test_a_seed_whose_host_the_scope_leaves_out_is_said_before_the_crawl_and_in_its_log(wire_site, tmp_path, capsys):
    # (fetched as a seed all the same, but none of its links followed: a crawl of one page)
    config = tmp_path / "c.toml"
    host = wire_site.base.removeprefix("http://")

    def crawl_with(allow_hosts: str) -> str:
        config.write_text(f'[[collection]]\nname = "narrow"\nurls = ["{wire_site.base}/"]\n'
                          f'[collection.scope]\nallow_hosts = [{allow_hosts}]\n')
        assert main(["crawl", str(config), "--store", str(tmp_path / "s"), "--min-free-bytes", "0"]) == 0
        return capsys.readouterr().err

    err = crawl_with('"127.0.0.1:1"')  # its host, on another port
    said = (f"seed {wire_site.base}/ is outside scope.allow_hosts (127.0.0.1:1): it is fetched, but unless it "
            f"redirects into the scope none of its links to {host} are followed (add {host} to allow_hosts to crawl "
            "them)")
    assert f"archive crawl: warning: collection 'narrow': {said}\n" in err
    assert said in next((tmp_path / "s" / "narrow" / "logs").glob("*.crawl.log")).read_text()
    _, lines = read_collection(tmp_path / "s" / "narrow")
    assert {l["channel"] for l in lines} == {"seed", "embed", "robots"}
    # A seed in the scope is no warning, nor is one on another site (an aggregator's page of
    # the site's stories), whose links to the site are what was meant.
    assert "outside" not in crawl_with(f'"news.example", "{host}"')
    assert "outside" not in crawl_with('"news.example"')


def test_a_crawl_whose_robots_txt_answered_but_whose_seed_did_not_fails(tmp_path, capsys):
    # (robots.txt's 404 is a response captured: the job was not "0 responses", yet got no page)
    routes = {"/": lambda _head: [b"HTTP/1.1 2xx OK\r\nContent-Length: 2\r\n\r\nhi"]}
    with serve_wire(routes) as site:
        code = main(["crawl", "--url", site.base + "/", "--store", str(tmp_path / "s"), "--min-free-bytes", "0"])
    out, err = capsys.readouterr()
    assert code == 1 and "1 response captured" in out
    assert f"archive crawl: no seed of collection default could be fetched\n  {site.base}/: " in err
    assert "non-integer status code" in err


def test_a_collection_folder_given_as_the_store_is_refused(tmp_path, capsys):
    # A crawl made a store within the collection's folder, which no command given the store saw.
    coll = tmp_path / "store" / "news"
    for part in ("warcs", "manifests", "logs"):
        (coll / part).mkdir(parents=True)
    for argv in (["crawl", "--url", "http://127.0.0.1:9/", "--store", str(coll)], ["extract", "--store", str(coll), "--collection", "news"]):
        assert main(argv) == 2
        assert f"is a collection's folder (it holds warcs/, manifests/ and logs/), not a store's; give the folder " \
               f"above it: --store '{coll.parent}'" in capsys.readouterr().err
    assert sorted(p.name for p in coll.iterdir()) == ["logs", "manifests", "warcs"]
    # (status reads a collection given its folder, as it did: a monitor may ask it so)
    assert main(["status", "--store", str(coll)]) == 0 and "news: 0 jobs" in capsys.readouterr().out
    # (a store whose collections are named like a collection's folders is a store)
    for name in ("warcs", "manifests", "logs"):
        (tmp_path / "odd" / name / "warcs").mkdir(parents=True)
    assert main(["status", "--store", str(tmp_path / "odd")]) == 0


def test_a_store_that_is_a_broken_link_or_a_file_is_said_to_be_so(tmp_path, capsys):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "afile").write_text("x")
    for name, why in (("dangling", f"{tmp_path / 'dangling'} is a link to {tmp_path / 'nowhere'}, which does not exist"),
                      ("afile", f"{tmp_path / 'afile'} is a file, not a folder")):
        assert main(["crawl", "--url", "http://127.0.0.1:9/", "--store", str(tmp_path / name)]) == 1
        assert capsys.readouterr().err.strip() == f"archive crawl: cannot create {tmp_path / name / 'default' / 'warcs'}: {why}"
    assert (tmp_path / "afile").read_text() == "x" and not (tmp_path / "nowhere").exists()
    config = tmp_path / "c.toml"
    config.write_text('[[collection]]\nname = "a"\nurls = ["http://127.0.0.1:9/"]\nschedule = "* * * * *"\n')
    main(["schedule", str(config), "--store", str(tmp_path / "dangling"), "--once"])
    said = capsys.readouterr()
    assert (f"a: could not start a job: {tmp_path / 'dangling'} is a link to {tmp_path / 'nowhere'}, which does not "
            "exist; it runs again at its next scheduled time") in said.out + said.err


def test_demo_port_without_serve_is_a_usage_error(tmp_path, capsys):
    assert main(["demo", "--store", str(tmp_path / "s"), "--port", "18557"]) == 2
    assert "--port is for --serve" in capsys.readouterr().err and not (tmp_path / "s").exists()


def test_a_file_or_a_broken_link_where_a_command_makes_a_folder_is_named_as_such(tmp_path, capsys):
    # ("File exists", said by mkdir, did not say that a file or a link to nowhere has the name)
    from jobs import Clock, run_job

    store = tmp_path / "store"
    run_job(store, 1, Clock())
    (store / "news" / "articles").write_text("x")
    assert main(["extract", "--store", str(store), "--collection", "news"]) == 1
    assert capsys.readouterr().err == f"archive extract: {store / 'news' / 'articles'} is a file, not a folder\n"
    (store / "news" / "articles").unlink()
    assert main(["extract", "--store", str(store), "--collection", "news"]) == 0
    (tmp_path / "out").symlink_to(tmp_path / "nowhere")
    assert main(["export", "--store", str(store), "--collection", "news", "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (f"archive export: {tmp_path / 'out'} is a link to {tmp_path / 'nowhere'}, "
                                       "which does not exist\n")


@pytest.mark.parametrize("command", [["status"], ["index"], ["replay"], ["history", "http://news.test/a"]])
def test_a_store_that_does_not_exist_is_said_so_not_called_no_store_directory(tmp_path, capsys, command):
    """status, index, replay and history said "is not a store directory" of a path that is not
    there at all, or is a file; verify and export said which."""
    assert main([*command, "--store", str(tmp_path / "nowhere")]) == 2
    assert f"error: {tmp_path / 'nowhere'} does not exist: it is no store" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main([*command, "--store", str(tmp_path / "file")]) == 2
    assert f"error: {tmp_path / 'file'} is a file, not a folder: it is no store" in capsys.readouterr().err


def test_a_crawl_whose_feeds_could_not_be_read_says_so_in_its_summary(tmp_path, capsys):
    """A feed URL that answers the site's home page (a feed moved, a redirect to "/") is a
    bad document: the job got none of its articles, and the summary said nothing of it."""
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/feed": response("301 Moved Permanently", [("Location", "/")], b""),
              "/": response("200 OK", [("Content-Type", "text/html")], b"<html><body><p>home</p></body></html>")}
    with serve_wire(routes) as site:
        assert main(["crawl", "--feed", site.base + "/feed", "--store", str(tmp_path), "--collection", "moved",
                     "--min-free-bytes", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    job = out[0].split()[1]
    assert out[1] == f'  1 feed or sitemap could not be read: see "bad document" in {tmp_path}/moved/logs/{job}.crawl.log'
    assert "bad document" in (tmp_path / "moved" / "logs" / f"{job}.crawl.log").read_text()


def test_a_crawl_whose_sitemap_is_an_html_page_says_so_in_its_summary(tmp_path, capsys):
    """A site's /sitemap.html given as a sitemap is read as a page: said in the summary, as
    the crawl log says which, and at a depth of 0 that its links are not followed."""
    routes = {"/robots.txt": response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
              "/sitemap.html": response("200 OK", [("Content-Type", "text/html")],
                                        b"<html><body><a href='/a/one'>one</a></body></html>")}
    with serve_wire(routes) as site:
        assert main(["crawl", "--sitemap", site.base + "/sitemap.html", "--store", str(tmp_path), "--collection",
                     "pages", "--depth", "0", "--min-free-bytes", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    job = out[0].split()[1]
    assert out[1] == (f'  1 sitemap was an HTML page, read as a page: see "is an HTML page" in '
                      f'{tmp_path}/pages/logs/{job}.crawl.log')
    assert (f"sitemap {site.base}/sitemap.html is an HTML page: read as a page, whose links max_depth 0 leaves "
            "unfollowed") in (tmp_path / "pages" / "logs" / f"{job}.crawl.log").read_text()


def test_a_crawl_whose_feed_lists_articles_on_a_host_out_of_the_scope_says_so_in_its_summary(tmp_path, capsys):
    """A feed on feeds.example.com whose articles are on www.example.com: the job fetched the
    feed and nothing else, and only the crawl log said why."""
    with serve_wire({}) as site:
        other = site.base.replace("127.0.0.1", "localhost")
        items = "".join(f"<item><title>{i}</title><link>{other}/a/{i}</link></item>" for i in range(3))
        site.routes["/feed"] = response("200 OK", [("Content-Type", "application/rss+xml")],
                                        f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode())
        assert main(["crawl", "--feed", site.base + "/feed", "--store", str(tmp_path), "--collection", "feeds",
                     "--min-free-bytes", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    job = out[0].split()[1]
    assert out[1] == (f'  3 feed items or sitemap entries on hosts out of the scope not fetched: see "out of the '
                      f'scope" in {tmp_path}/feeds/logs/{job}.crawl.log (scope.allow_hosts takes a host in)')
    assert "3 items on localhost out of the scope" in (tmp_path / "feeds" / "logs" / f"{job}.crawl.log").read_text()


def test_a_port_in_use_is_said_in_words_by_replay_as_by_demo(tmp_path):
    (tmp_path / "store").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run("replay", "--store", str(tmp_path / "store"), "--port", str(port))
    assert proc.returncode == 2
    assert proc.stderr == f"archive replay: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
