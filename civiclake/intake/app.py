"""The intake API: Open311 GeoReport v2 ``services``, ``POST requests`` and ``GET requests/{id}``.

* ``GET /open311/v2/services.json`` — the catalogue's categories (civiclake.catalogue) as
  service codes;
* ``POST /open311/v2/requests.json`` — a resident's request, form-encoded as GeoReport v2
  specifies (``application/x-www-form-urlencoded``) or as a JSON object: ``api_key``,
  ``service_code``, ``lat`` + ``long`` or ``address_string``, ``description``, ``media_url``
  and the contact fields ``first_name``, ``last_name``, ``phone``, ``email``, ``device_id``,
  ``account_id``. Answers 201 with ``[{"service_request_id": …, "service_notice": …}]``;
* ``GET /open311/v2/requests/{id}.json`` — a request as the governance system has it now:
  open or closed, the department responsible and, once the department has answered the
  resident, its answer in ``status_notes``.

What is stored: the case (civiclake.intake.store) with the resident's name and phone as
HMAC tokens (civiclake.pii) and personal numbers in the text replaced by theirs; the
e-mail, device and account ids are checked and dropped, since the governance system has
no place for them and the district needs none. ``media_url`` is checked and dropped for
the same reason.

Refusals come as GeoReport's error list ``[{"code": …, "description": …}]`` naming what to
fix, and nothing is stored for them: 401/403 without a known key, 415 for another content
type, 413 for an oversize body, 429 past the key's rate limit (with ``Retry-After``), 409 for
the same post again within the duplicate window, 400 for any other bad field, 404 for an
unknown jurisdiction or request, 503 while the governance database cannot be reached. An
unexpected error is answered 500 in the same shape; its traceback stays in the log.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from civiclake.catalogue import CASE_STATUS_NOTES, CATEGORIES, CATEGORY_BY_CODE
from civiclake.contracts.governance import CASES
from civiclake.geography import Geography, load_geography
from civiclake.intake.clients import Client, client_of
from civiclake.intake.limits import RateLimiter, RecentPosts, retry_after
from civiclake.intake.places import Place, PlaceError, place_of_address, place_of_point
from civiclake.intake.store import CaseStore, GovernanceUnavailableError, NewCase, StoredCase
from civiclake.jurisdiction import Jurisdiction
from civiclake.pii import scrub_text, tokenise

log = logging.getLogger(__name__)

API_PREFIX = "/open311/v2"
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
FIELDS = (
    "jurisdiction_id",
    "api_key",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "media_url",
    "first_name",
    "last_name",
    "phone",
    "email",
    "device_id",
    "account_id",
)
# Contact fields are short; a long one is a client's mistake, not a name.
MAX_CONTACT_CHARS = {
    "first_name": 50,
    "last_name": 50,
    "phone": 30,
    "email": 254,
    "device_id": 200,
    "account_id": 200,
}
MAX_MEDIA_URL_CHARS = 2048
_PHONE = re.compile(r"^\+?[\d ()-]{5,30}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CATEGORY_CODES = dict(CASES.field("category").codes or {})


class Refused(Exception):
    """A request answered with a GeoReport error and nothing stored."""

    def __init__(self, status: int, description: str, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.status, self.description, self.headers = status, description, headers


def _error(status: int, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status, headers=headers)


def services() -> list[dict]:
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": f"{c.name}（{c.department}，{c.sla_days}天内办结）",
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": c.department,
        }
        for c in CATEGORIES
    ]


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused unread (413) as soon as it is longer than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"the request body has {declared} bytes; at most {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"the request body is longer than {limit} bytes")
    return bytes(body)


def _fields_of(content_type: str, body: bytes) -> dict[str, str]:
    """The posted fields as strings, from a form-encoded or JSON body (415 for other types)."""
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip().lower()
    charset = dict(
        (k.strip().lower(), v.strip().strip('"').lower())
        for k, _, v in (p.partition("=") for p in parameters.split(";"))
        if k.strip()
    ).get("charset", "utf-8")
    if media_type not in (FORM, JSON_TYPE):
        raise Refused(
            415,
            f"content type {media_type or 'none'!r} is not accepted; post the request as {FORM} "
            f"(GeoReport v2) or {JSON_TYPE}",
        )
    if charset not in ("utf-8", "utf8"):
        raise Refused(415, f"charset {charset!r} is not accepted; encode the request in UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Refused(400, f"the request body is not UTF-8 (byte {error.start})") from None
    if media_type == JSON_TYPE:
        return _json_fields(text)
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as error:
        raise Refused(400, f"the form body cannot be decoded: {error}") from None
    for name, value in pairs:
        if name in fields and name in FIELDS:
            raise Refused(400, f"field {name!r} is given twice; send it once")
        fields[name] = value
    return fields


def _json_fields(text: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise Refused(400, f"the JSON body does not parse: {error.msg} at character {error.pos}") from None
    if not isinstance(document, dict):
        raise Refused(400, "the JSON body must be an object of the request's fields")
    fields = {}
    for name, value in document.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            if name in FIELDS:
                raise Refused(400, f"field {name!r} must be a string or a number")
            continue
        fields[name] = value if isinstance(value, str) else repr(value)
    return fields


def _given(fields: dict[str, str], name: str) -> str | None:
    value = fields.get(name)
    return value.strip() if value is not None and value.strip() else None


def _check_contact(fields: dict[str, str]) -> None:
    for name, limit in MAX_CONTACT_CHARS.items():
        value = _given(fields, name)
        if value is not None and len(value) > limit:
            raise Refused(400, f"{name} has {len(value)} characters; at most {limit}")
    phone = _given(fields, "phone")
    if phone is not None and (not _PHONE.match(phone) or sum(c.isdigit() for c in phone) < 5):
        raise Refused(400, "phone is not a telephone number (digits, spaces, dashes, a leading +)")
    email = _given(fields, "email")
    if email is not None and not _EMAIL.match(email):
        raise Refused(400, "email is not an e-mail address")


def _check_media_url(fields: dict[str, str]) -> None:
    url = _given(fields, "media_url")
    if url is None:
        return
    parts = urlsplit(url)
    if len(url) > MAX_MEDIA_URL_CHARS or parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refused(400, f"media_url must be an http(s) URL of at most {MAX_MEDIA_URL_CHARS} characters")


def phone_digits(phone: str) -> str:
    """A phone number as its column's token is made from: digits only, without China's +86."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def reporter_name(fields: dict[str, str]) -> str | None:
    """The resident's name as one value, family name first as Chinese names are written."""
    parts = [_given(fields, "last_name"), _given(fields, "first_name")]
    return "".join(p for p in parts if p) or None


