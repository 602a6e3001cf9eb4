"""The per-worker memo of Superset permission answers (infra/superset/access_memo.py)."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "infra" / "superset" / "access_memo.py"


@pytest.fixture
def memo():
    # Loaded from its path, as superset_config.py loads it.
    spec = importlib.util.spec_from_file_location("civiclake_access_memo", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AccessMemo(max_entries=3)


class Asker:
    """Counts how often the database would be asked; answers what it is told."""

    def __init__(self, answer):
        self.answer, self.asked = answer, 0

    def __call__(self):
        self.asked += 1
        return self.answer


def test_same_generation_asks_once(memo):
    ask = Asker(True)
    assert [memo.get(7, ("exist", "Chart", "can_read", (11,)), ask) for _ in range(5)] == [True] * 5
    assert ask.asked == 1


def test_a_changed_generation_asks_again_and_forgets_the_old_answers(memo):
    memo.get(7, "may read", Asker(True))
    revoked = Asker(False)
    assert memo.get(8, "may read", revoked) is False
    assert memo.get(8, "may read", revoked) is False
    assert revoked.asked == 1
    # A request that read the counter before the change may still run: it is asked
    # afresh, and what it found is never served to a request that read the newer count.
    late = Asker(True)
    assert memo.get(7, "may read", late) is True and late.asked == 1
    again = Asker(False)
    assert memo.get(8, "may read", again) is False and again.asked == 1


def test_counter_going_back_after_the_table_is_made_again_still_invalidates(memo):
    memo.get(40, "may read", Asker(True))
    assert memo.get(1, "may read", Asker(False)) is False


def test_no_generation_means_always_ask(memo):
    ask = Asker("names")
    for _ in range(3):
        memo.get(None, "view menus", ask)
    assert ask.asked == 3 and len(memo) == 0


def test_distinct_questions_get_their_own_answers(memo):
    memo.get(1, ("exist", "Chart", "can_read", (11,)), Asker(True))
    memo.get(1, ("exist", "Chart", "can_read", (12,)), Asker(False))
    assert memo.get(1, ("exist", "Chart", "can_read", (11,)), Asker(None)) is True
    assert memo.get(1, ("exist", "Chart", "can_read", (12,)), Asker(None)) is False


def test_memo_is_bounded(memo):
    for n in range(10):
        memo.get(1, n, Asker(n))
        assert len(memo) <= 3
    assert memo.get(1, 9, Asker("asked again")) == 9


def test_answer_found_while_the_generation_moved_is_not_stored(memo):
    def ask_while_access_changes():
        memo.get(2, "other", Asker(True))  # another request saw the change meanwhile
        return True

    memo.get(1, "may read", ask_while_access_changes)
    fresh = Asker(False)
    assert memo.get(2, "may read", fresh) is False and fresh.asked == 1


def test_threads_share_one_answer_per_generation(memo):
    ask = Asker(True)
    results = []
    threads = [threading.Thread(target=lambda: results.append(memo.get(5, "q", ask))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 8 and 1 <= ask.asked <= 8
