"""End to end: the command screen (1920×1080) and the leader mobile view (390×844).

Every chart on both dashboards has its numbers compared with DuckDB on the marts, and
both dashboards are opened in headless Chromium (the Debian ``chromium`` and
``chromedriver``; nothing downloads a browser): no chart may show an error, every chart
container must have rendered, and the screenshots are kept as PNG files under
``var/screenshots/``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
import requests
import yaml

from civiclake.frames.classes import load_classes
from civiclake.geography import load_geography
from dashboards.boundaries import community_ring, street_ring
from dashboards.importer import ASSETS_DIR, read_secret
from tests.e2e.test_superset_dashboard import chart_rows, dashboard_chart_ids

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = Path(os.environ.get("CIVICLAKE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CIVICLAKE_CHROMEDRIVER", "/usr/bin/chromedriver"))

COMMAND_SCREEN = "0739059c-9461-5695-8c75-4b56267084c4"
LEADER_MOBILE = "f8688cca-88e4-5980-8f82-545e6cea38c6"
# the district map: community polygons by case density under the resource points and
# the newest day's camera events
MAP_CHART = "157ae666-ac3d-5149-ad3b-0334f171f374"
OPERATIONS_CHART = "71890ba6-2131-5ca1-8b3a-760dc50cad78"
WORST_THREE_CHART = "d52074c5-5ba1-5aff-9994-2ae2560a9aaa"

# The newest day of a mart, the day the "today" charts show.
LATEST = "report_date = (select max(report_date) from {mart})"
STREET_NAMES = "(select distinct area_code, area_name from mart_scorecard_daily where level = 'street')"


def _arrow(col: str) -> str:
    chg = f"sum({col}_change_1d)"
    return (
        f"cast(sum({col}) as varchar) || case when {chg} > 0 then ' ▲' when {chg} < 0 then ' ▼' "
        f"else ' ＝' end || cast(abs({chg}) as varchar)"
    )


def _headline(col: str) -> str:
    return f"""select report_date, sum({col}) from mart_leader_brief_daily
                where level = 'community' and {{where}} group by 1"""


def _suppressed(kind: str) -> str:
    """A household count by type as the chart shows it: 1 to 4 stays hidden."""
    return (
        f"case when bool_or({kind}_suppressed) then '不公布' else cast(sum({kind}_households) as varchar) end"
    )


def _zh(col: str, names: dict[str, str]) -> str:
    """The dataset's calculated column giving a code its Chinese name."""
    whens = " ".join(f"when '{k}' then '{v}'" for k, v in names.items())
    return f"case {col} {whens} else {col} end"


RESOURCE_KIND = _zh("resource_kind", {"camera": "摄像头", "vehicle": "车辆", "team": "队伍"})
RESOURCE_STATUS = _zh(
    "status",
    {
        "online": "在线",
        "offline": "离线",
        "maintenance": "维护中",
        "in_service": "在用",
        "standby": "备用",
        "registered": "在册",
    },
)
# The camera events' newest day is the camera cases mart's (it has every day; the hourly
# mart has rows only for hours with events), as in the datasets' is_latest_day.
CAMERA_LATEST = "report_date = (select max(report_date) from mart_camera_cases_daily)"
CAMERA_CLASS = _zh("class_code", {c.code: c.name_zh for c in load_classes().values() if c.event})
# The resource points' legend (the dataset's map_class): cameras, and vehicles and teams
# by the state of their latest position.
MAP_CLASS = """case when resource_kind = 'camera' then '摄像头'
    else (case resource_kind when 'vehicle' then '车辆' else '队伍' end) || '·' ||
         (case position_state when 'fresh' then '实时定位' when 'stale' then '定位过时'
                              when 'none' then '无定位（区域中心）' end) end"""
SETTLEMENT = _zh(
    "settlement_status",
    {"pending": "待结算", "settled": "权属单位结算", "borne_by_street": "街道承担"},
)


