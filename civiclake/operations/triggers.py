"""The conditions that start a plan (预案触发): for one day, which plans start in which areas.

A plan's trigger (civiclake/reference/operations/plans) is evaluated on silver as it stands:

* ``case_cluster``: at least ``min_cases`` cases of ``category`` in one area of the plan's
  level whose report times all lie within ``within_hours`` of the last of them (the
  unified case table ``silver.cases``, every channel, the district's own cases only);
* ``camera_cluster``: the same over camera events of a frame class (``silver.camera_events``,
  by their start);
* ``weather_warning``: a warning of one of ``kinds`` at ``min_level`` or above in force at
  some moment of the day (``silver.governance_weather_warnings``), in every area of the
  plan's level it covers (a warning without a street covers the whole district).

A cluster starts its operation at the report of the case (or the start of the event) that
completes it; the cases counted then start over, so the next operation of the plan in that
area needs ``min_cases`` new ones. Counting begins after the last operation of the plan in
the area started before the day (it already deals with what came before), so a rerun of a
day finds the same clusters whatever that day's first run started.

Each hit becomes ``civiclake.operations.start.start_operation`` with the hit's window key as
``start_key``: the operation id derives from plan, area and key, so a rerun, or a warning
still in force the next day, starts nothing new.

Times are the district's wall clock (the lake keeps it as the UTC instant of the same digits).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd

from civiclake.contracts.governance import WARNING_LEVELS  # lowest first
from civiclake.geography import Geography, load_geography
from civiclake.lake.read import table_or_none, wall_clock
from civiclake.settings import Settings

log = logging.getLogger(__name__)

LEVEL_COLUMNS = {"district": "district_code", "street": "street_code", "community": "community_code"}
CASES_TABLE = "cases"  # civiclake.cases.funnel.TABLE
CAMERA_EVENTS_TABLE = "camera_events"  # civiclake.frames.tables.EVENTS
WARNINGS_TABLE = "governance_weather_warnings"  # civiclake.contracts.governance.WEATHER_WARNINGS
SHOWN_IDS = 10  # case or event ids a hit's detail lists


@dataclass(frozen=True)
class Hit:
    """A condition met: start ``plan_id`` in ``area_code`` at ``started_at``."""

    plan_id: str
    area_code: str
    started_at: datetime  # wall clock
    started_by: str  # the trigger kind
    window_key: str  # the operation's start_key
    detail: str  # why, for the operation's record and the screens


@dataclass(frozen=True)
class Cluster:
    """Enough rows of one area within the window: the last completes it at ``at``."""

    area_code: str
    at: datetime
    ids: tuple[str, ...]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time())
    return start, start + timedelta(days=1)


def clusters(
    rows: pd.DataFrame,
    *,
    area_column: str,
    time_column: str,
    id_column: str,
    min_count: int,
    within_hours: float,
    day: date,
    since: Mapping[str, datetime] | None = None,
) -> list[Cluster]:
    """The clusters completed on ``day``: per area, rows in time order (ties by id); a row at
    ``t`` completes one when at least ``min_count`` rows counting since the last cluster lie in
    ``[t - within_hours, t]``; the counting then starts over after it. Rows at or before
    ``since[area]`` (the last operation started there before the day) do not count. Rows of
    the day before may complete a cluster (it belongs to that day and is not returned) but
    still start the counting over, as that day's run did."""
    since = since or {}
    start, end = day_bounds(day)
    within = timedelta(hours=within_hours)
    found = []
    present = rows.dropna(subset=[area_column, time_column, id_column])
    for area, group in present.groupby(area_column, sort=True):
        ordered = group.assign(_at=wall_clock(group[time_column])).sort_values(["_at", id_column])
        floor = since.get(area)
        window: deque[tuple[datetime, str]] = deque()
        for at, row_id in zip(ordered["_at"], ordered[id_column], strict=True):
            at = at.to_pydatetime()
            if at >= end or (floor is not None and at <= floor):
                continue
            window.append((at, str(row_id)))
            while window[0][0] < at - within:
                window.popleft()
            if len(window) >= min_count:
                if at >= start:
                    found.append(Cluster(str(area), at, tuple(i for _, i in window)))
                window.clear()
    return found


