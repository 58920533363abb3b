"""JSON Schemas shipped with the package (imported as ``archive.schemas`` when installed)."""
