"""An Open311 GeoReport v2 server over two datasets, with fault injection for tests.

Endpoints (JSON only):

* ``GET /open311/v2/services.json`` — the service list;
* ``GET /open311/v2/requests.json`` — requests filtered by ``start_date`` / ``end_date``
  (on ``requested_datetime``, both inclusive), ``status`` and ``service_code`` (comma lists),
  and two extensions many cities add: ``updated_after`` (inclusive) and ``updated_before``
  (exclusive), so consecutive windows ``[a, b)``, ``[b, c)`` neither overlap nor leave a gap.
  Paging: ``page`` (from 1) and ``page_size``; results are ordered by
  (``updated_datetime``, ``service_request_id``), so a page holds the same rows on every call;
* ``GET /open311/v2/requests/{id}.json`` — one request (a one-element list, as GeoReport does).

Every endpoint takes GeoReport's optional ``jurisdiction_id``; the server serves one
jurisdiction (``longhua`` or ``nyc``, the codes of :mod:`civiclake.jurisdiction`), and any other
id is answered 404 naming the known ones, as GeoReport v2 specifies, so a client pointed at
the wrong server is told so instead of getting another city's requests. Malformed parameters
(a date that is not W3C, a page that is not a whole number in range, an unknown status or
service code) are answered 400 naming the parameter; errors are GeoReport's error list
``[{"code": …, "description": …}]``, never a stack trace.

Datasets:

* ``longhua`` — a simulated Longhua Open311 channel (i龙华 app), deterministic by seed and
  reporting days. Requests go through dispatch, handling and closing after creation (the
  case plans of :mod:`simulators.governance`, drawn with their own seed), so a
  request's ``updated_datetime`` moves and ``updated_after`` matters. The server has no
  clock: it answers as the system stood at ``updated_before`` (or at the end of its last day
  when that is not given), so the same query always gets the same answer. A small, seeded
  share of requests carries the defects real feeds have (missing id, an unparseable date,
  an unknown service code, swapped coordinates, a device clock a year ahead, a record sent
  twice), for the ingest job's quarantine to catch;
* ``nyc311`` — the real NYC 311 sample mapped by :mod:`simulators.nyc311`.

Faults (:class:`Fault`) make chosen calls of ``requests.json`` answer HTTP 5xx or sleep past
the client's timeout, a given number of times; the latest calls (at most ``MAX_CALLS_KEPT``)
are logged in ``app.state.calls`` for tests to inspect.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time as clock
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from civiclake.catalogue import CASE_STATUS_NOTES, CATEGORIES, CATEGORY_BY_CODE
from civiclake.geography import load_geography
from simulators import nyc311

log = logging.getLogger(__name__)

API_PREFIX = "/open311/v2"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
# A long-running server answers many calls; the log only serves tests, so it keeps the latest.
MAX_CALLS_KEPT = 1000
STATUSES = ("open", "closed")
# Datetime parameters outside these years are refused: they are typing slips, and near the
# ends of Python's calendar moving them to another time zone overflows.
YEARS = (1900, 2999)
LONGHUA_TIMEZONE = ZoneInfo("Asia/Shanghai")
DEFECTS = ("missing_id", "bad_datetime", "unknown_service", "outside", "future", "duplicate")


@dataclass(frozen=True)
class Entry:
    """A request record with what filtering and ordering need, parsed once."""

    updated: datetime | None  # None: updated_datetime does not parse (listed only without updated_after)
    requested: datetime | None
    record: dict
    copy: int = 0  # 1 for the second copy of a record a feed sent twice

    @property
    def order(self) -> tuple:
        u = self.updated.timestamp() if self.updated else float("-inf")
        return (u, self.record.get("service_request_id") or "", self.copy)


def parse_w3c(text: str | None) -> datetime | None:
    """A W3C datetime with an offset (``Z`` allowed); None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _entry(record: dict, copy: int = 0) -> Entry:
    return Entry(
        parse_w3c(record.get("updated_datetime")), parse_w3c(record.get("requested_datetime")), record, copy
    )


