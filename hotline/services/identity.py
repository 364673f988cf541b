"""Who the command line acts as: a logged-in user, or the operator account.

``hotline login NAME`` checks the password against the same argon2id hash the review app
uses and stores a random token in a file only its owner can read (``token_file``: the
user's config directory, one file per catalog), or the token is given as ``HOTLINE_TOKEN``.
The catalog keeps only the token's SHA-256, so a token ends when the user logs out, is
deactivated or changes role. Without a token the command line is the operator account
(``SYSTEM``): enough for unattended work (runs, exports), never for a decision on an item or
a change to users.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import timedelta
from pathlib import Path

from catalog.errors import Forbidden
from catalog.users.records import User
from catalog.users.store import SYSTEM
from hotline.installation import Installation
from hotline.settings import Settings

TOKEN_LIFETIME = timedelta(days=30)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_file(settings: Settings) -> Path:
    """The token file for this installation's catalog in the user's config directory."""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    key = hashlib.sha256(settings.catalog.encode()).hexdigest()[:16]
    return config / "hotline" / f"token-{key}"


def _stored_token(settings: Settings) -> str | None:
    if settings.token:
        return settings.token.strip()
    path = token_file(settings)
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def login(inst: Installation, name: str, password: str) -> Path:
    """Check ``name``'s password and store a new token (file mode 0600); returns the file."""
    from hotline.passwords import verify_password

    if not verify_password(inst.catalog.password_hash(name), password):
        inst.catalog.audit(name[:128] or "?", "user.login_failed", name[:128], via="command line")
        raise Forbidden(f"wrong name or password for {name!r}")
    token = secrets.token_urlsafe(32)
    inst.catalog.start_cli_token(name, token_hash(token), TOKEN_LIFETIME)
    path = token_file(inst.settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    os.chmod(path, 0o600)  # an older file may have been created with looser bits
    return path


def logout(inst: Installation) -> str | None:
    """End the stored token's login and remove the token file; returns who was logged in."""
    token = _stored_token(inst.settings)
    if token is None:
        return None
    user = inst.catalog.cli_user(token_hash(token))
    inst.catalog.end_cli_token(token_hash(token))
    token_file(inst.settings).unlink(missing_ok=True)
    return user.name if user else None


def current_user(inst: Installation) -> User | None:
    """The logged-in user; None without a token. A token that is unknown, expired or whose
    user was deactivated is an error, not the operator account: the caller meant to be someone."""
    token = _stored_token(inst.settings)
    if token is None:
        return None
    user = inst.catalog.cli_user(token_hash(token))
    if user is None:
        raise Forbidden("the login token is unknown, expired or its user is inactive; run `hotline login NAME`")
    return user


def actor(inst: Installation) -> str:
    """The name the command line acts as: the logged-in user, else the operator account."""
    user = current_user(inst)
    return user.name if user else SYSTEM


def require_user(inst: Installation, roles: set[str], what: str) -> User:
    """The logged-in user when their role is one of ``roles``; Forbidden otherwise."""
    user = current_user(inst)
    if user is None:
        raise Forbidden(f"to {what}, log in first (`hotline login NAME`, or HOTLINE_TOKEN): "
                        f"only {' or '.join(sorted(roles))} may")
    if user.role not in roles:
        raise Forbidden(f"{user.name!r} is {user.role}; only {' or '.join(sorted(roles))} may {what}")
    return user


def change_password(inst: Installation, current: str, new: str) -> str:
    """The logged-in user's own password, after the current one is checked; their logins
    (this token included) end with the change. Returns the user's name."""
    from hotline.passwords import hash_password, verify_password

    user = current_user(inst)
    if user is None:
        raise Forbidden("log in first (`hotline login NAME`): the operator account has no password")
    if not verify_password(inst.catalog.password_hash(user.name), current):
        inst.catalog.audit(user.name, "user.password_refused", user.name, via="command line")
        raise Forbidden("the current password is wrong")
    inst.catalog.update_user(user.name, actor=user.name, password_hash=hash_password(new))
    token_file(inst.settings).unlink(missing_ok=True)
    return user.name
