"""Governance case system (基层治理): the tables of its operational PostgreSQL database.

Cases carry their current state (updated in place, extracted by ``updated_at``), the status
history one row per lifecycle event (append-only, extracted by ``recorded_at``), and the
grid workers' roster. Residents' names, phones and ID numbers become tokens; an ID number's
check digit is kept as a flag, since a mistyped number is still someone's.
"""

from __future__ import annotations

from civiclake.catalogue import CASE_EVENT_TYPES, CASE_STATUSES, CATEGORIES, CHANNEL_NAMES, CHANNELS
from civiclake.contracts.base import AREA, DatabaseTable, Field, SilverColumn, SourceContract, stored_codes

FAMILY = "governance"

CASES = SourceContract(
    table="governance_cases",
    family=FAMILY,
    source=DatabaseTable("governance.cases", updated_column="updated_at"),
    columns=(
        Field("case_id"),
        Field("channel", codes={CHANNEL_NAMES[code]: code for code in CHANNELS}),
        Field("category", codes={c.name: c.code for c in CATEGORIES}),
        Field("department"),
        Field("description"),
        *AREA,
        Field("community_code", nullable=True),
        Field("grid_code", nullable=True),
        Field("lon", type="float", nullable=True),
        Field("lat", type="float", nullable=True),
        Field("reporter_name", pii="name", nullable=True),
        Field("reporter_phone", pii="phone", nullable=True),
        Field("reporter_id_number", pii="id_number", id_number=True, nullable=True),
        SilverColumn("reporter_id_valid", "bool"),
        Field("reported_at", type="timestamp", not_after_batch=True),
        Field("dispatched_at", type="timestamp", nullable=True),
        Field("closed_at", type="timestamp", nullable=True),
        # A case's status is the type of its latest lifecycle event.
        Field("status", codes=stored_codes(*CASE_STATUSES)),
        Field("satisfaction", type="smallint", nullable=True),  # 1–5, given when a case closes
        Field("updated_at", type="timestamp", not_after_batch=True),
        Field("accepted_at", type="timestamp", nullable=True),
        Field("handled_at", type="timestamp", nullable=True),
        Field("fed_back_at", type="timestamp", nullable=True),
        # The handling department's answer to the resident (none: closed without feedback).
        Field("feedback_text", nullable=True),
        # The manhole cover (city.manhole_covers) a case about a cover is at; none otherwise.
        Field("asset_id", nullable=True),
    ),
    key=("case_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
    free_text=("description", "feedback_text"),
)

CASE_EVENTS = SourceContract(
    table="governance_case_events",
    family=FAMILY,
    source=DatabaseTable("governance.case_events", updated_column="recorded_at"),
    columns=(
        Field("event_id"),
        Field("case_id"),
        Field("seq", type="smallint"),  # the event's place in its case's lifecycle
        Field("event_type", codes=stored_codes(*CASE_EVENT_TYPES)),
        Field("department"),
        Field("occurred_at", type="timestamp", not_after_batch=True),
        Field("recorded_at", type="timestamp", not_after_batch=True),
    ),
    key=("event_id",),
)

# Staff rather than residents, but their names and phones are personal data all the same.
GRID_WORKERS = SourceContract(
    table="governance_grid_workers",
    family=FAMILY,
    source=DatabaseTable("governance.grid_workers", updated_column="updated_at"),
    columns=(
        Field("grid_code"),
        # The grid's community and street, looked up in the reference geography.
        SilverColumn("community_code"),
        SilverColumn("street_code"),
        Field("worker_id"),
        Field("worker_name", pii="name"),
        Field("worker_phone", pii="phone"),
        Field("on_duty_since", type="date"),
        Field("updated_at", type="timestamp", not_after_batch=True),
    ),
    key=("grid_code",),
)

# Dispatch orders: what the platform sent to a department (dispatch), moved to another one
# (transfer), sent up a level (escalation) or gave it as its task in a joint operation
# (operation: case_id holds the operation's id, not a case); written by civiclake's delivery
# through the outbox, exactly once per order_id, and updated by the department when it
# accepts and, for an operation's task, when it reports the task done (completed).
ORDER_KINDS = ("dispatch", "transfer", "escalation", "operation")
ORDER_LEVELS = ("community", "street", "district")
ORDER_STATUSES = ("issued", "accepted", "superseded", "completed")

DISPATCH_ORDERS = SourceContract(
    table="governance_dispatch_orders",
    family=FAMILY,
    source=DatabaseTable("governance.dispatch_orders", updated_column="updated_at"),
    columns=(
        Field("order_id"),
        Field("case_id"),
        Field("kind", codes=stored_codes(*ORDER_KINDS)),
        Field("level", codes=stored_codes(*ORDER_LEVELS)),
        Field("department"),
        Field("team", nullable=True),
        Field("reason", nullable=True),  # why: the rule, the transfer or the escalation
        Field("previous_order_id", nullable=True),  # the order a transfer or escalation follows
        Field("issued_at", type="timestamp", not_after_batch=True),
        Field("accepted_at", type="timestamp", nullable=True, not_after_batch=True),
        Field("status", codes=stored_codes(*ORDER_STATUSES)),
        Field("updated_at", type="timestamp", not_after_batch=True),
        Field("completed_at", type="timestamp", nullable=True, not_after_batch=True),  # operation orders
    ),
    key=("order_id",),
)

# Weather warnings the district's command system received from the meteorological service
# (预警信号): issued for the whole district (no street) or one street, raised or lowered in
# place (a new level updates the row) and lifted when over. A plan may start on one
# (civiclake.operations.triggers).
# Shenzhen's warning signals, by the code the feed carries.
WARNING_KINDS = (
    "rainstorm",
    "typhoon",
    "thunderstorm_gale",
    "high_temperature",
    "cold",
    "fog",
    "haze",
    "hail",
    "forest_fire",
)
WARNING_LEVELS = ("blue", "yellow", "orange", "red")  # rising severity

WEATHER_WARNINGS = SourceContract(
    table="governance_weather_warnings",
    family=FAMILY,
    source=DatabaseTable("governance.weather_warnings", updated_column="updated_at"),
    columns=(
        Field("warning_id"),
        Field("kind", codes=stored_codes(*WARNING_KINDS)),
        Field("level", codes=stored_codes(*WARNING_LEVELS)),
        Field("district_code"),
        Field("street_code", nullable=True),  # none: the whole district
        Field("issued_at", type="timestamp", not_after_batch=True),
        Field("lifted_at", type="timestamp", nullable=True, not_after_batch=True),
        Field("updated_at", type="timestamp", not_after_batch=True),
    ),
    key=("warning_id",),
)

CONTRACTS = (CASES, CASE_EVENTS, GRID_WORKERS, DISPATCH_ORDERS, WEATHER_WARNINGS)
