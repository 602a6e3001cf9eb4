"""The party-building, people-services, resources and manhole marts on the duckdb target,
from a small lake of governance cases plus every other family's silver tables written
with delta-rs (bench/bench_marts_families.py; no Spark, no PostgreSQL).

Expected numbers are worked out here in Python from the same rows the lake holds,
independently of the SQL under test. The registries change on FIRST + 5 days (SCD2), so
a day before and a day after see different versions.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from bench.bench_marts_families import CARE_FLAGS, REGISTRY_CHANGE_AFTER_DAYS, family_rows
from bench.bench_marts_lake import plans, write_lake
from civiclake import marts
from civiclake.contracts.catalog import silver_schema
from civiclake.geography import CURRENT_VERSION, REFERENCE_DIR, load_geography
from civiclake.operations.start import start_operation
from civiclake.settings import Settings
from tests.unit.test_care_suppression_attack import COUNTS, COVERAGE, flag_of, recovered, suppressed_cells

pytestmark = pytest.mark.integration

FIRST = date(2026, 9, 26)
LAST = date(2026, 10, 12)
CASES_PER_DAY = 10
BEFORE_CHANGE = FIRST + timedelta(days=REGISTRY_CHANGE_AFTER_DAYS - 1)
TYPE_COLUMNS = {
    "elderly_living_alone": "elderly_alone",
    "has_disabled_member": "disabled",
    "child_in_difficulty": "child_in_difficulty",
    "low_income": "low_income",
}


@pytest.fixture(scope="session")
def families_lake(tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("families-lake")
    case_plans = plans(Settings(sim_cases_per_day=CASES_PER_DAY), FIRST, LAST)
    assert min(p.reported_at.date() for p in case_plans) == FIRST
    write_lake(str(lake), case_plans, LAST, families=True)
    # One joint operation, its orders in the outbox and not yet answered, so that the
    # operations marts have rows on both dbt targets (test_marts_targets).
    (street,) = [code for code, area in load_geography().streets.items() if area.name == "民治街道"]
    start_operation(
        Settings(lake_path=str(lake)),
        "street_vending_crackdown",
        street,
        started_at=datetime.combine(LAST, time(9)),
        started_by="manual",
        start_key="families-lake",
        deliver=False,
    )
    return lake


@pytest.fixture(scope="session")
def families_marts(tmp_path_factory, families_lake) -> Settings:
    """The marts built (dbt build: models, unit and data tests) and published as of LAST."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("families-marts"),
        lake_path=str(families_lake),
        sim_cases_per_day=CASES_PER_DAY,
    )
    marts.build(settings, as_of=LAST)
    return settings


@pytest.fixture(scope="session")
def rows() -> dict[str, list[dict]]:
    """The rows the lake holds, as bench_marts_families wrote them."""
    return family_rows(FIRST, LAST)


def _query(settings: Settings, sql: str, params=()) -> list[dict]:
    with duckdb.connect(str(settings.published_marts_file), read_only=True) as con:
        cursor = con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _by_area(settings: Settings, table: str, day: date) -> dict[tuple[str, str], dict]:
    return {
        (r["level"], r["area_code"]): r
        for r in _query(settings, f"select * from {table} where report_date = ?", [day])
    }


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time()) + timedelta(days=1) - timedelta(microseconds=1)


def _valid_on(version: dict, day: date) -> bool:
    return version["valid_from"] <= day and (version["valid_to"] is None or day < version["valid_to"])


def _percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (quantile_cont / Spark percentile)."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_absent_tables_are_created_empty_with_their_schema(tmp_path, caplog):
    settings = Settings(data_dir=tmp_path, lake_path=str(tmp_path / "lake"))
    with caplog.at_level("INFO", logger="civiclake.marts"):
        created = marts.create_absent_silver_tables(settings)
    assert created == list(marts.OPTIONAL_SILVER_TABLES)
    assert "silver.services_coupons is absent (source family services not loaded yet)" in caplog.text
    table = DeltaTable(settings.table_path("silver", "city_repairs"))
    assert table.to_pyarrow_table().num_rows == 0
    assert pa.schema(table.schema().to_arrow()).equals(silver_schema("city_repairs"))
    assert marts.create_absent_silver_tables(settings) == []


