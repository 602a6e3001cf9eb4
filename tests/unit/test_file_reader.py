"""The shared file reader: encodings, damaged files, empty files and schema drift."""

from __future__ import annotations

import zipfile
from datetime import datetime

import pytest

from civiclake.contracts.party import ACTIVITIES, MEMBERS
from civiclake.ingest.files import FileReadError, MissingColumnError, read_batch, read_export
from simulators.export_writer import export_headers, write_export

ACTIVITY = {
    "activity_id": "HD2026112500001",
    "org_id": "ZB440309006001000",
    "activity_type": "party_lecture",
    "title": "学习贯彻会议精神",
    "community_code": "440309006001",
    "held_at": datetime(2026, 11, 25, 9, 30),
    "place": "观澜社区党群服务中心",
    "lon": 113.97,
    "lat": 22.73,
    "planned_attendance": 12,
}
MEMBER = {
    "member_id": "DY00000001",
    "member_name": "王伟",
    "gender": "M",
    "member_id_number": "440309199001011234",
    "member_phone": "13800138000",
    "org_id": "ZB440309006001000",
    "community_code": "440309006001",
    "status": "full",
    "education": "bachelor",
    "joined_on": datetime(2010, 7, 1),
    "updated_at": datetime(2026, 11, 25, 10),
    "is_deleted": False,
}


def activity(n: int, **changes) -> dict:
    return {**ACTIVITY, "activity_id": f"HD20261125{n:05d}", **changes}


def test_gbk_file_that_is_not_utf8_is_detected_and_read_back_correctly(tmp_path):
    path = tmp_path / "组织生活_440309006_20261125.csv"
    write_export(path, ACTIVITIES, [activity(1)], encoding="gbk")
    raw = path.read_bytes()
    # Read naively as UTF-8 the file is not text at all, and with replacement it is garbage.
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "活动编号" not in raw.decode("utf-8", errors="replace")

    read = read_export(path, ACTIVITIES)
    assert read.encoding == "gbk"
    assert any("GBK" in note for note in read.notes)
    (row,) = read.rows
    assert row.values["title"] == "学习贯彻会议精神"
    assert row.values["place"] == "观澜社区党群服务中心"
    assert row.values["activity_type"] == "党课"  # the label as exported; the validator maps it


def test_utf8_file_of_a_gbk_source_is_read_as_utf8_and_the_difference_stated(tmp_path):
    path = tmp_path / "组织生活_440309006_20261125.csv"
    write_export(path, ACTIVITIES, [activity(1)], encoding="utf-8")
    read = read_export(path, ACTIVITIES)
    assert read.encoding == "utf-8"
    assert read.rows[0].values["title"] == "学习贯彻会议精神"
    assert any("declared as gbk" in note for note in read.notes)


def test_gbk_text_already_decoded_wrongly_and_saved_is_a_clear_error(tmp_path):
    path = tmp_path / "组织生活_440309006_20261125.csv"
    write_export(path, ACTIVITIES, [activity(1)], encoding="gbk")
    damaged = path.read_bytes().decode("utf-8", errors="replace").encode("utf-8")
    path.write_bytes(damaged)
    with pytest.raises(FileReadError, match=r"组织生活_440309006_20261125\.csv, row 1: .*U\+FFFD"):
        read_export(path, ACTIVITIES)


def test_truncated_excel_is_a_clear_error_and_other_files_of_the_batch_still_load(tmp_path):
    good = tmp_path / "党员信息_20261125.xlsx"
    write_export(good, MEMBERS, [MEMBER])
    assert zipfile.is_zipfile(good)
    cut = tmp_path / "党员信息_20261125_补充.xlsx"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])

    with pytest.raises(FileReadError, match=r"党员信息_20261125_补充\.xlsx: not a readable \.xlsx"):
        read_export(cut, MEMBERS)
    reads = {r.file_name: r for r in read_batch(tmp_path, MEMBERS)}
    assert reads[good.name].status == "loaded" and len(reads[good.name].rows) == 1
    assert reads[cut.name].status == "failed"
    assert cut.name in reads[cut.name].error and not reads[cut.name].rows


