"""One module per ``archive`` sub-command.

Each module has ``NAME``, ``HELP``, ``EXAMPLE``, ``add_arguments(parser)`` and
``run(args, out, err) -> int``; ``archive.cli`` lists them in ``COMMANDS``.
"""
