"""The case funnel's vocabulary: the source category mapping, channels, statuses and case ids."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from civiclake.cases import funnel
from civiclake.cases.categories import DEFAULT_PATH, SourceCategoriesError, load_categories, open311_source
from civiclake.catalogue import CASE_STATUSES, CATEGORY_CODES, CHANNEL_NAMES, CHANNELS, FUNNEL_CHANNEL_NAMES
from civiclake.cli import app
from civiclake.contracts import city


def _write(tmp_path, content: dict):
    path = tmp_path / "categories.yaml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def _shipped() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_the_shipped_mapping_maps_city_codes_to_the_catalogue():
    mapping = load_categories()
    assert mapping.sources["city"] == {
        "manhole": "manhole",
        "street_vending": "street_vending",
        "garbage": "garbage",
        "illegal_parking": "parking",
        "road_damage": "road_facility",
        "outdoor_ads": "environment",
    }
    assert mapping.sources["governance"] == {code: code for code in CATEGORY_CODES}
    assert mapping.sources[open311_source("longhua")] == {code: code for code in CATEGORY_CODES}
    assert mapping.category("open311_nyc", "noise_residential") == "noise"
    # Not a district category: listed as null, or not listed at all for an open service list.
    assert mapping.category("open311_nyc", "taxi_complaint") is None
    assert mapping.category("open311_nyc", "a_code_nobody_listed") is None
    assert mapping.category("governance", None) is None
    targets = {category for _, _, category in mapping.rows()}
    assert targets - {None} <= set(CATEGORY_CODES)


def test_an_unknown_catalogue_code_is_refused_naming_file_source_and_code(tmp_path):
    content = _shipped()
    content["sources"]["city"]["categories"]["road_damage"] = "roads"
    path = _write(tmp_path, content)
    with pytest.raises(SourceCategoriesError) as error:
        load_categories(path)
    message = str(error.value)
    assert str(path) in message and "'city'" in message and "'road_damage'" in message
    assert "unknown catalogue code 'roads'" in message


def test_every_contract_code_must_be_mapped_and_only_those(tmp_path):
    content = _shipped()
    del content["sources"]["city"]["categories"]["outdoor_ads"]
    with pytest.raises(
        SourceCategoriesError, match=r"codes \['outdoor_ads'\] of its contract are not mapped"
    ):
        load_categories(_write(tmp_path, content))
    content = _shipped()
    content["sources"]["governance"]["categories"]["potholes"] = "road_facility"
    with pytest.raises(
        SourceCategoriesError, match=r"codes \['potholes'\] are not codes its contract accepts"
    ):
        load_categories(_write(tmp_path, content))
    content = _shipped()
    del content["sources"]["governance"]
    with pytest.raises(SourceCategoriesError, match="source 'governance': missing"):
        load_categories(_write(tmp_path, content))


def test_unknown_sources_and_malformed_files_are_refused(tmp_path):
    content = _shipped()
    content["sources"]["open311_paris"] = {"categories": {"bruit": "noise"}}
    with pytest.raises(SourceCategoriesError, match="unknown jurisdiction 'paris'"):
        load_categories(_write(tmp_path, content))
    content = _shipped()
    content["sources"]["parks"] = {"categories": {}}
    with pytest.raises(SourceCategoriesError, match="source 'parks': unknown source"):
        load_categories(_write(tmp_path, content))
    with pytest.raises(SourceCategoriesError, match="expected a mapping with `sources:`"):
        load_categories(_write(tmp_path, {"city": {}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [", encoding="utf-8")
    with pytest.raises(SourceCategoriesError, match="not valid YAML"):
        load_categories(bad)
    with pytest.raises(SourceCategoriesError, match="no such file"):
        load_categories(tmp_path / "absent.yaml")


def test_check_categories_command(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["cases", "check-categories"])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output and "open311_nyc:" in ok.output
    content = _shipped()
    content["sources"]["city"]["categories"]["garbage"] = "rubbish"
    bad = runner.invoke(app, ["cases", "check-categories", "--categories", str(_write(tmp_path, content))])
    assert bad.exit_code == 1 and "unknown catalogue code 'rubbish'" in bad.output


def test_the_funnel_channels_keep_the_governance_channels_first():
    assert CHANNELS == ("find_secretary", "hotline_12345", "mini_program", "grid_patrol")
    assert tuple(FUNNEL_CHANNEL_NAMES)[: len(CHANNELS)] == CHANNELS
    assert {k: FUNNEL_CHANNEL_NAMES[k] for k in CHANNEL_NAMES} == CHANNEL_NAMES
    assert set(funnel.CITY_CHANNELS) == set(city.CASE_SOURCES)
    assert funnel.CITY_CHANNELS == {
        "citizen_12345": "hotline_12345",
        "patrol": "city_patrol",
        "camera_ai": "camera",
    }
    assert {*funnel.CITY_CHANNELS.values(), funnel.OPEN311_CHANNEL} <= set(FUNNEL_CHANNEL_NAMES)


def test_every_source_status_has_a_common_status():
    assert set(funnel.GOVERNANCE_STATUSES) == set(CASE_STATUSES)
    assert set(funnel.CITY_STATUSES) == set(city.CASE_STATUSES)
    assert {*funnel.GOVERNANCE_STATUSES.values(), *funnel.CITY_STATUSES.values()} == set(funnel.STATUSES)
    assert funnel.open311_status("closed", "DSNY") == "closed"
    assert funnel.open311_status("open", "NYPD") == "in_progress"
    assert funnel.open311_status("open", " ") == "received"
    assert funnel.open311_status("open", None) == "received"


def test_open311_case_ids_are_unique_across_jurisdictions():
    assert funnel.open311_case_id("nyc", "123") == "311:nyc:123"
    assert funnel.open311_case_id("nyc", "123") != funnel.open311_case_id("longhua", "123")


def test_the_column_list_is_the_one_place():
    assert funnel.COLUMN_NAMES[0] == "case_id"
    assert len(set(funnel.COLUMN_NAMES)) == len(funnel.COLUMN_NAMES)
    assert funnel.SPARK_SCHEMA.split(", ")[7] == "category_trusted boolean"


def test_the_dbt_source_declares_the_funnels_columns():
    from civiclake.settings import PROJECT_ROOT

    path = PROJECT_ROOT / "dbt" / "models" / "staging" / "funnel" / "_funnel__sources.yml"
    (source,) = yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]
    (table,) = source["tables"]
    assert table["meta"]["delta_table_path"].endswith(f"/silver/{funnel.TABLE}")
    assert tuple(c["name"] for c in table["columns"]) == funnel.COLUMN_NAMES


def test_the_arrow_schema_follows_the_columns():
    schema = funnel.arrow_schema()
    assert tuple(schema.names) == funnel.COLUMN_NAMES
    assert str(schema.field("reported_at").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("category_trusted").type) == "bool"
