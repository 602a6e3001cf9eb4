"""The leaders' brief: reading the area from the role, picking the area's row of the day,
and writing its numbers into the e-mail (no SMTP, no font, no marts file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from civiclake.brief import rows
from civiclake.brief.compose import body, compose, headline_lines, message_id
from civiclake.brief.numbers import CASE_HEADLINES, HEADLINES, change_text, change_tone, value_text
from civiclake.brief.recipients import (
    Recipient,
    RecipientError,
    leader_role,
    leader_roles_of,
    resolve,
)

DAY = date(2026, 11, 25)
USERS_FILE = Path("dashboards/users.yaml")
AREAS = {
    "district": {"440309": "龙华区"},
    "street": {"440309006": "观澜街道", "440309002": "民治街道"},
    "community": {"440309006001": "观澜社区", "440309002001": "民治社区"},
}


def brief_row(level: str, code: str, name: str, day: date = DAY, base: int = 10) -> dict:
    row = {
        "report_date": day,
        "level": level,
        "area_code": code,
        "area_name": name,
        "parent_code": None,
        "street_code": None,
        "community_code": None,
        "cases_reported": base,
        "closures": base - 1,
        "backlog_open": base * 3,
        "overdue_open": base // 2,
        "response_rate": 0.875,
        "on_time_rate": 0.9,
        "satisfaction_avg": 4.25,
        "score": 1.0625,
        "rank_in_level": 2,
        "areas_ranked": 6,
    }
    for h in CASE_HEADLINES:  # the case headlines only, as in a marts file before the families
        row[f"{h.column}_change_1d"] = None if h.kind != "count" else 3
        row[f"{h.column}_change_7d"] = -0.05 if h.kind == "rate" else None if h.kind == "decimal" else -2
    return row


def test_role_names_give_level_and_area():
    assert leader_role("civiclake_district_leader").level == "district"
    assert leader_role("civiclake_district_leader").area_code is None
    street = leader_role("civiclake_street_440309002")
    assert (street.level, street.area_code) == ("street", "440309002")
    community = leader_role("civiclake_community_440309002001")
    assert (community.level, community.area_code) == ("community", "440309002001")
    for not_a_leader in ("civiclake_analyst", "Admin", "Gamma", "civiclake_districtleader"):
        assert leader_role(not_a_leader) is None
    assert leader_roles_of({"username": "a", "role": "civiclake_analyst"}) == []
    assert len(leader_roles_of({"username": "b", "roles": ["Gamma", "civiclake_street_440309006"]})) == 1


def test_resolve_reads_the_area_and_the_address():
    user = {
        "username": "civiclake_street_minzhi",
        "role": "civiclake_street_440309002",
        "email": "m@x.cn",
        "name": "民治街道值班员",
    }
    (role,) = leader_roles_of(user)
    assert resolve(user, role, USERS_FILE, AREAS) == Recipient(
        "civiclake_street_minzhi", "民治街道值班员", "m@x.cn", "street", "440309002"
    )
    district = {"username": "lead", "role": "civiclake_district_leader", "email": "l@x.cn"}
    (role,) = leader_roles_of(district)
    assert resolve(district, role, USERS_FILE, AREAS).area_code == "440309"


def test_unknown_area_or_missing_address_names_the_file_and_the_user():
    user = {"username": "civiclake_lost", "role": "civiclake_community_440309009999", "email": "x@x.cn"}
    (role,) = leader_roles_of(user)
    with pytest.raises(RecipientError) as error:
        resolve(user, role, USERS_FILE, AREAS)
    text = str(error.value)
    assert "dashboards/users.yaml" in text and "'civiclake_lost'" in text and "440309009999" in text
    no_mail = {"username": "civiclake_nomail", "role": "civiclake_street_440309006"}
    with pytest.raises(RecipientError, match=r"users.yaml: user 'civiclake_nomail' has no usable e-mail"):
        resolve(no_mail, leader_roles_of(no_mail)[0], USERS_FILE, AREAS)


def test_area_row_picks_only_the_recipients_area_and_day():
    con = duckdb.connect()
    con.execute(
        "create table mart_leader_brief_daily (report_date date, level varchar, area_code varchar, "
        "area_name varchar, cases_reported bigint)"
    )
    con.executemany(
        "insert into mart_leader_brief_daily values (?, ?, ?, ?, ?)",
        [
            (DAY, "street", "440309006", "观澜街道", 11),
            (DAY, "street", "440309002", "民治街道", 44),
            (date(2026, 11, 24), "street", "440309002", "民治街道", 40),
            # A community may share digits with a street code prefix; the level keeps them apart.
            (DAY, "community", "440309002001", "民治社区", 7),
        ],
    )
    recipient = Recipient("u", "U", "u@x.cn", "street", "440309002")
    assert rows.area_row(con, DAY, recipient) == {
        "report_date": DAY,
        "level": "street",
        "area_code": "440309002",
        "area_name": "民治街道",
        "cases_reported": 44,
    }
    assert rows.known_areas(con)["street"] == {"440309006": "观澜街道", "440309002": "民治街道"}
    with pytest.raises(rows.MartsNotReadyError, match="no rows for 2026-11-30 .*latest day: 2026-11-25"):
        rows.require_day(con, date(2026, 11, 30), Path("m.duckdb"))


def test_numbers_are_written_the_same_way_everywhere():
    assert value_text(1234, "count") == "1,234"
    assert value_text(0.875, "rate") == "87.5%"
    assert value_text(4.25, "decimal") == "4.25"
    assert value_text(None, "rate") == "—"
    assert change_text(-2, "count") == "-2"
    assert change_text(0.05, "rate") == "+5.0个百分点"
    assert change_text(None, "decimal") == "—"
    backlog = next(h for h in HEADLINES if h.column == "backlog_open")
    assert change_tone(3, backlog) == "worse" and change_tone(-3, backlog) == "better"
    reported = next(h for h in HEADLINES if h.column == "cases_reported")
    assert change_tone(3, reported) == "neutral"


def test_body_carries_the_areas_numbers_and_nothing_else():
    row = brief_row("street", "440309002", "民治街道", base=44)
    recipient = Recipient("civiclake_street_minzhi", "李书记", "li@x.cn", "street", "440309002")
    text = body(recipient, row, DAY)
    assert text.startswith("李书记，您好：")
    assert "民治街道（街道，编码 440309002）2026年11月25日的领导简报" in text
    assert "新增案件：44（较前一日 +3，较上周同日 -2）" in text
    assert "积压：132（较前一日 +3，较上周同日 -2）" in text
    assert "按时响应率：87.5%（较前一日 —，较上周同日 -5.0个百分点）" in text
    assert "满意度：4.25（较前一日 —，较上周同日 —）" in text
    assert "街道排名：第 2 名（共 6 个街道参与排名）" in text
    for other in ("龙华区", "观澜街道", "观澜社区", "民治社区"):
        assert other not in text
    assert "福利券核销率" not in text  # a marts file without the other families' headlines
    families = {
        "manhole_cases_open_unknown_owner": 2,
        "care_visits_overdue": 9,
        "coupon_redemption_rate": 0.634,
        "volunteer_hours": 86.5,
    }
    for column, value in families.items():
        row |= {column: value, f"{column}_change_1d": None, f"{column}_change_7d": None}
    text = body(recipient, row, DAY)
    assert "权属不明井盖案件：2（" in text and "关爱走访逾期户数：9（" in text
    assert "福利券核销率：63.4%（" in text and "志愿服务时长（小时）：86.50（" in text
    district = brief_row("district", "440309", "龙华区", base=300)
    assert not any("排名" in line for line in headline_lines(district))  # alone in its level


def test_message_goes_to_one_recipient_with_the_png_attached():
    row = brief_row("community", "440309002001", "民治社区", base=7)
    recipient = Recipient("civiclake_community_minzhi", "王主任", "wang@x.cn", "community", "440309002001")
    sender = "龙华区指挥中心 <brief@longhua.example>"
    message = compose(recipient, row, DAY, b"\x89PNG fake", sender)
    assert message["To"].addresses[0].addr_spec == "wang@x.cn" and len(message["To"].addresses) == 1
    assert message["Cc"] is None and message["Bcc"] is None
    assert message["Subject"] == "【领导简报】民治社区 2026年11月25日"
    assert (
        message["Message-ID"]
        == "<brief.2026-11-25.civiclake_community_minzhi.community.440309002001@longhua.example>"
    )
    assert message_id(recipient, DAY, sender) == message["Message-ID"]  # the same on every try
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "image/png"
    assert attachment.get_filename() == "brief_community_440309002001_2026-11-25.png"
    assert attachment.get_content() == b"\x89PNG fake"
