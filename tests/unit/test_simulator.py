from collections import Counter
from datetime import date, datetime, timedelta

from civiclake.catalogue import CATEGORY_CODES, CHANNELS
from civiclake.geography import load_geography
from civiclake.settings import Settings
from civiclake.sources.governance_sim import cases_reported_on, rows_changed_on

DAY = date(2026, 11, 25)


def settings(**overrides):
    return Settings(sim_cases_per_day=200, **overrides)


def test_same_seed_and_day_give_the_same_cases():
    first = cases_reported_on(DAY, settings())
    again = cases_reported_on(DAY, settings())
    assert first == again
    assert first != cases_reported_on(DAY + timedelta(days=1), settings())
    assert first != cases_reported_on(DAY, settings(seed=1))


def test_cases_are_inside_their_community_and_day():
    geo = load_geography()
    for plan in cases_reported_on(DAY, settings()):
        location = geo.locate(plan.lon, plan.lat)
        assert location is not None and location.community_code == plan.community_code
        assert location.grid_code == plan.grid_code
        assert plan.reported_at.date() == DAY
        assert plan.reported_at <= plan.dispatched_at <= plan.handled_at
        assert plan.closed_at is None or plan.closed_at >= plan.handled_at
        assert plan.category in CATEGORY_CODES and plan.channel in CHANNELS


def test_texts_vary_within_a_category():
    plans = cases_reported_on(DAY, settings())
    by_category = Counter(p.category for p in plans)
    texts = {p.description for p in plans}
    assert len(texts) > 0.95 * len(plans)
    assert len(by_category) == len(CATEGORY_CODES)


def test_state_follows_the_lifecycle():
    plan = next(p for p in cases_reported_on(DAY, settings()) if p.closed_at is not None)
    assert plan.state_at(plan.reported_at - timedelta(seconds=1)) is None
    created = plan.state_at(plan.reported_at)
    assert created[15] == "created" and created[13] is None  # status, dispatched_at
    closed = plan.state_at(plan.closed_at)
    assert closed[15] == "closed" and closed[14] == plan.closed_at and closed[17] == plan.closed_at


def test_rows_changed_on_a_day_are_new_cases_and_updates_of_older_ones():
    s = settings()
    rows = list(rows_changed_on(DAY, s))
    day_start = datetime(2026, 11, 25)
    assert all(day_start <= row[17] < day_start + timedelta(days=1) for row in rows)
    reported_today = {p.case_id for p in cases_reported_on(DAY, s)}
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids))
    assert reported_today <= set(ids)
    assert len(set(ids) - reported_today) > 0  # older cases that moved on that day
