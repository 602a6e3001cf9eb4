"""The intake API (Open311 GeoReport v2 POST) against a real PostgreSQL governance schema.

Each test module gets a database of its own (``civiclake_intake_<pid>``) with the governance
tables as the governance simulator creates them, and the API served by uvicorn on a free
port of 127.0.0.1. Every refusal is checked twice: its GeoReport error answer, and that
neither a case nor a status-history row was written. The rate limits and the duplicate
window run on a clock the tests move.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, timedelta

import psycopg
import pytest
import requests

from civiclake.geography import load_geography
from civiclake.intake.app import create_app
from civiclake.intake.clients import parse_clients
from civiclake.intake.clock import SimulatedDayClock
from civiclake.intake.store import CaseStore
from civiclake.jurisdiction import load_jurisdiction
from civiclake.pii import tokenise
from civiclake.settings import Settings
from simulators.governance import ensure_schema
from simulators.open311_server import serve_in_thread

DAY = date(2026, 11, 25)
TEST_DB = f"civiclake_intake_{os.getpid()}"
MINI_KEY = "mini-program-key-0123456789abcdef"
BRIDGE_KEY = "bridge-12345-key-0123456789abcdef"
KEYS = f"ilonghua:mini_program:{MINI_KEY},bridge12345:hotline_12345:{BRIDGE_KEY}"
# A point in 观澜社区 (440309006001: lon 113.96–113.983333, lat 22.72–22.75).
LAT, LONG = "22.7301", "113.9702"
FORM = {"api_key": MINI_KEY, "service_code": "garbage", "lat": LAT, "long": LONG, "description": "垃圾没人收"}


class Ticker:
    """The monotonic clock of the rate limits and the duplicate window, moved by the tests."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    missing = [n for n in ("CIVICLAKE_PG_PASSWORD", "CIVICLAKE_PII_KEY") if not os.environ.get(n)]
    if missing:
        pytest.fail(f"the intake tests need {missing} in the environment: `source var/secrets.env`")
    base = Settings()
    with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {TEST_DB} with (force)")
        conn.execute(f"create database {TEST_DB}")
    settings = Settings(
        pg_sources_db=TEST_DB,
        data_dir=tmp_path_factory.mktemp("intake"),
        intake_api_keys=KEYS,
        intake_rate_burst=1000,
        intake_rate_per_minute=6000,
        intake_duplicate_window_s=600,
        jurisdiction="longhua",
    )
    with psycopg.connect(settings.pg_conninfo(), autocommit=True) as conn:
        ensure_schema(conn)
    yield settings
    with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {TEST_DB} with (force)")


def serve(settings, ticker=None, store=None, clock=None):
    return serve_in_thread(
        create_app(
            settings,
            parse_clients(settings.intake_clients_text()),
            store or CaseStore(settings.pg_conninfo()),
            clock or SimulatedDayClock(DAY),
            load_jurisdiction("longhua"),
            monotonic=ticker or Ticker(),
        )
    )


@pytest.fixture(scope="module")
def ticker():
    return Ticker()


@pytest.fixture(scope="module")
def api(settings, ticker):
    with serve(settings, ticker) as base:
        yield f"{base}/open311/v2"


def query(settings, sql, params=()):
    with psycopg.connect(settings.pg_conninfo()) as conn:
        return conn.execute(sql, params).fetchall()


def counts(settings) -> tuple[int, int]:
    ((cases, events),) = query(
        settings,
        "select (select count(*) from governance.cases), (select count(*) from governance.case_events)",
    )
    return cases, events


def post(api, fields=None, **kwargs):
    return requests.post(f"{api}/requests.json", data=fields, timeout=10, **kwargs)


