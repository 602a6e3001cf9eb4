"""Retention settings and what erasure accepts, without a JVM: the settings' validation, the
columns kept out of Delta's statistics, an erasure request's checks and the tokens it looks for."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from civiclake.contracts.catalog import CONTRACTS
from civiclake.lake.erasure import ErasureRequest, ErasureRequestError, needles_of
from civiclake.lake.writes import is_personal_column, personal_stats_options, stats_columns
from civiclake.pii import id_check_char, scrub_text, tokenise
from civiclake.settings import Settings

KEY = b"unit-test-key"
ID_NUMBER = "44030919800101123" + id_check_char("44030919800101123")


RETENTION_VARIABLES = (
    "CIVICLAKE_RAW_EXPORT_RETENTION_DAYS",
    "CIVICLAKE_BRONZE_RETENTION_DAYS",
    "CIVICLAKE_DELTA_HISTORY_RETENTION_DAYS",
    "CIVICLAKE_OPTIMIZE_MIN_SMALL_FILES",
    "CIVICLAKE_OPTIMIZE_SMALL_FILE_MB",
)


def test_the_defaults_are_a_districts_choice(monkeypatch):
    for name in RETENTION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.raw_export_retention_days == 0  # raw exports: gone once ingested
    assert s.bronze_retention_days == 400  # last year rebuildable while the annual report is made
    assert s.delta_history_retention_days == 30  # a month of time travel
    assert (s.optimize_min_small_files, s.optimize_small_file_mb) == (16, 32)


def test_the_environment_sets_them(monkeypatch):
    monkeypatch.setenv("CIVICLAKE_BRONZE_RETENTION_DAYS", "90")
    monkeypatch.setenv("CIVICLAKE_DELTA_HISTORY_RETENTION_DAYS", "7")
    s = Settings()
    assert (s.bronze_retention_days, s.delta_history_retention_days) == (90, 7)


def test_delta_history_below_deltas_safe_minimum_is_refused_with_its_reason():
    with pytest.raises(ValidationError) as refused:
        Settings(delta_history_retention_days=6)
    message = str(refused.value)
    assert "CIVICLAKE_DELTA_HISTORY_RETENTION_DAYS=6" in message and "at least 7 days" in message
    assert "civiclake erase" in message


@pytest.mark.parametrize(
    "field, value",
    [
        ("bronze_retention_days", 0),
        ("bronze_retention_days", -1),
        ("raw_export_retention_days", -1),
        ("optimize_min_small_files", 0),
        ("optimize_small_file_mb", -5),
        ("delta_history_retention_days", -30),
    ],
)
def test_no_negative_or_empty_retention(field, value):
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


def test_every_personal_column_of_every_contract_is_kept_out_of_statistics():
    for c in CONTRACTS.values():
        for name in c.pii:
            assert is_personal_column(c.field(name).stored_name), (c.table, name)
        for name in c.free_text:
            assert is_personal_column(name), (c.table, name)
        assert not is_personal_column(c.key[0]), c.table  # the MERGE's data skipping needs the key's


def test_statistics_columns_skip_personal_partition_and_boolean_columns():
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("case_id", T.StringType()),
            T.StructField("reporter_phone_token", T.StringType()),
            T.StructField("description", T.StringType()),
            T.StructField("_extra_columns", T.StringType()),
            T.StructField("_raw", T.StringType()),
            T.StructField("is_deleted", T.BooleanType()),
            T.StructField("reported_at", T.TimestampType()),
            T.StructField("lon", T.DoubleType()),
            T.StructField("tags", T.ArrayType(T.StringType())),
            T.StructField("社区", T.StringType()),
            T.StructField("batch_date", T.DateType()),
        ]
    )
    assert stats_columns(schema, ("batch_date",)) == ["case_id", "reported_at", "lon", "社区"]
    assert personal_stats_options(schema, ("batch_date",)) == {
        "delta.dataSkippingStatsColumns": "case_id,reported_at,lon,`社区`"
    }
    only_personal = T.StructType([T.StructField("head_id_token", T.StringType())])
    assert personal_stats_options(only_personal) == {"delta.dataSkippingNumIndexedCols": "0"}


def test_a_request_names_someone_and_says_why_without_identifying_them():
    with pytest.raises(ErasureRequestError, match="name the resident"):
        ErasureRequest(reason="工单 1")
    with pytest.raises(ErasureRequestError, match="--reason is required"):
        ErasureRequest(reason="  ", id_numbers=(ID_NUMBER,))
    for reason in (
        f"居民{ID_NUMBER}申请",
        "请删除 139-1234-5678 的资料",
        f"token {tokenise('x', 'phone', KEY)}",
    ):
        with pytest.raises(ErasureRequestError, match="must not identify the resident"):
            ErasureRequest(reason=reason, id_numbers=(ID_NUMBER,))
    with pytest.raises(ErasureRequestError, match="not 18 characters"):
        ErasureRequest(reason="工单 1", id_numbers=("4403091980",))
    with pytest.raises(ErasureRequestError, match="7 to 15 digits"):
        ErasureRequest(reason="工单 1", phones=("12345",))
    with pytest.raises(ErasureRequestError, match="not a civiclake token"):
        ErasureRequest(reason="工单 1", tokens=("phone_123",))


def test_the_tokens_are_those_the_lake_holds_for_the_values_given():
    request = ErasureRequest(reason="工单 1", id_numbers=(ID_NUMBER.lower(),), phones=("+86 139-1234-5678",))
    tokens = request.token_values(KEY)
    # An ID number's token whatever its case; a phone's as its column held it and as free text's
    # scrubbing writes it (digits only, without +86).
    assert tokenise(ID_NUMBER, "id_number", KEY) in tokens
    assert f"[{tokenise('13912345678', 'phone', KEY)}]" in scrub_text("请回电 +86 139-1234-5678", KEY)
    assert tokenise("13912345678", "phone", KEY) in tokens
    assert request.described() == "id_number×1, phone×1"
    assert ID_NUMBER not in request.described()


def test_the_search_covers_what_a_statistic_keeps_of_a_token():
    token = tokenise("13912345678", "phone", KEY)
    (needle,) = needles_of([token])
    # Delta keeps 32 characters of a string as a file's min or max: the needle fits in them.
    assert token[:32].encode().startswith(needle) and len(needle) == len("phone_") + 16


def test_erase_refuses_an_identifying_reason_before_any_spark_or_lake(monkeypatch):
    from typer.testing import CliRunner

    from civiclake.cli import app, maintenance

    monkeypatch.setattr(
        maintenance, "spark", lambda name: pytest.fail("a refused request must not start Spark")
    )
    result = CliRunner().invoke(
        app, ["erase", "--phone", "13912345678", "--reason", "居民13912345678要求", "--yes"]
    )
    assert result.exit_code == 1
    assert "must not identify the resident" in result.output
    assert "13912345678" not in result.output  # the refusal does not repeat the number
