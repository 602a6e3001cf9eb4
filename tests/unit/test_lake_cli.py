"""`civiclake lake` (history, show) and the time-travel checks of `civiclake marts`, on small
Delta tables written here with delta-rs: no JVM, no dbt run. Every number is counted from
the rows written below."""

from __future__ import annotations

import json
import shutil
import time
from datetime import date, datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from typer.testing import CliRunner

from civiclake import marts
from civiclake import marts_publications as publications
from civiclake.cli import app
from civiclake.lake.history import LakeVersions, Pin, TableRef, TimeTravelError, commit_of, pin_versions
from civiclake.settings import Settings

SCHEMA = pa.schema([("case_id", pa.string()), ("status", pa.string()), ("batch_date", pa.date32())])


def _rows(*rows: tuple[str, str, date]) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA)


D, D1 = date(2026, 11, 24), date(2026, 11, 25)


def _commit(write) -> None:
    """One commit, at least a millisecond after the one before (commit times have ms resolution)."""
    write()
    time.sleep(0.005)


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Settings:
    """silver.cases_demo: v0 three cases (batch D); v1 two more (D+1); v2 a MERGE updating one
    and inserting one; v3 a DELETE of one. bronze.cases_demo: batch D, then batch D+1 by a
    partition overwrite."""
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CIVICLAKE_LAKE_PATH", raising=False)
    settings = Settings(data_dir=tmp_path)
    silver = settings.table_path("silver", "cases_demo")
    _commit(lambda: write_deltalake(silver, _rows(("C1", "open", D), ("C2", "open", D), ("C3", "closed", D))))
    _commit(lambda: write_deltalake(silver, _rows(("C4", "open", D1), ("C5", "open", D1)), mode="append"))
    _commit(
        lambda: (
            DeltaTable(silver)
            .merge(_rows(("C1", "closed", D1), ("C6", "open", D1)), "s.case_id = t.case_id", "s", "t")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        ),
    )
    _commit(lambda: DeltaTable(silver).delete("case_id = 'C2'"))
    bronze = settings.table_path("bronze", "cases_demo")
    _commit(lambda: write_deltalake(bronze, _rows(("C1", "open", D)), partition_by=["batch_date"]))
    _commit(
        lambda: write_deltalake(
            bronze,
            _rows(("C4", "open", D1), ("C5", "open", D1)),
            mode="overwrite",
            predicate=f"batch_date = '{D1}'",
        ),
    )
    return settings


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _message(result) -> str:
    return " ".join(result.output.split())


