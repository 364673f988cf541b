"""The packages load their heavy submodules when a name is used, not at import: a flow or a
command loads the libraries it uses (an export does not load the crawler, the video decoder
or the known-set indexes), and every public name still resolves."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

HEAVY = ("scrapy", "twisted", "av", "cv2", "pdqhash", "duckdb", "pyarrow", "numpy", "PIL", "boto3", "botocore",
         "alembic", "fastapi")
PACKAGES = ("classification", "evidence", "exports", "hashing", "hashing.knownsets", "hashing.signals",
            "hashing.video", "review", "spiders", "stats")


def loaded_by(code: str) -> list[str]:
    """The heavy libraries a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", [
    "flows.export_bundles", "flows.export_partners", "flows.import_bundles", "flows.retention",
    "flows.publish_stats", "flows.import_stats", "flows.recheck", "hotline.installation",
    "hotline.services.partner_exchange",
])
def test_a_flow_that_hashes_nothing_loads_none_of_the_heavy_libraries(module: str) -> None:
    assert loaded_by(f"import {module}") == []


def test_names_from_the_packages_load_only_their_own_submodules() -> None:
    assert loaded_by("from exports import BundleError, export_pending\nfrom hashing import HashingError") == []
    assert "pyarrow" in loaded_by("from hashing import KnownSet")  # the names load when used, all the same


def test_a_directory_export_loads_no_s3_client(tmp_path: object) -> None:
    assert loaded_by(f"from exports import destination_for\ndestination_for({str(tmp_path)!r})") == []
    assert "boto3" in loaded_by("from exports import destination_for\ndestination_for('s3://bucket/drop')")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    star: dict[str, object] = {}
    exec(f"from {package} import *", star)  # noqa: S102 - the star import of the package's own names
    assert set(module.__all__) <= set(star)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import hashing

    with pytest.raises(AttributeError, match="nothing_here"):
        hashing.nothing_here  # noqa: B018
