"""The quality suites of file-export silver tables accept good rows and catch what should never pass."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from civiclake.contracts.catalog import silver_columns
from quality.gate import validate
from quality.suites import SUITES


def activities(**changes) -> pd.DataFrame:
    row = {
        "activity_id": "HD2026112500001",
        "org_id": "ZB440309006001000",
        "activity_type": "party_lecture",
        "title": "组织生活会",
        "community_code": "440309006001",
        "held_at": datetime(2026, 11, 25, 9, 30),
        "place": None,
        "lon": 113.97,
        "lat": 22.73,
        "planned_attendance": 12,
        "district_code": "440309",
        "street_code": "440309006",
        "is_deleted": False,
        "source_file": "组织生活_440309006_20261125.csv",
        "batch_date": date(2026, 11, 25),
    }
    df = pd.DataFrame([row, {**row, "activity_id": "HD2026112500002"}])
    for column, value in changes.items():
        df.loc[1, column] = value
    return df


def test_silver_columns_come_from_the_contract():
    columns = silver_columns("party_members")
    assert "member_id_token" in columns and "member_name_token" in columns
    assert "member_id_number" not in columns and "member_name" not in columns
    assert columns[-3:] == ("is_deleted", "source_file", "batch_date")


def test_suite_passes_good_rows_and_fails_outside_coordinates_duplicates_and_raw_columns():
    suite = SUITES["party_activities"]()
    assert validate(activities(), suite, engine="pandas").success

    bad = activities(lon=114.6, activity_id="HD2026112500001").assign(member_phone="13800138000")
    failures = validate(bad, suite, engine="pandas").failures
    assert any(f.startswith("expect_column_values_to_be_between {'column': 'lon'") for f in failures)
    assert any(f.startswith("expect_column_values_to_be_unique {'column': 'activity_id'") for f in failures)
    assert any(f.startswith("expect_table_columns_to_match_set") for f in failures)
    assert len(failures) == 3