class Nyc311Dataset:
    """The NYC 311 sample: a fixed set of records (the past does not change)."""

    name = "nyc311"
    jurisdiction = "nyc"

    def __init__(self, folder: Path | str = nyc311.DEFAULT_NYC311_DIR):
        records = [nyc311.to_georeport(row) for row in nyc311.read_rows(folder)]
        self._services = nyc311.services_of(records)
        self._entries = sorted((_entry(r) for r in records), key=lambda e: e.order)

    def services(self) -> list[dict]:
        return self._services

    def entries(self, as_of: datetime | None) -> list[Entry]:
        if as_of is None:
            return self._entries
        return [e for e in self._entries if e.updated is None or e.updated < as_of]


class LonghuaDataset:
    """Simulated i龙华 Open311 requests reported on ``first_day`` … ``last_day``."""

    name = "longhua"
    jurisdiction = "longhua"

    def __init__(
        self,
        first_day: date,
        last_day: date,
        *,
        seed: int = 20261126,
        per_day: int = 120,
        defect_rate: float = 0.02,
    ):
        if last_day < first_day:
            raise ValueError(f"last day {last_day} is before first day {first_day}")
        self.first_day, self.last_day = first_day, last_day
        self.seed, self.per_day, self.defect_rate = seed, per_day, defect_rate
        self._plans = lru_cache(maxsize=None)(self._plans_of)

    def services(self) -> list[dict]:
        return [
            {
                "service_code": c.code,
                "service_name": c.name,
                "description": f"{c.name}（{c.department}）",
                "metadata": False,
                "type": "realtime",
                "keywords": "",
                "group": c.department,
            }
            for c in CATEGORIES
        ]

    def _plans_of(self, day: date) -> list[tuple]:
        """(plan, defect) of every request reported on ``day``; defects drawn from their own stream."""
        from civiclake.settings import Settings
        from simulators.governance import cases_reported_on

        # Its own seed: the Open311 channel is a different stream from the governance database.
        plans = cases_reported_on(day, Settings(seed=self.seed + 311, sim_cases_per_day=self.per_day))
        rng = random.Random(f"open311-defects-{self.seed}-{day.isoformat()}")
        weights = [1 - self.defect_rate] + [self.defect_rate / len(DEFECTS)] * len(DEFECTS)
        return [(plan, rng.choices((None, *DEFECTS), weights=weights)[0]) for plan in plans]

    def _record(self, plan, moment: datetime) -> dict | None:
        row = plan.state_at(moment)
        if row is None:
            return None
        stage, updated, closed = row.status, row.updated_at, row.closed_at
        category = CATEGORY_BY_CODE[plan.category]
        geo = load_geography()
        community = geo.communities[plan.community_code]
        street = geo.streets[community.parent_code]
        return {
            "service_request_id": plan.case_id.replace("GC", "LH311-", 1),
            "status": "closed" if stage == "closed" else "open",
            "status_notes": CASE_STATUS_NOTES.get(stage, stage),
            "service_name": category.name,
            "service_code": category.code,
            "description": plan.text_as_written,
            "agency_responsible": row.department,
            "service_notice": None,
            "requested_datetime": _w3c_local(plan.reported_at),
            "updated_datetime": _w3c_local(updated),
            "closed_datetime": _w3c_local(closed) if closed else None,
            "expected_datetime": _w3c_local(plan.reported_at + timedelta(days=category.sla_days)),
            "address": f"深圳市龙华区{street.name}{community.name}",
            "address_id": plan.grid_code,
            "zipcode": "518110",
            "lat": plan.lat,
            "long": plan.lon,
            "media_url": None,
        }

    @property
    def horizon(self) -> datetime:
        """The end of the last simulated day: the simulator knows nothing after it."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), LONGHUA_TIMEZONE)

    def entries(self, as_of: datetime | None) -> list[Entry]:
        end = self.horizon
        as_of = min(as_of, end) if as_of else end
        # The plans are in local wall-clock time; the state just before ``as_of``.
        moment = as_of.astimezone(LONGHUA_TIMEZONE).replace(tzinfo=None) - timedelta(microseconds=1)
        entries = []
        day = self.first_day
        while day <= self.last_day and datetime.combine(day, time()) <= moment:
            for plan, defect in self._plans(day):
                record = self._record(plan, moment)
                if record is not None:
                    entries.extend(_with_defect(record, defect, plan))
            day += timedelta(days=1)
        return sorted(entries, key=lambda e: e.order)


def _w3c_local(value: datetime) -> str:
    return value.replace(tzinfo=LONGHUA_TIMEZONE).isoformat(timespec="seconds")


def _with_defect(record: dict, defect: str | None, plan) -> list[Entry]:
    if defect == "missing_id":
        record["service_request_id"] = None
    elif defect == "bad_datetime":
        record["requested_datetime"] = f"{plan.reported_at:%Y/%m/%d %H:%M}"  # no offset, not W3C
    elif defect == "unknown_service":
        record["service_code"] = "illegal_building"
    elif defect == "outside":
        record["lat"], record["long"] = record["long"], record["lat"]
    elif defect == "future":
        record["requested_datetime"] = _w3c_local(plan.reported_at + timedelta(days=366))
    if defect == "duplicate":
        return [_entry(record), _entry(dict(record), copy=1)]
    return [_entry(record)]


@dataclass
class Fault:
    """Make matching ``requests.json`` calls fail.

    Calls are counted among those for ``page`` (any page when None); calls number
    ``nth`` … ``nth + times - 1`` answer ``status_code`` (``kind="error"``) or sleep
    ``sleep_s`` seconds before answering (``kind="sleep"``).
    """

    kind: str = "error"
    nth: int = 1
    times: int = 1
    page: int | None = None
    status_code: int = 500
    sleep_s: float = 2.0
    seen: int = 0


class _BadParameter(ValueError):
    pass


def _param_datetime(name: str, value: str | None, tz: ZoneInfo) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _BadParameter(
            f"{name}={value!r} is not a W3C datetime like 2026-11-25T00:00:00+08:00"
        ) from None
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise _BadParameter(f"{name}={value!r} is outside the years {YEARS[0]}..{YEARS[1]}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _param_int(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise _BadParameter(f"{name}={value!r} is not a whole number") from None
    if not low <= number <= high:
        raise _BadParameter(f"{name}={number} is outside {low}..{high}")
    return number


def _param_choices(name: str, value: str | None, known, hint: str) -> set[str]:
    """A comma list whose every item is one of ``known``; empty when not given."""
    chosen = {item for item in (value or "").split(",") if item}
    unknown = sorted(chosen - set(known))
    if unknown:
        raise _BadParameter(f"{name}: unknown value(s) {', '.join(map(repr, unknown))}; {hint}")
    return chosen


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status)


class _UnknownJurisdiction(LookupError):
    pass


def _check_jurisdiction(value: str | None, known: tuple[str, ...]) -> None:
    """GeoReport's ``jurisdiction_id`` is optional on a one-jurisdiction server; a given id must be ours."""
    if value is None or value == "" or value in known:
        return
    raise _UnknownJurisdiction(
        f"jurisdiction_id={value!r} is not served here; known jurisdiction ids: {', '.join(known)}"
    )


