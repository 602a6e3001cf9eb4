"""Escalation community → street → district under the shipped policy, on the shipped
holiday reference: working periods 09:00–12:00 and 14:00–18:00; the community has 8
working hours to accept (parking 2), the street 14 (fire safety 2); labour, property and
fire safety start at the street. Waits are counted by hand in each test."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest

from civiclake.dispatch.escalation import (
    CASE_COLUMNS,
    DEFAULT_POLICY_FILE,
    ORDER_INPUT_COLUMNS,
    EscalationPolicyError,
    escalations,
    load_policy,
)
from civiclake.dispatch.orders import ORDER_COLUMNS, order_id

STREET, COMMUNITY = "440309006", "440309006001"  # 观澜街道, 观澜社区


def end_of(day: str) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), time()) + timedelta(days=1, microseconds=-1)


def case(case_id, category="environment", dispatched_at=None, accepted_at=None, status="dispatched"):
    return {
        "case_id": case_id,
        "category": category,
        "street_code": STREET,
        "community_code": COMMUNITY,
        "status": status,
        "dispatched_at": pd.Timestamp(dispatched_at) if dispatched_at else pd.NaT,
        "accepted_at": pd.Timestamp(accepted_at) if accepted_at else pd.NaT,
    }


def order(oid, case_id, level, issued_at, accepted_at=None, kind="dispatch", status="issued"):
    return {
        "order_id": oid,
        "case_id": case_id,
        "kind": kind,
        "level": level,
        "issued_at": pd.Timestamp(issued_at),
        "accepted_at": pd.Timestamp(accepted_at) if accepted_at else pd.NaT,
        "status": status,
    }


def run(cases, orders, day):
    orders_frame = pd.DataFrame(
        orders, columns=["order_id", "case_id", "kind", "level", "issued_at", "accepted_at", "status"]
    )
    return escalations(pd.DataFrame(cases), orders_frame, end_of(day))


def test_history_case_without_orders_waits_from_its_dispatch():
    """Parking, dispatched Monday 23 November 17:00, never accepted: Monday's end, 1 working
    hour (< 2); Tuesday's end, 1 + 7 = 8: up to the street office."""
    cases = [case("P", "parking", dispatched_at="2026-11-23 17:00")]
    assert run(cases, [], "2026-11-23").empty
    (row,) = run(cases, [], "2026-11-24").to_dict("records")
    assert row["level"] == "street"
    assert row["department"] == "观澜街道办事处"
    assert row["kind"] == "escalation" and row["status"] == "issued" and row["team"] is None
    assert row["previous_order_id"] is None
    assert row["issued_at"] == pd.Timestamp(end_of("2026-11-24"))
    assert "community.by_category.parking = 2 working hours" in row["reason"]
    assert "8.0 working hours at community since 2026-11-23 17:00" in row["reason"]
    expected_id = order_id("P", "escalation", "street", "观澜街道办事处", "dispatched 2026-11-23T17:00:00")
    assert row["order_id"] == expected_id


def test_the_adjusted_working_saturday_counts_and_an_ordinary_weekend_does_not():
    """Both issued a Friday 17:00 at the community (8 h). Friday 9 October: 1 h that day and
    7 on the worked Saturday 10 October, escalated at Saturday's end. Friday 27 November:
    still 1 h at Sunday's end."""
    cases = [case("S", dispatched_at="2026-10-09 16:00"), case("W", dispatched_at="2026-11-27 16:00")]
    orders = [
        order("O-S", "S", "community", "2026-10-09 17:00"),
        order("O-W", "W", "community", "2026-11-27 17:00"),
    ]
    assert run(cases, orders, "2026-10-09").empty
    saturday = run(cases, orders, "2026-10-10")
    assert saturday["case_id"].tolist() == ["S"]
    assert "community.accept_within = 8 working hours: not accepted after 8.0" in saturday.loc[0, "reason"]
    assert saturday.loc[0, "previous_order_id"] == "O-S"
    assert "W" not in run(cases, orders, "2026-11-29")["case_id"].tolist()
    assert "W" in run(cases, orders, "2026-11-30")["case_id"].tolist()  # + Monday's 7


def test_national_day_does_not_count_at_the_street():
    """At the street (14 h) since Wednesday 30 September 09:00: 7 h that day, none during
    1–7 October, 7 more on Thursday 8 October: to the district command centre then."""
    cases = [case("N", dispatched_at="2026-09-29 10:00")]
    orders = [
        order("O-N1", "N", "community", "2026-09-29 10:00", status="superseded"),
        order("O-N2", "N", "street", "2026-09-30 09:00", kind="escalation"),
    ]
    assert run(cases, orders, "2026-10-07").empty
    (row,) = run(cases, orders, "2026-10-08").to_dict("records")
    assert (row["level"], row["department"], row["previous_order_id"]) == (
        "district",
        "龙华区指挥中心",
        "O-N2",
    )
    assert "street.accept_within = 14 working hours: not accepted after 14.0" in row["reason"]


