"""What every command shares: the ``--json`` option, library errors turned into a message
and an exit status, the settings, the installation, and who the command acts as.

Everything heavier than Typer is imported when a command runs, not when the command line
starts, so that ``--help`` and shell completion stay fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from hotline.cli.output import fail

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
    from stats.errors import StatsError

    return (CatalogError, EvidenceError, BundleError, KeyFileError, DeliveryError, HashingError, NotInitialised,
            ValueError, FileNotFoundError, PermissionError, StatsError)


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
