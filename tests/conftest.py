"""Shared fixtures: an installation in a temporary data directory, and one Prefect test
harness (a real temporary Prefect server) for the whole session."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from hotline.installation import Installation  # noqa: E402
from hotline.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """Prefect's own engine against a temporary server, started once per session."""
    from prefect.testing.utilities import prefect_test_harness

    # it waits only as long as the start takes: on a shared machine at load 25-40 that passed 120 s
    with prefect_test_harness(server_startup_timeout=600):
        yield


from cluster_support import POSTGRES_SERVER, cluster, postgres_database, profile, s3_server  # noqa: E402,F401


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty catalog database: a SQLite file, and a new database on the machine's
    PostgreSQL server (the cluster profile's catalog), dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    """A fresh installation; HOTLINE_DATA_DIR points at it so flows open the same one."""
    data_dir = tmp_path / "hotline-data"
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_CRAWL_ALLOW", raising=False)
    inst = Installation.init(Settings())
    yield inst
    inst.close()
