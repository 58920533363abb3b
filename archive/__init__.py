"""An archival corpus builder: news captured into verifiable WARC files with provenance."""

__version__ = "0.1.0"
