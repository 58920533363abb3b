"""Domain exceptions. The library raises these; only the CLI turns them into exit codes.

Every message is written for the person at the terminal: what is wrong, where, and how
to fix it.
"""

from __future__ import annotations


class ArchiveError(Exception):
    """Base of every error the library raises on purpose."""


class UsageError(ArchiveError):
    """The caller asked for something that cannot work as asked (exit 2)."""


class ConfigError(UsageError):
    """A configuration file or option is invalid."""


class SchemaError(ArchiveError):
    """A document failed validation against one of our JSON Schemas."""

    def __init__(self, kind: str, problems: list[str]):
        self.kind = kind
        self.problems = problems
        super().__init__(f"{kind} does not match its schema: " + "; ".join(problems))


class StoreError(ArchiveError):
    """The store is missing, unreadable, or locked by another job."""


class CaptureStopped(ArchiveError):
    """A capture job can record nothing more (its worker stopped, or its files cannot be
    written); what it wrote before is intact."""


class CaptureWriteError(CaptureStopped):
    """A file of a capture job could not be written (a full disk, a quota, an I/O error).

    The file was cut back to its last complete record or line, and the job writes nothing
    more: records written after a failed write would sit behind a broken one."""

    @classmethod
    def writing(cls, path: object, exc: OSError) -> CaptureWriteError:
        return cls(f"could not write {path}: {exc.strerror or exc}; the job records nothing more, and what it "
                   "wrote before is intact")

    @classmethod
    def torn(cls, path: object, exc: BaseException, undo: OSError) -> CaptureWriteError:
        """The write failed (``exc``) and so did cutting the file back (``undo``)."""
        cause = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
        return cls(f"could not write {path}: {cause}, nor cut it back to its last whole record: "
                   f"{undo.strerror or undo}; the job records nothing more, what it wrote before that record "
                   "is intact, and `archive verify --repair` cuts the file there")


class CrawlError(ArchiveError):
    """A crawl job could not run or finish."""


class StorageError(ArchiveError):
    """Remote storage (S3) refused, failed, or holds something other than what was expected."""
