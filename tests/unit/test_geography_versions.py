"""Geography v2 (official street codes) against v1: the mapping between them, and which one a run uses."""

from __future__ import annotations

import csv
import shutil

import pytest
from typer.testing import CliRunner

from civiclake import geography as geo_module
from civiclake.cli import app
from civiclake.geography import (
    CURRENT_VERSION,
    VERSION_VARIABLE,
    UnknownCodeError,
    UnknownVersionError,
    code_mapping,
    load_geography,
    map_codes,
    versions,
)
from civiclake.settings import PROJECT_ROOT

NBS_STREETS = PROJECT_ROOT.parent / "shared" / "data" / "geography" / "longhua_440309_streets_stats_code.csv"


@pytest.fixture(scope="module")
def v1():
    return load_geography("v1")


@pytest.fixture(scope="module")
def v2():
    return load_geography("v2")


def all_areas(geography):
    return (
        {geography.district.code: geography.district}
        | geography.streets
        | geography.communities
        | geography.grids
    )


def test_v2_is_current_and_the_default(monkeypatch):
    monkeypatch.delenv(VERSION_VARIABLE, raising=False)
    assert versions() == ["v1", "v2"]
    assert CURRENT_VERSION == "v2"
    assert load_geography() is load_geography("v2")


def test_official_street_codes_by_name(v2):
    by_name = {area.name: code for code, area in v2.streets.items()}
    assert by_name == {
        "观湖街道": "440309001",
        "民治街道": "440309002",
        "龙华街道": "440309003",
        "大浪街道": "440309004",
        "福城街道": "440309005",
        "观澜街道": "440309006",
    }


def test_street_names_match_the_national_bureau_of_statistics_file(v2):
    if not NBS_STREETS.exists():
        pytest.skip(f"{NBS_STREETS} is absent (the shared data of ../shared/data/geography)")
    with NBS_STREETS.open(encoding="utf-8", newline="") as handle:
        official = {row["code"]: row["name"] for row in csv.DictReader(handle)}
    assert len(official) == 6
    assert {code: area.name for code, area in v2.streets.items()} == official


def test_hand_checked_codes():
    forth = code_mapping("v1", "v2")
    assert forth["440309"] == "440309"
    assert forth["440309004"] == "440309002"  # 民治街道
    assert forth["440309001"] == "440309006"  # 观澜街道
    assert forth["440309006008"] == "440309001008"  # 横坑社区 of 观湖街道
    assert forth["44030900400101"] == "44030900200101"  # 民治社区第1网格
    assert forth["440309003001"] == "440309003001"  # 龙华街道 kept its number
    assert code_mapping("v2", "v1")["440309002"] == "440309004"


def test_round_trip_returns_every_code(v1, v2):
    forth, back = code_mapping("v1", "v2"), code_mapping("v2", "v1")
    assert len(forth) == len(all_areas(v1)) == 1 + 6 + 50 + 200
    assert {code: back[forth[code]] for code in all_areas(v1)} == {code: code for code in all_areas(v1)}
    assert {code: forth[back[code]] for code in all_areas(v2)} == {code: code for code in all_areas(v2)}
    assert code_mapping("v2", "v2") == {code: code for code in all_areas(v2)}


def test_mapping_is_a_bijection_that_keeps_each_level(v1, v2):
    forth = code_mapping("v1", "v2")
    assert set(forth) == set(all_areas(v1))
    assert sorted(forth.values()) == sorted(all_areas(v2))  # onto, and no code twice
    for level in ("streets", "communities", "grids"):
        assert {forth[code] for code in getattr(v1, level)} == set(getattr(v2, level))


def test_each_area_keeps_its_name_box_and_parent(v1, v2):
    forth = code_mapping("v1", "v2")
    for code, area in all_areas(v1).items():
        mapped = all_areas(v2)[forth[code]]
        assert (mapped.name, mapped.box) == (area.name, area.box), code
        assert mapped.parent_code == forth.get(area.parent_code, ""), code
        # v2's community and grid codes: the v2 street code + the v1 serial digits
        assert forth[code][9:] == code[9:] and forth[code][:9] == forth.get(code[:9], code)[:9]


