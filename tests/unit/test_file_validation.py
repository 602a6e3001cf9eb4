"""Row checks of exported files: each bad input goes to quarantine with a reason naming the field."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from civiclake.contracts.party import ACTIVITIES, ATTENDANCE
from civiclake.geography import load_geography
from civiclake.ingest.files import read_batch
from civiclake.ingest.validate import check_batch, tokenised_record
from civiclake.jurisdiction import load_jurisdiction
from civiclake.pii import id_check_char, tokenise
from simulators.export_writer import write_export

DAY = date(2026, 11, 25)
KEY = b"unit-test-key"
FIRST17 = "44030919900101123"
GOOD_ID = FIRST17 + id_check_char(FIRST17)
BAD_ID = FIRST17 + ("0" if id_check_char(FIRST17) != "0" else "1")


def activity(n: int, **changes) -> dict:
    return {
        "activity_id": f"HD20261125{n:05d}",
        "org_id": "ZB440309006001000",
        "activity_type": "party_lecture",
        "title": "组织生活会",
        "community_code": "440309006001",
        "held_at": datetime(2026, 11, 25, 9, 30),
        "place": None,
        "lon": 113.97,
        "lat": 22.73,
        "planned_attendance": 12,
        **changes,
    }


def sign_in(n: int, **changes) -> dict:
    return {
        "sign_in_id": f"QD{n:06d}",
        "activity_id": "HD2026112500001",
        "member_id": "DY00000001",
        "member_name": "王伟",
        "member_id_number": GOOD_ID,
        "signed_in_at": datetime(2026, 11, 25, 9, 25),
        "method": "qr_code",
        **changes,
    }


def check(tmp_path, contract, *files: list[dict]):
    for n, records in enumerate(files):
        write_export(tmp_path / contract.source.pattern.replace("*", f"2026112{n}"), contract, records)
    reads = read_batch(tmp_path, contract)
    return check_batch(reads, contract, DAY, load_geography(), load_jurisdiction("longhua"))


def test_good_rows_pass_and_labels_become_codes(tmp_path):
    (row,) = check(tmp_path, ACTIVITIES, [activity(1)])
    assert row.reason is None and not row.duplicate
    assert row.values["activity_type"] == "party_lecture"
    assert row.values["held_at"] == "2026-11-25 09:30:00"
    assert row.values["planned_attendance"] == "12"


def test_id_number_with_bad_check_digit_is_quarantined_naming_the_field(tmp_path):
    good, bad = check(tmp_path, ATTENDANCE, [sign_in(1), sign_in(2, member_id_number=BAD_ID)])
    assert good.reason is None
    assert bad.reason == "member_id_number (身份证号): ID number fails its format or check digit"
    assert BAD_ID not in bad.reason  # a reason never repeats a personal value
    assert bad.reason_kinds == ["member_id_number: bad ID number"]


def test_coordinates_outside_the_district_are_quarantined(tmp_path):
    inside, outside = check(tmp_path, ACTIVITIES, [activity(1), activity(2, lon=114.5, lat=22.5)])
    assert inside.reason is None
    assert outside.reason == "lon/lat: coordinates (114.5, 22.5) are outside the jurisdiction longhua"


def test_unknown_community_code_is_quarantined(tmp_path):
    known, unknown = check(tmp_path, ACTIVITIES, [activity(1), activity(2, community_code="440309099001")])
    assert known.reason is None
    assert unknown.reason.startswith("community_code: unknown community code '440309099001'")


def test_timestamp_in_the_future_of_the_batch_day_is_quarantined(tmp_path):
    rows = check(
        tmp_path,
        ACTIVITIES,
        [
            activity(1, held_at=datetime(2026, 11, 25, 23, 59, 59)),  # last second of the day: fine
            activity(2, held_at=datetime(2026, 11, 26, 0, 0)),
        ],
    )
    assert rows[0].reason is None
    assert rows[1].reason == (
        "held_at (活动时间): 2026-11-26 00:00:00 is in the future of the batch day 2026-11-25"
    )


def test_duplicate_ids_inside_a_batch_identical_are_duplicates_conflicting_are_quarantined(tmp_path):
    rows = check(
        tmp_path,
        ACTIVITIES,
        [activity(1), activity(2), activity(1)],  # file 1: HD…1 twice, same content
        [activity(2, title="另一个主题")],  # file 2: HD…2 again, other content
    )
    first, second, repeat, conflict = rows
    assert first.reason is None and second.reason is None
    assert repeat.duplicate and repeat.reason is None
    assert not conflict.duplicate
    assert conflict.reason == (
        "activity_id: duplicate key HD2026112500002 in the batch with other content "
        "(first in 组织生活_20261120.csv row 3)"
    )


def test_unparsable_values_and_unknown_labels_name_the_field(tmp_path):
    (row,) = check(tmp_path, ACTIVITIES, [activity(1, planned_attendance="十二", activity_type="茶话会")])
    assert "planned_attendance (应到人数): cannot read '十二' as int" in row.reason
    assert "activity_type (活动类型): unknown code '茶话会'" in row.reason


def test_missing_required_value_is_quarantined(tmp_path):
    (row,) = check(tmp_path, ACTIVITIES, [activity(1, title=None)])
    assert row.reason == "title (活动主题): missing value"


def test_personal_values_become_tokens_and_extra_columns_are_kept(tmp_path):
    write_export(
        tmp_path / "活动签到_20261125.csv",
        ATTENDANCE,
        [sign_in(1, 备用电话="13912345678", 备注="按时到场")],
        extra_columns=["备用电话", "备注"],
    )
    reads = read_batch(tmp_path, ATTENDANCE)
    (row,) = check_batch(reads, ATTENDANCE, DAY, load_geography(), load_jurisdiction("longhua"))
    record = tokenised_record(row, ATTENDANCE, KEY)
    assert record["member_id_token"] == tokenise(GOOD_ID, "id_number", KEY)
    assert record["member_name_token"] == tokenise("王伟", "name", KEY)
    assert "member_id_number" not in record and "member_name" not in record
    extra = json.loads(record["_extra_columns"])
    assert extra == {"备用电话": tokenise("13912345678", "phone", KEY), "备注": "按时到场"}
    assert GOOD_ID not in json.dumps(record, ensure_ascii=False)


@pytest.mark.parametrize("text", ["2026/11/25 09:30", "2026-11-25T09:30:00", "2026-11-25 09:30"])
def test_timestamps_in_the_formats_exports_use(tmp_path, text):
    (row,) = check(tmp_path, ACTIVITIES, [activity(1, held_at=text)])
    assert row.reason is None and row.values["held_at"] == "2026-11-25 09:30:00"
