"""Erasure of one resident from a small lake of its own: bronze, silver and quarantine tables
written by the platform's writers, a table written without them (its Delta log holds
statistics of the token columns), and the marts' last good build (DuckDB) with a staging table
of household heads. Three residents; one is erased.

The token is first shown to be in the files (Parquet decoded column by column, every other
file as bytes, DuckDB queried); the erasure is stopped between its delete and its vacuum and
run again; then no file under the data folder holds the token or its first characters, the
other residents' rows are all there, and the audit row holds no trace of the resident.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from civiclake.contracts.catalog import contract
from civiclake.ingest.delta import bronze_schema
from civiclake.lake import erasure
from civiclake.lake.writes import STATS_COLUMNS_PROPERTY, merge_upsert, overwrite_partition
from civiclake.pii import id_check_char, scrub_text, tokenise
from civiclake.settings import Settings

pytestmark = pytest.mark.integration

MEMBERS = contract("party_members")
CASES = contract("governance_cases")
DAY = date(2026, 11, 25)


class Stopped(RuntimeError):
    """The erasure's process ending part-way (killed, a lost machine)."""


def _id_number(first17: str) -> str:
    return first17 + id_check_char(first17)


# Resident → (ID number, mobile, name). A is erased; B and C stay.
RESIDENTS = {
    "A": (_id_number("44030919800101123"), "13912345678", "林小花"),
    "B": (_id_number("44030919900202234"), "13800138000", "王大明"),
    "C": (_id_number("44030920000303345"), "13700137000", "陈美玲"),
}


def _tokens(settings, who: str) -> dict[str, str]:
    key = settings.require_pii_key()
    id_number, phone, name = RESIDENTS[who]
    return {
        "id": tokenise(id_number, "id_number", key),
        "phone": tokenise(phone, "phone", key),
        "name": tokenise(name, "name", key),
    }


# --- what the files hold, read independently of civiclake.lake.erasure -----------------------


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def holders(root, needles: list[str]) -> dict[str, str]:
    """File (relative) → how the needle was found: decoded Parquet values, DuckDB rows, bytes."""
    import duckdb
    import pyarrow.parquet as pq

    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        if any(n.encode() in path.read_bytes() for n in needles):
            found[name] = "bytes"
        elif path.suffix == ".parquet":
            table = pq.read_table(path)
            for column in table.column_names:
                if any(
                    n in s for v in table.column(column).to_pylist() for s in _strings(v) for n in needles
                ):
                    found[name] = f"parquet column {column}"
                    break
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                for schema, table in con.execute(
                    "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
                ).fetchall():
                    rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
                    if any(n in s for r in rows for s in _strings(list(r)) for n in needles):
                        found[name] = f"duckdb {schema}.{table}"
    return found


def _needles(tokens: dict[str, str]) -> list[str]:
    # The whole token, and what a 32-character statistic would keep of it (prefix + 16 hex).
    return sorted(
        {t for t in tokens.values()} | {t.split("_")[0] + "_" + t.split("_")[1][:16] for t in tokens.values()}
    )


# --- the lake ------------------------------------------------------------------------------------


def _members_bronze(spark, settings):
    """The day's export of party members as bronze holds it: tokens, and for A an unknown
    column of the export that held A's phone (kept, tokenised, in ``_extra_columns``)."""
    schema = bronze_schema(MEMBERS)
    rows = []
    for n, who in enumerate(RESIDENTS):
        t = _tokens(settings, who)
        values = dict.fromkeys(schema.names)
        values |= {
            "member_id": f"M{who}",
            "member_name_token": t["name"],
            "member_id_token": t["id"],
            "member_phone_token": t["phone"],
            "community_code": "440309001001",
            "_source": "file:party/党员信息",
            "_batch_id": f"party:party_members:{DAY}",
            "_file_name": f"党员信息_{DAY:%Y%m%d}.xlsx",
            "_row_number": n + 2,
            "_extracted_at": datetime(2026, 11, 26, 1, 0),
            "_duplicate": False,
            "batch_date": DAY,
        }
        if who == "A":
            values["_extra_columns"] = f'{{"备用电话": "{t["phone"]}"}}'
        rows.append(tuple(values[c] for c in schema.names))
    path = settings.table_path("bronze", MEMBERS.table)
    overwrite_partition(spark.createDataFrame(rows, schema), path, "batch_date", DAY)
    return {"A": 1, "B": 1, "C": 1}


def _typed(spark, types: dict[str, str], rows: list[dict]):
    schema = ", ".join(f"`{c}` {t}" for c, t in types.items())
    return spark.createDataFrame([tuple(r.get(c) for c in types) for r in rows], schema)


