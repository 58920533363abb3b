"""Process-level helpers shared by the crawl process, its helper processes and verify."""

from __future__ import annotations

import gc
import os
import resource


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
