"""The position feed's row checks: every quarantine reason, known duplicates, the area of a
good report, and what the hourly files must look like."""

from __future__ import annotations

from datetime import date

import pytest

from civiclake.contracts.positions import POSITIONS
from civiclake.geography import load_geography
from civiclake.ingest import positions as checks
from civiclake.ingest.files import MissingColumnError, read_batch, read_export
from civiclake.jurisdiction import load_jurisdiction

DAY = date(2026, 11, 25)
HEADER = "资源编号,资源类别,定位时间,经度,纬度,速度(km/h),方向(度)"
REGISTRY = {"VEH0000001": "vehicle", "TEAM01": "team"}


def _community(name: str):
    geo = load_geography()
    return next(c for c in geo.communities.values() if c.name == name)


def _point(name: str = "松元厦社区") -> str:
    lon, lat = _community(name).box.centroid
    return f"{lon:.6f},{lat:.6f}"


def _check(tmp_path, files: dict[str, list[str]], registry=REGISTRY):
    for name, lines in files.items():
        (tmp_path / name).write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    reads = read_batch(tmp_path, POSITIONS)
    geo = load_geography()
    return checks.check_positions(reads, DAY, registry, geo, load_jurisdiction("longhua"))


def _reasons(checked) -> list[str | None]:
    return [c.row.reason_kinds[0] if c.row.reason else None for c in checked]


def test_a_good_report_is_kept_with_the_area_of_its_point(tmp_path):
    (good,) = _check(tmp_path, {"09.csv": [f"VEH0000001,车辆,2026-11-25 09:04:10,{_point()},18.5,90"]})
    community = _community("松元厦社区")
    assert good.good
    assert good.row.values["resource_kind"] == "vehicle"  # the label became the code
    assert good.row.values["reported_at"] == "2026-11-25 09:04:10"
    assert good.location.community_code == community.code
    assert good.location.street_code == community.parent_code
    assert good.location.district_code == load_geography().district.code


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # no resource id / a class the contract does not know / no time → malformed
        (",车辆,2026-11-25 09:00:00,{p},10,0", checks.MALFORMED),
        ("VEH0000001,行人,2026-11-25 09:00:00,{p},10,0", checks.MALFORMED),
        ("VEH0000001,车辆,上午九点,{p},10,0", checks.MALFORMED),
        # the point: not a number, missing, off the globe, no satellite fix
        ("VEH0000001,车辆,2026-11-25 09:00:00,N/A,22.67,10,0", checks.BAD_COORDINATES),
        ("VEH0000001,车辆,2026-11-25 09:00:00,,,10,0", checks.BAD_COORDINATES),
        ("VEH0000001,车辆,2026-11-25 09:00:00,214.04,22.67,10,0", checks.BAD_COORDINATES),
        ("VEH0000001,车辆,2026-11-25 09:00:00,0,0,10,0", checks.BAD_COORDINATES),
        # after its file's hour (09.csv: until 10:00), or a clock reset
        ("VEH0000001,车辆,2026-11-25 10:00:00,{p},10,0", checks.CLOCK_OFF),
        ("VEH0000001,车辆,2026-11-26 09:00:00,{p},10,0", checks.CLOCK_OFF),
        ("VEH0000001,车辆,2000-11-25 09:00:00,{p},10,0", checks.CLOCK_OFF),
        # a real point, in the next district
        ("VEH0000001,车辆,2026-11-25 09:00:00,113.90,22.55,10,0", checks.OUTSIDE_DISTRICT),
        # not in the registry of the day, or registered as the other kind
        ("VEH0000099,车辆,2026-11-25 09:00:00,{p},10,0", checks.UNKNOWN_RESOURCE),
        ("TEAM01,车辆,2026-11-25 09:00:00,{p},10,0", checks.UNKNOWN_RESOURCE),
    ],
)
def test_each_reason_quarantines_the_row(tmp_path, line, reason):
    (checked,) = _check(tmp_path, {"09.csv": [line.format(p=_point())]})
    assert _reasons([checked]) == [reason]
    assert checked.row.reason.startswith(f"{reason}: ")
    assert not checked.good and checked.location is None


def test_a_report_up_to_a_day_late_is_kept(tmp_path):
    # Buffered while out of coverage: yesterday 09:00, delivered today at 09:xx.
    (late,) = _check(tmp_path, {"09.csv": [f"TEAM01,队伍,2026-11-24 09:00:00,{_point()},,"]})
    assert late.good
    assert late.row.values["speed_kmh"] is None


def test_a_resent_report_is_a_duplicate_and_a_moved_one_is_quarantined(tmp_path):
    first = f"VEH0000001,车辆,2026-11-25 09:00:00,{_point()},10,0"
    moved = f"VEH0000001,车辆,2026-11-25 09:00:00,{_point('松元厦社区')[:-1]}9,10,0"
    checked = _check(tmp_path, {"09.csv": [first, first], "10.csv": [moved]})
    assert [c.good for c in checked] == [True, False, False]
    assert [c.row.duplicate for c in checked] == [False, True, False]
    assert _reasons(checked) == [None, None, checks.DUPLICATE]
    assert "first in 09.csv row 2" in checked[2].row.reason
    assert checks.reason_counts(checked) == {checks.DUPLICATE: 1}


def test_the_first_reason_wins_and_counts_once(tmp_path):
    # Unknown resource and off the globe: the point is checked first.
    checked = _check(
        tmp_path,
        {
            "09.csv": [
                "VEH0000099,车辆,2026-11-25 09:00:00,0,0,10,0",
                f"VEH0000099,车辆,2026-11-25 09:05:00,{_point()},10,0",
            ]
        },
    )
    assert _reasons(checked) == [checks.BAD_COORDINATES, checks.UNKNOWN_RESOURCE]
    assert checks.reason_counts(checked) == {checks.BAD_COORDINATES: 1, checks.UNKNOWN_RESOURCE: 1}


def test_only_hour_files_belong_to_the_batch_and_a_missing_column_fails_the_file(tmp_path):
    (tmp_path / "notes.csv").write_text(HEADER + "\n", encoding="utf-8")
    (tmp_path / "08.csv").write_text(
        "资源编号,资源类别,定位时间,经度\nVEH0000001,车辆,2026-11-25 08:00:00,114.0\n"
    )
    assert [r.file_name for r in read_batch(tmp_path, POSITIONS)] == ["08.csv"]
    with pytest.raises(MissingColumnError, match=r"08.csv, row 1: required column 纬度 \(lat\)"):
        read_export(tmp_path / "08.csv", POSITIONS)
    assert checks.file_hour("23.csv") == 23
    with pytest.raises(ValueError, match="24.csv: a position file is named by its landing hour"):
        checks.file_hour("24.csv")


def test_a_file_named_by_no_hour_fails_and_gives_no_rows(tmp_path):
    line = f"VEH0000001,车辆,2026-11-25 09:00:00,{_point()},10,0"
    (tmp_path / "25.csv").write_text(f"{HEADER}\n{line}\n", encoding="utf-8")
    reads = read_batch(tmp_path, POSITIONS)
    checked = checks.check_positions(reads, DAY, REGISTRY, load_geography(), load_jurisdiction("longhua"))
    assert checked == []
    assert reads[0].status == "failed"
    assert "25.csv: a position file is named by its landing hour" in reads[0].error
