"""The Open311 commands of the CLI: present, documented, and clear about bad input."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from civiclake.cli import app


def text(output: str) -> str:
    """The output with rich's panel borders and line wrapping taken out."""
    return re.sub(r"[│╭╮╰╯─\s]+", " ", output)


COMMANDS = [["serve"], ["serve", "open311"], ["ingest", "open311"], ["quality", "open311"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_open311_commands_have_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_serve_names_a_missing_nyc_folder(tmp_path):
    result = CliRunner().invoke(
        app, ["serve", "open311", "--dataset", "nyc311", "--nyc311-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "NYC 311 sample not found" in text(result.output) and "--nyc311-dir" in text(result.output)


def test_serve_longhua_needs_its_last_day():
    result = CliRunner().invoke(app, ["serve", "open311", "--dataset", "longhua"])
    assert result.exit_code != 0 and "needs --date" in text(result.output)


def test_ingest_refuses_an_unknown_jurisdiction():
    result = CliRunner().invoke(
        app, ["ingest", "open311", "--date", "2026-11-25", "--jurisdiction", "atlantis"]
    )
    assert result.exit_code != 0 and "unknown jurisdiction 'atlantis'" in text(result.output)