# What each chart of the two dashboards must show, as SQL on the marts file; {where} is
# the viewer's row-level-security predicate ("true" for all rows). Columns in the order
# of the chart's colnames. A chart without an entry fails test_every_chart_matches_marts.
EXPECTED_SQL = {
    # big numbers with trend line: one row per day, the headline is the last one
    "3d1cdd55-35a4-5bce-96b9-2752f77e429d": _headline("cases_reported"),
    "aed717c7-f838-5967-92d6-5d90b4194dd9": _headline("closures"),
    "8a3d5463-6ac8-514c-8c06-7c2b6682cd3b": _headline("backlog_open"),
    "3436db3b-d485-5eb6-97e6-053bc1a9a5cf": _headline("overdue_open"),
    # case flow: reported / dispatched / closed per day
    "edb3250b-cd62-509b-bd71-4c0d8843ee94": """
        select report_date, sum(cases_reported), sum(cases_dispatched), sum(closures)
          from mart_case_measures_daily where level = 'community' and {where} group by 1""",
    # SLA breaches by category on the newest day
    "3646e339-dfeb-5a9c-b61a-d761f1487544": f"""
        select category_name, sum(resolve_due), sum(resolved_late), sum(overdue_open),
               sum(resolved_on_time) * 1.0 / nullif(sum(resolve_due), 0)
          from mart_sla_daily
         where level = 'community' and {LATEST.format(mart="mart_sla_daily")} and {{where}}
         group by 1""",
    # categories on the newest day
    "c973ebc3-6a0c-5318-8ea5-0e4fa026fa00": f"""
        select category_name, sum(cases_reported) from mart_case_volume_daily
         where level = 'community' and {LATEST.format(mart="mart_case_volume_daily")} and {{where}}
         group by 1""",
    # map, polygon layer: each community's reports on the newest day (checked with its
    # polygon); point layer: resources by kind at each place, as registered that day
    MAP_CHART: f"""
        select 'cases', community_name, null, null, sum(cases_reported) from (
          select area_name as community_name, community_code, cases_reported
            from mart_case_measures_daily
           where level = 'community' and {LATEST.format(mart="mart_case_measures_daily")}
             and {{where}})
         group by community_code, community_name
        union all
        select 'resources', {MAP_CLASS}, round(lon, 6), round(lat, 6), sum(resources)
          from mart_resource_map where {{where}}
         group by 2, lon, lat, resource_type, status, position_state, street_name, community_name
        union all
        select 'camera_events', {CAMERA_CLASS}, round(lon, 6), round(lat, 6), sum(events)
          from mart_camera_events_hourly where {CAMERA_LATEST} and {{where}}
         group by class_code, lon, lat, community_name, camera_id
        union all
        select 'operations', status_zh, round(lon, 6), round(lat, 6), sum(orders)
          from mart_operations where status in ('running', 'overdue') and {{where}}
         group by status_zh, lon, lat, plan_name, area_name, started_at
        union all
        select 'streets', street_name, null, null, null
          from (select distinct street_code, street_name, null as community_code from mart_resource_map)
         where {{where}}""",
    # joint operations of the newest day: every operation with its orders' states
    OPERATIONS_CHART: """
        select plan_name, area_name, cast(epoch_ms(started_at) as double), started_by_zh, status_zh, orders,
               completed, overdue, escalated
          from mart_operations where {where}""",
    # today's camera events by community and class, with auto dispatch and review
    "ce2761e9-1206-5aba-aaef-5f1237211d72": f"""
        select community_name, {CAMERA_CLASS}, sum(events), sum(auto_dispatch_events), sum(review_events)
          from mart_camera_events_hourly where {CAMERA_LATEST} and {{where}}
         group by 1, 2""",
    # today's camera cases: community rows summed, the camera-first share recomputed
    "8308813e-3c23-5d0a-a383-a51aaaf34684": f"""
        select sum(camera_cases), sum(camera_cases_auto), sum(camera_cases_review), sum(linked_pairs),
               sum(linked_pairs_camera_first) * 1.0 / nullif(sum(linked_pairs), 0)
          from mart_camera_cases_daily
         where level = 'community' and {LATEST.format(mart="mart_camera_cases_daily")} and {{where}}""",
    # composite score by street (the drill-down's first step)
    "cbea1608-4813-5627-b033-c0fb5639b1dd": f"""
        select area_name, avg(score) from mart_scorecard_daily
         where level = 'street' and {LATEST.format(mart="mart_scorecard_daily")} and {{where}}
         group by 1""",
    # composite score by community with its street
    "ed767444-9eab-5f6f-a494-09f9f100fb51": f"""
        select st.area_name, s.area_name, avg(s.score), min(s.rank_in_level), sum(s.cases_reported)
          from mart_scorecard_daily as s left join {STREET_NAMES} as st on st.area_code = s.street_code
         where s.level = 'community' and s.{LATEST.format(mart="mart_scorecard_daily")} and {{where}}
         group by 1, 2""",
    # party building on the newest day: community rows summed, attendance rate recomputed
    "102625d6-15b6-5b7c-b6fd-5deb10cd4714": f"""
        select sum(organisations), sum(members),
               sum(attendees) * 1.0 / nullif(sum(planned_attendance), 0), round(sum(volunteer_hours), 1)
          from mart_party_building_daily
         where level = 'community' and {LATEST.format(mart="mart_party_building_daily")} and {{where}}""",
    # people services: 30-day care-visit coverage, overdue visits, coupon redemption rate
    "3b93ec74-c8ba-5b12-8995-af3cb4bccd89": f"""
        select sum(care_households_visited_30d) * 1.0 / nullif(sum(care_households), 0),
               sum(care_visits_overdue),
               sum(coupons_redeemed_to_date) * 1.0 / nullif(sum(coupons_issued_to_date), 0)
          from mart_people_services_daily
         where level = 'community' and {LATEST.format(mart="mart_people_services_daily")} and {{where}}""",
    # households receiving care by type, per street; suppressed counts stay hidden
    "2a7b9763-9611-536f-8ecd-e07e013801a9": f"""
        select area_name, {_suppressed("elderly_alone")}, {_suppressed("disabled")},
               {_suppressed("child_in_difficulty")}, {_suppressed("low_income")}
          from mart_people_services_daily
         where level = 'street' and {LATEST.format(mart="mart_people_services_daily")} and {{where}}
         group by 1""",
    # resources by kind and status: street rows (vehicles and street teams have no community)
    "e78e20be-80f0-560f-affe-e6cc97bd38bb": f"""
        select {RESOURCE_KIND}, {RESOURCE_STATUS}, sum(resources) from mart_resources_daily
         where level = 'street' and {LATEST.format(mart="mart_resources_daily")} and {{where}}
         group by 1, 2""",
    # manhole covers per street: open cases with an unknown owner, the street's own median
    "66ec3f51-0dc6-5aec-b66c-ab604318d825": f"""
        select area_name, sum(cases_open_unknown_owner), round(max(median_hours_to_make_safe), 1)
          from mart_manhole_covers_daily
         where level = 'street' and {LATEST.format(mart="mart_manhole_covers_daily")} and {{where}}
         group by 1""",
    # manhole repair costs by settlement status: community rows summed
    "fb508ae8-951a-5a8c-bd62-5922afcdf057": f"""
        select {SETTLEMENT}, sum(repairs), round(sum(cost_yuan), 2) from mart_manhole_repair_costs
         where level = 'community' and {LATEST.format(mart="mart_manhole_repair_costs")} and {{where}}
         group by 1""",
    # the 先修后定 ledger: outstanding amounts and repairs by owner and age, the period's steps
    "56302bcf-3de0-53ce-a4b4-543b4836d060": """
        select owner, age_bucket, round(sum(outstanding_yuan), 2), sum(outstanding_repairs),
               sum(claims_in_period), sum(settlements_in_period), sum(borne_by_street_in_period)
          from mart_manhole_ledger where {where} group by 1, 2""",
    # three-level linkage on the newest day: escalations by where they went, and the share of
    # closed cases with orders that never left the community (both marts side by side)
    "9dae05be-cc8f-5afd-be88-cbecad13066e": f"""
        select sum(escalated_to_street), sum(escalated_to_district), sum(escalated_beyond_competence),
               sum(resolved_at_community) * 1.0 / nullif(sum(closures_with_orders), 0)
          from (select e.*, p.closures_with_orders, p.resolved_at_community
                  from mart_escalations_daily as e
                  left join mart_command_promises_daily as p using (report_date, level, area_code))
         where level = 'community' and {LATEST.format(mart="mart_escalations_daily")} and {{where}}""",
    # cases by channel on the newest day: received, sent to a department, waiting in review, closed
    "a9a6b0b0-c8e0-57cf-9fef-f87b5501e7cd": f"""
        select channel_name, sum(cases_received), sum(cases_dispatched), sum(cases_in_review),
               sum(cases_closed)
          from mart_cases_by_channel_daily
         where level = 'community' and {LATEST.format(mart="mart_cases_by_channel_daily")} and {{where}}
         group by 1""",
    # mobile: the newest day's counts with arrows for the change from the day before
    "b99f0d17-4aa5-5bb9-b646-0e187dcca4fa": f"""
        select {_arrow("cases_reported")}, {_arrow("closures")}, {_arrow("backlog_open")},
               {_arrow("overdue_open")}
          from mart_leader_brief_daily
         where level = 'community' and {LATEST.format(mart="mart_leader_brief_daily")} and {{where}}""",
    # mobile: trend of reports and closures
    "cee76808-497c-5699-8880-6b1488e2a462": """
        select report_date, sum(cases_reported), sum(closures) from mart_leader_brief_daily
         where level = 'community' and {where} group by 1""",
    # mobile: every ranked community of the newest day; the chart shows the three lowest
    WORST_THREE_CHART: f"""
        select s.area_name, st.area_name, avg(s.score)
          from mart_scorecard_daily as s left join {STREET_NAMES} as st on st.area_code = s.street_code
         where s.level = 'community' and s.is_ranked
           and s.{LATEST.format(mart="mart_scorecard_daily")} and {{where}}
         group by 1, 2""",
}
HEADLINES = {
    "3d1cdd55-35a4-5bce-96b9-2752f77e429d",
    "aed717c7-f838-5967-92d6-5d90b4194dd9",
    "8a3d5463-6ac8-514c-8c06-7c2b6682cd3b",
    "3436db3b-d485-5eb6-97e6-053bc1a9a5cf",
}


