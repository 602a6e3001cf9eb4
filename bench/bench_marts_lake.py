"""A silver lake of governance cases for the marts, written with delta-rs (no Spark, no
PostgreSQL): the simulator's case plans as the source system would hold them at the end
of a day, with the same tables and columns the ingest writes (civiclake.contracts); on
request also the other families' tables (bench_marts_families.py).

Used by the marts tests (small lakes, day by day) and by ``bench_marts_targets.py``
(a year at district scale). Silver holds the source's wall-clock time (Shenzhen) as
UTC-labelled instants, as the Spark ingest writes it; so does this lake.

    .venvs/core/bin/python -m bench.bench_marts_lake --lake /tmp/lake --first 2026-11-01 --last 2026-11-07
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

import pyarrow as pa
from deltalake import write_deltalake

from bench.bench_marts_families import write_families
from civiclake.cases import funnel
from civiclake.catalogue import CATEGORIES, FUNNEL_CHANNEL_NAMES
from civiclake.contracts.catalog import silver_schema
from civiclake.geography import active_version, load_geography, reference_rows
from civiclake.settings import Settings
from simulators.governance import CasePlan, cases_reported_on

NUMERIC = {"min_lon", "min_lat", "max_lon", "max_lat", "centroid_lon", "centroid_lat"}
CASES_SCHEMA = silver_schema("governance_cases")
EVENTS_SCHEMA = silver_schema("governance_case_events")
FUNNEL_SCHEMA = funnel.arrow_schema()
DISPATCH_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("predicted_category", pa.string()),
        ("confidence", pa.float64()),
        ("decision", pa.string()),
        ("routed_department", pa.string()),
        ("model_version", pa.string()),
        ("batch_date", pa.date32()),
        ("department", pa.string()),
        ("team", pa.string()),
        ("rule_id", pa.string()),
        ("duplicate_of", pa.string()),
        ("dispatch_mode", pa.string()),
    ]
)


def plans(settings: Settings, first: date, last: date) -> list[CasePlan]:
    """The simulator's plans of every case reported from ``first`` to ``last``."""
    geography = load_geography()
    out: list[CasePlan] = []
    day = first
    while day <= last:
        out += cases_reported_on(day, settings, geography)
        day += timedelta(days=1)
    return out


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=None)


def _dispatch_mode(case_id: str) -> str:
    """A stable draw per case: about 80 % auto, 15 % review, 5 % duplicate."""
    share = int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "auto" if share < 0.80 else "review" if share < 0.95 else "duplicate"


def case_rows(case_plans: Iterable[CasePlan], as_of: date) -> dict[str, list]:
    """``silver.governance_cases`` as it stands at the end of ``as_of``."""
    geography = load_geography()
    end = datetime.combine(as_of, time()) + timedelta(days=1) - timedelta(microseconds=1)
    columns: dict[str, list] = {name: [] for name in CASES_SCHEMA.names}
    for plan in case_plans:
        row = plan.state_at(end)
        if row is None:
            continue
        values = row._asdict()
        values |= {
            "district_code": geography.district.code,
            "street_code": geography.street_of(row.community_code),
            "reporter_name_token": "name_" + hashlib.sha256(row.case_id.encode()).hexdigest()[:32],
            "reporter_phone_token": None,
            "reporter_id_token": None,
            "reporter_id_valid": None,
            "batch_date": row.updated_at.date(),
        }
        for name in columns:
            value = values.get(name)
            columns[name].append(_utc(value) if isinstance(value, datetime) else value)
    return columns


def funnel_rows(case_plans: Iterable[CasePlan], as_of: date) -> dict[str, list]:
    """``silver.cases`` (the case funnel) of a lake holding governance alone: every governance
    case as it stands at the end of ``as_of``, as spark_jobs/case_funnel.py maps it."""
    governance = case_rows(case_plans, as_of)
    count = len(governance["case_id"])
    mapped = {
        "source_system": ["governance"] * count,
        "source_case_id": governance["case_id"],
        "jurisdiction": [funnel.DISTRICT_JURISDICTION] * count,
        "source_category": governance["category"],
        "category_trusted": [False] * count,
        "asset_id": [None] * count,
        "status": [funnel.GOVERNANCE_STATUSES[s] for s in governance["status"]],
    }
    return {name: mapped.get(name, governance.get(name)) for name in FUNNEL_SCHEMA.names}


def event_rows(case_plans: Iterable[CasePlan], as_of: date) -> dict[str, list]:
    """``silver.governance_case_events``: every event up to the end of ``as_of``."""
    end = datetime.combine(as_of, time()) + timedelta(days=1) - timedelta(microseconds=1)
    columns: dict[str, list] = {name: [] for name in EVENTS_SCHEMA.names}
    for plan in case_plans:
        for event in plan.events_between(datetime.min, end):
            values = event._asdict() | {"batch_date": event.recorded_at.date()}
            for name in columns:
                value = values[name]
                columns[name].append(_utc(value) if isinstance(value, datetime) else value)
    return columns


