from datetime import date

import pyarrow as pa
from deltalake import write_deltalake

from civiclake.settings import Settings
from civiclake.source_summary import batch_counts, quarantine_reasons, source_lines

DAY = date(2026, 11, 25)


def _reconciliation(table, day, source, silver, quarantined, duplicates):
    return {
        "table_name": table,
        "batch_date": day,
        "source_rows": source,
        "silver_rows": silver,
        "quarantined_rows": quarantined,
        "duplicate_rows": duplicates,
    }


def test_counts_and_reasons_of_one_batch(tmp_path):
    settings = Settings(data_dir=tmp_path)
    rows = [
        _reconciliation("governance_cases", DAY, 100, 95, 3, 2),
        _reconciliation("governance_cases", date(2026, 11, 24), 50, 50, 0, 0),
        _reconciliation("party_members", DAY, 10, 9, 1, 0),
    ]
    write_deltalake(settings.table_path("state", "reconciliation"), pa.Table.from_pylist(rows))
    quarantine = pa.Table.from_pylist(
        [
            {"case_id": "a", "quarantine_reason": "unknown community_code", "batch_date": DAY},
            {"case_id": "b", "quarantine_reason": "timestamp in the future", "batch_date": DAY},
            {"case_id": "c", "quarantine_reason": "unknown community_code", "batch_date": DAY},
            {"case_id": "d", "quarantine_reason": "missing case_id", "batch_date": date(2026, 11, 24)},
        ]
    )
    write_deltalake(settings.table_path("silver", "governance_cases_quarantine"), quarantine)

    counts = batch_counts(settings, DAY)
    assert counts == {
        "governance_cases": {
            "source_rows": 100,
            "silver_rows": 95,
            "quarantined_rows": 3,
            "duplicate_rows": 2,
        },
        "party_members": {"source_rows": 10, "silver_rows": 9, "quarantined_rows": 1, "duplicate_rows": 0},
    }
    reasons = quarantine_reasons(settings, DAY)
    assert reasons == {"governance_cases": {"unknown community_code": 2, "timestamp in the future": 1}}
    lines = source_lines(counts, reasons)
    assert lines[1].split() == ["governance_cases", "100", "95", "3", "2"]
    assert lines[2].split() == ["quarantined", "2", "×", "unknown", "community_code"]
    assert len(lines) == 1 + 2 + 2  # header, two tables, two reasons


def test_an_empty_lake_has_no_counts(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert batch_counts(settings, DAY) == {} and quarantine_reasons(settings, DAY) == {}
    assert source_lines({}, {}) == []
