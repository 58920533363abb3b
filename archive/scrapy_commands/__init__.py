"""Scrapy commands that know of capture: ``COMMANDS_MODULE = "archive.scrapy_commands"`` in
a project's settings puts them in place of Scrapy's own of the same name."""