def dispatch_rows(case_plans: Iterable[CasePlan], as_of: date) -> dict[str, list]:
    """``silver.case_dispatch`` for every case reported up to ``as_of``."""
    columns: dict[str, list] = {name: [] for name in DISPATCH_SCHEMA.names}
    departments = {c.code: c.department for c in CATEGORIES}
    for plan in case_plans:
        if plan.reported_at.date() > as_of:
            continue
        mode = _dispatch_mode(plan.case_id)
        values = {
            "case_id": plan.case_id,
            "predicted_category": plan.category,
            "confidence": 0.99 if mode == "auto" else 0.5,
            "decision": "review" if mode == "review" else "auto",
            "routed_department": departments[plan.category],
            "model_version": "v0",
            "batch_date": plan.reported_at.date(),
            "department": departments[plan.category],
            "team": None,
            "rule_id": None,
            "duplicate_of": None,
            "dispatch_mode": mode,
        }
        for name in columns:
            columns[name].append(values[name])
    return columns


def write_reference(lake: str) -> None:
    for kind in ("district", "streets", "communities"):
        rows = [
            {k: (float(v) if k in NUMERIC else v) for k, v in row.items()} | {"geo_version": active_version()}
            for row in reference_rows(kind)
        ]
        write_deltalake(f"{lake}/silver/ref_{kind}", pa.Table.from_pylist(rows), mode="overwrite")
    categories = [
        {"category_code": c.code, "category_name": c.name, "department": c.department, "sla_days": c.sla_days}
        for c in CATEGORIES
    ]
    channels = [{"channel_code": code, "channel_name": name} for code, name in FUNNEL_CHANNEL_NAMES.items()]
    write_deltalake(f"{lake}/silver/ref_categories", pa.Table.from_pylist(categories), mode="overwrite")
    write_deltalake(f"{lake}/silver/ref_channels", pa.Table.from_pylist(channels), mode="overwrite")


def write_lake(lake: str, case_plans: list[CasePlan], as_of: date, families: bool = False) -> dict[str, int]:
    """Writes (replaces) the silver tables as the source stood at the end of ``as_of``; with
    ``families``, also the party-building, people-services, registry and city-management
    tables (bench_marts_families) and the camera events with their cases
    (bench_marts_cameras) from the first report day on. Without, the lake holds governance
    only, as in a district that has connected nothing else yet."""
    write_reference(lake)
    counts = {}
    if families:
        first = min((p.reported_at.date() for p in case_plans), default=as_of)
        counts = write_families(lake, first, as_of)
    tables = {
        "governance_cases": pa.table(case_rows(case_plans, as_of), schema=CASES_SCHEMA),
        "governance_case_events": pa.table(event_rows(case_plans, as_of), schema=EVENTS_SCHEMA),
        "case_dispatch": pa.table(dispatch_rows(case_plans, as_of), schema=DISPATCH_SCHEMA),
        funnel.TABLE: pa.table(funnel_rows(case_plans, as_of), schema=FUNNEL_SCHEMA),
    }
    for name, table in tables.items():
        write_deltalake(f"{lake}/silver/{name}", table, mode="overwrite", schema_mode="overwrite")
    counts |= {name: table.num_rows for name, table in tables.items()}
    if families:
        from bench.bench_marts_cameras import write_cameras  # it reads this module's tables

        counts |= write_cameras(lake, first, as_of)
    return counts


def write_lake_in_chunks(
    lake: str, settings: Settings, first: date, last: date, chunk_days: int = 30
) -> dict[str, int]:
    """The lake as of the end of ``last`` for the cases reported from ``first`` on, written
    a chunk of report days at a time (appended), so a year at district scale fits in memory."""
    write_reference(lake)
    counts = {"governance_cases": 0, "governance_case_events": 0, "case_dispatch": 0, funnel.TABLE: 0}
    schemas = {
        "governance_cases": CASES_SCHEMA,
        "governance_case_events": EVENTS_SCHEMA,
        "case_dispatch": DISPATCH_SCHEMA,
        funnel.TABLE: FUNNEL_SCHEMA,
    }
    builders = {
        "governance_cases": case_rows,
        "governance_case_events": event_rows,
        "case_dispatch": dispatch_rows,
        funnel.TABLE: funnel_rows,
    }
    start, mode = first, "overwrite"
    while start <= last:
        end = min(last, start + timedelta(days=chunk_days - 1))
        chunk = plans(settings, start, end)
        for name, build in builders.items():
            table = pa.table(build(chunk, last), schema=schemas[name])
            write_deltalake(
                f"{lake}/silver/{name}",
                table,
                mode=mode,
                schema_mode="overwrite" if mode == "overwrite" else None,
            )
            counts[name] += table.num_rows
        start, mode = end + timedelta(days=1), "append"
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", required=True)
    parser.add_argument("--first", type=date.fromisoformat, required=True)
    parser.add_argument("--last", type=date.fromisoformat, required=True)
    parser.add_argument("--cases-per-day", type=int, default=600)
    parser.add_argument("--families", action="store_true", help="also party, services, registries, manholes")
    args = parser.parse_args()
    settings = Settings(sim_cases_per_day=args.cases_per_day)
    print(write_lake(args.lake, plans(settings, args.first, args.last), args.last, families=args.families))


if __name__ == "__main__":
    main()