def warnings_in_force(
    warnings: pd.DataFrame, *, kinds: Iterable[str], min_level: str, day: date
) -> pd.DataFrame:
    """The warnings of ``kinds`` at ``min_level`` or above in force at some moment of ``day``
    (issued before its end, not lifted before its start), times as wall clock."""
    start, end = day_bounds(day)
    frame = warnings.assign(
        issued_at=wall_clock(warnings["issued_at"]), lifted_at=wall_clock(warnings["lifted_at"])
    )
    strong = set(WARNING_LEVELS[WARNING_LEVELS.index(min_level) :])
    keep = (
        frame["kind"].isin(list(kinds))
        & frame["level"].isin(strong)
        & (frame["issued_at"] < end)
        & (frame["lifted_at"].isna() | (frame["lifted_at"] > start))
    )
    return frame[keep].sort_values(["issued_at", "warning_id"])


def areas_covered(street_code: str | None, level: str, geography: Geography) -> list[str]:
    """The areas of ``level`` a warning covers: of its street, or of the whole district."""
    if level == "district":
        return [geography.district.code]
    streets = [street_code] if isinstance(street_code, str) and street_code else sorted(geography.streets)
    if level == "street":
        return streets
    return sorted(code for code, area in geography.communities.items() if area.parent_code in streets)


def _read(settings: Settings, name: str, columns: list[str]) -> pd.DataFrame | None:
    table = table_or_none(settings, "silver", name)
    if table is None:
        log.info("silver.%s is not in the lake: no condition on it can be met", name)
        return None
    return table.to_pyarrow_table(columns=columns).to_pandas()


def last_starts(settings: Settings, plan_id: str, before: datetime) -> dict[str, datetime]:
    """Area → the latest start of an operation of ``plan_id`` there before ``before``."""
    from civiclake.operations.state import read_operations

    operations = read_operations(settings)
    mine = operations[(operations["plan_id"] == plan_id) & (operations["started_at"] < before)]
    return {area: at.to_pydatetime() for area, at in mine.groupby("area_code")["started_at"].max().items()}


def _names(geography: Geography) -> dict[str, str]:
    return {
        geography.district.code: geography.district.name,
        **{code: a.name for code, a in geography.streets.items()},
        **{code: a.name for code, a in geography.communities.items()},
    }


def _listed(ids: tuple[str, ...]) -> str:
    shown = "、".join(ids[:SHOWN_IDS])
    return shown + (f" 等{len(ids)}条" if len(ids) > SHOWN_IDS else "")


def _cluster_hits(
    settings: Settings, plan, day: date, geography: Geography, *, table: str, id_column: str, time_column: str
) -> list[Hit]:
    trigger = plan.trigger
    level_column = LEVEL_COLUMNS[plan.area_level]
    if trigger.kind == "case_cluster":
        value_column, value, min_count, noun = "category", trigger.category, trigger.min_cases, "起案件"
        from civiclake.catalogue import CATEGORY_BY_CODE

        label = CATEGORY_BY_CODE[value].name
    else:
        value_column, value, min_count, noun = (
            "class",
            trigger.frame_class,
            trigger.min_events,
            "次摄像头事件",
        )
        from civiclake.frames.classes import load_classes

        label = load_classes()[value].name_zh
    rows = _read(settings, table, [id_column, value_column, level_column, time_column])
    if rows is None:
        return []
    rows = rows[rows[value_column] == value]
    start, _ = day_bounds(day)
    found = clusters(
        rows,
        area_column=level_column,
        time_column=time_column,
        id_column=id_column,
        min_count=min_count,
        within_hours=trigger.within_hours,
        day=day,
        since=last_starts(settings, plan.plan_id, start),
    )
    names = _names(geography)
    return [
        Hit(
            plan_id=plan.plan_id,
            area_code=c.area_code,
            started_at=c.at,
            started_by=trigger.kind,
            window_key=f"{trigger.kind}:{value}:{c.at:%Y%m%dT%H%M%S}:{c.ids[-1]}",
            detail=f"{names.get(c.area_code, c.area_code)} {trigger.within_hours:g} 小时内"
            f"「{label}」{len(c.ids)}{noun}（{_listed(c.ids)}），{c.at:%Y-%m-%d %H:%M} 达到 {min_count}",
        )
        for c in found
    ]