def test_a_category_beyond_the_community_goes_straight_to_the_street():
    """A labour case's order at the community goes up at once, whatever the wait; a labour
    case without orders already stands at the street."""
    cases = [
        case("L", "labour", dispatched_at="2026-11-23 10:00"),
        case("H", "labour", dispatched_at="2026-11-23 10:00"),
    ]
    orders = [order("O-L", "L", "community", "2026-11-23 10:00")]
    (row,) = run(cases, orders, "2026-11-23").to_dict("records")
    assert row["case_id"] == "L" and row["level"] == "street"
    assert row["reason"].startswith("beyond_community.labour: 劳动纠纷")
    # H waits at the street: 6 h on Monday, 13 by Tuesday's end, 14 by Wednesday 10:00.
    assert run(
        cases, [*orders, order("O-L2", "L", "street", "2026-11-23 23:00", "2026-11-24 09:00")], "2026-11-24"
    ).empty
    assert run(cases, orders, "2026-11-25").loc[lambda f: f.case_id == "H", "level"].tolist() == ["district"]


def test_fire_safety_has_two_hours_at_the_street():
    cases = [case("F", "fire_safety", dispatched_at="2026-11-23 15:00")]
    orders = [order("O-F", "F", "street", "2026-11-23 15:00")]
    (row,) = run(cases, orders, "2026-11-23").to_dict("records")
    assert row["level"] == "district" and "street.by_category.fire_safety = 2" in row["reason"]


def test_answered_top_closed_and_undispatched_cases_stay():
    cases = [
        case("A", dispatched_at="2026-11-20 09:00"),  # order accepted
        case(
            "B", dispatched_at="2026-11-20 09:00", accepted_at="2026-11-20 11:00"
        ),  # accepted in the case system
        case("C", dispatched_at="2026-11-20 09:00", status="closed"),
        case("D", dispatched_at="2026-11-20 09:00"),  # at the district: the top
        case("E"),  # never dispatched
        case("G", dispatched_at="2026-11-20 09:00"),  # accepted only after the instant checked
    ]
    orders = [
        order("O-A", "A", "community", "2026-11-20 09:00", accepted_at="2026-11-20 10:00", status="accepted"),
        order("O-B", "B", "community", "2026-11-20 09:00"),
        order("O-C", "C", "community", "2026-11-20 09:00"),
        order("O-D", "D", "district", "2026-11-20 09:00", kind="escalation"),
        order("O-G", "G", "community", "2026-11-20 09:00", accepted_at="2026-11-30 09:00"),
    ]
    assert run(cases, orders, "2026-11-24")["case_id"].tolist() == ["G"]


def test_an_acceptance_before_the_current_order_does_not_answer_it():
    """Accepted by the first department, then transferred: the transfer waits for its own answer."""
    cases = [case("T", dispatched_at="2026-11-23 09:00", accepted_at="2026-11-23 09:30")]
    orders = [
        order("O-T1", "T", "community", "2026-11-23 09:00", "2026-11-23 09:30", status="superseded"),
        order("O-T2", "T", "community", "2026-11-23 10:00", kind="transfer"),
    ]
    # Monday 10–12 and 14–18, Tuesday 7: 13 working hours on the transfer.
    (row,) = run(cases, orders, "2026-11-24").to_dict("records")
    assert row["previous_order_id"] == "O-T2" and "13.0 working hours" in row["reason"]


def test_the_same_escalation_checked_again_is_the_same_order():
    """Checked on Tuesday and again on Wednesday before the escalation reached the lake: one
    order id (the outbox delivers it once). Once the lake shows it, the case waits at the
    street from its issue, and a later escalation follows it."""
    cases = [case("R", dispatched_at="2026-11-23 09:00")]
    orders = [order("O-R", "R", "community", "2026-11-23 09:00")]
    tuesday, wednesday = run(cases, orders, "2026-11-24"), run(cases, orders, "2026-11-25")
    assert tuesday["order_id"].tolist() == wednesday["order_id"].tolist()
    assert tuesday.loc[0, "issued_at"] != wednesday.loc[0, "issued_at"]
    escalated = order(tuesday.loc[0, "order_id"], "R", "street", end_of("2026-11-24"), kind="escalation")
    assert run(cases, [*orders, escalated], "2026-11-25").empty  # 7 of the street's 14 hours
    (up,) = run(cases, [*orders, escalated], "2026-11-26").to_dict("records")
    assert (up["level"], up["previous_order_id"]) == ("district", escalated["order_id"])


