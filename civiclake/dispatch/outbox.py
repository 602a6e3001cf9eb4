"""The dispatch outbox: every order the platform decided, and whether the operational system
has it yet.

Orders are first written to ``state.dispatch_outbox`` (a Delta table, written with delta-rs:
hundreds of orders a day need no JVM), then delivered to the governance system's
``governance.dispatch_orders`` (:data:`civiclake.contracts.governance.DISPATCH_ORDERS`).

Exactly once per order id, however often a step is rerun or wherever a process dies:

* :func:`enqueue` MERGEs orders on ``order_id``, inserting only ids the outbox lacks. An
  order id is derived from the decision (:func:`civiclake.dispatch.orders.order_id`), so a
  rerun of a day enqueues nothing new.
* :func:`deliver` sends the undelivered orders in batches, one PostgreSQL transaction each,
  with ``INSERT … ON CONFLICT (order_id) DO NOTHING``; a transfer or an escalation marks the
  order it follows ``superseded`` in the same transaction, and only when its own row was
  inserted. Delivery is recorded in the outbox after the commit. A process that dies between
  the commit and that record leaves the orders undelivered in the outbox; the next run sends
  them again, the unique key turns each into a no-op, and the outbox records them delivered.
  An order that failed to go out (database down) is retried the same way by the next run.

The outbox keeps times the way the lake keeps the source's wall clock: the UTC instant of the
same digits (``timestamp`` with zone UTC). ``issued_at`` is the district's wall clock of the
decision; ``enqueued_at`` and ``delivered_at`` are bookkeeping — when this machine wrote and
sent the row, real UTC time — and no decision reads them (only whether ``delivered_at`` is set).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from civiclake.contracts.governance import DISPATCH_ORDERS, ORDER_KINDS, ORDER_LEVELS, ORDER_STATUSES
from civiclake.dispatch.orders import ORDER_COLUMNS
from civiclake.lake.read import table_or_none, table_uri, wall_clock
from civiclake.settings import Settings

log = logging.getLogger(__name__)

LAYER, TABLE = "state", "dispatch_outbox"
TARGET = DISPATCH_ORDERS.source.name  # governance.dispatch_orders
BATCH_SIZE = 500  # orders per PostgreSQL transaction
ATTEMPTS = 3  # a batch whose connection fails is tried this often before the run gives up
RETRY_PAUSE_S = 2.0
_TIME = pa.timestamp("us", tz="UTC")
_TIME_COLUMNS = ("issued_at", "accepted_at", "updated_at", "completed_at")
REQUIRED = ("order_id", "case_id", "kind", "level", "department", "issued_at")
SCHEMA = pa.schema(
    [
        pa.field(f.name, _TIME if f.type == "timestamp" else pa.string(), nullable=f.nullable)
        for f in DISPATCH_ORDERS.columns
    ]
    + [pa.field("enqueued_at", _TIME, nullable=False), pa.field("delivered_at", _TIME)]
)
# Order of kinds within a case when their issued_at ties: a transfer or an escalation follows a dispatch.
_KIND_RANK = {kind: rank for rank, kind in enumerate(ORDER_KINDS)}


class OutboxError(ValueError):
    """Orders that cannot go into the outbox, or cannot be delivered; the message names the order."""


def _clock() -> datetime:
    """Real time, for the bookkeeping columns only."""
    return datetime.now(UTC)


def _as_stored(values: pd.Series) -> pd.Series:
    """Wall-clock times (naive, or with a zone) as the lake stores them: the same digits in UTC."""
    parsed = pd.to_datetime(values)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    return parsed.dt.tz_localize("UTC")


def _checked(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders with every contract column, checked; raises OutboxError naming the order."""
    missing = [c for c in REQUIRED if c not in orders.columns]
    if missing:
        raise OutboxError(f"orders lack column(s) {missing}; an order has {list(ORDER_COLUMNS)}")
    unknown = sorted(set(orders.columns) - set(ORDER_COLUMNS))
    if unknown:
        raise OutboxError(f"orders have column(s) {unknown} that governance.dispatch_orders lacks")
    frame = orders.reindex(columns=list(ORDER_COLUMNS)).reset_index(drop=True)
    frame["status"] = frame["status"].fillna("issued")
    frame["issued_at"] = _as_stored(frame["issued_at"])
    frame["accepted_at"] = _as_stored(frame["accepted_at"])
    frame["updated_at"] = _as_stored(frame["updated_at"]).fillna(frame["issued_at"])
    frame["completed_at"] = _as_stored(frame["completed_at"])
    for index, row in frame.iterrows():
        where = f"order #{index} ({row['order_id']}, case {row['case_id']})"
        for column in REQUIRED:
            if pd.isna(row[column]) or str(row[column]).strip() == "":
                raise OutboxError(f"{where}: field {column!r} is missing")
        for column, allowed in (("kind", ORDER_KINDS), ("level", ORDER_LEVELS), ("status", ORDER_STATUSES)):
            if row[column] not in allowed:
                raise OutboxError(f"{where}: field {column!r} is {row[column]!r}; expected one of {allowed}")
        follows = row["previous_order_id"]
        if row["kind"] in ("dispatch", "operation") and pd.notna(follows):
            raise OutboxError(
                f"{where}: a {row['kind']} order follows no order (previous_order_id {follows!r})"
            )
        # An escalation of a case dispatched before the platform issued orders follows none.
        if row["kind"] == "transfer" and (pd.isna(follows) or not str(follows).strip()):
            raise OutboxError(
                f"{where}: field 'previous_order_id' is missing: a {row['kind']} follows an order"
            )
    repeated = frame.loc[frame["order_id"].duplicated(), "order_id"].tolist()
    if repeated:
        raise OutboxError(f"order id(s) given twice: {sorted(set(repeated))[:5]}")
    return frame