_WARNING_NAMES = {
    "rainstorm": "暴雨",
    "typhoon": "台风",
    "thunderstorm_gale": "雷雨大风",
    "high_temperature": "高温",
    "cold": "寒冷",
    "fog": "大雾",
    "haze": "灰霾",
    "hail": "冰雹",
    "forest_fire": "森林火险",
}
_LEVEL_NAMES = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}


def _warning_hits(settings: Settings, plan, day: date, geography: Geography) -> list[Hit]:
    trigger = plan.trigger
    warnings = _read(
        settings, WARNINGS_TABLE, ["warning_id", "kind", "level", "street_code", "issued_at", "lifted_at"]
    )
    if warnings is None:
        return []
    start, _ = day_bounds(day)
    names = _names(geography)
    hits = []
    for w in warnings_in_force(
        warnings, kinds=trigger.kinds, min_level=trigger.min_level, day=day
    ).itertuples():
        issued = w.issued_at.to_pydatetime()
        street = w.street_code if isinstance(w.street_code, str) else None
        where = names.get(street, street) if street else geography.district.name
        detail = (
            f"{_WARNING_NAMES.get(w.kind, w.kind)}{_LEVEL_NAMES.get(w.level, w.level)}预警"
            f"（{w.warning_id}，{where}，{issued:%Y-%m-%d %H:%M} 发布）"
        )
        for area in areas_covered(street, plan.area_level, geography):
            hits.append(
                Hit(
                    plan_id=plan.plan_id,
                    area_code=area,
                    started_at=max(issued, start),
                    started_by=trigger.kind,
                    window_key=f"weather_warning:{w.warning_id}",
                    detail=detail,
                )
            )
    return hits


def find_hits(settings: Settings, day: date, plans: Mapping, geography: Geography | None = None) -> list[Hit]:
    """Every plan's conditions met on ``day`` (``plans``: plan id → plan), in plan and time order."""
    geography = geography or load_geography()
    hits: list[Hit] = []
    for plan_id in sorted(plans):
        plan = plans[plan_id]
        kind = plan.trigger.kind
        if kind == "case_cluster":
            hits += _cluster_hits(
                settings,
                plan,
                day,
                geography,
                table=CASES_TABLE,
                id_column="case_id",
                time_column="reported_at",
            )
        elif kind == "camera_cluster":
            hits += _cluster_hits(
                settings,
                plan,
                day,
                geography,
                table=CAMERA_EVENTS_TABLE,
                id_column="event_id",
                time_column="started_at",
            )
        elif kind == "weather_warning":
            hits += _warning_hits(settings, plan, day, geography)
    return hits


def trigger(settings: Settings, day: date, plans: Mapping | None = None) -> list[tuple[Hit, object]]:
    """Starts an operation for every condition met on ``day``; returns each hit with what
    ``start_operation`` returned (an operation started before is returned as it is, not again)."""
    from civiclake.operations.plans import load_plans
    from civiclake.operations.start import start_operation

    plans = load_plans() if plans is None else plans
    started = []
    for hit in find_hits(settings, day, plans):
        operation = start_operation(
            settings,
            plans[hit.plan_id],
            hit.area_code,
            started_at=hit.started_at,
            started_by=hit.started_by,
            start_key=hit.window_key,
            trigger_detail=hit.detail,
        )
        log.info("condition met: %s in %s (%s) -> %s", hit.plan_id, hit.area_code, hit.window_key, operation)
        started.append((hit, operation))
    return started
