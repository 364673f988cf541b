"""Records of the people who act: users, their web sessions, and the audit log's entries.

Frozen dataclasses, plain values only (no SQLAlchemy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class User:
    """A person who logs in to the review app. The password hash never leaves the catalog."""

    name: str
    role: str  # analyst | senior | operator | statistician | admin
    active: bool
    blur: int | None  # thumbnail blur strength; None: the installation's default
    reveal_budget: int | None  # reveals a day; None: the installation's default
    created_at: datetime


@dataclass(frozen=True)
class WebSession:
    """A logged-in session (the catalog keeps only the SHA-256 of its token)."""

    user: User
    csrf: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    detail: dict[str, Any] | None