def _history(table: str) -> list[dict]:
    result = _run("lake", "history", table, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_history_lists_each_write_with_its_rows_and_batch(lake):
    silver = _history("silver.cases_demo")
    assert [(c["version"], c["operation"]) for c in silver] == [
        (3, "DELETE"),
        (2, "MERGE"),
        (1, "WRITE (Append)"),
        (0, "WRITE (ErrorIfExists)"),
    ]
    assert [(c["rows_written"], c["rows_updated"], c["rows_deleted"]) for c in silver] == [
        (None, None, 1),
        (1, 1, 0),
        (2, None, None),
        (3, None, None),
    ]
    bronze = _history("bronze.cases_demo")
    assert [(c["operation"], c["rows_written"], c["batch_date"]) for c in bronze] == [
        ("WRITE (Overwrite)", 2, D1.isoformat()),
        ("WRITE (ErrorIfExists)", 1, None),
    ]
    assert _history("silver.cases_demo")[0]["timestamp"] > _history("silver.cases_demo")[1]["timestamp"]
    shown = _run("lake", "history", "silver.cases_demo", "--limit", "2")
    assert shown.exit_code == 0
    assert "2 versions" in shown.stdout and "MERGE" in shown.stdout and "ErrorIfExists" not in shown.stdout


def test_spark_commits_read_the_same_way():
    """commitInfo entries as Spark (Delta 4.0) writes them for the ingest: a MERGE into silver and
    a partition overwrite of a bronze batch (trimmed to the fields read)."""
    merge = commit_of(
        {
            "version": 2,
            "timestamp": 1796597484699,
            "operation": "MERGE",
            "operationParameters": {"predicate": '["(case_id#57315 <=> case_id#51246)"]'},
            "operationMetrics": {
                "numTargetRowsCopied": "2877",
                "numTargetRowsInserted": "86",
                "numTargetRowsUpdated": "146",
                "numTargetRowsDeleted": "0",
                "numOutputRows": "3109",
            },
            "engineInfo": "Apache-Spark/4.0.5 Delta-Lake/4.0.1",
        }
    )
    assert (merge.rows_written, merge.rows_updated, merge.rows_deleted, merge.batch_date) == (
        86,
        146,
        0,
        None,
    )
    assert merge.timestamp.isoformat() == "2026-12-06T22:51:24.699000+00:00"
    bronze = commit_of(
        {
            "version": 1,
            "timestamp": 1796597458073,
            "operation": "WRITE",
            "operationParameters": {"predicate": "batch_date = '2026-11-25'", "mode": "Overwrite"},
            "operationMetrics": {"numOutputRows": "237", "numDeletedRows": "0", "numFiles": "1"},
        }
    )
    assert (bronze.operation, bronze.rows_written, bronze.rows_deleted, bronze.batch_date) == (
        "WRITE (Overwrite)",
        237,
        0,
        "2026-11-25",
    )


def _count(*args: str) -> int:
    result = _run("lake", "show", "silver.cases_demo", "--count", *args)
    assert result.exit_code == 0, result.output
    return int(result.stdout)


def test_show_reads_a_version_or_a_moment(lake):
    commits = {c["version"]: datetime.fromisoformat(c["timestamp"]) for c in _history("silver.cases_demo")}
    assert [_count("--version", str(v)) for v in range(4)] == [3, 5, 6, 5]
    assert _count() == 5
    # A moment reads the newest version committed at or before it; one without an offset is UTC.
    at_one = commits[1]
    assert _count("--as-of", at_one.isoformat()) == 5
    assert _count("--as-of", at_one.replace(tzinfo=None).isoformat()) == 5
    assert _count("--as-of", (commits[1] - timedelta(milliseconds=1)).isoformat()) == 3
    assert _count("--as-of", commits[2].astimezone(timezone(timedelta(hours=8))).isoformat()) == 6
    assert _count("--version", "2", "--where", "status = 'open'") == 4  # C2, C4, C5, C6

    csv_rows = _run(
        "lake",
        "show",
        "silver.cases_demo",
        "--version",
        "2",
        "--where",
        "case_id in ('C1', 'C6')",
        "--format",
        "csv",
    )
    assert csv_rows.exit_code == 0, csv_rows.output
    body = sorted(csv_rows.stdout.splitlines()[1:])
    assert csv_rows.stdout.splitlines()[0] == "case_id,status,batch_date"
    assert body == [f"C1,closed,{D1}", f"C6,open,{D1}"]
    as_json = _run("lake", "show", "silver.cases_demo", "--version", "0", "--limit", "2", "--format", "json")
    assert len(json.loads(as_json.stdout)) == 2
    assert "silver.cases_demo at version 0" in as_json.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["silver_cases"], "'silver_cases' is not a lake table: name it layer.name"),
        (["silver.../x"], "is not a lake table"),
        (["silver.nope"], "silver.nope is not in the lake; silver holds: cases_demo"),
        (["gold.cases"], "it has no layer 'gold' with tables (layers in"),
        (["silver.cases_demo", "--version", "4"], "silver.cases_demo has no version 4: its newest is 3"),
        (
            ["silver.cases_demo", "--as-of", "2020-01-01T00:00:00"],
            "silver.cases_demo did not exist at 2020-01-01T00:00:00+00:00: it was created at",
        ),
        (
            ["silver.cases_demo", "--where", "no_such_column = 1"],
            'Referenced column "no_such_column" not found',
        ),
    ],
)
def test_show_errors_name_the_table_and_the_problem(lake, args, expected):
    result = _run("lake", "show", *args)
    assert result.exit_code == 1
    assert expected in _message(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--version", "1", "--as-of", "2026-11-25T08:00:00"], "give --version or --as-of, not both"),
        (["--as-of", "yesterday"], "--as-of must be an ISO 8601 time"),
        (["--version", "-1"], "greater than or equal to 0"),
    ],
)
def test_show_usage_errors(lake, args, expected):
    result = _run("lake", "show", "silver.cases_demo", *args)
    assert result.exit_code == 2
    assert expected in _message(result).replace("│", "").replace("  ", " ")


def _vacuum(settings: Settings) -> None:
    DeltaTable(settings.table_path("silver", "cases_demo")).vacuum(
        retention_hours=0, enforce_retention_duration=False, dry_run=False
    )


def test_a_version_whose_files_vacuum_removed_is_refused_with_the_horizon(lake):
    _vacuum(lake)
    result = _run("lake", "show", "silver.cases_demo", "--version", "0", "--count")
    assert result.exit_code == 1
    message = _message(result)
    assert "silver.cases_demo version 0 cannot be read" in message and "was removed by VACUUM" in message
    assert "history retention" in message
    assert _count("--version", "3") == 5  # the newest version keeps its files


