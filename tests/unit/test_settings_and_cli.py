import pytest
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.families import families
from civiclake.settings import MissingSecretError, Settings


def test_secrets_have_no_default(monkeypatch):
    monkeypatch.delenv("CIVICLAKE_PII_KEY", raising=False)
    monkeypatch.delenv("CIVICLAKE_PG_PASSWORD", raising=False)
    settings = Settings()
    with pytest.raises(MissingSecretError, match="CIVICLAKE_PII_KEY"):
        settings.require_pii_key()
    with pytest.raises(MissingSecretError, match="CIVICLAKE_PG_PASSWORD"):
        settings.pg_conninfo()


def test_paths_follow_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.table_path("silver", "governance_cases") == f"{tmp_path}/lake/silver/governance_cases"
    assert settings.published_marts_file == tmp_path / "marts" / "civiclake.duckdb"
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", "s3a://district-lake/civiclake")
    assert Settings().table_path("bronze", "x") == "s3a://district-lake/civiclake/bronze/x"


def test_a_relative_lake_path_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", "work/lake")
    assert Settings().lake == str(tmp_path / "work" / "lake")


COMMANDS = [
    [],
    ["simulate"],
    ["simulate", "governance"],
    ["ingest"],
    ["ingest", "governance"],
    ["quality"],
    ["quality", "governance"],
    ["classifier"],
    ["classifier", "train"],
    ["classifier", "score"],
    ["classifier", "predict"],
    ["marts"],
    ["marts", "prepare"],
    ["marts", "build"],
    ["marts", "publish"],
    ["marts", "env"],
    ["summary"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "civiclake")
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


# Steps that work on silver as it stands or on the marts files: a --date they would ignore
# is refused rather than accepted (a rerun "for 2026-11-20" would check today's tables).
UNDATED = [
    *(["quality", family] for family in families()),
    ["marts", "prepare"],
    ["marts", "publish"],
    ["marts", "warm"],
]


@pytest.mark.parametrize("command", UNDATED, ids=" ".join)
def test_a_step_without_a_day_refuses_date(command):
    result = CliRunner().invoke(app, [*command, "--date", "2026-11-25"])
    assert result.exit_code == 2, result.output
    assert "No such option: --date" in result.output


def test_a_bad_date_is_a_clear_error():
    result = CliRunner().invoke(app, ["summary", "--date", "25/11/2026"])
    assert result.exit_code != 0
    assert "--date must look like 2026-11-25" in result.output


def test_an_ingest_result_with_its_tables_prints_as_json():
    import json
    from pathlib import Path

    from civiclake.ingest.files import FileRead
    from civiclake.ingest.results import Files, IngestResult, SourceWindow, TableResult

    window = SourceWindow(None, "2026-11-26 00:00:00")
    events = TableResult(
        "governance_case_events", "2026-11-25", True, 5, 5, 0, 0, silver_total=5, window=window
    )
    cases = TableResult(
        "governance_cases",
        "2026-11-25",
        True,
        3,
        2,
        1,
        0,
        {"missing case_id": 1},
        silver_total=2,
        window=window,
    )
    printed = json.loads(json.dumps(IngestResult("governance", "2026-11-25", [cases, events]).summary()))
    by_table = {t["table"]: t for t in printed}
    assert by_table["governance_case_events"]["source_rows"] == 5
    assert by_table["governance_cases"]["window"] == {"start": None, "end": "2026-11-26 00:00:00"}
    assert by_table["governance_cases"]["quarantine_reasons"] == {"missing case_id": 1}
    assert all(
        t["source_rows"] == t["silver_rows"] + t["quarantined_rows"] + t["duplicate_rows"] for t in printed
    )

    # A file export's table prints its files, not the rows read from them.
    read = FileRead(path=Path("党员信息_20261125.xlsx"), table="party_members", status="loaded")
    files = Files(count=1, failed=[], empty=[], new_columns=["发放批次"], reads=[read])
    members = TableResult("party_members", "2026-11-25", True, 1, 1, 0, 0, files=files)
    (printed,) = json.loads(json.dumps(IngestResult("party", "2026-11-25", [members]).summary()))
    assert printed["files"] == {"count": 1, "failed": [], "empty": [], "new_columns": ["发放批次"]}
