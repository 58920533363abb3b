from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import TextIO

from archive.commands.common import given, store_option

NAME = "schedule"
HELP = "Run each collection of a collections file whenever its cron schedule is due."
EXAMPLE = ("examples:\n  archive schedule collections.toml --store archive-store          # runs until stopped\n"
           "  archive schedule collections.toml --store archive-store --once   # for cron / systemd timers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=given, metavar="CONFIG.toml", help="collections file with schedule = \"<cron>\" entries")
    store_option(parser)
    parser.add_argument("--once", action="store_true", help="run whatever is due now, wait for it, and exit")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.config import load_collections
    from archive.errors import ConfigError, UsageError
    from archive.schedule import Scheduler, scheduler_file, still_scheduled
    from archive.store import resolve_store

    collections = load_collections(Path(args.config))
    store = resolve_store(args.store)
    firing, never = still_scheduled(Path(args.config), collections)
    if not firing:
        # This file schedules nothing (any more): what its scheduler said it ran is no more
        # so, lest `archive status` take its collections' runs for missed.
        scheduler_file(store, Path(args.config)).unlink(missing_ok=True)
    if not any(c.settings.get("schedule") for c in collections):
        raise UsageError(f"{args.config}: no collection has a schedule")
    if not firing:  # (one that does not fire again among others is said, and left out)
        raise ConfigError(never[0])

    def report(message: str) -> None:
        try:
            print(message, file=out, flush=True)
        except (BrokenPipeError, ValueError):  # (its reader gone, `| head`: the scheduler and its jobs go on)
            pass

    scheduler = Scheduler(Path(args.config), collections, store, report=report)
    # Stopped, it stops its jobs and waits while they close their files, --once as well: its
    # jobs must not run on unwatched, their collections' locks let go.
    # (SIGHUP too, a closed terminal or a service's "reload", which would otherwise kill it
    # at once; unless it is ignored, as under nohup: then the scheduler and its jobs, in
    # sessions of their own, outlive the terminal)
    previous = signal.signal(signal.SIGTERM, lambda *_: scheduler.terminate())
    previous_hup = signal.getsignal(signal.SIGHUP)
    if previous_hup is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, lambda *_: scheduler.terminate())
    try:
        failures = scheduler.run_once() if args.once else scheduler.run_forever()
    except KeyboardInterrupt:
        scheduler.terminate()
        scheduler.reap(block=True)
        failures = scheduler.failures
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_hup is not None:
            signal.signal(signal.SIGHUP, previous_hup)
    if not args.once:  # (stopped as asked, or interrupted; not a crash, whose file says it was alive)
        scheduler.beat(stopped=True)
    if scheduler.stopping or not args.once:
        report("scheduler stopped")
    elif failures == 0:
        report("done")
    return 1 if failures else 0