def test_coupon_redemption_rate_of_a_community(families_marts, rows):
    by_community = Counter(c["community_code"] for c in rows["services_coupons"])
    community = by_community.most_common(1)[0][0]
    coupons = [c for c in rows["services_coupons"] if c["community_code"] == community]
    issued = [c for c in coupons if c["issued_at"].date() <= LAST]
    redeemed = [c for c in issued if c["redeemed_at"] is not None and c["redeemed_at"].date() <= LAST]
    row = _by_area(families_marts, "mart_people_services_daily", LAST)[("community", community)]
    assert row["coupons_issued_to_date"] == len(issued) > 0
    assert row["coupons_redeemed_to_date"] == len(redeemed) > 0
    assert row["coupon_redemption_rate"] == pytest.approx(len(redeemed) / len(issued))
    assert row["coupons_issued"] == sum(1 for c in coupons if c["issued_at"].date() == LAST)
    assert row["coupons_redeemed"] == sum(
        1 for c in coupons if c["redeemed_at"] is not None and c["redeemed_at"].date() == LAST
    )
    assert row["coupon_value_redeemed"] == pytest.approx(
        sum(
            c["face_value"]
            for c in coupons
            if c["redeemed_at"] is not None and c["redeemed_at"].date() == LAST
        )
    )


@pytest.mark.parametrize("day", [BEFORE_CHANGE, LAST])
def test_household_counts_by_type_are_published_or_suppressed(families_marts, rows, day):
    """A count of 1 to 4 is suppressed (null, flagged); any other count is its number unless
    complementary suppression hid it too (the recovery attack below checks that what is
    hidden stays hidden)."""
    geography = load_geography()
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for version in rows["resources_households"]:
        if not _valid_on(version, day):
            continue
        community = version["community_code"]
        for area in (
            ("community", community),
            ("street", geography.street_of(community)),
            ("district", "440309"),
        ):
            for flag, kind in TYPE_COLUMNS.items():
                counts[area][kind] += version[flag]
    mart = _by_area(families_marts, "mart_people_services_daily", day)
    primary = secondary = shown = 0
    for area, counter in counts.items():
        for kind in TYPE_COLUMNS.values():
            n, row = counter[kind], mart[area]
            if 1 <= n <= 4:
                assert row[f"{kind}_suppressed"] and row[f"{kind}_households"] is None, (area, kind)
                primary += 1
            elif row[f"{kind}_suppressed"]:
                assert row[f"{kind}_households"] is None, (area, kind)
                secondary += 1
            else:
                assert row[f"{kind}_households"] == n, (area, kind)
                shown += n >= 5
    assert primary > 0 and secondary > 0 and shown > 0