def _members_silver_and_quarantine(spark, settings):
    types = MEMBERS.silver_types()
    silver = []
    for who in ("A", "B", "C"):
        t = _tokens(settings, who)
        silver.append(
            {
                "member_id": f"M{who}",
                "member_name_token": t["name"],
                "member_id_token": t["id"],
                "member_phone_token": t["phone"],
                "status": "正式党员",
                "is_deleted": False,
                "batch_date": DAY,
            }
        )
    merge_upsert(
        spark,
        _typed(spark, {c: types[c] for c in MEMBERS.silver_columns()}, silver),
        settings.table_path("silver", MEMBERS.table),
        list(MEMBERS.key),
        newer_than="batch_date",
    )
    # Quarantine: A's row with a bad community code, and one of B's.
    quarantine_types = {c: "string" for c in bronze_schema(MEMBERS).names if c != "batch_date"}
    quarantine_types |= {"quarantine_reason": "string", "batch_date": "date"}
    rows = []
    for who in ("A", "B"):
        t = _tokens(settings, who)
        rows.append(
            {
                "member_id": f"M{who}",
                "member_id_token": t["id"],
                "member_phone_token": t["phone"],
                "community_code": "999",
                "quarantine_reason": "unknown community_code",
                "batch_date": DAY,
            }
        )
    overwrite_partition(
        _typed(spark, quarantine_types, rows),
        settings.table_path("silver", f"{MEMBERS.table}_quarantine"),
        "batch_date",
        DAY,
    )
    return {"A": 1, "B": 1, "C": 1}, {"A": 1, "B": 1}


def _cases_written_elsewhere(spark, settings):
    """silver.governance_cases as a writer outside civiclake.lake.writes leaves it: Delta's
    default statistics, so its log holds min and max of the token columns: A's first case alone
    in its file, so A's tokens are that file's min and max."""
    key = settings.require_pii_key()
    types = CASES.silver_types()
    columns = {c: types[c] for c in CASES.silver_columns()}
    cases = []
    for n, who in enumerate(("A", "B", "C", "A")):
        t = _tokens(settings, who)
        phone = RESIDENTS[who][1]
        cases.append(
            {
                "case_id": f"GC2026112500{n}",
                "description": scrub_text(f"小区门口垃圾堆积，请回电 {phone}", key),
                "reporter_phone_token": t["phone"] if n != 3 else None,  # the 4th: A only in the text
                "reporter_name_token": t["name"],
                "status": "closed",
                "batch_date": DAY,
            }
        )
    path = settings.table_path("silver", CASES.table)
    for batch in (cases[:1], cases[1:]):
        _typed(spark, columns, batch).coalesce(1).write.format("delta").mode("append").save(path)
    return {"A": 2, "B": 1, "C": 1}


def _marts_build(settings):
    """The last good marts build, with a staging table of household heads (person-level), and
    the published marts file (aggregates)."""
    import duckdb

    build = settings.marts / "build"
    build.mkdir(parents=True)
    with duckdb.connect(str(build / "last-good.duckdb")) as con:
        con.execute(
            "create table stg_resources__households (household_id varchar, head_id_token varchar, members int)"
        )
        for n, who in enumerate(RESIDENTS):
            con.execute(
                "insert into stg_resources__households values (?, ?, ?)",
                [f"H{who}", _tokens(settings, who)["id"], n + 1],
            )
    with duckdb.connect(str(settings.published_marts_file)) as con:
        con.execute("create table mart_households_daily as select 3 as households, date '2026-11-25' as day")
    return {"A": 1, "B": 1, "C": 1}


@pytest.fixture(scope="module")
def lake(spark, settings, tmp_path_factory):
    own = Settings(**{**settings.model_dump(), "data_dir": tmp_path_factory.mktemp("erasure")})
    written = {
        f"bronze.{MEMBERS.table}": _members_bronze(spark, own),
    }
    silver, quarantine = _members_silver_and_quarantine(spark, own)
    written[f"silver.{MEMBERS.table}"] = silver
    written[f"silver.{MEMBERS.table}_quarantine"] = quarantine
    written[f"silver.{CASES.table}"] = _cases_written_elsewhere(spark, own)
    marts = _marts_build(own)
    return own, written, marts


def _count(settings, qualified: str, who: str) -> int:
    """Rows of a table (its current version, read with delta-rs) holding ``who``'s ID or phone token."""
    import pyarrow as pa
    from deltalake import DeltaTable

    layer, name = qualified.split(".")
    table = DeltaTable(settings.table_path(layer, name)).to_pyarrow_table()
    t = _tokens(settings, who)
    texts = [
        table.column(c).to_pylist()
        for c in table.column_names
        if pa.types.is_string(table.schema.field(c).type)
    ]
    return sum(
        1
        for values in zip(*texts, strict=True)
        if any(v and (t["id"] in v or t["phone"] in v) for v in values)
    )