def error_of(response: requests.Response, status: int) -> str:
    """The description of a GeoReport error answer, after checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["code"] == status, body
    assert "Traceback" not in body[0]["description"]
    return body[0]["description"]


def case_row(settings, case_id) -> dict:
    with psycopg.connect(settings.pg_conninfo()) as conn:
        cur = conn.execute("select * from governance.cases where case_id = %s", (case_id,))
        (row,) = cur.fetchall()
        return dict(zip([c.name for c in cur.description], row, strict=True))


# --- accepted requests ----------------------------------------------------------------------


def test_services_are_the_catalogue_categories(api):
    from civiclake.catalogue import CATEGORY_BY_CODE

    answer = requests.get(f"{api}/services.json", timeout=10)
    assert answer.status_code == 200
    services = {s["service_code"]: s for s in answer.json()}
    assert set(services) == set(CATEGORY_BY_CODE)
    assert services["garbage"]["service_name"] == "垃圾清运"
    assert services["garbage"]["group"] == "城市管理和综合执法局"


def test_a_post_enters_a_case_with_tokens_only(api, settings):
    key = settings.require_pii_key()
    before = counts(settings)
    answer = post(
        api,
        {
            **FORM,
            "description": "小区门口垃圾三天没人收，请回电 138-0013-8000 或 0755-23456789",
            "first_name": "伟",
            "last_name": "张",
            "phone": "+86 138 0013 8000",
            "email": "zhangwei@example.com",
            "device_id": "device-42",
            "account_id": "acct-7",
            "media_url": "https://img.example.com/a.jpg",
        },
    )
    assert answer.status_code == 201, answer.text
    ((reply),) = answer.json()
    case_id = reply["service_request_id"]
    assert re.fullmatch(r"GA20261125\d{6}", case_id)
    assert "城市管理和综合执法局" in reply["service_notice"]
    assert counts(settings) == (before[0] + 1, before[1] + 1)

    row = case_row(settings, case_id)
    location = load_geography().locate(float(LONG), float(LAT))
    assert row["community_code"] == location.community_code == "440309006001"
    assert row["grid_code"] == location.grid_code
    assert (row["lon"], row["lat"]) == (113.9702, 22.7301)
    assert row["channel"] == "mini_program"
    assert row["category"] == "garbage"
    assert row["department"] == "城市管理和综合执法局"
    assert row["status"] == "created"
    assert row["reporter_name"] == tokenise("张伟", "name", key)
    assert row["reporter_phone"] == tokenise("13800138000", "phone", key)
    assert row["reporter_id_number"] is None
    phone_token, landline_token = (
        tokenise("13800138000", "phone", key),
        tokenise("075523456789", "phone", key),
    )
    assert row["description"] == f"小区门口垃圾三天没人收，请回电 [{phone_token}] 或 [{landline_token}]"
    assert row["reported_at"] == row["updated_at"]
    assert row["reported_at"].date() == DAY and row["reported_at"].hour == 8
    assert row["dispatched_at"] is None and row["feedback_text"] is None
    # No raw contact value anywhere in the case or its history.
    stored = json.dumps(
        [row, query(settings, "select * from governance.case_events where case_id = %s", (case_id,))],
        default=str,
        ensure_ascii=False,
    )
    for raw in (
        "13800138000",
        "138-0013-8000",
        "0013",
        "23456789",
        "张伟",
        "zhangwei",
        "device-42",
        "acct-7",
    ):
        assert raw not in stored
    ((event_id, seq, event_type, department, occurred_at, recorded_at),) = query(
        settings,
        "select event_id, seq, event_type, department, occurred_at, recorded_at "
        "from governance.case_events where case_id = %s",
        (case_id,),
    )
    assert (event_id, seq, event_type, department) == (f"{case_id}-01", 1, "created", "城市管理和综合执法局")
    assert occurred_at == recorded_at == row["reported_at"]
    # The governance ingest tokenises every source's personal columns: these stay as they are.
    assert tokenise(row["reporter_phone"], "phone", key) == row["reporter_phone"]
    assert tokenise(row["reporter_name"], "name", key) == row["reporter_name"]


def test_a_json_post_placed_by_its_address_from_the_hotline_bridge(api, settings):
    answer = requests.post(
        f"{api}/requests.json",
        json={
            "api_key": BRIDGE_KEY,
            "service_code": "noise",
            "address_string": "深圳市龙华区民治街道民治社区12号",
            "description": "楼下酒吧每晚十二点后还在放音乐",
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    row = case_row(settings, answer.json()[0]["service_request_id"])
    geography = load_geography()
    (minzhi,) = [c for c in geography.communities.values() if c.name == "民治社区"]
    assert row["community_code"] == minzhi.code
    assert (row["lon"], row["lat"]) == tuple(round(v, 6) for v in minzhi.box.centroid)
    assert row["grid_code"] in {g.code for g in geography.grids_of(minzhi.code)}
    assert row["channel"] == "hotline_12345"
    assert row["department"] == "生态环境局"
    assert row["description"] == "楼下酒吧每晚十二点后还在放音乐（地址：深圳市龙华区民治街道民治社区12号）"


def test_a_description_of_the_full_length_is_accepted(api, settings):
    # 4000 Chinese characters form-encoded are about 36 KB: within the body limit.
    answer = post(api, {**FORM, "description": "垃" * 3999 + "。"})
    assert answer.status_code == 201, answer.text
    assert len(case_row(settings, answer.json()[0]["service_request_id"])["description"]) == 4000


def test_the_simulated_clock_walks_a_minute_per_accepted_request_and_resumes(settings):
    clock = SimulatedDayClock(date(2026, 11, 26), accepted_before=3)
    assert clock.now() == datetime(2026, 11, 26, 8, 3)
    clock.accepted()
    assert clock.now() == datetime(2026, 11, 26, 8, 4)
    full = SimulatedDayClock(date(2026, 11, 26), accepted_before=5000)
    assert full.now() == datetime(2026, 11, 26, 23, 59)
    # A restarted service resumes after the requests already entered for its day.
    assert CaseStore(settings.pg_conninfo()).count_reported_on(DAY) == len(
        query(settings, "select 1 from governance.cases where case_id like %s", ("GA20261125%",))
    )


# --- refusals: a GeoReport error and nothing stored -----------------------------------------

PLACELESS = {k: v for k, v in FORM.items() if k not in ("lat", "long")}
BAD_POSTS = [
    ("no api_key", 401, {k: v for k, v in FORM.items() if k != "api_key"}, "api_key is required"),
    ("unknown api_key", 403, {**FORM, "api_key": "x" * 32}, "not a key"),
    (
        "no service_code",
        400,
        {k: v for k, v in FORM.items() if k != "service_code"},
        "service_code is required",
    ),
    (
        "unknown service_code",
        400,
        {**FORM, "service_code": "illegal_building"},
        "'illegal_building' is unknown",
    ),
    ("outside the district", 400, {**FORM, "lat": "40.7128", "long": "-74.0060"}, "outside 深圳市龙华区"),
    ("in the box, swapped", 400, {**FORM, "lat": LONG, "long": LAT}, "lat="),
    ("lat without long", 400, {k: v for k, v in FORM.items() if k != "long"}, "go together"),
    ("decimal comma", 400, {**FORM, "lat": "22,7301"}, "not a decimal number"),
    ("nan", 400, {**FORM, "long": "nan"}, "not a decimal number"),
    ("exponent", 400, {**FORM, "lat": "2.27301e1"}, "not a decimal number"),
    ("underscore digits", 400, {**FORM, "lat": "22_7301"}, "not a decimal number"),
    ("latitude beyond 90", 400, {**FORM, "lat": "122.7"}, "outside -90..90"),
    (
        "no place",
        400,
        {"api_key": MINI_KEY, "service_code": "garbage", "description": "x"},
        "send lat and long",
    ),
    (
        "address naming nothing",
        400,
        {**PLACELESS, "address_string": "人民路12号"},
        "names no single community",
    ),
    (
        "address naming two communities",
        400,
        {**PLACELESS, "address_string": "观澜社区和民治社区之间"},
        "several communities",
    ),
    ("no description", 400, {k: v for k, v in FORM.items() if k != "description"}, "description is required"),
    ("blank description", 400, {**FORM, "description": "   "}, "description is required"),
    ("oversize description", 400, {**FORM, "description": "垃" * 4001}, "4001 characters; at most 4000"),
    ("media_url not http", 400, {**FORM, "description": "x", "media_url": "file:///etc/passwd"}, "media_url"),
    ("phone not a number", 400, {**FORM, "description": "x", "phone": "call me"}, "phone is not"),
    ("email not an address", 400, {**FORM, "description": "x", "email": "nobody"}, "email is not"),
    ("oversize name", 400, {**FORM, "description": "x", "first_name": "名" * 51}, "first_name has 51"),
    ("other jurisdiction", 404, {**FORM, "description": "x", "jurisdiction_id": "nyc"}, "not served here"),
]


@pytest.mark.parametrize(
    "fields,status,expected", [(b[2], b[1], b[3]) for b in BAD_POSTS], ids=[b[0] for b in BAD_POSTS]
)
def test_a_bad_post_is_refused_and_nothing_stored(api, settings, fields, status, expected):
    before = counts(settings)
    assert expected in error_of(post(api, fields), status)
    assert counts(settings) == before


@pytest.mark.parametrize(
    "headers,body,status,expected",
    [
        ({"Content-Type": "text/plain"}, b"service_code=garbage", 415, "'text/plain' is not accepted"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--", 415, "is not accepted"),
        ({"Content-Type": "application/x-www-form-urlencoded; charset=gbk"}, b"a=b", 415, "UTF-8"),
        ({}, b"", 415, "'none' is not accepted"),
        ({"Content-Type": "application/json"}, b'{"service_code": ', 400, "does not parse"),
        ({"Content-Type": "application/json"}, b'["garbage"]', 400, "must be an object"),
        ({"Content-Type": "application/json"}, b'{"api_key": ["a"]}', 400, "string or a number"),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"description=%FF%FE",
            400,
            "cannot be decoded",
        ),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"\xff\xfe=1", 400, "not UTF-8"),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            f"api_key={MINI_KEY}&service_code=garbage&service_code=noise".encode(),
            400,
            "given twice",
        ),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"pad=" + b"a" * 70000, 413, "at most 65536"),
    ],
    ids=[
        "text",
        "multipart",
        "gbk",
        "no type",
        "bad json",
        "json list",
        "json nested",
        "bad percent",
        "raw non-utf8",
        "twice",
        "oversize body",
    ],
)
def test_a_malformed_body_is_refused_and_nothing_stored(api, settings, headers, body, status, expected):
    before = counts(settings)
    assert expected in error_of(
        requests.post(f"{api}/requests.json", data=body, headers=headers, timeout=10), status
    )
    assert counts(settings) == before


def test_an_oversize_body_streamed_without_a_length_is_refused(api, settings):
    before = counts(settings)

    def chunks():
        for _ in range(20):
            yield b"a" * 8192

    answer = requests.post(
        f"{api}/requests.json",
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert "longer than 65536 bytes" in error_of(answer, 413)
    assert counts(settings) == before


def test_the_same_post_again_within_the_window_is_refused(api, settings, ticker):
    fields = {**FORM, "description": "井盖松动，车压过去哐哐响", "service_code": "manhole"}
    first = post(api, fields)
    assert first.status_code == 201, first.text
    first_id = first.json()[0]["service_request_id"]
    before = counts(settings)
    ticker.now += 30
    # The same post, spaces apart, from the same client: refused, naming the first one.
    again = post(api, {**fields, "description": "  井盖松动， 车压过去哐哐响 "})
    assert first_id in error_of(again, 409)
    assert again.headers["Retry-After"] == "570"
    assert counts(settings) == before
    # Another client, or another place, or another text: a different request.
    assert post(api, {**fields, "api_key": BRIDGE_KEY}).status_code == 201
    assert post(api, {**fields, "lat": "22.7305"}).status_code == 201
    # After the window the same post is a new request.
    ticker.now += 600
    assert post(api, fields).status_code == 201
    assert counts(settings) == (before[0] + 3, before[1] + 3)


def test_a_key_over_its_rate_limit_is_told_when_to_retry(settings):
    ticker = Ticker()
    limited = settings.model_copy(update={"intake_rate_burst": 2, "intake_rate_per_minute": 6.0})
    with serve(limited, ticker) as base:
        api = f"{base}/open311/v2"
        assert post(api, {**FORM, "description": "路灯不亮 1"}).status_code == 201
        assert post(api, {**FORM, "description": "路灯不亮 2"}).status_code == 201
        before = counts(settings)
        refused = post(api, {**FORM, "description": "路灯不亮 3"})
        assert "over its rate limit" in error_of(refused, 429)
        assert refused.headers["Retry-After"] == "10"  # one token every 10 s
        assert counts(settings) == before
        # Each key has its own bucket.
        assert post(api, {**FORM, "api_key": BRIDGE_KEY, "description": "路灯不亮 3"}).status_code == 201
        ticker.now += 10
        assert post(api, {**FORM, "description": "路灯不亮 3"}).status_code == 201


def test_a_database_that_cannot_be_reached_is_a_503_not_a_stack_trace(settings):
    unreachable = CaseStore(settings.pg_conninfo().replace(f"port={settings.pg_port}", "port=1"))
    with serve(settings, store=unreachable) as base:
        answer = post(f"{base}/open311/v2", {**FORM, "description": "路面塌陷"})
        assert "try again later" in error_of(answer, 503)
        assert answer.headers["Retry-After"] == "60"


def test_unknown_routes_and_methods_answer_in_georeport_shape(api):
    assert "Not Found" in error_of(requests.get(f"{api}/nothing.json", timeout=10), 404)
    assert "Method Not Allowed" in error_of(requests.get(f"{api}/requests.json", timeout=10), 405)


# --- GET a request: status, the department responsible, the feedback ------------------------


def test_an_unknown_request_is_404(api):
    for request_id in ("GA20261125999999", "GC20261125000001", "nothing", "GA2026"):
        assert request_id in error_of(requests.get(f"{api}/requests/{request_id}.json", timeout=10), 404)


def test_get_follows_the_orders_and_shows_the_departments_feedback(api, settings):
    answer = post(
        api, {**FORM, "service_code": "road_facility", "description": "人行道砖块松动，老人差点绊倒"}
    )
    case_id = answer.json()[0]["service_request_id"]
    url = f"{api}/requests/{case_id}.json"

    def get() -> dict:
        reply = requests.get(url, timeout=10)
        assert reply.status_code == 200, reply.text
        (one,) = reply.json()
        return one

    first = get()
    assert first["status"] == "open" and first["status_notes"] == "已受理"
    assert first["agency_responsible"] == ""
    assert first["service_code"] == "road_facility" and first["service_name"] == "道路设施"
    assert first["address"] == "龙华区观澜街道观澜社区"
    reported = case_row(settings, case_id)["reported_at"]
    assert first["requested_datetime"] == f"{reported:%Y-%m-%dT%H:%M:%S}+08:00"
    assert first["expected_datetime"] == f"{reported + timedelta(days=5):%Y-%m-%dT%H:%M:%S}+08:00"

    insert = (
        "insert into governance.dispatch_orders (order_id, case_id, kind, level, department, issued_at, "
        "accepted_at, status, updated_at) values (%s, %s, %s, 'community', %s, %s, %s, %s, %s)"
    )
    with psycopg.connect(settings.pg_conninfo()) as conn:
        conn.execute(
            insert,
            ("o1", case_id, "dispatch", "建筑工务署", "2026-11-25 09:00", None, "issued", "2026-11-25 09:00"),
        )
    assert get()["agency_responsible"] == "建筑工务署"
    with psycopg.connect(settings.pg_conninfo()) as conn:
        conn.execute("update governance.dispatch_orders set status = 'superseded' where order_id = 'o1'")
        conn.execute(
            insert,
            (
                "o2",
                case_id,
                "transfer",
                "住房和建设局",
                "2026-11-25 10:00",
                "2026-11-25 10:30",
                "accepted",
                "2026-11-25 10:30",
            ),
        )
        # A later transfer not yet accepted: the accepted department is still the one responsible.
        conn.execute(
            insert,
            (
                "o3",
                case_id,
                "transfer",
                "城市管理和综合执法局",
                "2026-11-25 11:00",
                None,
                "issued",
                "2026-11-25 11:00",
            ),
        )
    assert get()["agency_responsible"] == "住房和建设局"

    feedback = "您好，您反映的人行道砖块松动问题已于11月26日修复，联系电话0755-23456789。"
    with psycopg.connect(settings.pg_conninfo()) as conn:
        conn.execute(
            "update governance.cases set status = 'fed_back', feedback_text = %s, "
            "fed_back_at = '2026-11-26 15:00', updated_at = '2026-11-26 15:00' where case_id = %s",
            (feedback, case_id),
        )
    fed_back = get()
    assert fed_back["status"] == "open"
    landline = tokenise("075523456789", "phone", settings.require_pii_key())
    assert fed_back["status_notes"] == feedback.replace("0755-23456789", f"[{landline}]")
    assert fed_back["updated_datetime"] == "2026-11-26T15:00:00+08:00"
    with psycopg.connect(settings.pg_conninfo()) as conn:
        conn.execute(
            "update governance.cases set status = 'closed', closed_at = '2026-11-26 16:00', "
            "updated_at = '2026-11-26 16:00' where case_id = %s",
            (case_id,),
        )
    closed = get()
    assert closed["status"] == "closed" and closed["closed_datetime"] == "2026-11-26T16:00:00+08:00"
    assert closed["status_notes"].startswith("您好，您反映的人行道砖块松动问题已于11月26日修复")


# --- the demo's residents --------------------------------------------------------------------


def test_residents_post_their_day_once_with_tokens_only(settings):
    from simulators.residents import PER_DAY, post_requests, requests_of

    day = date(2026, 11, 27)
    posts = requests_of(day, settings)
    assert posts == requests_of(day, settings) and len(posts) == PER_DAY
    raw = [p.fields[f] for p in posts for f in ("phone", "first_name") if f in p.fields]
    assert raw, "some residents leave their name and number"
    with serve(settings, clock=SimulatedDayClock(day)) as base:
        assert post_requests(day, settings, base) == PER_DAY
        # The day's step run again: nothing posted twice.
        assert post_requests(day, settings, base) == 0
    rows = query(
        settings,
        "select channel, category, community_code, reported_at, description, reporter_name, reporter_phone "
        "from governance.cases where case_id like %s order by case_id",
        ("GA20261127%",),
    )
    assert len(rows) == PER_DAY
    assert {r[0] for r in rows} == {"mini_program"}
    assert [r[1] for r in rows] == [p.fields["service_code"] for p in posts]
    assert [r[3] for r in rows] == [datetime(2026, 11, 27, 8, n) for n in range(PER_DAY)]
    assert all(r[2] for r in rows)
    stored = json.dumps(rows, default=str, ensure_ascii=False)
    for value in raw:
        assert value not in stored
