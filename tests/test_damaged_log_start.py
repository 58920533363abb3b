"""A capture log of an earlier job damaged by hand (a line cut or edited) is said when the
next crawl starts, naming the file and line as `archive verify` does; the start reads no
log but those its history has not taken in as they are."""

from __future__ import annotations

import io

from newsroom import Newsroom
from wire import serve_wire

from archive.cli import main
from archive.store import collection_dir
from archive.verify import verify


def test_a_log_cut_by_hand_is_warned_of_at_the_next_crawls_start_naming_its_line(tmp_path):
    """The next crawl took the log in with a line in its crawl log alone, and exited 0."""
    with serve_wire(Newsroom().routes()) as server:
        args = ["crawl", "--url", server.base + "/", "--collection", "news", "--store", str(tmp_path)]
        assert main(args, out=io.StringIO(), err=io.StringIO()) == 0
        coll = collection_dir(tmp_path, "news")
        [log] = coll.logs.glob("*.captures.jsonl")
        lines = log.read_bytes().split(b"\n")
        lines[3] = lines[3][: len(lines[3]) // 2]
        log.write_bytes(b"\n".join(lines))
        said = [str(p) for p in verify(coll.root).problems if "line 4" in str(p)]
        assert said and said[0].startswith(f"{log}: line 4: not valid JSON ("), said
        err = io.StringIO()
        assert main(args, out=io.StringIO(), err=err) == 0
        warned = [line for line in err.getvalue().splitlines() if line.startswith("archive crawl: warning:")]
        # (the catalog's first, as it takes in the log changed: it was a bare "PATH:4: not JSON, skipped")
        catalog = (f"archive crawl: warning: {log}: line 4: not JSON, left out of the catalog (replay's list of pages "
                   "and its provenance)")
        history = (f"archive crawl: warning: {said[0]}: changed since its job ended (a line cut or edited), and its "
                   "lines that cannot be read are left out of the history this crawl looks back on; `archive verify "
                   f"{coll.root}` says more")
        assert warned == [catalog, history], err.getvalue()
        # (every line the command prints says who says it, but its progress)
        assert all(line.startswith(("archive crawl: ", "pages ")) for line in err.getvalue().splitlines()), \
            err.getvalue()
        # Said once: the history holds the log as it is now, and the next start does not read it.
        err = io.StringIO()
        assert main(args, out=io.StringIO(), err=err) == 0
        assert "warning" not in err.getvalue(), err.getvalue()
        from archive.history import unfolded_logs

        assert unfolded_logs(coll) == [max(p.name for p in coll.logs.glob("*.captures.jsonl"))]


def test_a_log_edited_by_hand_to_the_same_size_is_warned_of_at_the_next_crawls_start(tmp_path):
    """The history kept the logs' sizes alone: a byte changed in place went unsaid until
    `archive verify`, and the history kept what the log said before."""
    with serve_wire(Newsroom().routes()) as server:
        args = ["crawl", "--url", server.base + "/", "--collection", "news", "--store", str(tmp_path)]
        assert main(args, out=io.StringIO(), err=io.StringIO()) == 0
        assert main(args, out=io.StringIO(), err=io.StringIO()) == 0  # (the first job's log taken in)
        coll = collection_dir(tmp_path, "news")
        log = min(coll.logs.glob("*.captures.jsonl"))
        lines = log.read_bytes().split(b"\n")
        lines[3] = b"[" + lines[3][1:]  # (its size kept)
        size = log.stat().st_size
        log.write_bytes(b"\n".join(lines))
        assert log.stat().st_size == size
        said = [str(p) for p in verify(coll.root).problems if "line 4" in str(p)]
        assert said and said[0].startswith(f"{log}: line 4: "), said
        err = io.StringIO()
        assert main(args, out=io.StringIO(), err=err) == 0
        assert (f"archive crawl: warning: {said[0]}: changed since its job ended (a line cut or edited), and its lines "
                "that cannot be read are left out of the history") in err.getvalue(), err.getvalue()
        err = io.StringIO()
        assert main(args, out=io.StringIO(), err=err) == 0
        assert "warning" not in err.getvalue(), err.getvalue()
