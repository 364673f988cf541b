"""Part of ``ReportStore``: the answers the HTTP intake gave, per client and idempotency
key (``intake_requests``), so that a request sent again (a timeout, a retry) is answered as
the first time instead of filing its reports twice.

A key is taken before the reports are filed (``status_code`` 0: in progress) and the answer
written when they are; a request that failed lets its key go again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from catalog.db import Database, utcnow
from catalog.schema import intake_requests

IN_PROGRESS = 0


@dataclass(frozen=True)
class IntakeAnswer:
    """The request a key was first used with (its body's SHA-256) and the answer given."""

    body_sha256: str
    status_code: int  # 0: still being filed
    response: dict[str, Any]


class IntakeKeys(Database):
    """Idempotency keys of the HTTP intake."""

    def take_intake_key(self, client: str, key: str, body_sha256: str) -> IntakeAnswer | None:
        """Take ``key`` for ``client``'s request; None when it is new (file the reports, then
        ``answer_intake_key``), else what the key was used for already."""
        with self.write() as conn:
            row = conn.execute(sa.select(intake_requests).where(
                intake_requests.c.client == client, intake_requests.c.idempotency_key == key)).first()
            if row is not None:
                return IntakeAnswer(row.body_sha256, row.status_code, row.response)
            conn.execute(intake_requests.insert().values(client=client, idempotency_key=key, body_sha256=body_sha256,
                                                         status_code=IN_PROGRESS, response={}, at=utcnow()))
        return None

    def answer_intake_key(self, client: str, key: str, status_code: int, response: dict[str, Any]) -> None:
        with self.write() as conn:
            conn.execute(intake_requests.update().where(
                intake_requests.c.client == client, intake_requests.c.idempotency_key == key)
                .values(status_code=status_code, response=response))

    def release_intake_key(self, client: str, key: str) -> None:
        """The request failed before it was answered: the key may be used again."""
        with self.write() as conn:
            conn.execute(intake_requests.delete().where(
                intake_requests.c.client == client, intake_requests.c.idempotency_key == key,
                intake_requests.c.status_code == IN_PROGRESS))
