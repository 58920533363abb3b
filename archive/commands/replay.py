from __future__ import annotations

import argparse
import logging
from typing import TextIO

from archive.commands.common import CommandSays, given, port, store_option
from archive.errors import UsageError

NAME = "replay"
HELP = "Serve the archived pages of a store in a browser (pywb URL scheme), or print a pywb config."
LOG_FORMAT, LOG_DATES = "%(asctime)s %(levelname)s: %(message)s", "%Y-%m-%d %H:%M:%S"
EXAMPLE = ("examples:\n  archive replay --store archive-store --port 8080\n"
           "  archive replay --store archive-store --pywb-config > config.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    store_option(parser)
    parser.add_argument("--host", default="127.0.0.1", type=given, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=8080, metavar="P",
                        help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument("--pywb-config", action="store_true",
                        help="print a pywb config.yaml for the store instead of serving")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from archive.index import update_indexes_if_writable
    from archive.replay.pywb import pywb_config
    from archive.replay.server import make_replay_server
    from archive.store import collection_dir, no_store, resolve_store

    store = resolve_store(args.store)
    if not store.is_dir():
        raise UsageError(f"{no_store(store)}; run `archive demo` or `archive crawl` first")
    names = sorted(p.name for p in store.iterdir() if (p / "warcs").is_dir())
    for name in names:  # cheap when current: only new WARCs are indexed, and nothing is written
        coll = collection_dir(store, name)
        for problem in update_indexes_if_writable(coll):  # (the rest is served)
            print(f"archive replay: warning: {problem}; serving what the indexes of {coll.root} hold", file=err,
                  flush=True)
    if args.pywb_config:
        out.write(pywb_config(store, names))
        return 0
    try:
        server = make_replay_server(store, args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    base = f"http://{args.host}:{server.server_port}"
    print(f"Replaying {store} at {base}/ ({', '.join(names) or 'no collections yet'}); Ctrl-C stops.",
          file=out, flush=True)
    for name in names:
        print(f"  {base}/{name}/", file=out, flush=True)
    # What the server says while it runs (a capture passed over as damaged, an answer cut
    # off) goes to stderr with its time: a server left running for months is read back by it.
    # (the command's handler, if the CLI gave it one, says it so from now on)
    command = [h for h in logging.getLogger().handlers if isinstance(h.formatter, CommandSays)]
    for handler in command:
        handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATES))
    if not command:
        logging.basicConfig(stream=err, level=logging.WARNING, format=LOG_FORMAT, datefmt=LOG_DATES)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=out)
    finally:
        server.server_close()
    return 0
