"""The source family registry (civiclake/families.toml): what it says, the commands made
from it, and the errors a wrong entry gives."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.cli.common import add_family_commands
from civiclake.cli.quality import family_suites
from civiclake.families import FAMILIES_FILE, FamilyRegistryError, families, load_families
from civiclake.settings import PROJECT_ROOT


def test_the_shipped_registry_lists_every_family_in_run_order():
    shipped = families()
    assert list(shipped) == [
        "governance",
        "city",
        "resources",
        "positions",
        "cameras",
        "party",
        "services",
        "open311",
    ]
    assert [name for name, f in shipped.items() if not f.simulated] == ["open311"]
    open311 = shipped["open311"]
    assert open311.gate_per_jurisdiction
    option = open311.ingest_option("base-url")
    assert (option.env, option.default) == ("CIVICLAKE_OPEN311_URL", "http://127.0.0.1:8311")
    assert not any(f.gate_per_jurisdiction or f.ingest_options for f in shipped.values() if f is not open311)
    # The position reports and the camera clips are checked against the registries of their day.
    assert {name: f.after for name, f in shipped.items() if f.after} == {
        "positions": ("resources",),
        "cameras": ("resources",),
    }


def test_the_dag_reads_the_registry_the_cli_reads():
    assert FAMILIES_FILE == PROJECT_ROOT / "civiclake" / "families.toml"
    dag = (PROJECT_ROOT / "dags" / "civiclake_daily.py").read_text(encoding="utf-8")
    assert 'FAMILIES_FILE = ROOT / "civiclake" / "families.toml"' in dag


@pytest.mark.parametrize("family", list(families()))
def test_every_family_has_its_commands(family):
    runner = CliRunner()
    for step in ("ingest", "quality"):
        result = runner.invoke(app, [step, family, "--help"])
        assert result.exit_code == 0, result.output
    simulate = runner.invoke(app, ["simulate", family, "--help"])
    assert (simulate.exit_code == 0) == families()[family].simulated, simulate.output


def test_a_family_without_its_command_is_named():
    with pytest.raises(FamilyRegistryError, match=r"families without a command: \['city'\]"):
        add_family_commands(
            typer.Typer(),
            "ingest",
            {"governance": lambda: None},
            [families()["governance"], families()["city"]],
        )
    with pytest.raises(FamilyRegistryError, match=r"commands without a family: \['city'\]"):
        add_family_commands(typer.Typer(), "ingest", {"city": lambda: None}, [])


def test_every_suite_gates_a_silver_table_of_one_family():
    from quality import suites

    gated = []
    for family in families().values():
        jurisdiction = "longhua" if family.gate_per_jurisdiction else None
        chosen = family_suites(family, jurisdiction)
        assert list(chosen) == list(family.silver_tables())
        gated += chosen
    assert len(gated) == len(set(gated)), "a silver table belongs to one family"
    assert set(gated) == {*suites.SUITES, *suites.PER_JURISDICTION}


VALID = '[governance]\ntitle = "Governance"\nsimulated = true\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "declares no source family"),
        ("[governance\n", "is not valid TOML"),
        ("governance = 1\n", r"\[governance\] must be a table"),
        ('[Open-311]\ntitle = "x"\nsimulated = false\n', "a family name is lowercase"),
        ('[governance]\ntitle = "Governance"\n', r"\[governance\]: missing simulated"),
        (VALID + "simulate = true\n", "unknown key.*simulate; known keys: title, simulated"),
        ('[governance]\ntitle = "Governance"\nsimulated = "yes"\n', "simulated must be a bool, got str"),
        (
            VALID + '[governance.ingest_options.base-url]\nenv = "CIVICLAKE_X"\n',
            r"\[governance.ingest_options.base-url\]: missing default",
        ),
        (VALID + "[governance.ingest_options]\nbase-url = 3\n", "an ingest option is a table"),
        (VALID + 'after = ["city"]\n', r"after names \['city'\], which are not families declared before it"),
        (
            VALID + '[city]\ntitle = "City"\nsimulated = true\nafter = ["city"]\n',
            r"\[city\]: after names \['city'\].*earlier: governance",
        ),
    ],
)
def test_a_wrong_entry_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "families.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FamilyRegistryError, match=message) as error:
        load_families(path)
    assert str(path) in str(error.value)


def test_a_missing_registry_is_named(tmp_path):
    with pytest.raises(FamilyRegistryError, match="registry .*families.toml is missing"):
        load_families(tmp_path / "families.toml")


def test_a_family_without_source_contracts_is_named(tmp_path):
    path = tmp_path / "families.toml"
    path.write_text('[lighting]\ntitle = "Street lighting"\nsimulated = false\n', encoding="utf-8")
    with pytest.raises(FamilyRegistryError, match="no source contracts for family 'lighting'"):
        load_families(path)["lighting"].silver_tables()
