"""The one settings object: defaults, HOTLINE_* variables, and a TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hotline.settings import Settings


def test_defaults_derive_paths_from_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HOTLINE_DATA_DIR", "HOTLINE_CONFIG", "HOTLINE_CATALOG_URL", "HOTLINE_CRAWL_ALLOW"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.data_dir == Path("hotline-data")
    assert s.catalog == f"sqlite:///{tmp_path / 'hotline-data' / 'catalog.db'}"
    assert s.evidence_dir == Path("hotline-data/evidence") and s.pdq_threshold == 31


def test_environment_and_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text('country = "NL"\npdq_threshold = 20\ncrawl_allow = ["127.0.0.1:9000"]\n')
    monkeypatch.setenv("HOTLINE_CONFIG", str(config))
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("HOTLINE_PDQ_THRESHOLD", "25")  # the environment wins over the file
    monkeypatch.delenv("HOTLINE_CRAWL_ALLOW", raising=False)
    s = Settings()
    assert (s.country, s.pdq_threshold, s.crawl_allow) == ("NL", 25, ("127.0.0.1:9000",))
    monkeypatch.setenv("HOTLINE_CRAWL_ALLOW", "127.0.0.1:1, 127.0.0.1:2")
    assert Settings().crawl_allow == ("127.0.0.1:1", "127.0.0.1:2")


def test_unknown_or_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text("no_such_setting = 1\n")
    monkeypatch.setenv("HOTLINE_CONFIG", str(config))
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings()
    monkeypatch.delenv("HOTLINE_CONFIG")
    monkeypatch.setenv("HOTLINE_PDQ_THRESHOLD", "999")
    with pytest.raises(ValidationError):
        Settings()
