"""How often a client may knock: a request rate per intake client (``RateLimit``) and login
attempts slowed down after wrong passwords, per account and per client address
(``LoginThrottle``).

Both are kept in the memory of the app's process (one ``hotline serve``): a restart forgets
them, which costs an attacker nothing they could not get by waiting. Stale entries are
dropped so that neither grows without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterable

MAX_KEYS = 100_000


class RateLimit:
    """At most ``per_minute`` events per key in any sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str, now: float | None = None) -> int:
        """0 and the event counted when ``key`` may go on, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - 60:
                events.popleft()
            if len(events) >= self.per_minute:
                return max(1, math.ceil(events[0] + 60 - now))
            events.append(now)
            if len(self._events) > MAX_KEYS:
                self._events = {k: v for k, v in self._events.items() if v and v[-1] > now - 60}
            return 0


class LoginThrottle:
    """After ``free`` wrong passwords for a key (an account, an address), each further
    attempt waits ``backoff_s``, doubled per failure up to ``max_s``; a right password clears
    the account's count (not the address's: one good account must not unlock guessing others)."""

    def __init__(self, free: int, backoff_s: float, max_s: float) -> None:
        self.free, self.backoff_s, self.max_s = free, backoff_s, max_s
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, earliest next attempt)
        self._lock = threading.Lock()

    def wait(self, keys: Iterable[str], now: float | None = None) -> int:
        """Seconds until any of ``keys`` may try again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            until = max((self._failures.get(k, (0, 0.0))[1] for k in keys), default=0.0)
        return max(0, math.ceil(until - now))

    def failed(self, keys: Iterable[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                count = self._failures.get(key, (0, 0.0))[0] + 1
                extra = count - self.free  # 0 at the last free failure: the first wait starts
                delay = 0.0 if extra < 0 else min(self.max_s, self.backoff_s * 2 ** min(extra, 30))
                self._failures[key] = (count, now + delay)
            if len(self._failures) > MAX_KEYS:  # forget keys quiet for longer than the longest wait
                self._failures = {k: v for k, v in self._failures.items() if v[1] > now - self.max_s}

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
