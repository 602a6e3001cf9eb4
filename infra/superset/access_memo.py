"""Permission answers a Superset worker remembers while nobody changes access.

Every chart-data request of a street or community viewer makes Superset ask its
metadata database the same questions again: may these roles read charts, this
database, this schema, this dataset; may they read every dataset. Answering them is
about half of what a cached chart costs such a viewer (docs/BENCHMARKS.md).

The answers change only when users' roles, groups or roles' permissions change, and
``access_generation.sql`` makes PostgreSQL count those changes (triggers on the
``ab_*`` tables, in the same transaction as the change). A worker reads the counter
once per request and reuses an answer only if it was found under the same count, so
a revoked role or permission takes effect on the very next request, in every worker:
there is no time window to tune.

Pure Python (no Superset import) so that the core environment's unit tests load it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class AccessMemo:
    """Answers keyed by (access generation, question).

    Correct because a request reads the generation *before* it asks: an answer stored
    under generation G was found in a state at least as new as G, and only requests
    that read G (so started before the next change committed) reuse it. A different
    generation, newer or not (the counter table re-created), empties the memo.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._generation: int | None = None
        self._answers: dict[Hashable, object] = {}
        self._lock = threading.Lock()

    def get(self, generation: int | None, question: Hashable, ask: Callable[[], T]) -> T:
        """The remembered answer to ``question`` under ``generation``, else ``ask()``
        (remembered). ``generation`` None (no counter in this database): always ask."""
        if generation is None:
            return ask()
        with self._lock:
            if generation != self._generation:
                self._generation, self._answers = generation, {}
            elif question in self._answers:
                return self._answers[question]  # type: ignore[return-value]
        answer = ask()
        with self._lock:
            if generation == self._generation:
                if len(self._answers) >= self.max_entries:
                    self._answers = {}
                self._answers[question] = answer
        return answer

    def __len__(self) -> int:
        return len(self._answers)
