"""``civiclake operations``: joint-operation plans, starting one, following them up."""

from __future__ import annotations

import json
from datetime import datetime

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date
from civiclake.settings import get_settings

app = typer.Typer(help="Joint operations (联合行动): plans, start, follow-up.", no_args_is_help=True)

AT_FORMAT = "%Y-%m-%d %H:%M"
PathsArgument = typer.Argument(None, help="Plan files or folders (default: the shipped plans).")


def _trigger_text(trigger) -> str:
    if trigger.kind == "case_cluster":
        return f"case_cluster: ≥{trigger.min_cases} {trigger.category} cases in {trigger.within_hours:g} h"
    if trigger.kind == "camera_cluster":
        return f"camera_cluster: ≥{trigger.min_events} {trigger.frame_class} events in {trigger.within_hours:g} h"
    if trigger.kind == "weather_warning":
        return f"weather_warning: {'/'.join(trigger.kinds)} ≥ {trigger.min_level}"
    return "manual"


@app.command("plans")
def plans() -> None:
    """List the plans: level, trigger, tasks and where late orders go."""
    from rich.console import Console
    from rich.table import Table

    from civiclake.operations.plans import PLANS_DIR, PlanError, load_plans

    try:
        found = load_plans()
    except PlanError as error:
        fail(error)
    table = Table(
        "plan", "名称", "level", "trigger", "tasks", "escalation", title=f"operation plans ({PLANS_DIR})"
    )
    for plan in found.values():
        table.add_row(
            plan.plan_id,
            plan.name,
            plan.area_level,
            _trigger_text(plan.trigger),
            "\n".join(f"{t.department}: {t.task} ({t.due_hours:g} h)" for t in plan.tasks),
            f"{plan.escalation.level}: {plan.escalation.department}",
        )
    Console(width=220).print(table)  # stdout: the listing itself


@app.command("validate")
def validate(
    paths: list[str] = PathsArgument,
) -> None:
    """Validate plan files; every problem is printed with its file and field, exit code 1 if any."""
    from civiclake.operations.plans import check_plans

    check = check_plans(paths or None)
    for problem in check.problems:
        console.print(f"[red]{problem}[/red]", highlight=False)
    if check.problems:
        raise typer.Exit(1)
    console.print(f"{len(check.plans)} plan(s) valid: {', '.join(sorted(check.plans))}")


def _at(value: str | None) -> datetime:
    if value is None:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, second=0, microsecond=0)
    try:
        return datetime.strptime(value, AT_FORMAT)
    except ValueError:
        raise typer.BadParameter(f"--at must look like 2026-11-25 09:30, got {value!r}") from None


def _started_json(started) -> dict:
    return {
        "operation_id": started.operation_id,
        "plan_id": started.plan_id,
        "plan_name": started.plan_name,
        "area_level": started.area.level,
        "area_code": started.area.code,
        "area_name": started.area.name,
        "started_at": f"{started.started_at:{AT_FORMAT}}",
        "started_by": started.started_by,
        "start_key": started.start_key,
        "new": started.new,
        "orders": [
            {
                "order_id": row.order_id,
                "department": row.department,
                "task": row.task,
                "due_at": f"{row.due_at:{AT_FORMAT}}",
            }
            for row in started.tasks.itertuples(index=False)
        ],
        "enqueued": started.enqueued,
        "delivery": started.delivery,
    }


@app.command("start")
def start(
    plan: str = typer.Option(..., "--plan", help="The plan id (`civiclake operations plans`)."),
    area: str = typer.Option(..., "--area", help="The code of an area of the plan's level."),
    note: str = typer.Option(None, "--note", help="The operator's note, kept with the operation."),
    at: str = typer.Option(
        None, "--at", help='Start time on the district\'s clock, "YYYY-MM-DD HH:MM" (default: now).'
    ),
    key: str = typer.Option(
        None,
        "--key",
        help="What makes this start this one (the Airflow run id); the same plan, area and key start "
        "one operation however often they are given (default: manual and the --at minute).",
    ),
    deliver: bool = typer.Option(True, "--deliver/--no-deliver", help="Deliver the outbox after enqueueing."),
) -> None:
    """Start a plan in an area: records the operation, sends one order per task (JSON on stdout)."""
    from civiclake.dispatch.outbox import OutboxError
    from civiclake.operations.plans import PlanError
    from civiclake.operations.start import OperationError, start_operation

    started_at = _at(at)
    try:
        started = start_operation(
            get_settings(),
            plan,
            area,
            started_at=started_at,
            started_by="manual",
            start_key=key or f"manual {started_at:{AT_FORMAT}}",
            note=note,
            deliver=deliver,
        )
    except (PlanError, OperationError, OutboxError) as error:
        fail(error)
    typer.echo(json.dumps(_started_json(started), ensure_ascii=False, indent=2))
    console.print(
        f"operation {started.operation_id} {'started' if started.new else 'was started before'}: "
        f"{len(started.tasks)} order(s), {started.enqueued} new in the outbox"
    )