def create_app(
    settings,
    clients: tuple[Client, ...],
    store: CaseStore,
    clock,
    jurisdiction: Jurisdiction,
    *,
    geography: Geography | None = None,
    monotonic: Callable[[], float] | None = None,
) -> FastAPI:
    """The intake API for ``clients``, entering requests through ``store`` stamped by ``clock``
    (civiclake.intake.clock); limits from ``settings``; ``monotonic`` drives the rate limits."""
    geography = geography or load_geography()
    timezone = ZoneInfo(jurisdiction.timezone)
    pii_key = settings.require_pii_key()
    timing = {"now": monotonic} if monotonic else {}
    limiter = RateLimiter(settings.intake_rate_burst, settings.intake_rate_per_minute, **timing)
    recent = RecentPosts(settings.intake_duplicate_window_s, **timing)
    max_description = settings.intake_max_description_chars
    # One request enters at a time: the duplicate check, the store and the clock's step
    # belong together (two identical posts racing must not both be stored).
    entering = threading.Lock()
    app = FastAPI(title="civiclake intake (Open311 GeoReport v2)", docs_url=None, redoc_url=None)

    @app.exception_handler(Refused)
    def refused(request: Request, error: Refused) -> JSONResponse:
        return _error(error.status, error.description, error.headers)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, f"{request.method} {request.url.path}: {error.detail}")

    @app.exception_handler(GovernanceUnavailableError)
    def unavailable(request: Request, error: GovernanceUnavailableError) -> JSONResponse:
        log.error("intake: %s", error)
        return _error(
            503, "the governance system cannot take requests now; try again later", {"Retry-After": "60"}
        )

    @app.exception_handler(Exception)
    def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("intake %s %s failed", request.method, request.url.path)
        return _error(500, f"internal error answering {request.url.path}; see the server log")

    def check_jurisdiction(value: str | None) -> None:
        if value and value != jurisdiction.code:
            raise Refused(404, f"jurisdiction_id={value!r} is not served here; this is {jurisdiction.code!r}")

    @app.get(f"{API_PREFIX}/services.json")
    def services_json(request: Request) -> list[dict]:
        check_jurisdiction(request.query_params.get("jurisdiction_id"))
        return services()

    def place_of(fields: dict[str, str]) -> Place:
        lat, lon, address = _given(fields, "lat"), _given(fields, "long"), _given(fields, "address_string")
        try:
            if lat is not None or lon is not None:
                if lat is None or lon is None:
                    raise PlaceError("lat and long go together; send both, or address_string alone")
                return place_of_point(lat, lon, jurisdiction, geography)
            if address is not None:
                return place_of_address(address, jurisdiction, geography)
        except PlaceError as error:
            raise Refused(400, str(error)) from None
        raise Refused(400, "where is it? send lat and long, or an address_string naming the community")

    def new_case(client: Client, fields: dict[str, str]) -> tuple[NewCase, tuple]:
        """The case to store (tokens only) and the post's fingerprint, after every field's check."""
        check_jurisdiction(_given(fields, "jurisdiction_id"))
        code = _given(fields, "service_code")
        if code is None:
            raise Refused(
                400, f"service_code is required; the codes are listed by {API_PREFIX}/services.json"
            )
        if code not in CATEGORY_BY_CODE:
            raise Refused(
                400, f"service_code={code!r} is unknown; the codes are listed by {API_PREFIX}/services.json"
            )
        description = _given(fields, "description")
        if description is None:
            raise Refused(400, "description is required: say what the problem is")
        if len(description) > max_description:
            raise Refused(400, f"description has {len(description)} characters; at most {max_description}")
        place = place_of(fields)
        _check_media_url(fields)
        _check_contact(fields)
        category = CATEGORY_BY_CODE[code]
        address = _given(fields, "address_string")
        text = description if address is None else f"{description}（地址：{address}）"
        phone = _given(fields, "phone")
        case = NewCase(
            channel=client.channel,
            category=category.code,
            department=category.department,
            description=scrub_text(text, pii_key),
            community_code=place.location.community_code,
            grid_code=place.location.grid_code,
            lon=place.lon,
            lat=place.lat,
            reporter_name=tokenise(reporter_name(fields), "name", pii_key),
            reporter_phone=tokenise(phone_digits(phone), "phone", pii_key) if phone else None,
            reported_at=clock.now(),
        )
        # Spaces are no difference in Chinese text, nor a way around the duplicate check.
        fingerprint = (client.name, code, place.key, "".join(case.description.split()))
        return case, fingerprint

    def enter(client: Client, fields: dict[str, str]) -> tuple[str, NewCase]:
        with entering:
            case, fingerprint = new_case(client, fields)
            earlier = recent.seen(fingerprint)
            if earlier is not None:
                request_id, left = earlier
                raise Refused(
                    409,
                    f"the same request was accepted as {request_id} moments ago; it is not entered "
                    "twice (GET it to follow it)",
                    {"Retry-After": retry_after(left)},
                )
            case_id = store.add(case)
            clock.accepted()
            recent.remember(fingerprint, case_id)
        return case_id, case

    @app.post(f"{API_PREFIX}/requests.json")
    async def post_request(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        fields = _fields_of(content_type, await _read_body(request, settings.intake_max_body_bytes))
        key = _given(fields, "api_key")
        if key is None:
            raise Refused(401, "api_key is required: each client app posts with the key it was given")
        client = client_of(key, clients)
        if client is None:
            raise Refused(403, "api_key is not a key of this service")
        wait = limiter.take(client.name)
        if wait > 0:
            raise Refused(
                429,
                f"client {client.name!r} is over its rate limit "
                f"({settings.intake_rate_per_minute:g} a minute, bursts of {settings.intake_rate_burst})",
                {"Retry-After": retry_after(wait)},
            )
        case_id, case = await run_in_threadpool(enter, client, fields)
        category = CATEGORY_BY_CODE[case.category]
        log.info("intake: %s from client %s (%s)", case_id, client.name, case.category)
        notice = (
            f"已受理，已转{case.department}办理，{category.name}一般在{category.sla_days}天内办结；"
            "可凭受理编号查询进度"
        )
        return JSONResponse(
            [{"service_request_id": case_id, "service_notice": notice, "account_id": None}], status_code=201
        )

    def w3c(value: datetime | None) -> str | None:
        return value.replace(tzinfo=timezone).isoformat(timespec="seconds") if value else None

    def answer(case: StoredCase) -> dict:
        code = _CATEGORY_CODES.get(case.category, case.category)
        category = CATEGORY_BY_CODE.get(code)
        fed_back = case.fed_back_at is not None and case.feedback_text
        # Departments write to the resident; numbers in their text are still kept off a public API.
        notes = (
            scrub_text(case.feedback_text, pii_key)
            if fed_back
            else CASE_STATUS_NOTES.get(case.status, case.status)
        )
        community = geography.communities.get(case.community_code or "")
        return {
            "service_request_id": case.case_id,
            "status": "closed" if case.status == "closed" else "open",
            "status_notes": notes,
            "service_name": category.name if category else case.category,
            "service_code": code,
            "description": case.description,
            "agency_responsible": case.agency_responsible,
            "service_notice": None,
            "requested_datetime": w3c(case.reported_at),
            "updated_datetime": w3c(case.updated_at),
            "closed_datetime": w3c(case.closed_at) if case.status == "closed" else None,
            "expected_datetime": w3c(case.reported_at + timedelta(days=category.sla_days))
            if category
            else None,
            "address": (
                f"{geography.district.name}{geography.streets[community.parent_code].name}{community.name}"
                if community
                else None
            ),
            "lat": case.lat,
            "long": case.lon,
            "media_url": None,
        }

    @app.get(API_PREFIX + "/requests/{request_id}.json")
    async def one_request(request_id: str, request: Request):
        check_jurisdiction(request.query_params.get("jurisdiction_id"))
        case = await run_in_threadpool(store.get, request_id)
        if case is None:
            raise Refused(404, f"no service request {request_id!r}")
        return [answer(case)]

    return app


def app_from_settings(settings, simulated_day=None) -> FastAPI:
    """The intake API as configured: client keys, the governance database, the jurisdiction's
    wall clock or, with ``simulated_day``, a clock walking through that day from where the
    requests already entered for it leave off."""
    from civiclake.intake.clients import parse_clients
    from civiclake.intake.clock import SimulatedDayClock, WallClock
    from civiclake.jurisdiction import load_jurisdiction

    clients = parse_clients(settings.intake_clients_text())
    jurisdiction = load_jurisdiction(settings.jurisdiction)
    store = CaseStore(settings.pg_conninfo())
    if simulated_day is None:
        clock = WallClock(jurisdiction.timezone)
    else:
        clock = SimulatedDayClock(
            simulated_day, accepted_before=lambda: store.count_reported_on(simulated_day)
        )
    log.info("intake: clients %s; clock %s", ", ".join(c.name for c in clients), type(clock).__name__)
    return create_app(settings, clients, store, clock, jurisdiction)
