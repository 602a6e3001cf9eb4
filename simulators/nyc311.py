"""The real NYC 311 sample (``../shared/data/nyc311``) mapped to Open311 GeoReport v2 records.

NYC Open Data exports 311 requests with local wall-clock times (``MM/DD/YYYY hh:mm:ss AM``,
New York time, no offset) and its own columns. GeoReport v2 wants W3C datetimes with an
offset and its own field names, so each row becomes:

| GeoReport field | NYC column |
| --- | --- |
| service_request_id | Unique Key |
| status | ``closed`` when Status is Closed, else ``open`` (Open, Pending, Assigned, …) |
| status_notes | Resolution Description, or the NYC Status when there is none |
| service_code / service_name | a slug of Complaint Type / Complaint Type |
| description | Descriptor |
| agency_responsible | Agency (e.g. NYPD) |
| requested_datetime | Created Date |
| updated_datetime | the latest of Created, Closed and Resolution Action Updated Date |
| closed_datetime (extension) | Closed Date |
| expected_datetime | Due Date |
| address / zipcode | Incident Address (else the intersection) / Incident Zip |
| lat / long | Latitude / Longitude (absent when the row has none) |

A date that does not parse is passed on as its original text, so the ingest job, not the
server, decides what happens to it (it is quarantined there with a reason).
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from civiclake.settings import PROJECT_ROOT

DEFAULT_NYC311_DIR = PROJECT_ROOT.parent / "shared" / "data" / "nyc311"
NYC_TIMEZONE = ZoneInfo("America/New_York")
NYC_DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"


class Nyc311DataMissingError(FileNotFoundError):
    """The NYC 311 sample folder (or its CSV files) is not there."""


def service_code(complaint_type: str) -> str:
    """A stable, URL-safe code for a complaint type: ``Noise - Residential`` → ``noise_residential``."""
    return re.sub(r"[^a-z0-9]+", "_", complaint_type.lower()).strip("_") or "unspecified"


def _local(text: str) -> datetime | None:
    """A NYC local wall-clock time as an aware datetime (the first of two in a DST fall-back hour)."""
    try:
        return datetime.strptime(text.strip(), NYC_DATE_FORMAT).replace(tzinfo=NYC_TIMEZONE)
    except ValueError:
        return None


def _w3c(text: str) -> str | None:
    """Original text → W3C datetime with offset; empty → None; unparseable → the text itself."""
    if not text.strip():
        return None
    parsed = _local(text)
    return parsed.isoformat(timespec="seconds") if parsed else text


def _float(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def to_georeport(row: dict[str, str]) -> dict:
    """One NYC 311 CSV row (all cells as strings) as a GeoReport v2 request record."""
    times = [
        _local(row.get(c, "")) for c in ("Created Date", "Closed Date", "Resolution Action Updated Date")
    ]
    known = [t for t in times if t is not None]
    updated = max(known).isoformat(timespec="seconds") if known else _w3c(row.get("Created Date", ""))
    closed = row.get("Status", "").strip().lower() == "closed"
    address = row.get("Incident Address", "").strip()
    if not address and row.get("Intersection Street 1", "").strip():
        address = f"{row['Intersection Street 1'].strip()} & {row.get('Intersection Street 2', '').strip()}"
    lat, lon = _float(row.get("Latitude", "")), _float(row.get("Longitude", ""))
    complaint = row.get("Complaint Type", "").strip()
    return {
        "service_request_id": row.get("Unique Key", "").strip() or None,
        "status": "closed" if closed else "open",
        "status_notes": row.get("Resolution Description", "").strip()
        or row.get("Status", "").strip()
        or None,
        "service_name": complaint or None,
        "service_code": service_code(complaint) if complaint else None,
        "description": row.get("Descriptor", "").strip() or None,
        "agency_responsible": row.get("Agency", "").strip() or None,
        "service_notice": None,
        "requested_datetime": _w3c(row.get("Created Date", "")),
        "updated_datetime": updated,
        "closed_datetime": _w3c(row.get("Closed Date", "")),
        "expected_datetime": _w3c(row.get("Due Date", "")),
        "address": address or None,
        "address_id": None,
        "zipcode": row.get("Incident Zip", "").strip() or None,
        "lat": lat,
        "long": lon,
        "media_url": None,
    }


def csv_files(folder: Path | str = DEFAULT_NYC311_DIR) -> list[Path]:
    folder = Path(folder)
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        raise Nyc311DataMissingError(
            f"NYC 311 sample not found: no CSV files in {folder}. It is the staged public sample "
            "../shared/data/nyc311 (see ../shared/data/README.md); point the server at a folder "
            "of NYC Open Data 311 CSV exports with --nyc311-dir."
        )
    return files


def read_rows(folder: Path | str = DEFAULT_NYC311_DIR) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in csv_files(folder):
        with path.open(encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def services_of(records: list[dict]) -> list[dict]:
    """The GeoReport service list of the records: one service per complaint type, grouped by agency."""
    by_code: dict[str, dict] = {}
    for r in records:
        code = r["service_code"]
        if code and code not in by_code:
            by_code[code] = {
                "service_code": code,
                "service_name": r["service_name"],
                "description": r["service_name"],
                "metadata": False,
                "type": "realtime",
                "keywords": "",
                "group": r["agency_responsible"] or "",
            }
    return [by_code[c] for c in sorted(by_code)]
