"""Users for tests that decide on items: decisions are made by users of the installation,
never by typed names. Their passwords are not needed (no login), so no slow hash is made."""

from __future__ import annotations

from catalog import Catalog

NO_LOGIN = "!no-login"  # not an argon2 hash: nobody can log in with it


def add_people(catalog: Catalog, **roles: str) -> None:
    """Add an admin (``root``), then each ``name=role`` as that admin."""
    if "root" not in {u.name for u in catalog.users()}:
        catalog.add_user("root", "admin", NO_LOGIN, actor="system")
    for name, role in roles.items():
        catalog.add_user(name, role, NO_LOGIN, actor="root")


def reviewers(catalog: Catalog) -> None:
    """The usual cast: analysts ann and bob, seniors sam and sue."""
    add_people(catalog, ann="analyst", bob="analyst", sam="senior", sue="senior")
