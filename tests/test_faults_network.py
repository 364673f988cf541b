"""Network clients are bounded: an S3 endpoint that accepts connections and never answers
ends an export within the installation's S3 budget (timeouts times attempts, at one level)
and releases the outbox lock; answers that cannot heal (a missing bucket) fail at once,
with a message that says what to check; the operator sees one line, not a traceback."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from exchange_support import confirmed_item, make_installation
from fault_support import SilentServer

from evidence import EvidenceError, EvidenceUnavailable, S3EvidenceStore, new_data_key
from evidence.spec import S3Budget
from exports import DeliveryError, DeliveryRefused
from hotline.demo.local_site import synthetic_image
from hotline.services.partner_exchange import export_route, interpol_route

# a hung call costs about attempts x read timeout, plus botocore's backoff (under 1 s each)
BUDGET = {"s3_connect_timeout_s": 2.0, "s3_read_timeout_s": 2.0, "s3_max_attempts": 2}
# what one export may cost against a hung endpoint: the streamed upload's first call and the
# outbox delivery's first call each spend the budget once; generous for a loaded machine
EXPORT_BOUND_S = 4 * 2 * (2.0 + 1.0) + 60


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    from cluster_support import AWS

    for name, value in AWS.items():
        monkeypatch.setenv(name, value)


def _lock_is_free(inst_outbox: Path) -> bool:
    for lock in inst_outbox.rglob(".lock"):
        with lock.open("a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return True


@pytest.mark.usefixtures("prefect_server")
def test_an_export_to_an_endpoint_that_never_answers_ends_within_its_budget(tmp_path: Path, aws: None) -> None:
    from prefect.settings import PREFECT_API_URL

    silent = SilentServer()
    try:
        inst = make_installation(tmp_path, "nl", "NL", interpol_destination="s3://drop/interpol",
                                 s3_endpoint_url=silent.url, **BUDGET)
        confirmed_item(inst, synthetic_image(3), page_url="http://a.example/", country="NL")
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="Read timeout|timed out") as failed:
            export_route(inst, interpol_route(inst), actor="test")
        took = time.monotonic() - started
        assert took < EXPORT_BOUND_S, took
        assert _lock_is_free(inst.settings.outbox_dir)
        assert list((inst.settings.outbox_dir / "interpol").glob("*.hlb"))  # the bundle waits for the next run
        print(f"\nhung endpoint: export ended after {took:.1f} s: {failed.value}")

        # the operator's command: one line on stderr, a non-zero status, within the budget
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update(PREFECT_API_URL=str(PREFECT_API_URL.value()),
                   HOTLINE_DATA_DIR=str(inst.settings.data_dir), HOTLINE_COUNTRY="NL",
                   HOTLINE_INTERPOL_DESTINATION="s3://drop/interpol", HOTLINE_S3_ENDPOINT_URL=silent.url,
                   **{f"HOTLINE_{k.upper()}": str(v) for k, v in BUDGET.items()})
        inst.close()
        started = time.monotonic()
        cli = subprocess.run([sys.executable, "-m", "hotline.cli", "export"], env=env, capture_output=True,
                             text=True, timeout=600, check=False)
        took = time.monotonic() - started
        # the CLI's own message comes last (Prefect's log of the failed run before it), wrapped
        last = " ".join(cli.stderr[cli.stderr.rfind("\nerror: ") + 1:].split())
        assert cli.returncode != 0 and last.startswith("error: ") and "Read timeout" in last, cli.stderr[-3000:]
        assert took < EXPORT_BOUND_S + 60, took  # + the CLI's and Prefect's start-up
        print(f"hotline export against it: exit {cli.returncode} after {took:.1f} s; stderr's last line: {last}")
    finally:
        silent.close()


def test_a_missing_bucket_fails_at_once_with_a_clear_message(tmp_path: Path, s3_server: str, aws: None) -> None:
    inst = make_installation(tmp_path, "nl", "NL", interpol_destination="s3://no-such-bucket/interpol",
                             s3_endpoint_url=s3_server)
    confirmed_item(inst, synthetic_image(4), page_url="http://b.example/", country="NL")
    started = time.monotonic()
    with pytest.raises(DeliveryRefused, match=r"the bucket does not exist .*NoSuchBucket"):
        export_route(inst, interpol_route(inst), actor="test")
    took = time.monotonic() - started
    assert took < 30, took  # no retries: one answer is enough
    assert _lock_is_free(inst.settings.outbox_dir)
    print(f"\nmissing bucket: refused after {took:.2f} s")
    inst.close()

    store = S3EvidenceStore("s3://no-such-bucket/evidence", new_data_key(), endpoint_url=s3_server)
    with pytest.raises(EvidenceError, match="the bucket does not exist") as refused:
        store.put(b"benign bytes")
    assert not isinstance(refused.value, EvidenceUnavailable)


def test_the_s3_budget_is_checked() -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        S3Budget(max_attempts=0)
    config = S3Budget(3.0, 7.0, 2).config(max_pool_connections=20)
    assert (config.connect_timeout, config.read_timeout, config.retries["max_attempts"]) == (3.0, 7.0, 2)