def test_zone_aware_lake_times_read_as_wall_clock():
    """The lake keeps 17:00 wall clock as 17:00 UTC; read back, it is 17:00 again."""
    naive = [case("P", "parking", dispatched_at="2026-11-23 17:00")]
    aware = pd.DataFrame(naive).assign(
        dispatched_at=lambda f: f.dispatched_at.dt.tz_localize("UTC"),
        accepted_at=lambda f: f.accepted_at.dt.tz_localize("UTC"),
    )
    empty = pd.DataFrame(
        columns=["order_id", "case_id", "kind", "level", "issued_at", "accepted_at", "status"]
    )
    assert run(naive, [], "2026-11-23").empty
    assert escalations(aware, empty, end_of("2026-11-23")).empty
    assert (
        escalations(aware, empty, end_of("2026-11-24"))["order_id"].tolist()
        == run(naive, [], "2026-11-24")["order_id"].tolist()
    )


def test_orders_have_the_columns_of_dispatch_orders():
    frame = run([case("P", "parking", dispatched_at="2026-11-23 17:00")], [], "2026-11-24")
    assert tuple(frame.columns) == ORDER_COLUMNS
    nothing = escalations(
        pd.DataFrame(columns=list(CASE_COLUMNS)),
        pd.DataFrame(columns=list(ORDER_INPUT_COLUMNS)),
        end_of("2026-11-24"),
    )
    assert nothing.empty and tuple(nothing.columns) == ORDER_COLUMNS


def test_an_unknown_street_is_named():
    bad = case("X", dispatched_at="2026-11-20 09:00") | {"street_code": "999"}
    with pytest.raises(ValueError, match="street_code '999'"):
        run([bad], [], "2026-11-24")


def test_the_shipped_policy_is_valid():
    policy = load_policy()
    assert policy.source == str(DEFAULT_POLICY_FILE)
    assert policy.calendar.hours_per_day == 7
    assert set(policy.beyond_community) == {"fire_safety", "labour", "property"}
    assert policy.accept_within("community", "noise") == (8, "community.accept_within")


GOOD = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("parking: 2", "parkng: 2"), r"levels\.0\.by_category: .*unknown category 'parkng'"),
        (("- level: street", "- level: city"), r"levels must be \['community', 'street', 'district'\]"),
        (('"{street_name}办事处"', '"{street}办事处"'), r"levels\.1\.department: .*names \['street'\]"),
        (
            ('["09:00-12:00", "14:00-18:00"]', '["09:00-12:00", "11:00-18:00"]'),
            r"working_hours: .*starts before",
        ),
        (('["09:00-12:00", "14:00-18:00"]', '["9h-12h"]'), r"working_hours\.0: '9h-12h' is not a period"),
        (("accept_within: 14", "accept_within: 0"), r"levels\.1\.accept_within: .*greater than 0"),
        (("  labour:", "  labor:"), r"beyond_community: .*unknown category 'labor'"),
        (
            ('    department: "{district_name}指挥中心"', "    accept_within: 4"),
            r"levels\.2\.accept_within: the top",
        ),
        (
            ("      manhole: 2", "      manhole: 2\n      labour: 4"),
            r"levels\.0\.by_category\.labour: .*beyond_community",
        ),
        (("version: 1", "versoin: 1"), r"version: Field required"),
    ],
)
def test_a_bad_policy_names_file_and_key(tmp_path: Path, change, message):
    old, new = change
    assert old in GOOD
    path = tmp_path / "escalation.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(EscalationPolicyError, match=message) as caught:
        load_policy(path)
    assert str(caught.value).startswith(str(path))


def test_a_missing_or_broken_file_is_named(tmp_path: Path):
    with pytest.raises(EscalationPolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("levels: [\n", encoding="utf-8")
    with pytest.raises(EscalationPolicyError, match="not valid YAML"):
        load_policy(tmp_path / "bad.yaml")


def test_the_marts_count_the_working_hours_the_check_counts():
    """int_case_level_stays lists the policy's working periods; the two must not drift."""
    import ast
    import re

    sql = (
        DEFAULT_POLICY_FILE.parents[3] / "dbt/models/intermediate/command/int_case_level_stays.sql"
    ).read_text(encoding="utf-8")
    (listed,) = re.findall(r"set working_periods = (\[.*?\])", sql)
    periods = tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in ast.literal_eval(listed))
    assert periods == load_policy().calendar.periods
