"""What every flow shares: opening the installation named by the settings."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from hotline.installation import Installation  # noqa: E402
from hotline.settings import Settings  # noqa: E402


def installation() -> Installation:
    """The installation of the current settings (environment, ``HOTLINE_CONFIG``)."""
    return Installation.open(Settings())
