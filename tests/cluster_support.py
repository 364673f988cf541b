"""The two profiles for tests that run the same flows on both.

* ``single``: the ``installation`` fixture (SQLite, evidence in a directory); flows are
  called in the test's process on the session's Prefect test server.
* ``cluster``: the catalog in a fresh PostgreSQL database, evidence and known-hash sets in
  S3 (moto's server on 127.0.0.1), and every flow run a deployment on a Prefect server
  started with ``prefect server start`` (backed by its own PostgreSQL database), executed
  by a process worker polling a work pool; process-report fans its tasks out to a Dask
  ``LocalCluster`` of two worker processes (``HOTLINE_DASK_WORKERS``).

The server and the worker are started once per session; each test gets its own catalog
database, S3 prefix and data directory, passed to its flow runs as job variables.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hotline.demo.local_site import unused_port
from hotline.installation import Installation
from hotline.settings import Settings

REPO = Path(__file__).resolve().parents[1]
POSTGRES_SERVER = os.environ.get("HOTLINE_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")
BUCKET = "hotline-cluster"
POOL = "hotline-cluster"
DASK_WORKERS = 2
# flows run as deployments of the cluster profile: deployment name -> entrypoint
DEPLOYED = {
    "process-report": "flows/process_report.py:process_report",
    "export-bundles": "flows/export_bundles.py:export_bundles",
    "retention": "flows/retention.py:retention",
}
AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def postgres_database(prefix: str = "hotline_test") -> Iterator[str]:
    """A new, empty database on the machine's PostgreSQL server (its URL), dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with one bucket; its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = unused_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, **_aws_kwargs()).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def _aws_kwargs() -> dict[str, str]:
    return {"aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
            "region_name": AWS["AWS_DEFAULT_REGION"]}


def _wait_healthy(api_url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(api_url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"prefect server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class PrefectCluster:
    api_url: str
    results: Path  # where flow runs persist their results (read back by the tests)
    worker_log: Path

    @contextmanager
    def client_settings(self) -> Iterator[None]:
        from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

        with temporary_settings({PREFECT_API_URL: self.api_url, PREFECT_LOCAL_STORAGE_PATH: self.results}):
            yield


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_UI_ENABLED="false")
    return env


def _deploy(cluster: PrefectCluster) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    with cluster.client_settings(), get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"), overwrite=True)
        for name, entrypoint in DEPLOYED.items():
            flow_id = client.create_flow_from_name(name)
            client.create_deployment(
                flow_id, "cluster", entrypoint=entrypoint, path=str(REPO), work_pool_name=POOL,
                pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}],
            )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectCluster]:
    """``prefect server start`` on its own PostgreSQL database, the deployments of
    ``DEPLOYED`` in a process work pool, and one process worker polling it."""
    work = tmp_path_factory.mktemp("prefect-cluster")
    port = unused_port()
    api_url = f"http://127.0.0.1:{port}/api"
    with postgres_database("prefect_cluster") as db_url:
        import sqlalchemy as sa

        env = _base_env(work / "home")
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = (
            sa.make_url(db_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        )
        server_log = work / "server.log"
        with server_log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=work,
            )
        worker: subprocess.Popen[bytes] | None = None
        try:
            _wait_healthy(api_url, server, server_log)
            made = PrefectCluster(api_url, work / "results", work / "worker.log")
            _deploy(made)
            worker_env = {**_base_env(work / "home"), "PREFECT_API_URL": api_url,
                          "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "0"}
            with made.worker_log.open("wb") as out:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process"],
                    env=worker_env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                )
            yield made
        finally:
            for proc in (worker, server):
                if proc is not None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()


@dataclass
class Profile:
    """An installation of one profile, and how its flows are run."""

    name: str
    installation: Installation
    cluster: PrefectCluster | None = None
    s3_endpoint: str | None = None

    def run(self, flow: Any, **parameters: Any) -> Any:
        """Run ``flow``: called here (single), or as its deployment through the worker
        (cluster), with this test's HOTLINE_* settings as the run's environment."""
        if self.cluster is None:
            return flow(**parameters)
        return self._run_deployment(flow.name, parameters)

    def _run_deployment(self, name: str, parameters: dict[str, Any], timeout: float = 240) -> Any:
        from prefect.deployments import run_deployment

        assert self.cluster is not None
        env = {k: v for k, v in os.environ.items() if k.startswith(("HOTLINE_", "AWS_"))}
        env.update(HOTLINE_DASK_WORKERS=str(DASK_WORKERS), PREFECT_RESULTS_PERSIST_BY_DEFAULT="true",
                   PREFECT_LOCAL_STORAGE_PATH=str(self.cluster.results))
        with self.cluster.client_settings():
            run = run_deployment(f"{name}/cluster", parameters=parameters, job_variables={"env": env},
                                 timeout=timeout, poll_interval=1, as_subflow=False)
            assert run.state is not None and run.state.is_completed(), (
                f"{name} ended {run.state!r}; worker log:\n{self.cluster.worker_log.read_text()[-4000:]}"
            )
            return run.state.result()

    def as_another_machine(self) -> None:
        """Cluster: drop this machine's copies of the known-set files (and their indexes), so
        that flow runs must fetch them from S3 as a machine that did not import them would."""
        if self.cluster is not None:
            shutil.rmtree(self.installation.settings.known_dir)

    def check_distributed(self) -> None:
        """Cluster: the flow runs fanned their tasks out to a Dask cluster of worker processes,
        and fetched the known sets from S3."""
        if self.cluster is None:
            return
        log = self.cluster.worker_log.read_text()
        assert "Creating a new Dask cluster with `distributed.deploy.local.LocalCluster`" in log
        assert all(Path(e.path).is_file() for e in self.installation.catalog.known_sets())

    def stored_objects(self) -> list[bytes]:
        """Every object in the evidence store, as stored (ciphertext)."""
        s = self.installation.settings
        if not s.evidence_url:
            return [p.read_bytes() for p in s.evidence_dir.rglob("*") if p.is_file()]
        import boto3

        from evidence.s3 import parse_s3_url

        bucket, prefix = parse_s3_url(s.evidence_url)
        client = boto3.client("s3", endpoint_url=s.s3_endpoint_url, **_aws_kwargs())
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return [client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed]


def cluster_settings(monkeypatch: pytest.MonkeyPatch, data_dir: Path, catalog_url: str, s3_endpoint: str) -> Settings:
    """Point this test's HOTLINE_* environment at a cluster-profile installation."""
    run = uuid.uuid4().hex[:12]
    for name, value in {
        **AWS,
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_CATALOG_URL": catalog_url,
        "HOTLINE_EVIDENCE_URL": f"s3://{BUCKET}/{run}/evidence",
        "HOTLINE_KNOWN_URL": f"s3://{BUCKET}/{run}/known",
        "HOTLINE_S3_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_CRAWL_ALLOW", raising=False)
    return Settings()


@pytest.fixture
def profile(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Profile]:
    """The profile named by the test's parameter (``single`` when not parametrised)."""
    name = getattr(request, "param", "single")
    if name == "single":
        yield Profile("single", request.getfixturevalue("installation"))
        return
    made = request.getfixturevalue("cluster")
    endpoint = request.getfixturevalue("s3_server")
    with postgres_database() as catalog_url:
        inst = Installation.init(cluster_settings(monkeypatch, tmp_path / "hotline-data", catalog_url, endpoint))
        try:
            yield Profile("cluster", inst, made, endpoint)
        finally:
            inst.close()
            shutil.rmtree(tmp_path / "hotline-data", ignore_errors=True)
