"""What a run produced: rows per layer, the reconciliation, the mart totals by street and
the district's headline numbers of the day from the leader brief (mart_leader_brief_daily).

Read with delta-rs and DuckDB (no Spark), so the summary is quick and can be printed at
the end of a DAG run or by the demo.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow.compute as pc

from civiclake.lake.read import dataset_or_none
from civiclake.settings import Settings
from civiclake.source_summary import batch_counts, quarantine_reasons, source_lines


def _count(settings: Settings, layer: str, table: str, batch_date: date | None = None) -> int:
    dataset = dataset_or_none(settings, layer, table)
    if dataset is None:
        return 0
    if batch_date is None:
        return dataset.count_rows()
    return dataset.count_rows(filter=pc.field("batch_date") == pc.scalar(batch_date))


HEADLINE_COLUMNS = (
    "cases_reported",
    "closures",
    "backlog_open",
    "overdue_open",
    "response_rate",
    "on_time_rate",
    "satisfaction_avg",
    "score",
)
# Chinese labels of the headline numbers, as the leader brief shows them.
HEADLINE_LABELS = {
    "cases_reported": "新增案件",
    "closures": "办结",
    "backlog_open": "积压",
    "overdue_open": "超期未结",
    "response_rate": "按时响应率",
    "on_time_rate": "按期办结率",
    "satisfaction_avg": "满意度",
    "score": "综合评分",
}


def district_headline(con, logical_date: date) -> dict:
    """The district's row of the leader brief for the day: each headline number with its
    change from the day before and from the same day a week before (empty when absent)."""
    present = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    if "mart_leader_brief_daily" not in present:
        return {}
    columns = ["area_name", *HEADLINE_COLUMNS]
    columns += [f"{c}_change_{p}" for c in HEADLINE_COLUMNS for p in ("1d", "7d")]
    rows = con.execute(
        f"select {', '.join(columns)} from mart_leader_brief_daily where report_date = ? and level = 'district'",
        [logical_date],
    ).fetchall()
    return dict(zip(columns, rows[0], strict=True)) if rows else {}


CAMERA_COLUMNS = (
    "camera_events",
    "camera_cases",
    "camera_cases_auto",
    "camera_cases_review",
    "linked_pairs",
    "linked_pairs_camera_first",
)


def district_cameras(con, logical_date: date) -> dict:
    """The district's camera numbers of the day (mart_camera_cases_daily; empty when absent)."""
    present = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    if "mart_camera_cases_daily" not in present:
        return {}
    rows = con.execute(
        f"select {', '.join(CAMERA_COLUMNS)} from mart_camera_cases_daily "
        "where report_date = ? and level = 'district'",
        [logical_date],
    ).fetchall()
    return dict(zip(CAMERA_COLUMNS, rows[0], strict=True)) if rows else {}


def camera_line(cameras: dict) -> str:
    if not cameras:
        return ""
    return (
        f"cameras: {cameras['camera_events']} events → {cameras['camera_cases']} cases "
        f"({cameras['camera_cases_auto']} dispatched automatically, {cameras['camera_cases_review']} "
        f"waiting for review); {cameras['linked_pairs']} linked to another channel's case, "
        f"{cameras['linked_pairs_camera_first']} of them seen by the camera first"
    )


def _number(value, rate: bool) -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if rate else f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def _change(value, rate: bool) -> str:
    if value is None:
        return "–"
    if rate:
        return f"{value * 100:+.1f} pt"
    return f"{value:+.2f}" if isinstance(value, float) else f"{value:+,}"


def headline_lines(headline: dict) -> list[str]:
    """The district's headline numbers as lines of text (the demo's closing print)."""
    if not headline:
        return []
    lines = [f"{headline['area_name']} headline (较前一日 / 较上周同日):"]
    for column in HEADLINE_COLUMNS:
        rate = column.endswith("_rate")
        lines.append(
            f"  {HEADLINE_LABELS[column]} {column}: {_number(headline[column], rate)}"
            f"  ({_change(headline[column + '_change_1d'], rate)} / {_change(headline[column + '_change_7d'], rate)})"
        )
    return lines


def run_summary(settings: Settings, logical_date: date) -> dict:
    layers = {
        "bronze.governance_cases (batch)": _count(settings, "bronze", "governance_cases", logical_date),
        "silver.governance_cases (all)": _count(settings, "silver", "governance_cases"),
        "silver.governance_cases_quarantine (batch)": _count(
            settings, "silver", "governance_cases_quarantine", logical_date
        ),
        "silver.case_dispatch (batch)": _count(settings, "silver", "case_dispatch", logical_date),
    }
    reconciliation = {}
    recon = dataset_or_none(settings, "state", "reconciliation")
    if recon is not None:
        rows = recon.to_table(filter=pc.field("batch_date") == pc.scalar(logical_date)).to_pylist()
        reconciliation = {r["table_name"]: {k: v for k, v in r.items() if k.endswith("_rows")} for r in rows}
    dispatch = {}
    dispatch_ds = dataset_or_none(settings, "silver", "case_dispatch")
    if dispatch_ds is not None:
        table = dispatch_ds.to_table(filter=pc.field("batch_date") == pc.scalar(logical_date))
        mode = "dispatch_mode" if "dispatch_mode" in table.column_names else "decision"
        for decision in ("auto", "review", "duplicate"):
            dispatch[decision] = int(pc.sum(pc.equal(table[mode], decision)).as_py() or 0)
        if "department" in table.column_names:
            auto = table.filter(pc.equal(table[mode], "auto"))
            dispatch["auto_by_department"] = {
                row["values"]: row["counts"] for row in pc.value_counts(auto["department"]).to_pylist()
            }
    streets: list[dict] = []
    district: dict = {}
    headline: dict = {}
    cameras: dict = {}
    marts_file = settings.published_marts_file
    if marts_file.exists():
        with duckdb.connect(str(marts_file), read_only=True) as con:
            query = (
                "select level, area_code, area_name, cases_reported, cases_closed "
                "from mart_cases_by_level_daily where report_date = ? and level in ('district', 'street') "
                "order by level, area_code"
            )
            for level, code, name, reported, closed in con.execute(query, [logical_date]).fetchall():
                row = {
                    "area_code": code,
                    "area_name": name,
                    "cases_reported": reported,
                    "cases_closed": closed,
                }
                if level == "district":
                    district = row
                else:
                    streets.append(row)
            layers["marts.mart_cases_by_community_daily (all)"] = con.execute(
                "select count(*) from mart_cases_by_community_daily"
            ).fetchall()[0][0]
            headline = district_headline(con, logical_date)
            cameras = district_cameras(con, logical_date)
    sources = batch_counts(settings, logical_date)
    reasons = quarantine_reasons(settings, logical_date)
    return {
        "logical_date": str(logical_date),
        "sources": sources,
        "quarantine_reasons": reasons,
        "sources_text": "\n".join(source_lines(sources, reasons)),
        "rows": layers,
        "reconciliation": reconciliation,
        "dispatch": dispatch,
        "district": district,
        "streets": streets,
        "headline": headline,
        "headline_text": "\n".join(headline_lines(headline)),
        "cameras": cameras,
        "cameras_text": camera_line(cameras),
        "marts_file": str(marts_file),
        "lake": settings.lake,
    }
