"""Errors of the statistics package.

    StatsError                 anything the statistics could not do
    ├── NoSnapshot             no snapshot has been written yet (or its files are gone)
    └── SnapshotError          a snapshot could not be written or failed its checks
"""

from __future__ import annotations


class StatsError(Exception):
    """Anything the statistics could not do."""


class NoSnapshot(StatsError):
    """No snapshot has been written yet in the statistics folder."""


class SnapshotError(StatsError):
    """A snapshot could not be written, or the one written failed its checks."""
