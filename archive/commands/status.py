from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from archive.commands.common import count, human_bytes, store_option

NAME = "status"
HELP = "Per collection: the last job, the next scheduled run, and whether verify last passed."
EXAMPLE = "example: archive status --store archive-store --json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    store_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.status import needs_attention, store_status
    from archive.store import resolve_store

    store = resolve_store(args.store, collection_ok=True)  # (a collection's folder: that collection)
    rows = store_status(store)
    code = 1 if any(needs_attention(row) for row in rows) else 0
    if args.json:
        json.dump(rows, out, indent=2, sort_keys=True)
        out.write("\n")
        return code
    if not rows:
        # (a store's first crawl has not run yet; or --store names some other folder)
        others = [e for e in store.iterdir() if not e.name.startswith(".")]
        held = f"{len(others)} {'entry' if len(others) == 1 else 'entries'}"
        print(f"no collections in {store}" + (f" (it holds {held}, none a folder with manifests/ or warcs/: is it "
                                              "the store?)" if others else ""), file=out)
    for row in rows:
        print(f"{row['collection']}: {row['jobs']} job{'s' if row['jobs'] != 1 else ''}", file=out)
        last = row["last_job"]
        if last:
            failed = f"{last['failures']} failed {'fetch' if last['failures'] == 1 else 'fetches'}"
            print(f"  last job   {last['job_id']} {last['outcome']} at {last['finished']}: {count(last['pages'], 'page')}, "
                  f"{human_bytes(last['bytes'])}, {count(last['errors'], 'error')} ({failed})", file=out)
        for job in row["running"]:
            print(f"  running    {job}", file=out)
        for job in row["died"]:
            print(f"  DIED       {job}: it has no manifest; `archive verify --repair {row['path']}` closes its files",
                  file=out)
        if row["failed_start"]:
            failed = row["failed_start"]
            print(f"  FAILED     the scheduled run of {failed['at']} did not start a job; see {failed['output']}",
                  file=out)
        if row["missed"]:
            print(f"  MISSED     the run due at {row['missed']['due']} has not started: "
                  f"{_scheduler_said(row['missed']['scheduler'])}", file=out)
        unrun = " (as its last job's schedule has it; no `archive schedule` runs it)" if not row["scheduled_by"] else ""
        print(f"  next run   {row['next_run'] + unrun if row['next_run'] else 'not scheduled'}", file=out)
        for problem in row["damaged"]:
            print(f"  DAMAGED    {problem}; run archive verify", file=out)
        v = row["verify"]
        if v is None:
            verdict = "never run"
        elif v.get("unreadable"):
            verdict = f"unknown: {v['unreadable']} is unreadable; run archive verify"
        else:
            verdict = f"passed at {v['time']}" if v["ok"] else f"FAILED at {v['time']} ({count(v['problems'], 'problem')})"
        print(f"  verify     {verdict}", file=out)
        if row.get("lost"):
            print(f"  lost       {count(row['lost'], 'file')} stated lost for good (see {row['path']}/lost/)", file=out)
    return code


def _scheduler_said(said: dict[str, Any]) -> str:
    """Why a run was missed, as far as its scheduler's file tells."""
    who = f"the scheduler of {said['config']} (pid {said['pid']} on {said['host']})"
    output = "its output says why (its collections file cannot be read, a full disk)"
    if said["running"]:
        return f"{who} runs but did not start it; {output}"
    forget = f"if the collection is no longer to be scheduled, delete {said['file']}"
    if said["once"]:
        if said["looked_since"]:
            return f"{who}, run by a timer (`--once`), last looked at {said['seen']} and did not start it; {output}"
        return (f"{who} last ran at {said['seen']}, as a timer runs it (`--once`): is the timer still running it, and "
                f"as often as its schedules fire? ({forget})")
    if said["stopped"]:
        return f"{who} was stopped at {said['stopped']}; start it again ({forget})"
    return (f"{who} was last seen at {said['seen']} and does not run now (killed, its machine lost, or the store "
            f"cannot be written); start it again ({forget})")
