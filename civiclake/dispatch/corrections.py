"""Reviewers' decisions on the review queue, kept as labels: silver ``case_label_corrections``.

One row per case: the category (and, where the reviewer chose one, the department) a
person decided, when, and by whom — the reviewer as a keyed HMAC token, never a name.
A later decision on the same case replaces an earlier one; an older one never rolls a
newer back. Training uses the corrected category over the source's label, and scoring
routes a corrected case by it.

Written with the ``deltalake`` package (no JVM), so one decision from the command line
is quick; Spark jobs read the same Delta table. Every value is checked first; an error
names the row and field, and a bulk file keeps its good rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from civiclake.catalogue import CATEGORIES, CATEGORY_BY_CODE
from civiclake.dispatch.rules import RuleSet, load_rules
from civiclake.lake.read import TableMissingError, read_table, table_or_none, table_uri
from civiclake.pii import tokenise
from civiclake.settings import Settings

TABLE = "case_label_corrections"
# Times are the district's wall clock. The lake keeps a wall-clock time as the UTC instant
# of the same digits (as ingestion stores the source's `timestamp without time zone`), so
# values are written and read as UTC; a time given with an offset is first turned into
# the district's wall clock.
LOCAL_TZ = "Asia/Shanghai"
STORED_AS = "UTC"
REQUIRED_COLUMNS = ("case_id", "corrected_category", "reviewed_at", "reviewer")
OPTIONAL_COLUMNS = ("corrected_department",)
SCHEMA = pa.schema(
    [
        pa.field("case_id", pa.string(), nullable=False),
        pa.field("corrected_category", pa.string(), nullable=False),
        pa.field("corrected_department", pa.string()),
        pa.field("reviewed_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("reviewer_token", pa.string(), nullable=False),
    ]
)


class CorrectionError(ValueError):
    """A correction cannot be recorded; the message names the row and field."""


@dataclass
class Outcome:
    written: int = 0
    errors: list[str] = field(default_factory=list)


# Where a reviewed case is looked up: the funnel of every channel, then the governance cases.
CASE_TABLES = ("cases", "governance_cases")


def known_departments(rules: RuleSet | None = None) -> set[str]:
    """Departments a reviewer may name: the catalogue's and those the routing rules name."""
    rules = rules or load_rules()
    return {c.department for c in CATEGORIES} | rules.departments


def _reported_at(settings: Settings, case_ids: list[str]) -> dict[str, datetime]:
    """Report time (local) of the given cases in the case funnel (silver.cases, every channel),
    or in silver.governance_cases on a lake the funnel has not run on; absent ids are left out."""
    import pyarrow.compute as pc

    wanted = sorted({c for c in case_ids if c})
    if not wanted:  # an empty review queue (isin() of no values cannot be typed)
        return {}
    frames = []
    for table in CASE_TABLES:
        try:
            data = read_table(
                settings,
                "silver",
                table,
                columns=["case_id", "reported_at"],
                filters=pc.field("case_id").isin(pa.array(wanted, pa.string())),
            )
        except TableMissingError:
            continue
        frames.append(data.to_pandas())
    if not frames:
        return {}
    frame = pd.concat(frames, ignore_index=True).drop_duplicates("case_id")
    times = pd.to_datetime(frame["reported_at"], utc=True).dt.tz_convert(STORED_AS).dt.tz_localize(None)
    return {case: t.to_pydatetime() for case, t in zip(frame["case_id"], times, strict=True)}


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is not None:  # an explicit offset is honoured, then shown in local time
        parsed = pd.Timestamp(parsed).tz_convert(LOCAL_TZ).tz_localize(None).to_pydatetime()
    return parsed