# --------------------------------------------------------------------------- numbers
def _norm(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 9)
    return value


def expected_rows(marts_path: Path, chart_uuid: str, where: str = "true") -> list[tuple]:
    with duckdb.connect(str(marts_path), read_only=True) as con:
        rows = con.execute(EXPECTED_SQL[chart_uuid].format(where=where)).fetchall()
    return [tuple(_norm(v) for v in row) for row in rows]


def web_session(url: str, username: str, password: str) -> requests.Session:
    """A browser-like session (form login, cookie): Superset's legacy chart endpoint
    takes no API token."""
    session = requests.Session()
    page = session.get(f"{url}/login/", timeout=60).text
    token = re.search(r'id="csrf_token"\s+value="([^"]+)"', page)
    assert token, "no csrf_token on Superset's login page"
    r = session.post(
        f"{url}/login/",
        data={"csrf_token": token.group(1), "username": username, "password": password},
        timeout=60,
    )
    assert r.status_code == 200 and "/login" not in r.url, f"form login as {username!r} failed"
    return session


def map_rows(session: requests.Session, url: str, chart_id: int) -> list[tuple]:
    """The district map's layers through Superset's legacy endpoint (what the dashboard
    calls): (``cases``, community, reports) of the case-density layer, where every polygon
    must be its community's box, (``streets``, street) of the street outlines, each its
    street's box, (``resources``, legend class, lon, lat, count) of the resource
    points, (``camera_events``, class, lon, lat, events) of the camera-event points and
    (``operations``, status, lon, lat, orders) of the live operations. Layers of one type
    share one list of features: a layer's rows are told apart by its tooltip columns
    (community_name for the case density, camera_id, plan_name)."""
    r = session.get(
        f"{url}/superset/explore_json/",
        params={"form_data": json.dumps({"slice_id": chart_id})},
        timeout=120,
    )
    assert r.status_code == 200, r.text[:500]
    payload = r.json()
    assert not payload.get("error"), payload["error"]
    layers = payload["data"]["features"]
    assert set(layers) == {"deck_polygon", "deck_scatter"}, f"map layers: {sorted(layers)}"
    geography = load_geography()
    by_name = {c.name: code for code, c in geography.communities.items()}
    streets = {s.name: code for code, s in geography.streets.items()}
    rows = []
    for feature in layers["deck_polygon"]:
        if "community_name" not in feature:  # the street outlines
            name = feature["street_name"]
            assert feature["polygon"] == street_ring(geography, streets[name]), name
            rows.append(("streets", name, None, None, None))
            continue
        name = feature["community_name"]
        assert feature["polygon"] == community_ring(geography, by_name[name]), name
        rows.append(("cases", name, None, None, _norm(feature["sum_cases_reported"])))
    for point in layers["deck_scatter"]:
        lon, lat = point["position"]
        layer = (
            "camera_events" if "camera_id" in point else "operations" if "plan_name" in point else "resources"
        )
        rows.append((layer, point["cat_color"], _norm(lon), _norm(lat), _norm(point["metric"])))
    return rows


