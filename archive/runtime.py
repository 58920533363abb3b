"""Process-level helpers shared by the crawl process, its helper processes and verify."""

from __future__ import annotations

import gc
import os
import resource
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def cpu_seconds() -> float:
    """User and system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def usable_cores() -> int:
    """The cores this process may run on (a container or ``taskset`` may allow fewer than
    the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_F_SETPIPE_SZ = 1031  # Linux fcntl


def widen_pipe(fd: int, size: int) -> None:
    """Give a pipe up to ``size`` bytes of room, as much as an unprivileged process may
    (Linux: pipe-max-size, 1 MiB by default), so its writer rarely waits for its reader.
    Elsewhere, or when it cannot, the default size is kept: it works, with more waiting."""
    try:
        import fcntl

        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as fh:
            size = min(size, int(fh.read()))
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)
    except (ImportError, OSError, ValueError):
        pass


_IOV_MAX = 512  # iovecs per writev (Linux allows 1024)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make the names in ``directory`` durable (after a create, a rename or a link)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parts(fd: int, parts: list[bytes]) -> None:
    """Write all of ``parts`` to ``fd``, in as few system calls as it takes them (a pipe
    or a disk may take part of a call); an error is raised as the system gave it."""
    for start in range(0, len(parts), _IOV_MAX):
        batch = parts[start : start + _IOV_MAX]
        total = sum(len(p) for p in batch)
        done = os.writev(fd, batch)
        if done < total:  # part of it was taken: write the rest (a copy, but rare)
            rest = memoryview(b"".join(batch))[done:]
            while rest:
                rest = rest[os.write(fd, rest):]


def peak_rss_kb() -> int:
    """The largest resident set size of this process so far, in KiB (Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def freeze_heap() -> None:
    """Set aside everything alive now from the cyclic garbage collector (``gc.freeze``).

    Called once what lives as long as the process exists (modules, settings, a loaded
    history): later collections then only walk what the crawl creates. Why, and what it
    saves: ``crawler.gcfreeze``.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def sigint_ignored_by_children(pass_on: bool = True) -> Iterator[list[int]]:
    """Children started within have SIGINT blocked from their first instruction, until they
    have set their own handling of it and unblock it (:func:`sigint_unblocked`).

    The capture worker and the page parser ignore Ctrl-C (the crawl process stops them
    itself, in order), and the crawl process keeps one till Scrapy can stop gracefully, but
    only once they have imported what they need: a Ctrl-C in those first tenths of a second
    ended them with a traceback. A blocked signal stays so across exec, and one that comes
    meanwhile waits for them rather than being lost (as it was when they started with SIGINT
    ignored, and this process ignored it too for the moment of the fork). One that reaches
    this process meanwhile is kept: sent to it again once the children are started
    (``pass_on``), or else only listed in the list this yields, for the caller to act on.
    Only in the main thread, the one that may set handlers; elsewhere children start as
    before.
    """
    caught: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    # (None: a handler set outside Python, which could not be put back.)
    if previous is None or threading.current_thread() is not threading.main_thread():
        yield caught
        return
    signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield caught
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # (one that waited is handled here, into caught)
        signal.signal(signal.SIGINT, previous)
        if caught and pass_on:  # (also when starting a child failed: the stop is not lost)
            signal.raise_signal(signal.SIGINT)


def sigint_unblocked() -> None:
    """In a child started by :func:`sigint_ignored_by_children`, once its own handling of
    SIGINT is set: a Ctrl-C that came as it started is handled now, as that says."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def sigterm_on_parent_death(parent: int | None) -> None:
    """Have this process sent SIGTERM when ``parent`` (the process that started it) dies,
    so that it stops as it is asked to stop, rather than run on unseen (Linux's
    PR_SET_PDEATHSIG, kept across exec; elsewhere nothing). SIGTERM is first given back its
    default action: a handler inherited across a fork (run before an exec) would take it.
    If the parent is gone already, the signal is sent at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # (gone before the call above)
        os.kill(os.getpid(), signal.SIGTERM)
