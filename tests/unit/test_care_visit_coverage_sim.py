"""The demo's 30-day care-visit coverage from its simulated sources, as the lake would hold
them: the care visits export of the day (read and tokenised as the file ingest does) and
the household registry's extract of the day (its head's ID number tokenised with the same
key, as the registry ingest does). int_care_household_days counts a household receiving
care as visited when a visit in the 30 days ending on the day carries its head's token.

The demo showed 0.0% coverage with hundreds of households overdue: the visits named the
heads of households of a population of their own, never one of the registry's, so no
token matched. Each check here fails on that simulator.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from civiclake.contracts import services
from civiclake.geography import load_geography
from civiclake.ingest.files import read_batch
from civiclake.ingest.registry_extracts import snapshot_file
from civiclake.ingest.validate import check_batch, tokenised_record
from civiclake.jurisdiction import load_jurisdiction
from civiclake.pii import tokenise
from civiclake.settings import Settings
from simulators import resources as resources_sim
from simulators import services as services_sim

DAY = date(2026, 11, 25)
KEY = b"one key for every ingest"
CARE_FLAGS = ("elderly_living_alone", "has_disabled_member", "child_in_difficulty", "low_income")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory) -> tuple[Settings, list[dict], pd.DataFrame]:
    """The first delivery of both sources for DAY: visit rows as silver holds them (good rows,
    tokenised), and the registry's care households with their head's token."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("care-sources"), sim_scale=0.002)
    services_sim.simulate_day(DAY, settings)
    resources_sim.simulate_day(DAY, settings, registries=("households",))
    reads = read_batch(settings.data_dir / "landing" / "services" / DAY.isoformat(), services.CARE_VISITS)
    checked = check_batch(reads, services.CARE_VISITS, DAY, load_geography(), load_jurisdiction("longhua"))
    visits = [tokenised_record(r, services.CARE_VISITS, KEY) for r in checked if r.reason is None]
    registry = pd.read_parquet(snapshot_file(settings, "households", DAY))
    care = registry[registry[list(CARE_FLAGS)].any(axis=1)].copy()
    care["head_id_token"] = care["head_id_number"].map(lambda v: tokenise(v, "id_number", KEY))
    return settings, visits, care


def _visited_30d(visits: list[dict], day: date) -> set[str]:
    first = day - timedelta(days=29)
    return {
        v["household_id_token"]
        for v in visits
        if first <= datetime.fromisoformat(str(v["visited_at"])).date() <= day
    }


def test_visits_name_the_registry_households_receiving_care(delivered):
    _, visits, care = delivered
    heads = set(care["head_id_token"])
    named = Counter(v["household_id_token"] in heads for v in visits)
    # A visit whose ID number was mistyped at entry (simulators/defects.py) names nobody.
    assert named[True] > 0.95 * len(visits) > 0


def test_coverage_on_the_first_day_counts_the_visits_of_the_30_days_before(delivered):
    """The first export carries the visits of the history days: about twice a month each,
    1 − (1 − 2/30)^30 ≈ 87% of households visited in 30 days, at district, street and
    community level (the demo's 民治街道 and a community of it)."""
    _, visits, care = delivered
    visited = _visited_30d(visits, DAY)
    care["visited"] = care["head_id_token"].isin(visited)
    geography = load_geography()
    (street,) = [code for code, area in geography.streets.items() if area.name == "民治街道"]
    in_street = care[care["community_code"].map(geography.street_of) == street]
    community = in_street["community_code"].value_counts().index[0]
    for households in (care, in_street, care[care["community_code"] == community]):
        assert len(households) >= 5
        assert 0.7 < households["visited"].mean() < 1.0, households["community_code"].iloc[0]


def test_a_later_delivery_carries_its_day_only(delivered):
    settings, _, _ = delivered
    later = DAY + timedelta(days=1)
    services_sim.simulate_day(later, settings)
    reads = read_batch(settings.data_dir / "landing" / "services" / later.isoformat(), services.CARE_VISITS)
    days = Counter(str(r.values["visited_at"])[:10] for read in reads for r in read.rows)
    # A mistyped time (simulators/defects.py) lands two days later; none is earlier than the day.
    assert min(days) == later.isoformat() and days[later.isoformat()] > 0
