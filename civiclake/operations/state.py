"""The platform's record of joint operations: ``state.operations`` (one row per operation)
and ``state.operation_tasks`` (one row per task, with the order that carries it and its due
time).

Delta tables written with delta-rs, like the dispatch outbox (``state.dispatch_outbox``):
a handful of rows per operation need no JVM. Writes MERGE on the key and insert only what
the table lacks, so starting an operation again — a retried Airflow task, a condition seen
again — keeps the first record as it was. Times are the district's wall clock stored as the
UTC instant of the same digits (as the lake keeps a source's wall clock); the readers here
give them back naive.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pyarrow as pa

from civiclake.lake.read import table_or_none, table_uri, wall_clock
from civiclake.settings import Settings

LAYER = "state"
OPERATIONS, TASKS = "operations", "operation_tasks"
_TIME = pa.timestamp("us", tz="UTC")

OPERATIONS_SCHEMA = pa.schema(
    [
        pa.field("operation_id", pa.string(), nullable=False),
        pa.field("plan_id", pa.string(), nullable=False),
        pa.field("plan_name", pa.string(), nullable=False),
        pa.field("area_level", pa.string(), nullable=False),
        pa.field("area_code", pa.string(), nullable=False),
        pa.field("district_code", pa.string(), nullable=False),
        pa.field("street_code", pa.string()),  # null for a district operation
        pa.field("community_code", pa.string()),  # null above the community
        pa.field("started_at", _TIME, nullable=False),
        pa.field("started_by", pa.string(), nullable=False),  # manual, or the trigger's kind
        pa.field("trigger_detail", pa.string()),
        pa.field("note", pa.string()),
        pa.field("start_key", pa.string(), nullable=False),
    ]
)
TASKS_SCHEMA = pa.schema(
    [
        pa.field("operation_id", pa.string(), nullable=False),
        pa.field("order_id", pa.string(), nullable=False),
        pa.field("task_index", pa.int32(), nullable=False),
        pa.field("department", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("due_at", _TIME, nullable=False),
        # Who a late order goes to, rendered at the start: a plan edited later does not
        # change what a running operation agreed.
        pa.field("escalation_level", pa.string(), nullable=False),
        pa.field("escalation_department", pa.string(), nullable=False),
    ]
)
_TIMES = {OPERATIONS: ("started_at",), TASKS: ("due_at",)}
_SCHEMAS = {OPERATIONS: OPERATIONS_SCHEMA, TASKS: TASKS_SCHEMA}
_KEYS = {OPERATIONS: ("operation_id",), TASKS: ("order_id",)}


def _stored(frame: pd.DataFrame, name: str) -> pa.Table:
    frame = frame.reindex(columns=_SCHEMAS[name].names).copy()
    for column in _TIMES[name]:
        frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")  # naive wall clock → same digits
    return pa.Table.from_pandas(frame, schema=_SCHEMAS[name], preserve_index=False)


def _insert_new(settings: Settings, name: str, frame: pd.DataFrame) -> int:
    """MERGEs the rows whose key the table lacks; returns how many were inserted."""
    from deltalake import write_deltalake

    if frame.empty:
        return 0
    data = _stored(frame, name)
    table = table_or_none(settings, LAYER, name)
    if table is None:
        write_deltalake(table_uri(settings, LAYER, name), _SCHEMAS[name].empty_table(), mode="overwrite")
        table = table_or_none(settings, LAYER, name)
    predicate = " and ".join(f"t.{k} = s.{k}" for k in _KEYS[name])
    metrics = (
        table.merge(data, predicate=predicate, source_alias="s", target_alias="t")
        .when_not_matched_insert_all()
        .execute()
    )
    return int(metrics["num_target_rows_inserted"])


def record(settings: Settings, operation: Mapping, tasks: pd.DataFrame) -> bool:
    """Records an operation and its tasks, each only when not there yet (tasks first, so an
    operation row always has its tasks). ``operation`` has the columns of
    :data:`OPERATIONS_SCHEMA`, ``tasks`` those of :data:`TASKS_SCHEMA`; times naive wall clock.
    Returns whether the operation is new."""
    _insert_new(settings, TASKS, tasks)
    return _insert_new(settings, OPERATIONS, pd.DataFrame([dict(operation)])) == 1


def _read(settings: Settings, name: str, operation_id: str | None) -> pd.DataFrame:
    table = table_or_none(settings, LAYER, name)
    if table is None:
        data = _SCHEMAS[name].empty_table()
    else:
        filters = [("operation_id", "=", operation_id)] if operation_id is not None else None
        data = table.to_pyarrow_table(filters=filters)
    frame = data.to_pandas()
    for column in _TIMES[name]:
        frame[column] = wall_clock(frame[column])
    return frame


def read_operations(settings: Settings, operation_id: str | None = None) -> pd.DataFrame:
    """Every operation (or the one with ``operation_id``), times naive wall clock; empty with
    its columns before the first."""
    return _read(settings, OPERATIONS, operation_id).sort_values(
        ["started_at", "operation_id"], ignore_index=True
    )


def read_tasks(settings: Settings, operation_id: str | None = None) -> pd.DataFrame:
    """Every operation's tasks (or one operation's), due_at naive wall clock."""
    return _read(settings, TASKS, operation_id).sort_values(["operation_id", "task_index"], ignore_index=True)
