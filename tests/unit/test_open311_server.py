"""The Open311 server's answers to bad input: GeoReport error lists naming the parameter, never a 500.

A small simulated Longhua day served by a real uvicorn server on 127.0.0.1.
"""

from __future__ import annotations

from datetime import date

import pytest
import requests

from simulators import open311_server
from simulators.open311_server import LonghuaDataset, create_app, serve_in_thread

DAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def dataset():
    return LonghuaDataset(DAY, DAY, per_day=5)


@pytest.fixture(scope="module")
def url(dataset):
    with serve_in_thread(create_app(dataset)) as base:
        yield f"{base}/open311/v2"


def error_of(response: requests.Response, status: int) -> str:
    """The description of a GeoReport error answer, after checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["code"] == status, body
    return body[0]["description"]


@pytest.mark.parametrize("path", ["/services.json", "/requests.json", "/requests/LH311-1.json"])
def test_an_unknown_jurisdiction_id_is_refused_naming_the_known_ones(url, path):
    description = error_of(requests.get(f"{url}{path}", params={"jurisdiction_id": "nyc"}, timeout=10), 404)
    assert description == "jurisdiction_id='nyc' is not served here; known jurisdiction ids: longhua"


def test_the_served_jurisdiction_id_or_none_is_answered(url):
    both = [
        requests.get(f"{url}/requests.json", params=params, timeout=10)
        for params in ({"jurisdiction_id": "longhua"}, {})
    ]
    assert [r.status_code for r in both] == [200, 200]
    assert both[0].json() == both[1].json() and both[0].json()
    services = requests.get(f"{url}/services.json", params={"jurisdiction_id": "longhua"}, timeout=10)
    assert services.status_code == 200 and services.json()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"start_date": "yesterday"}, "start_date='yesterday' is not a W3C datetime"),
        ({"end_date": "2026-13-01T00:00:00+08:00"}, "end_date='2026-13-01T00:00:00+08:00' is not a W3C"),
        ({"updated_after": "2026/11/25 08:00"}, "updated_after='2026/11/25 08:00' is not a W3C"),
        # Before the fix: moving year 1 to Shanghai time overflowed, an HTTP 500.
        (
            {"updated_before": "0001-01-01T00:00:00+14:00"},
            "updated_before='0001-01-01T00:00:00+14:00' is outside",
        ),
        ({"page": "abc"}, "page='abc' is not a whole number"),
        ({"page": "1.5"}, "page='1.5' is not a whole number"),
        ({"page": "0"}, "page=0 is outside 1..1000000"),
        ({"page_size": "5000"}, "page_size=5000 is outside 1..1000"),
        ({"status": "pending"}, "status: unknown value(s) 'pending'; use open or closed"),
        (
            {"service_code": "noise,atlantis"},
            "service_code: unknown value(s) 'atlantis'; the codes are listed",
        ),
    ],
)
def test_a_malformed_parameter_is_a_400_naming_it(url, params, expected):
    description = error_of(requests.get(f"{url}/requests.json", params=params, timeout=10), 400)
    assert description.startswith(expected), description


def test_known_status_and_service_code_filter(url, dataset):
    records = [e.record for e in dataset.entries(None)]
    code = records[0]["service_code"]
    answer = requests.get(
        f"{url}/requests.json", params={"service_code": code, "status": "open,closed"}, timeout=10
    )
    assert answer.status_code == 200
    assert {r["service_code"] for r in answer.json()} == {code}


def test_the_call_log_keeps_only_the_latest_calls(dataset, monkeypatch):
    monkeypatch.setattr(open311_server, "MAX_CALLS_KEPT", 3)
    app = create_app(dataset)
    with serve_in_thread(app) as base:
        for page in range(1, 6):
            requests.get(f"{base}/open311/v2/requests.json", params={"page": page}, timeout=10)
    assert [c["page"] for c in app.state.calls] == [3, 4, 5]


class _BrokenDataset:
    name = "longhua"
    jurisdiction = "longhua"

    def services(self):
        return []

    def entries(self, as_of):
        raise RuntimeError("disk on fire at /secret/path")


def test_an_unexpected_failure_is_a_georeport_500_without_details():
    with serve_in_thread(create_app(_BrokenDataset())) as base:
        answer = requests.get(f"{base}/open311/v2/requests.json", timeout=10)
    description = error_of(answer, 500)
    assert "/open311/v2/requests.json" in description and "secret" not in answer.text