def assert_chart_matches(client, web, marts_path, chart_uuid, chart_id, where="true") -> list[tuple]:
    got = map_rows(web, client.url, chart_id) if chart_uuid == MAP_CHART else chart_rows(client, chart_id)
    want = expected_rows(marts_path, chart_uuid, where)
    assert want, f"chart {chart_uuid}: the marts have no rows for {where!r}; test is vacuous"
    if chart_uuid == WORST_THREE_CHART:
        # the three lowest scores, lowest first; on a tie any of the tied areas may show
        assert [r[2] for r in got] == sorted(r[2] for r in want)[:3]
        assert set(got) <= set(want)
        return got
    assert Counter(got) == Counter(want), (
        f"chart {chart_uuid} (id {chart_id}) differs from the marts for {where!r}:\n"
        f" only in Superset: {list((Counter(got) - Counter(want)).elements())[:5]}\n"
        f" only in marts:    {list((Counter(want) - Counter(got)).elements())[:5]}"
    )
    if chart_uuid in HEADLINES:  # headline = newest day, rows ordered by date
        assert [r[0] for r in got] == sorted(r[0] for r in got)
        assert got[-1] == max(want)
    return got


@pytest.mark.parametrize("dashboard_uuid", [COMMAND_SCREEN, LEADER_MOBILE])
def test_every_chart_matches_marts(imported, admin, marts, dashboard_uuid):
    dash_id = imported.dashboard_ids[dashboard_uuid]
    charts = dashboard_chart_ids(admin, dash_id)
    missing = set(charts) - set(EXPECTED_SQL)
    assert not missing, f"dashboard charts without an expected-SQL check: {missing}"
    assert len(charts) >= 5
    web = web_session(admin.url, "admin", read_secret("SUPERSET_ADMIN_PASSWORD"))
    for chart_uuid, chart_id in charts.items():
        assert_chart_matches(admin, web, marts["path"], chart_uuid, chart_id)