def test_versions_whose_log_entries_were_cleaned_up_are_refused_with_the_horizon(tmp_path, monkeypatch):
    """Delta drops log entries older than the log retention at a checkpoint: versions before
    the oldest entry kept can no longer be loaded, nor moments before it."""
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", str(tmp_path))
    uri = str(tmp_path / "state" / "short_log")
    write_deltalake(
        uri, _rows(("C1", "open", D)), configuration={"delta.logRetentionDuration": "interval 0 days"}
    )
    for _ in range(3):
        _commit(lambda: write_deltalake(uri, _rows(("C1", "open", D)), mode="append"))
    table = DeltaTable(uri)
    table.create_checkpoint()
    table.cleanup_metadata()
    assert [c["version"] for c in _history("state.short_log")] == [3]
    old = _run("lake", "show", "state.short_log", "--version", "0")
    assert old.exit_code == 1
    assert "state.short_log version 0 is no longer in its Delta log (the oldest kept is 3)" in _message(old)
    before = _run("lake", "show", "state.short_log", "--as-of", "2020-01-01T00:00:00Z")
    assert before.exit_code == 1
    assert "is before its oldest version kept (3," in _message(before) and "history retention" in _message(
        before
    )
    assert int(_run("lake", "show", "state.short_log", "--count").stdout) == 4


# ---------------------------------------------------------------- marts: pins and records


def _pins(settings: Settings) -> LakeVersions:
    return pin_versions(settings, [TableRef("silver", "cases_demo"), TableRef("silver", "absent_demo")])


def test_pins_record_each_table_at_its_version_and_the_absent_ones(lake):
    pins = _pins(lake)
    assert pins.tables["silver/cases_demo"].version == 3
    assert (
        pins.tables["silver/cases_demo"].table_id
        == DeltaTable(lake.table_path("silver", "cases_demo")).metadata().id
    )
    assert pins.absent == ("silver/absent_demo",)
    with pytest.raises(
        TimeTravelError, match="silver.absent_demo cannot be read at a pinned version: it was not in the lake"
    ):
        pins.pin_for(lake.table_path("silver", "absent_demo"))
    with pytest.raises(TimeTravelError, match="outside the pinned lake"):
        pins.pin_for("/elsewhere/silver/cases_demo")


def test_the_dbt_plugin_reads_the_pinned_version(lake, tmp_path):
    """What dbt reads: the version pinned in the build's pins file, not the newest."""
    from dbt.adapters.duckdb.utils import SourceConfig

    from civiclake.lake.dbt_delta import Plugin

    uri = lake.table_path("silver", "cases_demo")
    table_id = DeltaTable(uri).metadata().id
    pins = LakeVersions(lake.lake, {"silver/cases_demo": Pin(0, table_id)})
    pins_path = tmp_path / "build.duckdb.lake-versions.json"
    pins.write(pins_path)
    source = SourceConfig("cases_demo", "cases_demo", "silver", None, {"delta_table_path": uri}, [])
    pinned = Plugin("delta", {"pins_file": str(pins_path)})
    unpinned = Plugin("delta", {"pins_file": str(tmp_path / "none.json")})
    assert pinned.load(source).count_rows() == 3
    assert unpinned.load(source).count_rows() == 5
    other = SourceConfig(
        "x", "x", "silver", None, {"delta_table_path": lake.table_path("silver", "other")}, []
    )
    with pytest.raises(
        TimeTravelError, match="silver.other cannot be read at a pinned version: no version was pinned"
    ):
        pinned.load(other)


def test_every_dbt_source_names_a_lake_table(tmp_path):
    import yaml

    paths = set()
    for path in (publications.DBT_PROJECT_DIR / "models").rglob("*sources*.yml"):
        for source in yaml.safe_load(path.read_text(encoding="utf-8")).get("sources", []):
            paths |= {t["meta"]["delta_table_path"] for t in source["tables"]}
    refs = publications.dbt_lake_sources()
    assert len(refs) == len(paths) > 25
    assert (
        TableRef("silver", "governance_case_events") in refs and TableRef("state", "dispatch_outbox") in refs
    )

    models = tmp_path / "models" / "x"
    models.mkdir(parents=True)
    (models / "_x__sources.yml").write_text(
        "sources:\n  - name: x\n    tables:\n      - name: t\n        meta:\n          delta_table_path: /data/lake/silver/t\n",
        encoding="utf-8",
    )
    with pytest.raises(
        publications.PublicationError,
        match=r"models/x/_x__sources.yml: source x.t names its Delta table as '/data/lake/silver/t'",
    ):
        publications.dbt_lake_sources(tmp_path)


