"""``archive history URL`` over a store whose files are damaged, and URLs it cannot read."""

from __future__ import annotations

import io
import logging
import shutil

import pytest
from test_export import _job, _one_job_of_three

from archive.cli import main
from archive.extract import extract_collection

URL = "http://news.test/a/0"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return _one_job_of_three(tmp_path_factory, "history")


@pytest.fixture
def store(pristine, tmp_path):
    shutil.copytree(pristine, tmp_path / "store")
    return tmp_path / "store"


def _history(store, url: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["history", url, "--store", str(store)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_damaged_log_and_article_lines_are_skipped_with_a_warning_and_the_rest_shown(store, caplog):
    log_file = next((store / "ds" / "logs").glob("*.captures.jsonl"))
    articles = next((store / "ds" / "articles").glob("*.jsonl"))
    with open(log_file, "ab") as fh:  # (lines 4 to 7; the job wrote 3)
        fh.write(b'{not json\n\xff\xfe{}\n[1, 2]\n{"url": "http://news.test/a/0"}\n')
    with open(articles, "ab") as fh:
        fh.write(b'{"url": "http://news.test/a/0"}\n\xff\n')
    with caplog.at_level(logging.WARNING):
        code, out, err = _history(store, URL)
    assert code == 0
    assert "new content" in out and "Version 1" in out and ": Story 0" in out
    schema = "does not match the {} schema ((top level): '{}' is a required property)"
    said = [
        f"{log_file}: line 4: not JSON, skipped",
        f"{log_file}: line 5: not UTF-8, skipped",
        f"{log_file}: line 6: not a JSON object, skipped",
        f"{log_file}: line 7: {schema.format('capture-log', 'job_id')}, skipped",
        f"{articles}: line 4: {schema.format('article', 'article_id')}, skipped",
        f"{articles}: line 5: not UTF-8, skipped",
    ]
    assert [r.getMessage() for r in caplog.records] == said
    # (said as the command's warnings: they were bare lines on the terminal)
    assert err.splitlines() == [f"archive history: warning: {line}" for line in said]


@pytest.mark.parametrize(("url", "why"), [("http://[::1", "is not a valid URL (Invalid IPv6 URL)"),
                                          ("http://host:99999/", "is not a valid URL (Port out of range"),
                                          ("", "is not an absolute http(s) URL"),
                                          ("news.test/a/0", "is not an absolute http(s) URL")])
def test_a_url_that_cannot_be_read_is_one_line_naming_it(pristine, url, why):
    code, out, err = _history(pristine, url)
    assert code == 2 and out == ""
    assert err.startswith(f"archive history: error: {url!r} {why}") and err.count("\n") == 1


def test_a_url_in_several_collections_says_which_each_version_is_of_and_one_can_be_chosen(store):
    shutil.copytree(store / "ds", store / "copy")
    code, out, _ = _history(store, URL)
    assert code == 0
    assert [line.split(" (")[0] for line in out.splitlines() if line.startswith("Version")] == [
        "Version 1 of copy", "Version 1 of ds"]
    out_one = io.StringIO()
    assert main(["history", URL, "--store", str(store), "--collection", "ds"], out=out_one, err=io.StringIO()) == 0
    assert [line.split(" (")[0] for line in out_one.getvalue().splitlines() if line.startswith("Version")] == [
        "Version 1"]
    assert sum(line.startswith("  ") for line in out_one.getvalue().splitlines()) == 1  # (its one capture)
    err = io.StringIO()
    assert main(["history", URL, "--store", str(store), "--collection", "nope"], out=io.StringIO(), err=err) == 2
    assert f"'nope' is not a collection of {store}" in err.getvalue()


def test_a_headline_that_would_act_on_the_terminal_is_shown_escaped(tmp_path):
    """A headline's newline broke the layout, and an escape sequence or a direction
    override went to the terminal as it was."""
    from test_export import _article

    body = _article(7).replace(b"Story 7", b"Story\\n7 \\u202e\\u001b[31m", 1)
    _job(tmp_path, 1, {"/a/7": body})
    extract_collection(tmp_path, "ds")
    code, out, _ = _history(tmp_path, "http://news.test/a/7")
    assert code == 0
    assert "): Story 7 \\u202e\\x1b[31m\n" in out, out  # (the newline made a space when the page was read)
    assert "\x1b" not in out and "\u202e" not in out


def test_a_withdrawn_version_shows_no_diff_and_one_back_after_it_is_compared_with_the_text_before(tmp_path):
    """A withdrawn version printed the whole body as deleted, and a stray ``+`` line (its
    empty body as a paragraph added); an article back after it, its whole body as added."""
    from test_export import _article

    _job(tmp_path, 1, {"/a/7": _article(7)})
    _job(tmp_path, 2, {"/a/7": (404, b"<p>gone</p>")})
    _job(tmp_path, 3, {"/a/7": _article(7).replace(b"Story 7", b"Story 7 (corrected)", 1)})
    extract_collection(tmp_path, "ds")
    code, out, _ = _history(tmp_path, "http://news.test/a/7")
    assert code == 0
    gone = out.split("Version 2 (", 1)[1].split("Version 3 (", 1)[0]
    assert "withdrawn" in gone.split("\n", 1)[0] and gone.count("\n") == 1, out  # (its line, nothing under it)
    back = out.split("Version 3 (", 1)[1]
    assert "headline: 'Story 7' -> 'Story 7 (corrected)'" in back, out
    assert "--- version 1" in back and "+++ version 3" in back, out


def test_a_reader_that_goes_away_gets_no_traceback(store):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "archive", "history", URL, "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # (as `| head -0` would: every write fails)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1 and err == "", err


@pytest.mark.parametrize(("captured", "typed"), [("caf%C3%A9", "caf%c3%a9"), ("caf%c3%a9", "caf%C3%A9"),
                                                 ("%7Eed/story", "~ed/story"), ("~ed/story", "%7eed/story")])
def test_a_url_typed_with_its_escapes_in_the_other_case_is_found(tmp_path, captured, typed):
    from test_export import _article

    _job(tmp_path, 1, {f"/a/{captured}": _article(5)})
    extract_collection(tmp_path, "ds")
    code, out, _ = _history(tmp_path, f"http://news.test/a/{typed}")
    assert code == 0 and "Version 1" in out, out
