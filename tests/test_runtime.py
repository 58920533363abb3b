"""Process-level helpers: how children are started."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

from archive.runtime import sigint_ignored_by_children

# What a fresh Python has for SIGINT at its very first line.
_SAY_SIGINT = "import signal; print(signal.getsignal(signal.SIGINT))"


def _child_sigint() -> str:
    return subprocess.run([sys.executable, "-c", _SAY_SIGINT], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_children_started_within_ignore_ctrl_c_from_their_first_line_and_the_handler_comes_back():
    before = signal.getsignal(signal.SIGINT)
    assert "default_int_handler" in _child_sigint()  # outside: Python's KeyboardInterrupt
    with sigint_ignored_by_children():
        assert _child_sigint() == str(signal.SIG_IGN)
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_children_start_as_before():
    seen: list[str] = []

    def start() -> None:
        with sigint_ignored_by_children():
            seen.append(_child_sigint())

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(timeout=30)
    assert len(seen) == 1 and "default_int_handler" in seen[0]


def test_a_page_parser_interrupted_while_it_starts_lives_on(tmp_path):
    """The real child, interrupted at once: before it could ignore SIGINT itself."""
    import os
    import time

    def start_and_interrupt(ignored: bool) -> tuple[int | None, str]:
        replies, to_us = os.pipe()
        err = open(tmp_path / f"err-{ignored}", "wb")  # noqa: SIM115 (closed below)
        command = [sys.executable, "-m", "crawler.page_parser", str(to_us)]
        if ignored:
            with sigint_ignored_by_children():
                child = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=err, pass_fds=(to_us,))
        else:
            child = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=err, pass_fds=(to_us,))
        os.close(to_us)
        child.send_signal(signal.SIGINT)
        time.sleep(1.0)  # long past its start-up
        alive = child.poll()
        assert child.stdin is not None
        child.stdin.close()  # end of input: it stops
        child.wait(timeout=30)
        os.close(replies)
        err.close()
        return alive, (tmp_path / f"err-{ignored}").read_text()

    status, said = start_and_interrupt(ignored=False)
    assert status is not None  # without: the interrupt ends it while it starts
    status, said = start_and_interrupt(ignored=True)
    assert status is None and "Traceback" not in said
