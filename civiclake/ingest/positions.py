"""Row checks of the position feed (``civiclake.contracts.positions``), in the driver.

A day's hourly CSV files are read by the shared file reader and each row's fields are
parsed by the shared validator (``civiclake.ingest.validate.check_row``); this module then
gives each row at most one reason, the first of :data:`REASONS` that applies, and finds
the area of a good row's point. A report is quarantined when:

* ``malformed_row``: a field other than the point is missing or unreadable (no resource
  id, a resource class the contract does not know, a time that is not a time);
* ``bad_coordinates``: the point is missing, not a number, off the globe, or the 0/0 a
  terminal sends without a satellite fix;
* ``clock_off``: its time lies after the end of the hour its file was delivered in (the
  future of its own delivery), or more than a day before the batch day began (a terminal
  whose clock was reset). A report up to a day late is kept: terminals buffer while out
  of coverage;
* ``outside_district``: the point lies outside the district (reference geography);
* ``unknown_resource``: its id is no vehicle or team of the registries on the batch day
  (the SCD2 version valid that day), or the registry holding it is not the one the row names;
* ``duplicate_report``: an earlier good row of the batch has the same resource and time
  with another point: the batch does not say which one is right.

A row equal to an earlier good row with the same key is a known duplicate (terminals
resend), counted for the reconciliation and not loaded twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civiclake.contracts.positions import POSITIONS
from civiclake.geography import Geography, Location
from civiclake.ingest.files import FileRead
from civiclake.ingest.validate import CheckedRow, check_row
from civiclake.jurisdiction import Jurisdiction

MALFORMED = "malformed_row"
BAD_COORDINATES = "bad_coordinates"
CLOCK_OFF = "clock_off"
OUTSIDE_DISTRICT = "outside_district"
UNKNOWN_RESOURCE = "unknown_resource"
DUPLICATE = "duplicate_report"
REASONS = (MALFORMED, BAD_COORDINATES, CLOCK_OFF, OUTSIDE_DISTRICT, UNKNOWN_RESOURCE, DUPLICATE)

# How late a buffered report may still arrive.
LATE_REPORTS_KEPT = timedelta(days=1)
_HOUR_FILE = re.compile(r"^([01]\d|2[0-3])\.csv$")
_POINT_FIELDS = (POSITIONS.lon_field, POSITIONS.lat_field)


@dataclass
class CheckedPosition:
    """A report as checked: the shared validator's row (values, reason, duplicate flag) and,
    for a good row, where its point lies."""

    row: CheckedRow
    location: Location | None = None

    @property
    def good(self) -> bool:
        return self.row.reason is None and not self.row.duplicate


def file_hour(file_name: str) -> int:
    """The landing hour a file's name gives (``07.csv`` → 7)."""
    match = _HOUR_FILE.match(file_name)
    if match is None:
        raise ValueError(f"{file_name}: a position file is named by its landing hour, 00.csv … 23.csv")
    return int(match.group(1))


def _reject(row: CheckedRow, reason: str, detail: str) -> None:
    row.reason = f"{reason}: {detail}"
    row.reason_kinds = [reason]


def _first_problem(
    row: CheckedRow,
    delivered_by: datetime,
    earliest: datetime,
    registry: Mapping[str, str],
    geography: Geography,
) -> tuple[str, str] | Location:
    """The row's reason and detail, or the location of its point when it has none."""
    kinds = row.reason_kinds  # the shared validator's problems, by field
    if any(not k.startswith(_POINT_FIELDS) for k in kinds):
        return MALFORMED, row.reason or ""
    point_problems = [k for k in kinds if "outside the jurisdiction" not in k]
    if point_problems:
        return BAD_COORDINATES, "; ".join(point_problems)
    lon, lat = float(row.values["lon"]), float(row.values["lat"])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or (lon == 0 and lat == 0):
        return BAD_COORDINATES, f"({lon}, {lat}) is no point a satellite fix gives"
    reported_at = datetime.fromisoformat(row.values["reported_at"])
    if reported_at >= delivered_by:
        return CLOCK_OFF, f"reported_at {reported_at} is after its file's hour ended ({delivered_by})"
    if reported_at < earliest:
        return CLOCK_OFF, f"reported_at {reported_at} is more than a day before the batch day"
    location = geography.locate(lon, lat)
    if location is None:
        return OUTSIDE_DISTRICT, f"({lon}, {lat}) is outside {geography.district.name}"
    resource_id, kind = row.values["resource_id"], row.values["resource_kind"]
    registered = registry.get(resource_id)
    if registered is None:
        return UNKNOWN_RESOURCE, f"{resource_id} is no registered vehicle or team on the batch day"
    if registered != kind:
        return UNKNOWN_RESOURCE, f"{resource_id} is a registered {registered}, not a {kind}"
    return location


def check_positions(
    reads: list[FileRead],
    batch_date: date,
    registry: Mapping[str, str],
    geography: Geography,
    jurisdiction: Jurisdiction,
) -> list[CheckedPosition]:
    """Checks every row of the batch's readable files, in file and row order; a file whose
    name is no landing hour is marked failed.

    ``registry`` maps the id of every vehicle and team registered on ``batch_date`` to its
    kind (``vehicle`` or ``team``)."""
    day_start = datetime.combine(batch_date, datetime.min.time())
    earliest = day_start - LATE_REPORTS_KEPT
    checked: list[CheckedPosition] = []
    first_seen: dict[tuple, CheckedRow] = {}
    for read in reads:
        if read.status != "loaded":
            continue
        try:
            delivered_by = day_start + timedelta(hours=file_hour(read.file_name) + 1)
        except ValueError as error:
            # Not an hour's file (25.csv): nothing of it is used, and the batch is not done.
            read.status, read.error, read.rows = "failed", str(error), []
            continue
        for source_row in read.rows:
            row = check_row(source_row, POSITIONS, batch_date, geography, jurisdiction)
            outcome = _first_problem(row, delivered_by, earliest, registry, geography)
            if isinstance(outcome, tuple):
                _reject(row, *outcome)
                checked.append(CheckedPosition(row))
                continue
            key = (row.values["resource_id"], row.values["reported_at"])
            first = first_seen.get(key)
            if first is None:
                first_seen[key] = row
            elif first.values == row.values:
                row.duplicate = True
            else:
                _reject(
                    row,
                    DUPLICATE,
                    f"{key[0]} at {key[1]} again with another point "
                    f"(first in {first.file_name} row {first.row_number})",
                )
                outcome = None
            checked.append(CheckedPosition(row, outcome))
    return checked


def reason_counts(checked: list[CheckedPosition]) -> dict[str, int]:
    """Quarantined rows by reason."""
    counts: dict[str, int] = {}
    for position in checked:
        for kind in position.row.reason_kinds if position.row.reason else ():
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))