@app.command("deliver")
def deliver() -> None:
    """Deliver the outbox's undelivered orders (an operation started with --no-deliver); prints the counts."""
    from civiclake.dispatch.outbox import OutboxError
    from civiclake.dispatch.outbox import deliver as deliver_outbox

    try:
        counts = deliver_outbox(get_settings())
    except OutboxError as error:
        fail(error)
    typer.echo(json.dumps(counts))


@app.command("follow")
def follow_up(day: str = DateOption) -> None:
    """At the close of --date: each operation order's state, one escalation per overdue order
    (through the outbox), and each operation's status (JSON on stdout)."""
    from civiclake.dispatch.outbox import OutboxError
    from civiclake.operations.follow import follow

    try:
        result = follow(get_settings(), logical_date(day))
    except OutboxError as error:
        fail(error)
    report = result.report
    out = {
        "as_of": f"{result.as_of:%Y-%m-%d %H:%M}",
        "operations": len(report),
        "status": {k: int(v) for k, v in report["status"].value_counts().items()},
        "escalations_due": len(result.escalations),
        "escalations_enqueued": result.enqueued,
        "delivery": result.delivery,
        "by_operation": [
            {
                "operation_id": r.operation_id,
                "plan_id": r.plan_id,
                "area_code": r.area_code,
                "status": r.status,
                "orders": int(r.orders),
                "completed": int(r.completed),
                "overdue": int(r.overdue),
                "escalated": int(r.escalated),
            }
            for r in report.itertuples(index=False)
        ],
    }
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


@app.command("show")
def show(
    operation_id: str = typer.Argument(..., help="The operation id (OP…)."),
    at: str = typer.Option(
        None,
        "--at",
        help='Where its orders stand at "YYYY-MM-DD HH:MM" (default: now on the district\'s clock).',
    ),
) -> None:
    """One operation and its orders' states, as the lake and the outbox know them (JSON on stdout)."""
    from civiclake.dispatch.outbox import orders_with_acceptance
    from civiclake.operations import state
    from civiclake.operations.follow import operation_report, order_states

    settings = get_settings()
    operations = state.read_operations(settings, operation_id)
    if operations.empty:
        fail(
            f"no operation {operation_id!r} in state.operations ({settings.table_path('state', 'operations')})"
        )
    as_of = _at(at)
    states = order_states(
        operations, state.read_tasks(settings, operation_id), orders_with_acceptance(settings), as_of
    )
    operation = operations.iloc[0]
    report = operation_report(operations, states)
    status = report["status"].iloc[0] if not report.empty else "not started yet"

    out = {c: _plain(operation[c]) for c in operations.columns} | {"as_of": _plain(as_of), "status": status}
    out["orders"] = [{c: _plain(v) for c, v in row.items()} for row in states.to_dict("records")]
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


def _plain(value):
    """A value of a frame as JSON holds it: times as the district's clock, missing as null."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, datetime):
        return f"{value:{AT_FORMAT}}"
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    return value


@app.command("trigger")
def trigger(day: str = DateOption) -> None:
    """Start the plans whose condition was met on --date (a cluster of cases or camera events, a
    weather warning in force), once per condition however often it runs (JSON on stdout)."""
    from civiclake.dispatch.outbox import OutboxError
    from civiclake.operations.plans import PlanError
    from civiclake.operations.start import OperationError
    from civiclake.operations.triggers import trigger as start_triggered

    try:
        started = start_triggered(get_settings(), logical_date(day))
    except (PlanError, OperationError, OutboxError) as error:
        fail(error)
    out = [_started_json(operation) | {"trigger_detail": hit.detail} for hit, operation in started]
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    new = sum(operation.new for _, operation in started)
    console.print(f"conditions of {day}: {new} operation(s) started, {len(started) - new} started before")