@pytest.fixture(scope="module")
def erased(spark, lake, monkeypatch_module):
    """The token proved present, then the erasure stopped after its delete, then run again."""
    settings, written, marts = lake
    tokens = _tokens(settings, "A")
    before = holders(settings.data_dir, _needles(tokens))
    counts_before = {table: {who: _count(settings, table, who) for who in RESIDENTS} for table in written}
    request = erasure.ErasureRequest(
        reason="工单 QX-2026-0117: 居民申请删除个人信息",
        id_numbers=(RESIDENTS["A"][0],),
        phones=(RESIDENTS["A"][1],),
    )

    def stopped(spark, table, needles):
        raise Stopped("stopped between the delete and the vacuum")

    monkeypatch_module.setattr(erasure, "vacuum_now", stopped)
    with pytest.raises(Stopped):
        erasure.erase(spark, settings, request, request_id="req-1")
    after_stop = holders(settings.data_dir, _needles(tokens))
    audit_after_stop = erasure.audit_rows(spark, settings, "req-1")
    monkeypatch_module.undo()

    result = erasure.erase(spark, settings, request, request_id="req-1")
    return {
        "before": before,
        "counts_before": counts_before,
        "after_stop": after_stop,
        "audit_after_stop": audit_after_stop,
        "result": result,
        "after": holders(settings.data_dir, _needles(tokens)),
    }


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_the_token_is_in_every_kind_of_file_before(lake, erased):
    settings, written, _ = lake
    before = erased["before"]
    for table in (
        f"bronze/{MEMBERS.table}/",
        f"silver/{MEMBERS.table}/",
        f"silver/{MEMBERS.table}_quarantine/",
    ):
        assert any(
            p.startswith(f"lake/{table}batch_date=") or p.startswith(f"lake/{table}part-") for p in before
        ), (
            table,
            before,
        )
    # The table written without the platform's writers: Delta's statistics put it in the log.
    assert any(p.startswith(f"lake/silver/{CASES.table}/_delta_log/") for p in before), before
    assert before.get("marts/build/last-good.duckdb", "").startswith(("duckdb", "bytes"))
    # Tables made by civiclake.lake.writes keep no statistics of personal columns: their logs never held it.
    assert not any("_delta_log" in p and CASES.table not in p for p in before), before
    assert erased["counts_before"][f"silver.{MEMBERS.table}"] == {"A": 1, "B": 1, "C": 1}


def test_a_stopped_erasure_deleted_the_rows_left_the_files_and_says_so(lake, erased):
    settings, written, _ = lake
    row = erased["audit_after_stop"][-1]
    assert row.status == "rows deleted; files not yet vacuumed"
    expected = {table: per["A"] for table, per in written.items() if per.get("A")}
    assert json.loads(row.tables) == expected
    # The rows are gone from the current versions, but their old files are still on disk.
    assert any(p.endswith(".parquet") and "_delta_log" not in p for p in erased["after_stop"])


def test_after_the_rerun_no_file_holds_the_token(lake, erased):
    settings, _, _ = lake
    assert erased["after"] == {}
    assert erased["result"].remaining == []


def test_other_residents_rows_are_all_still_there(spark, lake, erased):
    settings, written, marts = lake
    for table, per in written.items():
        for who in ("B", "C"):
            assert _count(settings, table, who) == per.get(who, 0) == erased["counts_before"][table][who], (
                table,
                who,
            )
        assert _count(settings, table, "A") == 0, table
    import duckdb

    with duckdb.connect(str(settings.marts / "build" / "last-good.duckdb"), read_only=True) as con:
        heads = con.execute(
            "select household_id, members from stg_resources__households order by 1"
        ).fetchall()
    assert heads == [("HB", 2), ("HC", 3)]
    with duckdb.connect(str(settings.published_marts_file), read_only=True) as con:
        assert con.execute("select households from mart_households_daily").fetchall() == [(3,)]


def test_the_audit_row_counts_what_went_and_holds_nothing_of_the_resident(spark, lake, erased):
    settings, written, marts = lake
    rows = erasure.audit_rows(spark, settings, "req-1")
    # The stopped run's step, then the rerun's two: the rows it found gone, and done.
    assert [r.status for r in rows] == ["rows deleted; files not yet vacuumed"] * 2 + ["completed"]
    assert len({r.requested_at for r in rows}) == 1
    row = rows[-1]
    rows_a = {table: per["A"] for table, per in written.items() if per.get("A")}
    assert json.loads(row.tables) == rows_a
    assert row.rows_removed == sum(rows_a.values()) + marts["A"]
    assert row.data_files_removed >= len(rows_a)
    assert row.log_files_removed > 0  # the log of the table written without the platform's writers
    assert row.identifiers == "id_number×1, phone×1"
    assert row.requested_at <= row.recorded_at
    text = json.dumps([r.asDict() for r in rows], default=str, ensure_ascii=False)
    id_number, phone, name = RESIDENTS["A"]
    for trace in [id_number, phone, name, *_needles(_tokens(settings, "A"))]:
        assert trace not in text


def test_the_tables_keep_no_statistics_of_personal_columns(lake, erased):
    from deltalake import DeltaTable

    settings, written, _ = lake
    for table in written:
        layer, name = table.split(".")
        properties = DeltaTable(settings.table_path(layer, name)).metadata().configuration
        stats = properties[STATS_COLUMNS_PROPERTY].split(",")
        assert stats and not [
            c for c in stats if c.endswith("_token") or c in ("description", "_extra_columns")
        ]


def test_a_reason_that_identifies_the_resident_is_refused():
    with pytest.raises(erasure.ErasureRequestError, match="reason"):
        erasure.ErasureRequest(reason=f"居民 {RESIDENTS['A'][1]} 申请删除", phones=(RESIDENTS["A"][1],))