@pytest.mark.parametrize("day", [BEFORE_CHANGE, LAST])
def test_care_visit_coverage_and_overdue_on_a_day(families_marts, rows, day):
    """Care households, those visited in the 30 days ending on the day and those overdue,
    each its number or suppressed (never a count of 1 to 4); the coverage rate where both
    its counts are published."""
    geography = load_geography()
    visit_days = defaultdict(set)
    for visit in rows["services_care_visits"]:
        visit_days[visit["household_id_token"]].add(visit["visited_at"].date())
    care, visited = Counter(), Counter()
    for version in rows["resources_households"]:
        if not _valid_on(version, day) or not any(version[f] for f in CARE_FLAGS):
            continue
        recent = any(day - timedelta(days=29) <= d <= day for d in visit_days[version["head_id_token"]])
        community = version["community_code"]
        for area in (
            ("community", community),
            ("street", geography.street_of(community)),
            ("district", "440309"),
        ):
            care[area] += 1
            visited[area] += recent
    mart = _by_area(families_marts, "mart_people_services_daily", day)
    published = 0
    for area in care:
        row = mart[area]
        expected = {
            "care_households": care[area],
            "care_households_visited_30d": visited[area],
            "care_visits_overdue": care[area] - visited[area],
        }
        for column, n in expected.items():
            assert row[column] == (None if row[f"{column}_suppressed"] else n), (area, column)
            assert row[f"{column}_suppressed"] or not 1 <= n <= 4, (area, column)
        if row["care_households_suppressed"] or row["care_households_visited_30d_suppressed"]:
            assert row["care_visit_coverage_30d"] is None, area
        else:
            assert row["care_visit_coverage_30d"] == pytest.approx(visited[area] / care[area])
            published += 1
    district = mart[("district", "440309")]
    assert 0 < district["care_households_visited_30d"] < district["care_households"]
    assert published > 7  # the district, its six streets and some communities


def _published_care_counts(settings: Settings) -> list[dict]:
    """mart_people_services_daily as a viewer reads it: the counts of households receiving
    care (numbers or nulls), their flags and the coverage rate, with the areas' places."""
    columns = ["report_date", "level", "area_code", "parent_code", *COUNTS, COVERAGE, *map(flag_of, COUNTS)]
    return _query(settings, f"select {', '.join(columns)} from mart_people_services_daily")


def test_no_count_of_one_to_four_care_households_is_published(families_marts):
    published = _published_care_counts(families_marts)
    small = [
        (r["report_date"], r["area_code"], c) for r in published for c in COUNTS if 1 <= (r[c] or 0) <= 4
    ]
    assert small == []
    for row in published:
        for column in COUNTS:
            assert row[flag_of(column)] is (row[column] is None), (
                row["report_date"],
                row["area_code"],
                column,
            )


def test_no_suppressed_care_count_can_be_recovered_from_the_published_mart(families_marts):
    """The recovery attack (tests/unit/test_care_suppression_attack.py) on every day of the
    mart: communities of 0 to 12 households receiving care leave many counts below 5."""
    published = _published_care_counts(families_marts)
    assert suppressed_cells(published) > 1000
    assert recovered(published) == []


def test_the_brief_publishes_the_overdue_count_only_where_the_mart_does(families_marts):
    differing = _query(
        families_marts,
        "select brief.report_date, brief.level, brief.area_code "
        "from mart_leader_brief_daily as brief "
        "inner join mart_people_services_daily as services using (report_date, level, area_code) "
        "where brief.care_visits_overdue is distinct from services.care_visits_overdue "
        "or (services.care_visits_overdue_suppressed and brief.care_visits_overdue_change_1d is not null)",
    )
    (suppressed,) = _query(
        families_marts,
        "select count(*) as n from mart_leader_brief_daily as brief "
        "inner join mart_people_services_daily as services using (report_date, level, area_code) "
        "where services.care_visits_overdue_suppressed",
    )
    assert differing == [] and suppressed["n"] > 0


def test_manhole_unknown_owner_share_and_time_to_make_safe(families_marts, rows):
    owners = {c["asset_id"]: c["owner_department"] for c in rows["city_manhole_covers"]}
    reported = [c for c in rows["city_cases"] if c["reported_at"].date() == LAST]
    unknown = [c for c in reported if owners.get(c["asset_id"]) is None]
    open_cases = [c for c in rows["city_cases"] if c["closed_at"] is None or c["closed_at"].date() > LAST]
    cases = {c["case_id"]: c for c in rows["city_cases"]}
    hours = [
        (r["made_safe_at"] - cases[r["case_id"]]["reported_at"]).total_seconds() / 3600
        for r in rows["city_repairs"]
        if r["made_safe_at"].date() == LAST
    ]
    row = _by_area(families_marts, "mart_manhole_covers_daily", LAST)[("district", "440309")]
    assert row["cases_reported"] == len(reported) > 0
    assert row["cases_reported_unknown_owner"] == len(unknown) > 0
    assert row["unknown_owner_share"] == pytest.approx(len(unknown) / len(reported))
    assert row["cases_open"] == len(open_cases)
    assert row["cases_open_unknown_owner"] == sum(1 for c in open_cases if owners.get(c["asset_id"]) is None)
    assert row["covers_made_safe"] == len(hours) > 2
    assert row["median_hours_to_make_safe"] == pytest.approx(_percentile(hours, 0.5))
    assert row["p90_hours_to_make_safe"] == pytest.approx(_percentile(hours, 0.9))


