"""What every command shares: the ``--json`` option, library errors turned into a message
and an exit status, the settings, the installation, who the command acts as, and the
Prefect server flow commands use.

Everything heavier than Typer is imported when a command runs, not when the command line
starts, so that ``--help`` and shell completion stay fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from hotline.cli.output import errors, fail

if TYPE_CHECKING:
    from hotline.installation import Installation
    from hotline.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(func: F) -> F:
    """Library errors become a clean message on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if isinstance(exc, _expected_errors()):
                fail(str(exc) or type(exc).__name__)
            if (orchestration := _prefect_fault(exc)) is not None:
                fail(orchestration)
            from catalog.errors import database_fault

            fault = database_fault(exc, where=_catalog_where())
            if fault is None:
                raise
            fail(str(fault))

    return wrapper  # type: ignore[return-value]


@functools.cache
def _expected_errors() -> tuple[type[Exception], ...]:
    """The errors a command reports as a message; imported when one is raised, not when the
    command line starts (they bring the catalog, the exports and the hashing along)."""
    from catalog.errors import CatalogError
    from evidence import EvidenceError
    from exports.errors import BundleError, DeliveryError, KeyFileError
    from hashing.errors import HashingError
    from hotline.installation import NotInitialised
    from hotline.services.service_files import ServiceError
    from stats.errors import StatsError

    return (CatalogError, EvidenceError, BundleError, KeyFileError, DeliveryError, HashingError, NotInitialised,
            ValueError, FileNotFoundError, PermissionError, StatsError, ServiceError)


def _prefect_fault(exc: Exception) -> str | None:
    """What to do when a flow command's Prefect server did not start or went away."""
    if "prefect" not in sys.modules:
        return None
    if isinstance(exc, RuntimeError) and "ephemeral Prefect API server" in str(exc):
        waited = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "?")
        return (f"the temporary Prefect server did not start within {waited} s (a loaded box?): start the service "
                "once with `hotline up --detach` (flow commands then use it), or raise "
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    from flows.runs import prefect_api_failure

    lost = prefect_api_failure(exc)
    if lost is None:
        return None
    return f"the Prefect API could not be reached ({lost}): `hotline status` tells whether the service runs"


def use_running_service() -> str | None:
    """The Prefect API URL of the ``hotline up`` running on this data directory (its state
    file names it), or None. Flow commands give their run to that service (``run_on_service``);
    the URL is also set as PREFECT_API_URL, for what still talks to Prefect in the command
    (``hotline doctor``), so nobody sets it. One set by hand wins: the flow then runs in the
    command against that server (None). Without either, Prefect starts a temporary server
    for the command. Called before Prefect is imported: it reads its settings once, at import."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    from hotline.services.service_files import running_api_url, service_files

    data_dir = load_settings().data_dir
    url = running_api_url(data_dir)
    if url is not None:
        os.environ["PREFECT_API_URL"] = url
    elif service_files(data_dir).live_pid() is not None:
        errors.print("note: hotline up runs, but its Prefect API does not answer (yet): this command starts "
                     "a temporary server", highlight=False, soft_wrap=True)
    return url


def _catalog_where() -> str | None:
    """The catalog's URL, for messages; None when the settings themselves are wrong."""
    try:
        return load_settings().catalog
    except ValueError:
        return None


def load_settings() -> Settings:
    from hotline.settings import Settings

    return Settings()


def open_installation(*, read_only: bool = False) -> Installation:
    """The installation; ``read_only`` for commands that only look: they then also work on
    a read-only disk, and cannot change the catalog by mistake."""
    from hotline.installation import Installation

    return Installation.open(load_settings(), read_only=read_only)


def actor_of(inst: Installation) -> str:
    """Who a command acts as: the logged-in user, else the operator account (never a typed name)."""
    from hotline.services.identity import actor

    return actor(inst)
