"""The ``archive`` command: a thin layer that parses, calls the library, and prints.

Each sub-command lives in its own module under ``archive.commands``. Library errors
(:mod:`archive.errors`) become one-line messages and exit codes here: 0 success, 1
problems found or the job failed, 2 usage or configuration errors.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import errno
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TextIO

from archive import __version__
from archive.commands import (
    crawl,
    demo,
    export,
    extract,
    history,
    index,
    keygen,
    pull,
    push,
    replay,
    schedule,
    status,
    verify,
)
from archive.commands.common import library_warnings
from archive.errors import ArchiveError, UsageError
from archive.store import in_the_way

# What the machine refuses, not a fault of ours: said in one line, without a traceback.
_MACHINE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM,
                   errno.EMFILE, errno.ENFILE}
# A named path that is missing, of the wrong kind or too long: a store or an argument not as
# the command needs it (a WARC a manifest lists gone, --out naming a file), said in one line.
_PATH_ERRORS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP}
_IN_THE_WAY = {errno.EEXIST, errno.ENOTDIR, errno.ENOENT}  # (what mkdir says of a file or a broken link in its place)

COMMANDS: list[ModuleType] = [
    demo, crawl, extract, history, verify, push, pull, index, replay, schedule, status, export, keygen,
]


def build_parser() -> argparse.ArgumentParser:
    # No abbreviated options: `push --delete` was taken for --delete-local, which removes local WARCs.
    parser = argparse.ArgumentParser(prog="archive", description="Capture news into verifiable WARC files.",
                                     allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"archive {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP, epilog=module.EXAMPLE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        module.add_arguments(command)
    return parser


def _unrecognized(parser: argparse.ArgumentParser, command: str | None, extras: list[str]) -> None:
    """Say what was not understood under the command's usage, not the top level's (where
    argparse says it), with the option meant where one is close: ``--colection``."""
    if command is not None:
        parser = next(action for action in parser._actions
                      if isinstance(action, argparse._SubParsersAction)).choices[command]
    options = [option for action in parser._actions for option in action.option_strings]
    meant = [close[0] for extra in extras if extra.startswith("--")
             for close in [difflib.get_close_matches(extra.split("=", 1)[0], options, n=1)] if close]
    hint = f" (did you mean {', '.join(meant)}?)" if meant else ""
    parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:
            _unrecognized(parser, args.command, extras)
    except SystemExit as exc:  # argparse has printed its message
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(out)
        return 2
    module = next(m for m in COMMANDS if m.NAME == args.command)
    said = library_warnings(args.command, err)
    logging.getLogger().addHandler(said)
    try:
        return _run(module, args, out, err)
    finally:
        logging.getLogger().removeHandler(said)


def _run(module: ModuleType, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``module``'s command run, its errors said in one line with their exit code."""
    try:
        return module.run(args, out, err)
    except UsageError as exc:
        print(f"archive {args.command}: error: {exc}", file=err)
        return 2
    except ArchiveError as exc:
        print(f"archive {args.command}: {exc}", file=err)
        return 1
    except KeyboardInterrupt:
        print(f"archive {args.command}: interrupted", file=err)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (`| head`): nothing is wrong here, and no
        # traceback; what is left unwritten goes nowhere, at exit too.
        if out is sys.stdout:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if exc.errno not in _MACHINE_ERRORS and not (exc.filename and exc.errno in _PATH_ERRORS):
            raise  # a fault of ours: its traceback is what finds it
        where = f"{exc.filename}: " if exc.filename else ""
        # ("File exists" where a folder is made and a file or a broken link has its name)
        why = in_the_way(Path(exc.filename)) if isinstance(exc.filename, str) and exc.errno in _IN_THE_WAY else None
        print(f"archive {args.command}: {why or f'{where}{exc.strerror or exc}'}", file=err)
        return 1
