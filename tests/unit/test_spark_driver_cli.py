"""Which command lines go to the warm Spark driver, and the exit codes of command lines run here."""

from __future__ import annotations

import pytest

from civiclake.cli import run
from civiclake.cli.driver import forwarded, runs_spark
from civiclake.families import families

DAY = "2026-11-25"


@pytest.mark.parametrize(
    ("argv", "to_driver"),
    [
        (["ingest", "resources", "--date", DAY], True),
        (["-v", "ingest", "party", "--date", DAY], True),
        (["cases", "build", "--date", DAY], True),
        (["classifier", "train", "--date", DAY], True),
        (["classifier", "score", "--date", DAY], True),
        (["maintain", "run", "--date", DAY], True),
        (["maintain", "vacuum", "--date", DAY], True),
        (["quality", "resources"], False),  # delta-rs and Great Expectations: no Spark
        (["simulate", "resources", "--date", DAY], False),
        (["marts", "publish"], False),
        # It asks for confirmation on the terminal it was started from.
        (["erase", "--token", "t", "--reason", "ticket 1"], False),
        (["spark-driver", "serve"], False),
        (["ingest"], False),  # a group alone prints its help
        (["no-such-command"], False),
        ([], False),
    ],
)
def test_spark_commands_and_only_they_go_to_the_driver(argv, to_driver):
    assert runs_spark(argv) is to_driver


def test_every_family_ingest_goes_to_the_driver():
    assert all(runs_spark(["ingest", family, "--date", DAY]) for family in families())


def test_without_a_socket_a_spark_command_runs_here(monkeypatch):
    monkeypatch.delenv("CIVICLAKE_SPARK_DRIVER_SOCKET", raising=False)
    assert forwarded(["ingest", "resources", "--date", DAY]) is None


@pytest.mark.parametrize("kind", ["missing", "plain file"])
def test_a_socket_no_driver_answers_on_runs_the_command_here_and_says_so(monkeypatch, tmp_path, capsys, kind):
    socket = tmp_path / "spark-driver.sock"
    if kind == "plain file":
        socket.write_text("")
    monkeypatch.setenv("CIVICLAKE_SPARK_DRIVER_SOCKET", str(socket))
    assert forwarded(["ingest", "resources", "--date", DAY]) is None
    err = capsys.readouterr().err
    assert f"no Spark driver answers at {socket}" in err
    assert "starts a Spark session of its own" in err


def test_run_returns_the_command_lines_exit_code(capsys):
    assert run(["--help"]) == 0
    assert run(["no-such-command"]) == 2
    assert run(["ingest", "party"]) == 2  # no --date: a usage error
    assert "Missing option '--date'" in capsys.readouterr().err
