"""The deployments in prefect.yaml: `prefect deploy --all` against the test session's Prefect
server, then one deployment (export-interpol) run by a real process worker, which exports
a confirmed item of a fresh installation to its drop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from exchange_support import confirmed_item

from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation

REPO = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]
EXCHANGE_DEPLOYMENTS = {"export-interpol", "export-partners", "export-hashsets", "export-lists", "import-bundles"}


def test_exchange_deployments_have_cron_schedules() -> None:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert EXCHANGE_DEPLOYMENTS <= set(deployments)
    for name in EXCHANGE_DEPLOYMENTS:
        d = deployments[name]
        module, _, func = d["entrypoint"].partition(":")
        assert (REPO / module).is_file() and f"def {func}(" in (REPO / module).read_text()
        assert d["work_pool"]["name"] == "hotline" and d["schedules"][0]["cron"]
    assert deployments["export-hashsets"]["parameters"] == {"hash_sets": True}
    assert deployments["export-lists"]["parameters"] == {"lists": True}


@pytest.mark.usefixtures("prefect_server")
def test_deploy_all_and_run_one_deployment_through_a_worker(installation: Installation, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import PREFECT_API_URL

    sha = confirmed_item(installation, synthetic_image(21), page_url="http://k.example/", country="NL")
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "HOTLINE_DATA_DIR": str(installation.settings.data_dir),
        "PREFECT_WORKER_PREFETCH_SECONDS": "0",
    }

    def prefect(*args: str, timeout: float = 120) -> str:
        done = subprocess.run([*PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    with get_client(sync_client=True) as client:  # what `prefect work-pool create hotline --type process` does
        if "hotline" not in {p.name for p in client.read_work_pools()}:
            client.create_work_pool(WorkPoolCreate(name="hotline", type="process"))
    prefect("--no-prompt", "deploy", "--all")
    with get_client(sync_client=True) as client:
        deployed = {d.name: d for d in client.read_deployments()}
        assert EXCHANGE_DEPLOYMENTS | {"process-reports"} <= set(deployed)
        assert all(deployed[n].schedules and deployed[n].work_pool_name == "hotline" for n in EXCHANGE_DEPLOYMENTS)
        client.create_flow_run_from_deployment(deployed["export-interpol"].id)  # `prefect deployment run`
    prefect("worker", "start", "--pool", "hotline", "--run-once", timeout=900)

    (export,) = installation.catalog.exports()
    assert export.destination == "interpol" and export.items == 1 and Path(export.location).is_file()
    assert [e.actor for e in installation.catalog.audit_entries("export.deliver")] == ["export-bundles"]
    assert installation.catalog.export_candidates("interpol") == [] and sha
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("export-bundles/export-interpol")
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])))
    assert [r.state.type.value for r in runs] == ["COMPLETED"]