def _ensure(settings: Settings):
    """The outbox table, created empty when missing; an outbox written before the contract
    gained a column (completed_at) gets it, nullable, so its rows stay as they are."""
    from deltalake import Field as DeltaField
    from deltalake import write_deltalake

    table = table_or_none(settings, LAYER, TABLE)
    if table is None:
        write_deltalake(table_uri(settings, LAYER, TABLE), SCHEMA.empty_table(), mode="overwrite")
        return table_or_none(settings, LAYER, TABLE)
    present = {f.name for f in table.schema().fields}
    missing = [f for f in SCHEMA if f.name not in present]
    if missing:
        table.alter.add_columns(
            [DeltaField(f.name, "timestamp" if f.type == _TIME else "string") for f in missing]
        )
        table = table_or_none(settings, LAYER, TABLE)
    return table


def enqueue(settings: Settings, orders: pd.DataFrame) -> int:
    """Adds the orders whose id the outbox lacks; returns how many it added.

    ``orders`` has the columns of :data:`civiclake.dispatch.orders.ORDER_COLUMNS` (at least
    order_id, case_id, kind, level, department and issued_at, a wall-clock time; status
    defaults to ``issued``, updated_at to issued_at). An order already in the outbox is left
    as it is, delivered or not.
    """
    if orders.empty:
        return 0
    frame = _checked(orders)
    frame["enqueued_at"] = pd.Timestamp(_clock())
    frame["delivered_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    data = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
    metrics = (
        _ensure(settings)
        .merge(data, predicate="t.order_id = s.order_id", source_alias="s", target_alias="t")
        .when_not_matched_insert_all()
        .execute()
    )
    added = int(metrics["num_target_rows_inserted"])
    log.info("outbox: %d of %d orders were new", added, len(frame))
    return added


def read(settings: Settings) -> pd.DataFrame:
    """Every order in the outbox, times as wall clock (enqueued_at and delivered_at in UTC);
    empty, with its columns, before the first order."""
    table = table_or_none(settings, LAYER, TABLE)
    data = SCHEMA.empty_table() if table is None else table.to_pyarrow_table()
    frame = data.to_pandas().reindex(columns=SCHEMA.names)  # an outbox older than a column lacks it
    for column in _TIME_COLUMNS:
        frame[column] = wall_clock(frame[column])
    return frame


def orders_with_acceptance(settings: Settings) -> pd.DataFrame:
    """Every order, :data:`ORDER_COLUMNS` with times as wall clock: as the platform issued it
    (the outbox, known at once) with the acceptance and status the governance system last
    reported (silver.governance_dispatch_orders, known from the next ingest). An order the
    system holds that the outbox lacks still counts: the system is the record of what
    departments received."""
    issued = read(settings)[list(ORDER_COLUMNS)]
    table = table_or_none(settings, "silver", DISPATCH_ORDERS.table)
    if table is None:
        return issued
    # Silver ingested before the contract gained a column lacks it until the next ingest.
    present = [c for c in ORDER_COLUMNS if c in {f.name for f in table.schema().fields}]
    reported = table.to_pyarrow_table(columns=present).to_pandas().reindex(columns=list(ORDER_COLUMNS))
    for column in _TIME_COLUMNS:
        reported[column] = wall_clock(reported[column])
    reported_by_system = ["accepted_at", "status", "updated_at", "completed_at"]
    state = reported.set_index("order_id")[reported_by_system]
    merged = issued.set_index("order_id")
    known = merged.index.intersection(state.index)
    merged.loc[known, reported_by_system] = state.loc[known]
    only_reported = reported[~reported["order_id"].isin(merged.index)]
    return pd.concat([merged.reset_index(), only_reported], ignore_index=True)[list(ORDER_COLUMNS)]


def _in_sending_order(pending: pd.DataFrame) -> pd.DataFrame:
    """The pending orders with each one after the order it follows, when both are pending, so
    that a batch supersedes an order already inserted."""
    pending = pending.assign(_rank=pending["kind"].map(_KIND_RANK))
    pending = pending.sort_values(["issued_at", "_rank", "order_id"]).drop(columns="_rank")
    waiting = dict(zip(pending["order_id"], pending["previous_order_id"], strict=True))
    placed: list[str] = []
    done: set[str] = set()

    def place(order: str, trail: tuple[str, ...] = ()) -> None:
        if order in done:
            return
        if order in trail:
            raise OutboxError(f"orders {list(trail)} follow each other in a circle; none can be sent first")
        previous = waiting[order]
        if previous in waiting:
            place(previous, (*trail, order))
        done.add(order)
        placed.append(order)

    for order in pending["order_id"]:
        place(order)
    return pending.set_index("order_id").loc[placed].reset_index()


def _row(order) -> tuple:
    values = []
    for column in ORDER_COLUMNS:
        value = order[column]
        if column in _TIME_COLUMNS:
            value = None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()
        elif pd.isna(value):
            value = None
        values.append(value)
    return tuple(values)


INSERT = (
    f"insert into {TARGET} ({', '.join(ORDER_COLUMNS)}) values ({', '.join(['%s'] * len(ORDER_COLUMNS))}) "
    "on conflict (order_id) do nothing returning order_id"
)
# The order a transfer or escalation follows stops being the case's current one. Its
# updated_at moves to the new order's time (never back), so the next extraction sees it.
# An operation's task stays with its department when it is escalated: the escalation asks
# the level above to see it done, the department still completes it.
SUPERSEDE = (
    f"update {TARGET} set status = 'superseded', updated_at = greatest(updated_at, %s) "
    "where order_id = %s and status <> 'superseded' and kind <> 'operation' returning order_id"
)
FOLLOWED_EXISTS = f"select 1 from {TARGET} where order_id = %s"


def _send(settings: Settings, batch: pd.DataFrame) -> tuple[int, int]:
    """One transaction: inserts the batch's orders and supersedes what they follow.
    Returns (orders inserted, orders superseded)."""
    import psycopg

    inserted = superseded = 0
    with psycopg.connect(settings.pg_conninfo()) as conn, conn.transaction(), conn.cursor() as cur:
        for _, order in batch.iterrows():
            row = _row(order)
            cur.execute(INSERT, row)
            if cur.fetchone() is None:
                continue  # delivered before (a rerun, or a crash before the outbox recorded it)
            inserted += 1
            follows = order["previous_order_id"]
            if pd.isna(follows):
                continue
            cur.execute(SUPERSEDE, (row[ORDER_COLUMNS.index("issued_at")], follows))
            if cur.fetchone() is not None:
                superseded += 1
                continue
            cur.execute(FOLLOWED_EXISTS, (follows,))
            if cur.fetchone() is None:
                raise OutboxError(
                    f"order {order['order_id']} ({order['kind']} of case {order['case_id']}) follows "
                    f"order {follows}, which {TARGET} does not hold; enqueue the order it follows first"
                )
    return inserted, superseded


def _record_delivered(settings: Settings, order_ids: list[str], at: datetime) -> None:
    """Marks the orders delivered in the outbox (after the PostgreSQL commit)."""
    data = pa.table(
        {"order_id": pa.array(order_ids, pa.string()), "delivered_at": pa.array([at] * len(order_ids), _TIME)}
    )
    (
        _ensure(settings)
        .merge(data, predicate="t.order_id = s.order_id", source_alias="s", target_alias="t")
        .when_matched_update(updates={"delivered_at": "s.delivered_at"}, predicate="t.delivered_at is null")
        .execute()
    )


def _send_with_retries(settings: Settings, batch: pd.DataFrame) -> tuple[int, int]:
    import psycopg

    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _send(settings, batch)
        except psycopg.errors.UndefinedColumn as error:
            raise OutboxError(
                f"{TARGET} in database {settings.pg_sources_db} lacks a column its contract declares "
                f"({str(error).splitlines()[0]}): the governance system must add it (the simulated one "
                "does: `civiclake simulate governance --date D`); "
                f"the {len(batch)} orders stay in the outbox"
            ) from None
        except psycopg.errors.UndefinedTable:
            raise OutboxError(
                f"{TARGET} does not exist in database {settings.pg_sources_db}: the governance system "
                "holds it (the simulated one creates it: `civiclake simulate governance --date D`); "
                f"the {len(batch)} orders stay in the outbox"
            ) from None
        except psycopg.OperationalError as error:
            if attempt == ATTEMPTS:
                raise OutboxError(
                    f"{TARGET} could not be reached after {ATTEMPTS} attempts ({error}); the batch's "
                    f"{len(batch)} orders stay in the outbox for the next run"
                ) from error
            log.warning("delivery attempt %d failed (%s); retrying", attempt, error)
            time.sleep(RETRY_PAUSE_S * attempt)
    raise AssertionError("unreachable")


def deliver(settings: Settings, *, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Sends every undelivered order of the outbox to ``governance.dispatch_orders``.

    Returns counts: ``pending`` (undelivered at the start), ``inserted`` (new rows in the
    operational system), ``already_there`` (sent before: a rerun after a crash),
    ``superseded`` (orders a transfer or escalation replaced) and ``batches``.
    """
    outbox = read(settings)
    pending = outbox[outbox["delivered_at"].isna()]
    counts = {"pending": len(pending), "inserted": 0, "already_there": 0, "superseded": 0, "batches": 0}
    if pending.empty:
        return counts
    ordered = _in_sending_order(pending)
    for start in range(0, len(ordered), batch_size):
        batch = ordered.iloc[start : start + batch_size]
        inserted, superseded = _send_with_retries(settings, batch)
        _record_delivered(settings, batch["order_id"].tolist(), _clock())
        counts["inserted"] += inserted
        counts["already_there"] += len(batch) - inserted
        counts["superseded"] += superseded
        counts["batches"] += 1
    log.info("outbox delivered: %s", counts)
    return counts
