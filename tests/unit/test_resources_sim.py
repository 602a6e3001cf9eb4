"""Registry simulator: determinism by seed and date, and how much changes between days."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from civiclake.contracts import resources as contracts
from civiclake.contracts.resources import REGISTRY_NAMES
from civiclake.geography import load_geography
from civiclake.ingest.registry_extracts import SnapshotMissingError, read_manifest
from civiclake.pii import is_valid_id_number
from civiclake.settings import Settings
from simulators.resources import REGISTRIES, simulate_day, snapshot, uscc_check_char

DAY = date(2026, 11, 25)


def settings(**overrides) -> Settings:
    return Settings(sim_scale=overrides.pop("sim_scale", 0.005), **overrides)


@pytest.mark.parametrize("registry", REGISTRY_NAMES)
def test_same_seed_and_day_give_the_same_snapshot(registry):
    first = snapshot(registry, DAY, settings())
    pd.testing.assert_frame_equal(first, snapshot(registry, DAY, settings()))
    assert tuple(first.columns) == contracts.REGISTRIES[registry].source_columns
    assert first[contracts.REGISTRIES[registry].key[0]].is_unique
    if REGISTRIES[registry][0].scales:
        other_seed = snapshot(registry, DAY, settings(seed=1))
        assert not first.equals(other_seed)


def _diff(registry: str, s: Settings, day: date):
    key = contracts.REGISTRIES[registry].key[0]
    a = snapshot(registry, day, s).set_index(key)
    b = snapshot(registry, day + timedelta(days=1), s).set_index(key)
    kept = a.index.intersection(b.index)
    columns = [c for c in a.columns if c != "updated_on"]
    changed = (a.loc[kept, columns].astype(str) != b.loc[kept, columns].astype(str)).any(axis=1).sum()
    return len(a), len(b.index.difference(a.index)), len(a.index.difference(b.index)), int(changed)


def test_households_change_a_little_from_day_to_day():
    s = settings(sim_scale=0.01)
    rows, added, removed, changed = _diff("households", s, DAY)
    assert 9_000 < rows < 10_500  # ~960,000 households at full scale
    # Mean lifetime 1,500 days: about 0.07 % added and removed a day; versions every
    # 20–60 days: about 2.7 % of rows draw new values, most of which differ.
    assert 0 < added < 0.004 * rows and 0 < removed < 0.004 * rows
    assert 0.01 * rows < changed < 0.04 * rows


def test_sizes_follow_the_scale_and_organisation_does_not():
    small, large = settings(sim_scale=0.002), settings(sim_scale=0.02)
    assert len(snapshot("cameras", DAY, large)) == pytest.approx(
        10 * len(snapshot("cameras", DAY, small)), rel=0.2
    )
    geo = load_geography()
    teams = snapshot("teams", DAY, small)
    assert len(teams) == len(snapshot("teams", DAY, large)) == 6 * 5 + len(geo.communities) * 2
    assert len(snapshot("departments", DAY, small)) == 14 + 6


def test_rows_lie_in_their_community_and_ids_are_well_formed():
    geo = load_geography()
    s = settings()
    buildings = snapshot("buildings", DAY, s)
    for row in buildings.itertuples():
        location = geo.locate(row.lon, row.lat)
        assert location is not None and (location.community_code, location.grid_code) == (
            row.community_code,
            row.grid_code,
        )
    households = snapshot("households", DAY, settings(sim_scale=0.02))
    valid = households["head_id_number"].map(is_valid_id_number)
    assert 0 < (~valid).sum() < 0.01 * len(households)  # a few data-entry errors to flag
    assert (
        households["household_size"]
        == households[["members_0_17", "members_18_59", "members_60_plus"]].sum(axis=1)
    ).all()
    assert (households["updated_on"] <= DAY).all() and (households["registered_on"] <= DAY).all()
    entities = snapshot("legal_entities", DAY, s)
    assert all(uscc_check_char(code[:17]) == code[17] for code in entities["entity_id"])


def test_known_uscc_check_character():
    # A published example of a unified social credit code.
    assert uscc_check_char("91350100M000100Y4") == "3"


def test_delivery_writes_files_and_manifest_and_is_repeatable(tmp_path):
    s = settings(data_dir=tmp_path, sim_scale=0.001)
    with pytest.raises(SnapshotMissingError, match="civiclake simulate resources --date 2026-11-25"):
        read_manifest(s, DAY)
    counts = simulate_day(DAY, s, registries=("cameras", "teams"))
    manifest = read_manifest(s, DAY)
    assert manifest["rows"] == counts == {"cameras": len(snapshot("cameras", DAY, s)), "teams": 130}
    files = sorted(tmp_path.rglob("*.parquet"))
    before = [f.read_bytes() for f in files]
    simulate_day(DAY, s, registries=("cameras", "teams"))
    assert [f.read_bytes() for f in files] == before
