"""Users for tests that decide on items: decisions are made by users of the installation,
never by typed names. Their passwords are not needed (no login), so no slow hash is made.
``hotline_cli`` runs the command line with its own config directory, where ``hotline login``
keeps its token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from catalog.catalog import Catalog

NO_LOGIN = "!no-login"  # not an argon2 hash: nobody can log in with it


def add_people(catalog: Catalog, **roles: str) -> None:
    """Add an admin (``root``), then each ``name=role`` as that admin."""
    if "root" not in {u.name for u in catalog.users()}:
        catalog.add_user("root", "admin", NO_LOGIN, actor="system")
    for name, role in roles.items():
        catalog.add_user(name, role, NO_LOGIN, actor="root")


def reviewers(catalog: Catalog) -> None:
    """The usual cast: analysts ann and bob, seniors sam and sue."""
    add_people(catalog, ann="analyst", bob="analyst", sam="senior", sue="senior")


def hotline_cli(data_dir: Path, *args: str, stdin: str | None = None, ok: bool = True,
                **env: str) -> subprocess.CompletedProcess[str]:
    """``hotline ARGS`` on ``data_dir``; its login token lives beside it (``config/``)."""
    environ = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "PREFECT_LOGGING_LEVEL": "WARNING",
               "XDG_CONFIG_HOME": str(data_dir.parent / "config"), **env}
    for name in ("HOTLINE_CONFIG", "HOTLINE_TOKEN"):
        if name not in env:
            environ.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "hotline.cli", *args], input=stdin, capture_output=True, text=True,
                          env=environ, timeout=300, check=False)
    assert (done.returncode == 0) == ok, done.stderr
    return done