def validate(
    rows: list[dict[str, str | None]],
    settings: Settings,
    *,
    where: list[str] | None = None,
    rules: RuleSet | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Good rows as a frame of :data:`SCHEMA` (reviewer tokenised) and one message per bad row.

    ``where`` names each row in messages (e.g. ``file.csv line 3``).
    """
    key = settings.require_pii_key()
    departments = known_departments(rules)
    where = where or [f"row {i + 1}" for i in range(len(rows))]
    reported = _reported_at(settings, [str(r.get("case_id") or "").strip() for r in rows])
    good, errors = [], []
    for label, row in zip(where, rows, strict=True):
        values = {k: (str(v).strip() if v is not None else "") for k, v in row.items()}

        def bad(column: str, message: str, label: str = label) -> None:
            errors.append(f"{label}, field {column!r}: {message}")

        case_id = values.get("case_id", "")
        category = values.get("corrected_category", "")
        department = values.get("corrected_department", "") or None
        reviewer = values.get("reviewer", "")
        if not case_id:
            bad("case_id", "missing")
            continue
        if case_id not in reported:
            bad("case_id", f"no case {case_id!r} in {' or '.join(f'silver.{t}' for t in CASE_TABLES)}")
            continue
        if category not in CATEGORY_BY_CODE:
            bad(
                "corrected_category", f"{category!r} is not a category; use one of {sorted(CATEGORY_BY_CODE)}"
            )
            continue
        if department is not None and department not in departments:
            bad(
                "corrected_department",
                f"{department!r} is not a known department; leave it empty to route by the rules, "
                f"or use one of {sorted(departments)}",
            )
            continue
        try:
            reviewed_at = _parse_time(values.get("reviewed_at", ""))
        except ValueError:
            bad("reviewed_at", f"{values.get('reviewed_at')!r} is not a time like 2026-11-26T09:30:00")
            continue
        if reviewed_at < reported[case_id]:
            bad("reviewed_at", f"{reviewed_at} is before the case was reported ({reported[case_id]})")
            continue
        if not reviewer:
            bad("reviewer", "missing (who decided is recorded as a token)")
            continue
        good.append(
            {
                "case_id": case_id,
                "corrected_category": category,
                "corrected_department": department,
                "reviewed_at": pd.Timestamp(reviewed_at).tz_localize(STORED_AS),
                "reviewer_token": tokenise(reviewer, "name", key),
            }
        )
    frame = pd.DataFrame(good, columns=SCHEMA.names)
    # The latest decision per case wins within one call too (ties: the later row).
    frame = frame.sort_values("reviewed_at", kind="stable").drop_duplicates("case_id", keep="last")
    return frame.sort_values("case_id").reset_index(drop=True), errors


def write(frame: pd.DataFrame, settings: Settings) -> int:
    """MERGE the validated rows into silver.case_label_corrections; returns the rows given."""
    from deltalake import write_deltalake

    if frame.empty:
        return 0
    data = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
    table = table_or_none(settings, "silver", TABLE)
    if table is None:
        write_deltalake(table_uri(settings, "silver", TABLE), data.schema.empty_table(), mode="overwrite")
        table = table_or_none(settings, "silver", TABLE)
    (
        table.merge(data, predicate="t.case_id = s.case_id", source_alias="s", target_alias="t")
        .when_matched_update_all(predicate="s.reviewed_at >= t.reviewed_at")
        .when_not_matched_insert_all()
        .execute()
    )
    return len(data)


def record_one(
    settings: Settings,
    case_id: str,
    category: str,
    reviewed_at: str,
    reviewer: str,
    department: str | None = None,
) -> None:
    """One reviewer decision (``civiclake dispatch review``); raises CorrectionError if it is bad."""
    row = {
        "case_id": case_id,
        "corrected_category": category,
        "corrected_department": department,
        "reviewed_at": reviewed_at,
        "reviewer": reviewer,
    }
    frame, errors = validate([row], settings, where=[f"case {case_id}"])
    if errors:
        raise CorrectionError(errors[0])
    write(frame, settings)


def record_file(settings: Settings, path: Path) -> Outcome:
    """Bulk decisions from a UTF-8 CSV (``civiclake dispatch corrections``): good rows are written."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            rows = list(reader)
    except FileNotFoundError:
        raise CorrectionError(f"{path}: file does not exist") from None
    except UnicodeDecodeError as error:
        raise CorrectionError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8 CSV") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CorrectionError(
            f"{path}: missing column(s) {missing}; expected {list(REQUIRED_COLUMNS)} "
            f"(and optionally {list(OPTIONAL_COLUMNS)}), found {columns}"
        )
    where = [f"{path.name} line {i + 2}" for i in range(len(rows))]  # line 1 is the header
    frame, errors = validate(rows, settings, where=where)
    return Outcome(written=write(frame, settings), errors=errors)


def read(settings: Settings) -> pd.DataFrame:
    """Every recorded correction (reviewed_at as wall clock); empty when none were recorded."""
    try:
        frame = read_table(settings, "silver", TABLE).to_pandas()
    except TableMissingError:
        return pd.DataFrame(columns=SCHEMA.names)
    frame["reviewed_at"] = (
        pd.to_datetime(frame["reviewed_at"], utc=True).dt.tz_convert(STORED_AS).dt.tz_localize(None)
    )
    return frame.sort_values("case_id").reset_index(drop=True)
