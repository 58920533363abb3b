"""Replay of archived pages in a browser (pywb URL scheme), and a pywb configuration."""

from __future__ import annotations

from archive.replay.app import ReplayApp
from archive.replay.server import make_replay_server, serve_in_thread

__all__ = ["ReplayApp", "make_replay_server", "serve_in_thread"]