def test_street_role_sees_only_its_street(imported, admin, make_user, marts):
    """One dashboard for every level: a street's viewer gets its street's numbers. The
    admin opens the map first: the legacy endpoint's answer to the same URL must not be
    handed on from one viewer to the next (see CACHE_CONFIG in superset_config.py)."""
    admin_web = web_session(admin.url, "admin", read_secret("SUPERSET_ADMIN_PASSWORD"))
    assert len(map_rows(admin_web, admin.url, imported.chart_ids[MAP_CHART])) > 50
    user = make_user("civiclake_street_440309002")
    web = web_session(user.url, *user.credentials)  # the map's legacy endpoint takes a cookie
    where = "street_code = '440309002'"
    for chart_uuid in EXPECTED_SQL:
        assert_chart_matches(user, web, marts["path"], chart_uuid, imported.chart_ids[chart_uuid], where)


def test_every_dataset_carries_the_rls_columns():
    """Row-level security filters on street_code and community_code: every dataset has both."""
    for f in sorted((ASSETS_DIR / "datasets").rglob("*.yaml")):
        dataset = yaml.safe_load(f.read_text(encoding="utf-8"))
        columns = {c["column_name"] for c in dataset["columns"]}
        assert {"street_code", "community_code"} <= columns, f.name
        assert dataset["description"], f"{f.name}: no description for SQL Lab"


