"""Process-level helpers: how children are started."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from archive.runtime import sigint_ignored_by_children

# Whether a fresh Python has SIGINT blocked at its very first line.
_SAY_SIGINT = "import signal; print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set()))"
# A child that sets its own handling of SIGINT a moment after it starts, then unblocks it,
# and says whether a SIGINT came.
_KEEPS_ONE = ("import signal, time; time.sleep(0.3); got = []; "
              "signal.signal(signal.SIGINT, lambda *_: got.append(1)); "
              "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); print(bool(got))")


def _child_sigint() -> str:
    return subprocess.run([sys.executable, "-c", _SAY_SIGINT], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_children_started_within_hold_ctrl_c_from_their_first_line_and_the_handler_comes_back():
    before = signal.getsignal(signal.SIGINT)
    assert _child_sigint() == "False"  # outside: delivered at once, Python's KeyboardInterrupt
    with sigint_ignored_by_children():
        assert _child_sigint() == "True"
    assert signal.getsignal(signal.SIGINT) is before
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())


def test_a_ctrl_c_as_children_start_is_lost_neither_by_them_nor_by_this_process():
    # It was ignored by both: a Ctrl-C in that moment was lost, and the crawl ran to its end.
    with sigint_ignored_by_children() as caught:
        child = subprocess.Popen([sys.executable, "-c", _KEEPS_ONE], stdout=subprocess.PIPE, text=True)
    child.send_signal(signal.SIGINT)  # (before it has set its handling: it waits for it)
    assert child.communicate(timeout=30)[0].strip() == "True"
    assert caught == []
    with sigint_ignored_by_children(pass_on=False) as caught:
        signal.raise_signal(signal.SIGINT)
    assert caught == [signal.SIGINT]  # (kept for the caller, not raised)
    with pytest.raises(KeyboardInterrupt), sigint_ignored_by_children():
        signal.raise_signal(signal.SIGINT)  # (sent again once out: to the handler there was)
    got: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: got.append(signum))
    try:
        with pytest.raises(OSError), sigint_ignored_by_children():  # (a child that could not start)
            signal.raise_signal(signal.SIGINT)
            raise OSError("no such program")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert got == [signal.SIGINT]  # (passed on all the same)


def test_outside_the_main_thread_children_start_as_before():
    seen: list[str] = []

    def start() -> None:
        with sigint_ignored_by_children():
            seen.append(_child_sigint())

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(timeout=30)
    assert seen == ["False"]


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