def test_mapping_file_names_every_area_once():
    with (geo_module.REFERENCE_DIR / "v2" / "from_v1.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    levels = [row["level"] for row in rows]
    assert {level: levels.count(level) for level in set(levels)} == {
        "district": 1,
        "street": 6,
        "community": 50,
        "grid": 200,
    }
    assert {row["v1_code"]: row["v2_code"] for row in rows} == code_mapping("v1", "v2")


def test_a_point_lands_in_the_same_area_in_both_versions(v1, v2):
    forth = code_mapping("v1", "v2")
    box = v1.district.box
    points = [grid.box.centroid for grid in v1.grids.values()]
    points += [(grid.box.min_lon, grid.box.min_lat) for grid in v1.grids.values()]  # shared edges
    points += [(box.max_lon, box.max_lat), (box.max_lon, box.min_lat)]  # the district's outer edge
    for lon, lat in points:
        old, new = v1.require_location(lon, lat), v2.require_location(lon, lat)
        mapped = tuple(forth[code] for code in (old.district_code, old.street_code, old.community_code))
        assert mapped + (forth[old.grid_code],) == (
            new.district_code,
            new.street_code,
            new.community_code,
            new.grid_code,
        ), (lon, lat)


def test_unknown_versions_and_codes_are_refused():
    with pytest.raises(UnknownVersionError, match=r"unknown geography version 'v9'; known: v1, v2"):
        code_mapping("v1", "v9")
    with pytest.raises(UnknownVersionError, match="'v0'"):
        load_geography("v0")
    with pytest.raises(UnknownCodeError) as refused:
        map_codes(["440309002", "440309007", "44030900200199"], "v2", "v1")
    assert str(refused.value).startswith("not an area code of geography v2: 440309007, 44030900200199 ")
    # 440309006008 (横坑社区) is a v1 code: 观湖街道 had 8 communities under 006; in v2 it is 001.
    with pytest.raises(UnknownCodeError, match="440309006008"):
        map_codes(["440309006008"], "v2", "v1")


def test_the_setting_chooses_the_version_a_run_uses(monkeypatch):
    monkeypatch.setenv(VERSION_VARIABLE, "v1")
    assert load_geography().streets["440309004"].name == "民治街道"
    assert geo_module.reference_rows("streets")[0]["street_name"] == "观澜街道"
    monkeypatch.setenv(VERSION_VARIABLE, "v7")
    with pytest.raises(UnknownVersionError, match=f"{VERSION_VARIABLE}=v7: unknown geography version"):
        load_geography()
    monkeypatch.setenv(VERSION_VARIABLE, "")
    assert load_geography().streets["440309004"].name == "大浪街道"


@pytest.fixture
def copied_reference(tmp_path, monkeypatch):
    """A copy of the reference folder that a test may break; the caches never mix the two."""
    shutil.copytree(geo_module.REFERENCE_DIR, tmp_path / "geography")
    monkeypatch.setattr(geo_module, "REFERENCE_DIR", tmp_path / "geography")
    geo_module._load.cache_clear()
    geo_module._step.cache_clear()
    yield tmp_path / "geography"
    geo_module._load.cache_clear()
    geo_module._step.cache_clear()


def test_a_mapping_file_that_maps_a_code_twice_is_refused_with_its_row(copied_reference):
    path = copied_reference / "v2" / "from_v1.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[3] == "street,440309002,440309004"
    lines[3] = "street,440309002,440309006"  # 大浪 onto 观澜's code, which row 3 already took
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"from_v1.csv, row 4: 440309002 → 440309006 maps a code"):
        code_mapping("v1", "v2")


def test_a_mapping_file_that_misses_an_area_is_refused(copied_reference):
    path = copied_reference / "v2" / "from_v1.csv"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if "44030900100104" not in line]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"from_v1.csv: 200 grid codes in v1, 200 in v2; not mapped: 44030900100104"
    ):
        code_mapping("v2", "v1")


def test_cli_maps_codes_and_refuses_unknown_ones():
    runner = CliRunner()
    result = runner.invoke(
        app, ["geography", "map", "440309004", "440309004001", "--from", "v1", "--to", "v2"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "440309004\t440309002\tstreet\t民治街道",
        "440309004001\t440309002001\tcommunity\t民治社区",
    ]
    refused = runner.invoke(app, ["geography", "map", "440309007", "--from", "v1"])
    assert refused.exit_code == 1 and "not an area code of geography v1: 440309007" in refused.output
    unknown = runner.invoke(app, ["geography", "map", "440309001", "--from", "v3"])
    assert unknown.exit_code == 1 and "unknown geography version 'v3'" in unknown.output
    listed = runner.invoke(app, ["geography", "versions"], env={VERSION_VARIABLE: "v1"})
    assert listed.exit_code == 0
    assert listed.stdout.splitlines() == [
        "v1\t6 streets, 50 communities, 200 grids\t(in use)",
        "v2\t6 streets, 50 communities, 200 grids\t(current)",
    ]