# --------------------------------------------------------------------------- browser
@contextmanager
def chromium(width: int, height: int):
    """Headless Debian Chromium; a fresh profile and no background connections (the
    machine's closed network refuses them, and Chromium waits on them otherwise)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"{CHROMIUM} / {CHROMEDRIVER} missing: run `bash infra/setup.sh` (Debian chromium)")
    profile = tempfile.mkdtemp(prefix="civiclake-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--lang=zh-CN",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        # --window-size sets the window; the page's viewport must be the screen's size.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def login(driver, base_url: str, username: str, password: str, tries: int = 3) -> None:
    """Log in through the form and make sure the session holds. The login page posts its
    event log when it unloads; when that post's redirect to /login/ is answered after
    the login itself, its anonymous session cookie replaces the new one (seen once in
    CI: the dashboard then opened on the login page). So check who the browser is, and
    log in again if it is nobody."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    for _ in range(tries):
        driver.delete_all_cookies()  # a retry starts from no session, on the form
        driver.get(f"{base_url}/login/")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input#username"))).send_keys(username)
        driver.find_element(By.CSS_SELECTOR, "input#password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        wait.until(lambda d: "/login" not in d.current_url)
        driver.get(f"{base_url}/api/v1/me/")
        me = driver.page_source.replace(" ", "")
        if '"result"' in me and f'"{username}"' in me:
            return
    raise AssertionError(f"{username} could not log in through the form in {tries} tries")


# Superset's markers: a grid component per chart (text panels have none); inside it the chart's own DOM once drawn.
CHART_HOLDER = "[data-test='chart-grid-component']"
DRAWN = (
    "svg, canvas, table, .header-line, .big_number, .superset-legacy-chart-big-number, [class*='BigNumber']"
)
LOADING = ".loading, [data-test='loading-indicator'], .ant-skeleton"
ERROR = ".ant-alert-error, [data-test='error-tooltip'], [data-test='error-message'], .alert-danger"

CHART_STATE_JS = """
const out = [];
for (const h of document.querySelectorAll(arguments[0])) {
  const title = (h.querySelector('.header-title, [data-test="editable-title"]') || {}).innerText || '';
  const r = h.getBoundingClientRect();
  out.push({title: title.trim(), drawn: !!h.querySelector(arguments[1]),
            loading: !!h.querySelector(arguments[2]), error: !!h.querySelector(arguments[3]),
            error_text: (h.querySelector(arguments[3]) || {}).innerText || '',
            height: r.height, width: r.width});
}
return out;
"""


# The dashboard scrolls inside its own containers as well as the window.
SCROLL_TO_TOP_JS = """
for (const e of document.querySelectorAll('*')) { if (e.scrollTop > 0) e.scrollTop = 0; }
window.scrollTo({top: 0, behavior: 'instant'});
"""


def wait_for_charts(driver, expected: int, timeout: float = 180) -> list[dict]:
    """Scroll every chart into view (the dashboard draws charts as they come into view)
    and wait until each has drawn or shows an error."""
    deadline = time.monotonic() + timeout
    while True:
        holders = driver.find_elements("css selector", CHART_HOLDER)
        for h in holders:
            driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", h)
        states = driver.execute_script(CHART_STATE_JS, CHART_HOLDER, DRAWN, LOADING, ERROR)
        done = len(states) >= expected and all(
            (s["drawn"] and not s["loading"]) or s["error"] for s in states
        )
        if done or time.monotonic() > deadline:
            driver.execute_script(SCROLL_TO_TOP_JS)
            time.sleep(2)  # let the echarts animations settle before the picture
            return states
        time.sleep(2)


def screenshot(driver, name: str, width: int, height: int) -> list[Path]:
    """The whole page (viewport as tall as the page), and its top ``width × height``:
    what the screen shows when the dashboard opens."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    full_height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": max(height, full_height), "deviceScaleFactor": 1, "mobile": width < 600},
    )
    time.sleep(3)
    full = SCREENSHOTS / f"{name}-full.png"
    driver.save_screenshot(str(full))
    screen = SCREENSHOTS / f"{name}.png"
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "clip": clip})
    screen.write_bytes(base64.b64decode(shot["data"]))
    return [screen, full]


@pytest.mark.parametrize(
    "dashboard_uuid,name,width,height",
    [
        (COMMAND_SCREEN, "command-screen-1920x1080", 1920, 1080),
        (LEADER_MOBILE, "leader-mobile-390x844", 390, 844),
    ],
)
def test_dashboard_renders_in_chromium(imported, admin, dashboard_uuid, name, width, height):
    dash_id = imported.dashboard_ids[dashboard_uuid]
    n_charts = len(dashboard_chart_ids(admin, dash_id))
    with chromium(width, height) as driver:
        login(driver, imported.url, "admin", read_secret("SUPERSET_ADMIN_PASSWORD"))
        driver.get(f"{imported.url}/superset/dashboard/{dash_id}/?standalone=1")
        states = wait_for_charts(driver, n_charts)
        paths = screenshot(driver, name, width, height)
    for p in paths:
        print(f"screenshot: {p}")
        assert p.stat().st_size > 10_000, f"{p} is suspiciously small"
    assert len(states) == n_charts, f"{len(states)} chart containers on the page, {n_charts} charts"
    errors = [s for s in states if s["error"]]
    assert not errors, f"charts showing an error: {errors}"
    not_drawn = [s for s in states if not s["drawn"] or s["loading"] or s["height"] < 50]
    assert not not_drawn, f"charts that did not render: {not_drawn}"
