"""Open311 GeoReport v2 service requests, read page by page from a city's API.

Bronze keeps every field as the server sent it (text). Silver reshapes them: W3C datetimes
become instants (``*_at``), ``lat``/``long`` numbers, each row is tagged with its
jurisdiction, the jurisdiction's time zone and the local day of the request, and the
page it came from. Phone and ID numbers residents and agents write into the description
and the status notes become tokens before anything is written.
"""

from __future__ import annotations

from civiclake.contracts.base import ApiResource, Field, SilverColumn, SourceContract, stored_codes

FAMILY = "open311"

REQUESTS = SourceContract(
    table="open311_requests",
    family=FAMILY,
    source=ApiResource("/requests.json"),
    columns=(
        Field("service_request_id"),
        Field("status", codes=stored_codes("open", "closed")),
        Field("status_notes", nullable=True),
        Field("service_name", nullable=True),
        Field("service_code"),
        Field("description", nullable=True),
        Field("agency_responsible", nullable=True),
        Field("service_notice", nullable=True),
        Field("requested_datetime"),
        Field("updated_datetime"),
        Field("closed_datetime", nullable=True),
        Field("expected_datetime", nullable=True),
        Field("address", nullable=True),
        Field("address_id", nullable=True),
        Field("zipcode", nullable=True),
        Field("lat"),
        Field("long"),
        Field("media_url", nullable=True),
    ),
    key=("jurisdiction", "service_request_id"),
    free_text=("description", "status_notes"),
    silver=(
        SilverColumn("jurisdiction"),
        SilverColumn("service_request_id"),
        SilverColumn("status"),
        SilverColumn("status_notes"),
        SilverColumn("service_code"),
        SilverColumn("service_name"),
        SilverColumn("description"),
        SilverColumn("agency_responsible"),
        SilverColumn("address"),
        SilverColumn("zipcode"),
        SilverColumn("lat", "float"),
        SilverColumn("lon", "float"),
        SilverColumn("media_url"),
        SilverColumn("requested_at", "timestamp"),
        SilverColumn("updated_at", "timestamp"),
        SilverColumn("closed_at", "timestamp"),
        SilverColumn("expected_at", "timestamp"),
        SilverColumn("timezone"),  # the jurisdiction's IANA time zone
        SilverColumn("requested_date_local", "date"),  # the request's day on local clocks
    ),
)

CONTRACTS = (REQUESTS,)