def test_repair_costs_by_owner_and_settlement_status(families_marts, rows):
    owners = {c["asset_id"]: c["owner_department"] for c in rows["city_manhole_covers"]}
    day = LAST - timedelta(days=3)
    expected: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0.0])
    for repair in rows["city_repairs"]:
        if repair["made_safe_at"].date() > day:
            continue
        settled = repair["settled_at"] is not None and repair["settled_at"].date() <= day
        key = (
            owners.get(repair["asset_id"]) or "unknown",
            repair["settlement_status"] if settled else "pending",
        )
        expected[key][0] += 1
        expected[key][1] += float(repair["cost_yuan"])
    mart = _query(
        families_marts,
        "select owner_department, settlement_status, repairs, cost_yuan from mart_manhole_repair_costs "
        "where report_date = ? and level = 'district'",
        [day],
    )
    actual = {(r["owner_department"], r["settlement_status"]): [r["repairs"], r["cost_yuan"]] for r in mart}
    assert actual.keys() == expected.keys()
    for key, (count, cost) in expected.items():
        assert actual[key][0] == count, key
        assert actual[key][1] == pytest.approx(cost, abs=0.01), key
    assert {"borne_by_street", "settled", "pending"} <= {k[1] for k in expected}


def test_party_attendance_and_volunteer_hours(families_marts, rows):
    day = max(
        {a["held_at"].date() for a in rows["party_activities"]},
        key=lambda d: sum(1 for a in rows["party_activities"] if a["held_at"].date() == d),
    )
    held = [a for a in rows["party_activities"] if a["held_at"].date() == day]
    attendees = {(s["activity_id"], s["member_id"]) for s in rows["party_attendance"]}
    held_ids = {a["activity_id"] for a in held}
    present = sum(1 for activity, _ in attendees if activity in held_ids)
    planned = sum(a["planned_attendance"] for a in held)
    services = [v for v in rows["party_volunteer_services"] if v["started_at"].date() == day]
    governance = [v for v in services if v["is_party_member"] and v["service_type"] == "community_governance"]
    row = _by_area(families_marts, "mart_party_building_daily", day)[("district", "440309")]
    assert (row["activities_held"], row["planned_attendance"], row["attendees"]) == (
        len(held),
        planned,
        present,
    )
    assert row["attendance_rate"] == pytest.approx(present / planned)
    assert row["volunteer_hours"] == pytest.approx(sum(v["hours"] for v in services))
    assert row["party_member_volunteer_hours"] == pytest.approx(
        sum(v["hours"] for v in services if v["is_party_member"])
    )
    assert row["party_member_governance_services"] == len(governance)
    revoked = [o for o in rows["party_organisations"] if o["is_deleted"]]
    assert revoked, "the lake revokes some organisations on the registry change day"
    change = FIRST + timedelta(days=REGISTRY_CHANGE_AFTER_DAYS)
    before = _by_area(families_marts, "mart_party_building_daily", change - timedelta(days=1))
    after = _by_area(families_marts, "mart_party_building_daily", change)
    assert before[("district", "440309")]["organisations"] == len(rows["party_organisations"])
    assert after[("district", "440309")]["organisations"] == len(rows["party_organisations"]) - len(revoked)
    assert after[("district", "440309")]["members"] == sum(
        1 for m in rows["party_members"] if m["joined_on"] <= change
    )