def create_app(
    dataset,
    faults: list[Fault] | None = None,
    timezone: str | None = None,
    jurisdictions: tuple[str, ...] | None = None,
) -> FastAPI:
    """The Open311 API over ``dataset`` (``Nyc311Dataset`` or ``LonghuaDataset``), answering
    for ``jurisdictions`` (default: the dataset's own jurisdiction id)."""
    tz = ZoneInfo(timezone or ("America/New_York" if dataset.name == "nyc311" else "Asia/Shanghai"))
    known_jurisdictions = tuple(jurisdictions or (dataset.jurisdiction,))
    app = FastAPI(title=f"Open311 GeoReport v2 ({dataset.name})")
    # One dict per requests.json call (page, params, outcome), the latest MAX_CALLS_KEPT only.
    app.state.calls = deque(maxlen=MAX_CALLS_KEPT)
    app.state.faults = [replace(f) for f in faults or []]
    lock = threading.Lock()

    @app.exception_handler(_UnknownJurisdiction)
    def unknown_jurisdiction(request: Request, error: _UnknownJurisdiction) -> JSONResponse:
        return _error(404, str(error))

    @app.exception_handler(Exception)
    def unexpected(request: Request, error: Exception) -> JSONResponse:
        # The client gets GeoReport's error format; the traceback stays in the server's log.
        log.exception("Open311 %s failed", request.url)
        return _error(500, f"internal error answering {request.url.path}; see the server log")

    def _fault_for(page: int) -> Fault | None:
        with lock:
            for fault in app.state.faults:
                if fault.page is None or fault.page == page:
                    fault.seen += 1
                    if fault.nth <= fault.seen < fault.nth + fault.times:
                        return fault
        return None

    @app.get(f"{API_PREFIX}/services.json")
    def services(request: Request) -> list[dict]:
        _check_jurisdiction(request.query_params.get("jurisdiction_id"), known_jurisdictions)
        return dataset.services()

    @app.get(f"{API_PREFIX}/requests.json")
    def requests_json(request: Request):
        q = request.query_params
        call = {"page": q.get("page"), "params": dict(q), "outcome": "ok"}
        with lock:
            app.state.calls.append(call)
        try:
            _check_jurisdiction(q.get("jurisdiction_id"), known_jurisdictions)
        except _UnknownJurisdiction as error:
            call["outcome"] = "404"
            return _error(404, str(error))
        try:
            start = _param_datetime("start_date", q.get("start_date"), tz)
            end = _param_datetime("end_date", q.get("end_date"), tz)
            after = _param_datetime("updated_after", q.get("updated_after"), tz)
            before = _param_datetime("updated_before", q.get("updated_before"), tz)
            page = _param_int("page", q.get("page"), 1, 1, 10**6)
            size = _param_int("page_size", q.get("page_size"), DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
            statuses = _param_choices("status", q.get("status"), STATUSES, f"use {' or '.join(STATUSES)}")
            codes = _param_choices(
                "service_code",
                q.get("service_code"),
                {s["service_code"] for s in dataset.services()},
                f"the codes are listed by {API_PREFIX}/services.json",
            )
        except _BadParameter as error:
            call["outcome"] = "400"
            return _error(400, str(error))
        horizon = getattr(dataset, "horizon", None)
        if before is not None and horizon is not None and before > horizon:
            # An empty answer here would be taken for "nothing changed" and the window lost.
            call["outcome"] = "400"
            return _error(
                400,
                f"updated_before={before.isoformat()} is after the end of the simulated days "
                f"({horizon.isoformat()}); start the server with a later --date",
            )
        call["page"] = page
        fault = _fault_for(page)
        if fault is not None and fault.kind == "error":
            call["outcome"] = f"fault {fault.status_code}"
            return _error(fault.status_code, f"injected fault on page {page}")
        if fault is not None:
            call["outcome"] = f"slept {fault.sleep_s}s"
            clock.sleep(fault.sleep_s)

        selected = []
        for e in dataset.entries(before):
            if after is not None and (e.updated is None or e.updated < after):
                continue
            if start is not None and (e.requested is None or e.requested < start):
                continue
            if end is not None and (e.requested is None or e.requested > end):
                continue
            if statuses and e.record.get("status") not in statuses:
                continue
            if codes and e.record.get("service_code") not in codes:
                continue
            selected.append(e.record)
        return selected[(page - 1) * size : page * size]

    @app.get(API_PREFIX + "/requests/{request_id}.json")
    def one_request(request_id: str, request: Request):
        _check_jurisdiction(request.query_params.get("jurisdiction_id"), known_jurisdictions)
        for e in dataset.entries(None):
            if e.record.get("service_request_id") == request_id:
                return [e.record]
        return _error(404, f"no service request {request_id!r}")

    return app


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serves ``app`` with uvicorn in a daemon thread; yields its base URL; stops on exit.

    ``port=0`` takes a free port (bound here, so the URL is known before the server starts).
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started or not thread.is_alive():
                break
            clock.sleep(0.05)
        if not server.started:
            raise RuntimeError(f"Open311 server did not start on {host}:{sock.getsockname()[1]}")
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def make_dataset(name: str, *, day: date | None = None, days: int = 7, nyc311_dir: Path | str | None = None):
    """``longhua`` (requests reported in the ``days`` up to ``day``) or ``nyc311`` (the sample folder)."""
    if name == "nyc311":
        return Nyc311Dataset(nyc311_dir or nyc311.DEFAULT_NYC311_DIR)
    if name == "longhua":
        if day is None:
            raise ValueError("the longhua dataset needs the last simulated day (--date)")
        from civiclake.settings import get_settings

        settings = get_settings()
        return LonghuaDataset(
            day - timedelta(days=days - 1),
            day,
            seed=settings.seed,
            per_day=max(1, settings.sim_cases_per_day // 5),
        )
    raise ValueError(f"unknown Open311 dataset {name!r}; choose longhua or nyc311")
