"""A small marts DuckDB file with the published schema, for Superset tests and dev.

The real file (``var/marts/civiclake.duckdb``) is built by the pipeline; this one
lets the dashboards be imported and tested before (or without) the pipeline.
Deterministic: same seed → same numbers. Geography from the shipped reference.

    .venvs/core/bin/python tests/e2e/superset_marts_fixture.py [PATH]
(default PATH: var/superset/dev/civiclake.duckdb)
"""

from __future__ import annotations

import csv
import os
import random
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
GEO = ROOT / "civiclake" / "reference" / "geography" / "v1"
CATEGORIES = ["市容环境", "道路交通", "噪音扰民", "消防安全", "物业管理", "环境卫生"]

DDL = """
create table mart_cases_by_community_daily (
  report_date date, district_code varchar, district_name varchar,
  street_code varchar, street_name varchar, community_code varchar, community_name varchar,
  cases_reported bigint, cases_closed bigint, cases_auto_dispatched bigint,
  cases_for_review bigint);
create table mart_cases_by_level_daily (
  report_date date, level varchar, area_code varchar, area_name varchar,
  parent_code varchar, street_code varchar, community_code varchar,
  cases_reported bigint, cases_closed bigint);
create table mart_cases_by_category_daily (
  report_date date, street_code varchar, street_name varchar,
  community_code varchar, community_name varchar, category varchar, cases_reported bigint);
"""


def _read(name: str) -> list[dict[str, str]]:
    with open(GEO / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def build_marts_fixture(
    path: str | os.PathLike,
    *,
    days: int = 35,
    last_day: date = date(2025, 6, 30),
    seed: int = 440309,
) -> Path:
    """Write the fixture atomically (tmp file + os.replace), like the pipeline does."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    district = _read("district.csv")[0]
    streets = {s["street_code"]: s for s in _read("streets.csv")}
    communities = _read("communities.csv")

    by_comm, by_cat = [], []
    for d in range(days):
        day = last_day - timedelta(days=days - 1 - d)
        for c in communities:
            s = streets[c["street_code"]]
            cats = {k: rng.randint(0, 6) for k in CATEGORIES}
            reported = sum(cats.values())
            closed = rng.randint(0, reported)
            auto = rng.randint(0, reported)
            by_comm.append(
                (
                    day,
                    district["district_code"],
                    district["district_name"],
                    s["street_code"],
                    s["street_name"],
                    c["community_code"],
                    c["community_name"],
                    reported,
                    closed,
                    auto,
                    reported - auto,
                )
            )
            by_cat += [
                (
                    day,
                    s["street_code"],
                    s["street_name"],
                    c["community_code"],
                    c["community_name"],
                    k,
                    v,
                )
                for k, v in cats.items()
                if v
            ]

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(DDL)
        # (executemany is slow in DuckDB; a DataFrame goes in at once)
        con.register("by_comm", pd.DataFrame(by_comm))
        con.execute("insert into mart_cases_by_community_daily select * from by_comm")
        con.register("by_cat", pd.DataFrame(by_cat))
        con.execute("insert into mart_cases_by_category_daily select * from by_cat")
        # level mart derived from the community mart, like the dbt model
        con.execute("""
          insert into mart_cases_by_level_daily
          select report_date, 'district', district_code, district_name, null, null, null,
                 sum(cases_reported), sum(cases_closed)
            from mart_cases_by_community_daily group by all
          union all
          select report_date, 'street', street_code, street_name, district_code,
                 street_code, null, sum(cases_reported), sum(cases_closed)
            from mart_cases_by_community_daily group by all
          union all
          select report_date, 'community', community_code, community_name, street_code,
                 street_code, community_code, cases_reported, cases_closed
            from mart_cases_by_community_daily
        """)
    finally:
        con.close()
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else ROOT / "var/superset/dev/civiclake.duckdb"
    print(build_marts_fixture(target))
