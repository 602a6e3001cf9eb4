"""Open311 simulator API and connector, against a real uvicorn server on 127.0.0.1.

Expected values come from the NYC 311 CSV files read with pandas and from the simulator's
own case plans, not from the code under test.
"""

from __future__ import annotations

import socket
from collections import Counter
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import requests

from civiclake.sources.open311 import (
    MemorySink,
    Open311Client,
    Open311Error,
    Open311PageError,
    extract_pages,
    window_query,
)
from simulators import nyc311
from simulators.open311_server import (
    DEFECTS,
    Fault,
    LonghuaDataset,
    Nyc311Dataset,
    create_app,
    parse_w3c,
    serve_in_thread,
)

NYC_DIR = nyc311.DEFAULT_NYC311_DIR
NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC)
PAGE = 200

if not NYC_DIR.is_dir():
    pytest.skip(
        f"the NYC 311 sample folder {NYC_DIR} is absent (../shared/data/nyc311)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def nyc_csv() -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(NYC_DIR.glob("*.csv"))]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def nyc_dataset():
    return Nyc311Dataset(NYC_DIR)


@pytest.fixture(scope="module")
def nyc_url(nyc_dataset):
    with serve_in_thread(create_app(nyc_dataset)) as url:
        yield url


def get(url: str, path: str, **params):
    return requests.get(f"{url}/open311/v2{path}", params=params, timeout=10)


def all_pages(url: str, page_size: int, **params) -> list[list[dict]]:
    pages, n = [], 1
    while True:
        page = get(url, "/requests.json", page=n, page_size=page_size, **params).json()
        pages.append(page)
        if len(page) < page_size:
            return pages
        n += 1


def test_paging_returns_every_nyc_row_once_in_a_stable_order(nyc_url, nyc_csv):
    pages = all_pages(nyc_url, PAGE)
    assert [len(p) for p in pages[:-1]] == [PAGE] * (len(pages) - 1)
    rows = [r for p in pages for r in p]
    ids = [r["service_request_id"] for r in rows]
    assert sorted(ids) == sorted(nyc_csv["Unique Key"])
    assert len(set(ids)) == len(ids) == len(nyc_csv)
    keys = [(parse_w3c(r["updated_datetime"]), r["service_request_id"]) for r in rows]
    assert keys == sorted(keys)
    # Asking again gives the same pages; a page past the end is empty.
    assert get(nyc_url, "/requests.json", page=3, page_size=PAGE).json() == pages[2]
    assert get(nyc_url, "/requests.json", page=len(pages) + 1, page_size=PAGE).json() == []


def test_nyc_fields_map_to_georeport(nyc_url, nyc_csv):
    row = nyc_csv[nyc_csv["Latitude"] != ""].iloc[7]
    (record,) = get(nyc_url, f"/requests/{row['Unique Key']}.json").json()
    created = datetime.strptime(row["Created Date"], "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=NY)
    assert parse_w3c(record["requested_datetime"]) == created
    assert record["service_name"] == row["Complaint Type"]
    assert record["agency_responsible"] == row["Agency"]
    assert (record["lat"], record["long"]) == (float(row["Latitude"]), float(row["Longitude"]))
    assert record["status"] == ("closed" if row["Status"] == "Closed" else "open")
    services = get(nyc_url, "/services.json").json()
    assert {s["service_name"] for s in services} == set(nyc_csv["Complaint Type"])
    assert get(nyc_url, "/requests/nope.json").status_code == 404


def test_updated_window_and_filters(nyc_url, nyc_csv):
    fmt = "%m/%d/%Y %I:%M:%S %p"
    stamps = nyc_csv[["Created Date", "Closed Date", "Resolution Action Updated Date"]].apply(
        lambda c: pd.to_datetime(c, format=fmt, errors="coerce")
    )
    updated = stamps.max(axis=1)
    after, before = datetime(2011, 3, 1, tzinfo=NY), datetime(2011, 6, 1, tzinfo=NY)
    inside = (updated >= after.replace(tzinfo=None)) & (updated < before.replace(tzinfo=None))
    window = window_query(after, before)
    got = [r["service_request_id"] for p in all_pages(nyc_url, 100, **window) for r in p]
    assert sorted(got) == sorted(nyc_csv.loc[inside, "Unique Key"])
    # Consecutive windows [a, b) and [b, c) split the rows without overlap.
    early = window_query(None, after)
    late = window_query(before, FAR_FUTURE)
    split = [
        r["service_request_id"]
        for q in (early, window, late)
        for p in all_pages(nyc_url, 500, **q)
        for r in p
    ]
    assert sorted(split) == sorted(nyc_csv["Unique Key"])

    noise = get(
        nyc_url, "/requests.json", service_code="noise_commercial", status="closed", page_size=1000
    ).json()
    expected = nyc_csv[(nyc_csv["Complaint Type"] == "Noise - Commercial") & (nyc_csv["Status"] == "Closed")]
    assert sorted(r["service_request_id"] for r in noise) == sorted(expected["Unique Key"])
    bad = get(nyc_url, "/requests.json", updated_after="yesterday")
    assert bad.status_code == 400 and "updated_after" in bad.json()[0]["description"]


def test_longhua_requests_change_status_after_creation():
    dataset = LonghuaDataset(date(2026, 11, 23), date(2026, 11, 25), per_day=40, defect_rate=0.0)
    with serve_in_thread(create_app(dataset)) as url:
        day_end = datetime(2026, 11, 24, tzinfo=SH)
        before = {
            r["service_request_id"]: r
            for r in get(url, "/requests.json", updated_before=day_end.isoformat(), page_size=1000).json()
        }
        later = window_query(day_end, datetime(2026, 11, 26, tzinfo=SH))
        changed = [r for p in all_pages(url, 50, **later) for r in p]
        # Past its last day the simulator refuses rather than answer "nothing changed".
        beyond = get(url, "/requests.json", **window_query(day_end, datetime(2026, 11, 27, tzinfo=SH)))
        assert beyond.status_code == 400 and "later --date" in beyond.json()[0]["description"]
    assert before and changed
    assert all(
        day_end <= parse_w3c(r["updated_datetime"]) < datetime(2026, 11, 26, tzinfo=SH) for r in changed
    )
    # Requests of the 23rd that moved on after that day: same id, newer time, a later stage.
    moved = [r for r in changed if r["service_request_id"] in before]
    assert moved
    for r in moved:
        old = before[r["service_request_id"]]
        assert parse_w3c(r["updated_datetime"]) > parse_w3c(old["updated_datetime"])
    assert any(before[r["service_request_id"]]["status"] == "open" and r["status"] == "closed" for r in moved)


def test_longhua_dataset_is_deterministic_and_carries_seeded_defects():
    a = LonghuaDataset(date(2026, 11, 25), date(2026, 11, 25), per_day=200, defect_rate=0.2)
    b = LonghuaDataset(date(2026, 11, 25), date(2026, 11, 25), per_day=200, defect_rate=0.2)
    records_a = [e.record for e in a.entries(None)]
    assert records_a == [e.record for e in b.entries(None)]
    ids = Counter(r["service_request_id"] for r in records_a)
    assert ids[None] > 0  # missing ids
    assert any(n == 2 for key, n in ids.items() if key)  # a record sent twice
    assert any(r["service_code"] == "illegal_building" for r in records_a)
    assert any(parse_w3c(r["requested_datetime"]) is None for r in records_a)
    assert any(r["lat"] is not None and r["lat"] > 90 for r in records_a)  # swapped coordinates
    assert len(DEFECTS) == 6


def test_retries_then_success(nyc_dataset, nyc_csv):
    app = create_app(nyc_dataset, faults=[Fault(page=2, times=2)])
    with serve_in_thread(app) as url:
        sink = MemorySink()
        result = extract_pages(
            Open311Client(url, attempts=3, backoff_s=0.01), window_query(None, FAR_FUTURE), sink, PAGE
        )
    assert result.complete and result.rows_fetched == len(nyc_csv)
    assert [c["page"] for c in app.state.calls].count(2) == 3
    assert [c["outcome"] for c in app.state.calls if c["page"] == 2] == ["fault 500", "fault 500", "ok"]


def test_failure_mid_paging_names_the_page_and_the_rerun_resumes_there(nyc_dataset, nyc_csv):
    app = create_app(nyc_dataset, faults=[Fault(page=4, times=3, status_code=503)])
    query = window_query(None, FAR_FUTURE)
    sink = MemorySink()
    with serve_in_thread(app) as url:
        client = Open311Client(url, attempts=3, backoff_s=0.01)
        with pytest.raises(Open311PageError) as failure:
            extract_pages(client, query, sink, PAGE)
        assert failure.value.page == 4
        assert "page=4" in str(failure.value) and url in str(failure.value)
        assert "HTTP 503" in str(failure.value) and "resumes at page 4" in str(failure.value)
        assert sorted(sink.pages) == [1, 2, 3]
        calls_before = len(app.state.calls)
        result = extract_pages(client, query, sink, PAGE)
    assert result.first_page == 4 and result.complete
    assert app.state.calls[calls_before]["page"] == 4  # no earlier page asked for again
    assert Counter(c["page"] for c in app.state.calls if c["outcome"] == "ok") == Counter(
        range(1, len(sink.pages) + 1)
    )
    ids = [r["service_request_id"] for r in sink.records()]
    assert len(ids) == len(set(ids)) == len(nyc_csv)
    assert sorted(ids) == sorted(nyc_csv["Unique Key"])
    # A complete batch is not read again.
    assert extract_pages(client, query, sink, PAGE).pages_fetched == 0


def test_client_timeout_is_retried_and_then_reported(nyc_dataset):
    app = create_app(nyc_dataset, faults=[Fault(kind="sleep", page=1, times=1, sleep_s=1.5)])
    with serve_in_thread(app) as url:
        client = Open311Client(url, timeout=(1.0, 0.4), attempts=2, backoff_s=0.01)
        assert len(client.page(1, 10, {}).records) == 10
    assert [c["outcome"] for c in app.state.calls] == ["slept 1.5s", "ok"]

    app = create_app(nyc_dataset, faults=[Fault(kind="sleep", page=1, times=2, sleep_s=1.5)])
    with serve_in_thread(app) as url:
        client = Open311Client(url, timeout=(1.0, 0.4), attempts=2, backoff_s=0.01)
        with pytest.raises(Open311PageError, match="timed out"):
            client.page(1, 10, {})


def test_client_errors_are_not_retried_and_are_clear(nyc_dataset):
    app = create_app(nyc_dataset)
    with serve_in_thread(app) as url:
        client = Open311Client(url, attempts=4, backoff_s=0.01)
        with pytest.raises(Open311Error, match="HTTP 400.*page_size"):
            client.page(1, 5000, {})
        assert len(app.state.calls) == 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    client = Open311Client(f"http://127.0.0.1:{closed_port}", attempts=2, backoff_s=0.01)
    with pytest.raises(Open311Error, match="cannot connect"):
        client.services()


def test_an_offsetless_window_is_refused():
    with pytest.raises(ValueError, match="offset"):
        window_query(None, datetime(2026, 11, 26))


def test_bronze_rows_carry_tokens_instead_of_numbers_written_in_free_text():
    """Phone and ID numbers a resident writes into a request never reach bronze: neither
    the row's columns nor its raw JSON; everything else is kept as received."""
    import datetime as dt
    import json

    from civiclake.pii import tokenise
    from civiclake.sources.open311 import Page
    from spark_jobs.ingest_open311 import FIELDS, _bronze_rows

    key = b"unit-test-key"
    record = {
        "service_request_id": "LH311-20261125000001",
        "description": "井盖丢了，请回电13800138000",
        "status_notes": "已联系 138-0013-8000",
        "address": "深圳市龙华区观湖街道",
        "lat": 22.7,
    }
    page = Page(number=1, url="http://open311.test/requests.json?page=1", records=[record, "not an object"])
    moment = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    rows = _bronze_rows(page, "longhua", "open311:longhua:2026-11-25", dt.date(2026, 11, 25), moment, key)
    token = f"[{tokenise('13800138000', 'phone', key)}]"
    columns = dict(zip(("jurisdiction", *FIELDS, "_raw"), rows[0], strict=False))
    assert columns["description"] == f"井盖丢了，请回电{token}"
    assert columns["status_notes"] == f"已联系 {token}"
    assert columns["address"] == "深圳市龙华区观湖街道" and columns["lat"] == "22.7"
    raw = json.loads(columns["_raw"])
    assert raw["description"] == columns["description"] and raw["lat"] == 22.7
    assert "13800138000" not in repr(rows) and "138-0013-8000" not in repr(rows)
    assert json.loads(rows[1][len(FIELDS) + 1]) == "not an object"  # kept, as received
