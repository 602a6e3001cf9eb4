"""Routing rules: first match wins, time ranges across midnight, 先修后定, validation messages."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from civiclake.catalogue import CATEGORIES
from civiclake.dispatch.rules import (
    DEFAULT_RULES_FILE,
    RoutingRulesError,
    catalogue_conflicts,
    load_rules,
    parse_rules,
    route,
)

LONGHUA_STREET = "440309003"
LONGHUA_COMMUNITY = "440309003001"  # a community of 龙华街道
GUANLAN_COMMUNITY = "440309006001"  # 观澜社区 in 观澜街道


def one(category, at, community=LONGHUA_COMMUNITY, owner=None):
    frame = pd.DataFrame(
        [
            {
                "category": category,
                "community_code": community,
                "grid_code": None,
                "reported_at": pd.Timestamp(at),
            }
        ]
    )
    if owner is not None:
        frame["asset_owner"] = owner
    return route(frame, load_rules()).iloc[0].to_dict()


def test_the_shipped_rules_end_in_a_catch_all_and_agree_with_the_catalogue():
    rules = load_rules()
    assert rules.rules[-1].id == "catch_all" and rules.rules[-1].match.is_catch_all
    assert catalogue_conflicts(rules) == []
    assert {c.department for c in CATEGORIES} <= rules.departments


def test_night_duty_crosses_midnight():
    # 2026-11-25 is a Wednesday; the night rule covers 22:00 up to 06:00.
    assert one("noise", "2026-11-25 22:00")["rule_id"] == "noise_night_duty"
    assert one("noise", "2026-11-26 05:59:59")["rule_id"] == "noise_night_duty"
    assert one("noise", "2026-11-26 06:00")["rule_id"] == "noise_day"
    assert one("noise", "2026-11-25 21:59:59")["rule_id"] == "noise_day"
    assert one("noise", "2026-11-25 23:30") == {
        "department": "公安分局",
        "team": "龙华街道派出所值班组",
        "rule_id": "noise_night_duty",
    }


def test_manhole_with_unknown_owner_is_repaired_first_by_the_street():
    assert one("manhole", "2026-11-25 10:00") == {
        "department": "城市管理和综合执法局",
        "team": "龙华街道城管执法中队（先修后定值班）",
        "rule_id": "manhole_repair_first",
    }
    assert one("manhole", "2026-11-25 10:00", owner="")["rule_id"] == "manhole_repair_first"
    assert one("manhole", "2026-11-25 10:00", owner="水务局") == {
        "department": "水务局",
        "team": "水务局（龙华街道）维修班组",
        "rule_id": "manhole_owner_known",
    }


def test_area_weekday_and_hour_all_must_hold():
    # Friday 2026-11-27 18:00 in 龙华街道: the night-market squad.
    assert one("street_vending", "2026-11-27 18:00")["rule_id"] == "street_vending_night_market_longhua"
    assert one("street_vending", "2026-11-27 23:59")["team"] == "龙华街道城管执法中队夜市专班"
    assert one("street_vending", "2026-11-27 17:59")["rule_id"] == "street_vending"  # too early
    assert one("street_vending", "2026-11-26 18:00")["rule_id"] == "street_vending"  # a Thursday
    assert one("street_vending", "2026-11-27 18:00", community=GUANLAN_COMMUNITY) == {
        "department": "城市管理和综合执法局",
        "team": "观澜街道城管执法中队",
        "rule_id": "street_vending",
    }


def test_community_team_and_catch_all():
    assert one("environment", "2026-11-25 10:00", community=GUANLAN_COMMUNITY)["team"] == "观澜社区网格工作站"
    unknown = one(None, "2026-11-25 10:00")
    assert unknown == {"department": "区智慧城市指挥中心", "team": "区指挥中心值班组", "rule_id": "catch_all"}


def test_first_match_wins_over_later_rules():
    document = {
        "rules": [
            {"id": "a", "match": {"categories": ["noise"]}, "department": "甲", "team": "t"},
            {
                "id": "b",
                "match": {"categories": ["noise"], "hours": {"start": 0, "end": 12}},
                "department": "乙",
                "team": "t",
            },
            {"id": "rest", "match": {}, "department": "丙", "team": "t"},
        ]
    }
    rules = parse_rules(document)
    frame = pd.DataFrame(
        {
            "category": ["noise", "parking"],
            "community_code": [LONGHUA_COMMUNITY] * 2,
            "grid_code": [None, None],
            "reported_at": [pd.Timestamp("2026-11-25 08:00")] * 2,
        }
    )
    assert route(frame, rules)["rule_id"].tolist() == ["a", "rest"]


def _rules_with(tmp_path: Path, edit) -> Path:
    document = yaml.safe_load(DEFAULT_RULES_FILE.read_text(encoding="utf-8"))
    edit(document["rules"])
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: r.pop(), r"rule #12 \(labour\): field 'match': the last rule must match every case"),
        (
            lambda r: r[1]["match"].update(categories=["manholes"]),
            r"rule #1 \(manhole_owner_known\): field 'match.categories': .*unknown category \['manholes'\]",
        ),
        (
            lambda r: r[0]["match"].update(hours={"start": 22, "end": 22}),
            r"rule #0 \(noise_night_duty\): field 'match.hours': .*start and end",
        ),
        (
            lambda r: r[0]["match"].update(hours={"start": 25, "end": 6}),
            r"rule #0 \(noise_night_duty\): field 'match.hours.start'",
        ),
        (
            lambda r: r[2].update(team="{street}城管"),
            r"rule #2 \(manhole_repair_first\): field '\(rule\)'.*team names unknown field\(s\) \['street'\]",
        ),
        (
            lambda r: r[2].update(department="{asset_owner}"),
            r"rule #2 \(manhole_repair_first\).*asset_owner.*needs match.asset_owner",
        ),
        (
            lambda r: r[3]["match"].update(street_codes=["440309999"]),
            r"rule #3 \(street_vending_night_market_longhua\): field 'match.street_codes'.*440309999",
        ),
        (
            lambda r: r[4].update(id="noise_night_duty"),
            r"rule #4 \(noise_night_duty\): field 'id': duplicate id",
        ),
        (
            lambda r: r.insert(2, {"id": "all", "department": "x", "team": "y"}),
            r"rule #2 \(all\): field 'match'",
        ),
        (lambda r: r[5].update(depratment="x"), r"rule #5 \(environment\): field 'depratment': Extra inputs"),
        (
            lambda r: r[5]["match"].update(weekdays=["monday"]),
            r"rule #5 \(environment\): field 'match.weekdays.0'",
        ),
    ],
)
def test_a_bad_rules_file_names_file_rule_and_field(tmp_path, edit, expected):
    path = _rules_with(tmp_path, edit)
    with pytest.raises(RoutingRulesError, match=expected) as error:
        load_rules(path)
    assert str(error.value).startswith(str(path))


def test_unreadable_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RoutingRulesError, match="bad.yaml: not valid YAML"):
        load_rules(bad)
    with pytest.raises(RoutingRulesError, match="does not exist"):
        load_rules(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\n", encoding="utf-8")
    with pytest.raises(RoutingRulesError, match="a list under 'rules'"):
        load_rules(empty)


def test_a_rule_that_contradicts_the_catalogue_is_reported(tmp_path):
    path = _rules_with(tmp_path, lambda r: r[8].update(department="城市管理和综合执法局"))  # parking
    conflicts = catalogue_conflicts(load_rules(path))
    assert conflicts == [
        "parking: catalogue says 交通警察大队, rule parking routes 250 weekday-daytime case(s) to 城市管理和综合执法局"
    ]