@pytest.mark.parametrize("day", [BEFORE_CHANGE, LAST])
def test_resources_by_status_from_the_version_valid_that_day(families_marts, rows, day):
    expected = Counter()
    for kind, table, type_column in (
        ("camera", "resources_cameras", "camera_type"),
        ("vehicle", "resources_vehicles", "vehicle_type"),
        ("team", "resources_teams", "team_type"),
    ):
        for version in rows[table]:
            if _valid_on(version, day):
                expected[(kind, version[type_column], version.get("status") or "registered")] += 1
    mart = _query(
        families_marts,
        "select resource_kind, resource_type, status, resources from mart_resources_daily "
        "where report_date = ? and level = 'district'",
        [day],
    )
    assert {(r["resource_kind"], r["resource_type"], r["status"]): r["resources"] for r in mart} == expected


def test_resource_map_places_each_resource_where_it_belongs(families_marts, rows):
    """Cameras at their registered positions; vehicles and street teams at their street's
    centre (mean of its communities' centres), community teams at their community's
    centre; one point per kind, type, status and place, counts as registered on LAST."""
    geography = load_geography()
    # the centres the lake's ref_communities carries: the reference file's, 6 decimals
    with (REFERENCE_DIR / CURRENT_VERSION / "communities.csv").open(encoding="utf-8") as f:
        centres = {
            r["community_code"]: (float(r["centroid_lon"]), float(r["centroid_lat"]))
            for r in csv.DictReader(f)
        }

    def centre(codes: list[str]) -> tuple[float, float]:
        points = [centres[c] for c in codes]
        return (
            round(sum(lon for lon, _ in points) / len(points), 6),
            round(sum(lat for _, lat in points) / len(points), 6),
        )

    street_centre = {
        street: centre([c for c in geography.communities if geography.street_of(c) == street])
        for street in geography.streets
    }
    expected: Counter = Counter()
    for version in rows["resources_cameras"]:
        if _valid_on(version, LAST):
            community = version["community_code"]
            place = (geography.street_of(community), community, version["lon"], version["lat"])
            expected[("camera", version["camera_type"], version["status"], *place)] += 1
    for version in rows["resources_vehicles"]:
        if _valid_on(version, LAST):
            street = version["street_code"]
            place = (street, None, *street_centre[street])
            expected[("vehicle", version["vehicle_type"], version["status"], *place)] += 1
    for version in rows["resources_teams"]:
        if _valid_on(version, LAST):
            community = version["community_code"]
            spot = centre([community]) if community else street_centre[version["street_code"]]
            place = (version["street_code"], community, *spot)
            expected[("team", version["team_type"], "registered", *place)] += 1
    mart = _query(
        families_marts,
        "select resource_kind, resource_type, status, street_code, community_code, lon, lat, resources, "
        "report_date from mart_resource_map",
    )
    assert {r["report_date"] for r in mart} == {LAST}
    got = Counter()
    for r in mart:
        key = (r["resource_kind"], r["resource_type"], r["status"], r["street_code"], r["community_code"])
        got[(*key, round(r["lon"], 6), round(r["lat"], 6))] += r["resources"]
    assert len(got) == len(mart) == len(expected) > 100
    assert got == expected
    # and the map's totals are the registry's on that day
    district = _query(
        families_marts,
        "select resource_kind, sum(resources) as n from mart_resources_daily "
        "where report_date = ? and level = 'district' group by 1",
        [LAST],
    )
    on_map = _query(
        families_marts, "select resource_kind, sum(resources) as n from mart_resource_map group by 1"
    )
    assert {r["resource_kind"]: r["n"] for r in on_map} == {r["resource_kind"]: r["n"] for r in district}


