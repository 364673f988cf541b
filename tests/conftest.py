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

    with prefect_test_harness(server_startup_timeout=120):
        yield


POSTGRES_SERVER = os.environ.get("HOTLINE_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty catalog database: a SQLite file, and a new database on the machine's
    PostgreSQL server (the cluster profile's catalog), dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    import uuid

    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