def _write_build(path, run_as_of: str | None | bool) -> None:
    """A build file with every mart (one row each) and, unless ``run_as_of`` is False, the
    record a dbt run leaves (dbt/macros/record_build_run.sql)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for table in marts.REQUIRED_TABLES:
            con.execute(f"create or replace table main.{table} as select 1 as n")
        if run_as_of is not False:
            con.execute("create schema if not exists civiclake_build")
            con.execute(
                f"create or replace table {marts.BUILD_RUN_TABLE} as select ?::varchar as as_of", [run_as_of]
            )


def test_publish_records_the_day_and_the_pinned_versions_prepare_took(lake, monkeypatch):
    """prepare pins, a dbt run records its day in the build, publish records both; a build
    published without a dbt run since prepare is not recorded as any day's marts."""
    monkeypatch.setattr(publications, "dbt_lake_sources", lambda: [TableRef("silver", "cases_demo")])
    monkeypatch.setattr(marts, "create_absent_silver_tables", lambda settings: [])
    monkeypatch.setattr(marts, "create_absent_platform_tables", lambda settings: [])
    marts.prepare(lake)
    write_deltalake(lake.table_path("silver", "cases_demo"), _rows(("C7", "open", D1)), mode="append")
    _write_build(marts.build_file(lake), D.isoformat())
    marts.publish(lake)
    record = publications.publication_of(lake, D)
    assert record.lake_versions.tables["silver/cases_demo"].version == 3  # pinned before the append
    assert record.marts == dict.fromkeys(marts.REQUIRED_TABLES, 1)
    assert record.dbt_project == publications.dbt_project_digest()

    # The next build starts from the last good one, whose record of its dbt run is not the
    # new build's.
    marts.prepare(lake)
    with duckdb.connect(str(marts.build_file(lake)), read_only=True) as con:
        assert con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'civiclake_build'"
        ).fetchall() == [(0,)]
    marts.publish(lake)
    assert publications.published_days(lake) == [D]
    assert len(list((publications.publications_dir(lake) / D.isoformat()).glob("*.json"))) == 1

    marts.prepare(lake)
    _write_build(marts.build_file(lake), D1.isoformat())
    marts.publish(lake)
    assert publications.published_days(lake) == [D, D1]
    assert publications.publication_of(lake, D1).lake_versions.tables["silver/cases_demo"].version == 4
    assert publications.publication_of(lake, D).lake_versions.tables["silver/cases_demo"].version == 3


def _record(settings: Settings, day: date, pins: LakeVersions) -> None:
    publications.record(
        settings,
        publications.Publication(day, publications.now(), pins, publications.dbt_project_digest(), {}),
    )


def _rebuild(day: date, out):
    return _run("marts", "rebuild", "--date", day.isoformat(), "--out", str(out))


def test_rebuild_refuses_before_running_dbt(lake, tmp_path, monkeypatch):
    def no_dbt(*args, **kwargs):
        raise AssertionError("dbt must not run")

    monkeypatch.setattr(marts, "run_dbt", no_dbt)
    out = tmp_path / "rebuilt.duckdb"
    assert "no publication of the marts of 2026-11-24 is recorded" in _message(_rebuild(D, out))
    assert "(recorded days: none)" in _message(_rebuild(D, out))

    _record(lake, D, _pins(lake))
    result = _rebuild(D, lake.published_marts_file)
    assert result.exit_code == 1 and "is a file of the live marts: rebuild into another file" in _message(
        result
    )

    # The pinned version's files removed by VACUUM: the day is beyond the horizon.
    pins = _pins(lake)
    write_deltalake(lake.table_path("silver", "cases_demo"), _rows(("C8", "open", D1)), mode="overwrite")
    _vacuum(lake)
    _record(lake, D1, pins)
    result = _rebuild(D1, out)
    assert result.exit_code == 1
    assert "silver.cases_demo version 3 cannot be read" in _message(
        result
    ) and "history retention" in _message(result)

    # The table dropped and created again: its version 3 is another table's.
    uri = lake.table_path("silver", "cases_demo")
    shutil.rmtree(uri)
    for rows in range(4):
        write_deltalake(uri, _rows((f"N{rows}", "open", D1)), mode="append")
    result = _rebuild(D1, out)
    assert result.exit_code == 1
    assert "silver.cases_demo at" in _message(result) and "is another table than the one pinned" in _message(
        result
    )
    assert not out.exists()
