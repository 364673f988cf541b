"""prefect.yaml: every deployment's entrypoint is a flow of this repository and every
schedule is a valid cron expression, so `prefect deploy --all` has nothing to trip on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml
from prefect import Flow
from prefect.client.schemas.schedules import CronSchedule

ROOT = Path(__file__).resolve().parents[1]


def _deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_entrypoints_are_flows() -> None:
    for deployment in _deployments():
        path, _, name = deployment["entrypoint"].partition(":")
        spec = importlib.util.spec_from_file_location(f"entry_{name}", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert isinstance(getattr(module, name), Flow), deployment["name"]


def test_schedules_are_valid_and_exports_are_scheduled() -> None:
    scheduled = {}
    for deployment in _deployments():
        for schedule in deployment.get("schedules") or []:
            CronSchedule(cron=schedule["cron"], timezone=schedule.get("timezone", "UTC"))
            scheduled[deployment["entrypoint"]] = schedule["cron"]
    assert "flows/export_bundles.py:export_bundles" in scheduled
    assert "flows/process_report.py:process_report" in scheduled
    # the network's statistics: published by every hotline, imported by the coordinator
    assert "flows/publish_stats.py:publish_statistics_flow" in scheduled
    assert "flows/import_stats.py:import_statistics" in scheduled


def test_the_deployments_commands_run_on_the_service_exist() -> None:
    """A flow command given to ``hotline up`` names its deployment by flow and deployment name
    (it imports no Prefect to look them up): each must be in prefect.yaml, on that flow."""
    from hotline.services import service_runs

    flow_of = {}
    for deployment in _deployments():
        path, _, name = deployment["entrypoint"].partition(":")
        spec = importlib.util.spec_from_file_location(f"entry_{name}", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        flow_of[deployment["name"]] = getattr(module, name).name
    named = [v for v in vars(service_runs).values() if isinstance(v, service_runs.Deployment)]
    assert len(named) == 7
    for deployment in named:
        assert flow_of.get(deployment.name) == deployment.flow, deployment
