"""Password hashing for hotline's accounts (the review app's login and `hotline login`): argon2id
(argon2-cffi's defaults: 64 MiB, 3 passes), with the parameters stored in the hash so they can be raised later."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
MIN_LENGTH = 10
# Verified when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("hotline: no such user")


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: unknown user, always False)."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
