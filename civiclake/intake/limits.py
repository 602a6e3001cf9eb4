"""Rate limits per client key and the guard against a burst of identical posts.

Both run on the monotonic clock of the process (never the simulated clock of the demo,
which only walks when a request is accepted), and both live in the service's memory: one
intake process serves the district, and a restart forgives the last minutes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable


class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``per_minute``."""

    def __init__(self, burst: int, per_minute: float, now: Callable[[], float] = time.monotonic):
        if burst < 1 or per_minute <= 0:
            raise ValueError(f"a rate limit needs burst >= 1 and a positive rate, got {burst}, {per_minute}")
        self.burst, self.rate = burst, per_minute / 60.0
        self._now = now
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> float:
        """Takes a token for ``key``: 0 when allowed, else the seconds until one is there."""
        with self._lock:
            now = self._now()
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class RecentPosts:
    """Fingerprints of the posts accepted within the last ``window_s`` seconds.

    A client that retries a post it thinks was lost, or a resident who taps "submit" again,
    would otherwise open the same case twice; within the window the repeat is refused.
    """

    def __init__(self, window_s: float, now: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self._now = now
        self._seen: dict[Hashable, tuple[float, str]] = {}  # fingerprint -> (when, request id)
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> None:
        for fingerprint in [f for f, (at, _) in self._seen.items() if now - at >= self.window_s]:
            del self._seen[fingerprint]

    def seen(self, fingerprint: Hashable) -> tuple[str, float] | None:
        """(request id, seconds until the window ends) when the same post was accepted in the window."""
        with self._lock:
            now = self._now()
            self._forget_old(now)
            if fingerprint not in self._seen:
                return None
            at, request_id = self._seen[fingerprint]
            return request_id, self.window_s - (now - at)

    def remember(self, fingerprint: Hashable, request_id: str) -> None:
        with self._lock:
            self._seen[fingerprint] = (self._now(), request_id)