def test_malformed_csv_with_a_broken_quoted_row_names_file_and_row(tmp_path):
    path = tmp_path / "组织生活_440309004_20261125.csv"
    write_export(path, ACTIVITIES, [activity(1), activity(2)], encoding="gbk")
    broken = path.read_bytes() + '"HD2026112500003,ZB1,党课,"未闭合的引号\r\n'.encode("gbk")
    path.write_bytes(broken)
    with pytest.raises(FileReadError, match=r"组织生活_440309004_20261125\.csv, row 4: malformed CSV"):
        read_export(path, ACTIVITIES)


def test_csv_row_with_fields_out_of_place_names_the_row(tmp_path):
    path = tmp_path / "组织生活_440309004_20261125.csv"
    write_export(path, ACTIVITIES, [activity(1)], encoding="gbk")
    path.write_bytes(path.read_bytes() + "HD2026112500002,ZB1,党课\r\n".encode("gbk"))
    with pytest.raises(FileReadError, match=r"row 3: row has 3 fields but the header has 10"):
        read_export(path, ACTIVITIES)


def test_empty_file_is_recorded_as_empty_not_an_error(tmp_path):
    empty = tmp_path / "组织生活_440309003_20261125.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "组织生活_440309002_20261125.csv"
    write_export(header_only, ACTIVITIES, [], encoding="gbk")
    good = tmp_path / "组织生活_440309005_20261125.csv"
    write_export(good, ACTIVITIES, [activity(1)], encoding="gbk")

    reads = {r.file_name: r for r in read_batch(tmp_path, ACTIVITIES)}
    assert reads[empty.name].status == "empty" and reads[empty.name].error is None
    assert reads[header_only.name].status == "empty" and not reads[header_only.name].rows
    assert reads[good.name].status == "loaded" and len(reads[good.name].rows) == 1


def test_new_column_is_kept_and_logged_not_fatal(tmp_path, caplog):
    path = tmp_path / "组织生活_440309006_20261125.csv"
    write_export(path, ACTIVITIES, [activity(1, 联系人单位="街道党工委")], extra_columns=["联系人单位"])
    read = read_export(path, ACTIVITIES)
    assert read.status == "loaded"
    assert read.new_columns == ["联系人单位"]
    assert read.rows[0].extra == {"联系人单位": "街道党工委"}
    assert read.rows[0].values["activity_id"] == "HD2026112500001"
    assert "new column(s) ['联系人单位']" in caplog.text


def test_required_column_missing_is_a_clear_error_and_nothing_of_the_file_is_read(tmp_path):
    path = tmp_path / "组织生活_440309006_20261125.csv"
    headers = [h for h in export_headers(ACTIVITIES) if h != "活动时间"]
    from simulators.export_writer import write_csv

    write_csv(
        path, headers, [["HD1", "ZB1", "党课", "t", "440309006001", "p", "113.97", "22.73", "3"]], "gbk"
    )
    with pytest.raises(
        MissingColumnError,
        match=r"组织生活_440309006_20261125\.csv, row 1: required column 活动时间 \(held_at\)",
    ):
        read_export(path, ACTIVITIES)
    (read,) = read_batch(tmp_path, ACTIVITIES)
    assert read.status == "failed" and read.rows == [] and "活动时间 (held_at)" in read.error


def test_excel_cells_become_text_like_the_csv(tmp_path):
    path = tmp_path / "党员信息_20261125.xlsx"
    write_export(path, MEMBERS, [{**MEMBER, "member_phone": 13800138000}])
    values = read_export(path, MEMBERS).rows[0].values
    assert values["member_phone"] == "13800138000"  # a number cell, no ".0"
    assert values["joined_on"] == "2010-07-01 00:00:00"
    assert values["is_deleted"] == "否"
    assert values["member_id_number"] == "440309199001011234"