def test_levels_reconcile(families_marts):
    """District = Σ streets = Σ communities for additive measures; for resources, district
    = Σ streets, and a street's cameras = Σ its communities' (vehicles and street teams
    belong to no community). Counts of households receiving care have suppressed (null)
    cells: dbt/tests/assert_family_levels_reconcile.sql reconciles them before suppression
    and wherever published."""
    additive = {
        "mart_party_building_daily": ("members", "attendees", "volunteer_hours"),
        "mart_people_services_daily": ("care_visits", "coupons_issued_to_date", "service_requests_open"),
        "mart_manhole_covers_daily": ("cases_open", "covers_made_safe", "covers_unknown_owner"),
    }
    for table, columns in additive.items():
        totals = _query(
            families_marts,
            f"select level, {', '.join(f'sum({c}) as {c}' for c in columns)} from {table} "
            "where report_date = ? group by level",
            [LAST],
        )
        by_level = {r.pop("level"): r for r in totals}
        for column in columns:
            district = by_level["district"][column]
            assert district > 0, (table, column)
            assert by_level["street"][column] == pytest.approx(district), (table, column)
            assert by_level["community"][column] == pytest.approx(district), (table, column)
    resources = _query(
        families_marts,
        "select level, resource_kind, sum(resources) as n from mart_resources_daily "
        "where report_date = ? group by 1, 2",
        [LAST],
    )
    n = {(r["level"], r["resource_kind"]): r["n"] for r in resources}
    for kind in ("camera", "vehicle", "team"):
        assert n[("street", kind)] == n[("district", kind)] > 0
    assert n[("community", "camera")] == n[("district", "camera")]
    assert ("community", "vehicle") not in n


def test_every_level_and_the_security_columns(families_marts):
    for table in ("mart_party_building_daily", "mart_people_services_daily", "mart_manhole_covers_daily"):
        levels = _query(
            families_marts,
            f"select level, count(*) as n, count(street_code) as streets, count(community_code) as communities "
            f"from {table} where report_date = ? group by 1 order by 1",
            [LAST],
        )
        assert [(r["level"], r["n"], r["streets"], r["communities"]) for r in levels] == [
            ("community", 50, 50, 50),
            ("district", 1, 0, 0),
            ("street", 6, 6, 0),
        ], table


def test_leader_brief_carries_the_family_headlines(families_marts):
    brief = _query(
        families_marts,
        "select report_date, care_visits_overdue, care_visits_overdue_change_1d, coupon_redemption_rate, "
        "volunteer_hours_change_7d, manhole_cases_open_unknown_owner from mart_leader_brief_daily "
        "where level = 'district' and report_date in (?, ?, ?) order by report_date",
        [LAST - timedelta(days=7), LAST - timedelta(days=1), LAST],
    )
    services = {
        r["report_date"]: r
        for r in _query(
            families_marts,
            "select report_date, care_visits_overdue, coupon_redemption_rate from mart_people_services_daily "
            "where level = 'district'",
        )
    }
    party = {
        r["report_date"]: r["volunteer_hours"]
        for r in _query(
            families_marts,
            "select report_date, volunteer_hours from mart_party_building_daily where level = 'district'",
        )
    }
    week_before, day_before, today = brief
    assert today["care_visits_overdue"] == services[LAST]["care_visits_overdue"]
    assert today["care_visits_overdue_change_1d"] == (
        services[LAST]["care_visits_overdue"] - services[LAST - timedelta(days=1)]["care_visits_overdue"]
    )
    assert today["coupon_redemption_rate"] == pytest.approx(services[LAST]["coupon_redemption_rate"])
    assert today["volunteer_hours_change_7d"] == pytest.approx(party[LAST] - party[LAST - timedelta(days=7)])
    assert today["manhole_cases_open_unknown_owner"] > 0
    assert week_before["report_date"] == LAST - timedelta(days=7) and day_before
