"""The analysts' notebook (notebooks/marts_questions.ipynb) runs end to end with nbclient
on the published marts and its three answers agree with the marts."""

from __future__ import annotations

import json
import os
from collections import defaultdict

import duckdb
import nbclient
import nbformat
import pytest

from civiclake.settings import PROJECT_ROOT
from tests.integration.conftest import MARTS_LAST as LAST

pytestmark = pytest.mark.integration

NOTEBOOK = PROJECT_ROOT / "notebooks" / "marts_questions.ipynb"


def _run(marts_file) -> dict:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    os.environ["CIVICLAKE_MARTS_FILE"] = str(marts_file)
    try:
        nbclient.NotebookClient(
            notebook,
            timeout=180,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        ).execute()
    finally:
        os.environ.pop("CIVICLAKE_MARTS_FILE", None)
    last = [o for o in notebook.cells[-1]["outputs"] if o.get("name") == "stdout"]
    return json.loads(last[-1]["text"].strip().splitlines()[-1])


def test_notebook_answers_three_questions(published_marts):
    marts_file = published_marts.published_marts_file
    answers = _run(marts_file)
    with duckdb.connect(str(marts_file), read_only=True) as con:
        overdue = dict(
            con.execute(
                "select area_name, overdue_open from mart_case_measures_daily "
                "where level = 'community' and report_date = ?",
                [LAST],
            ).fetchall()
        )
        sla = con.execute(
            "select category_name, response_due, responded_on_time from mart_sla_daily "
            "where level = 'district' and report_date between ? - interval 6 day and ?",
            [LAST, LAST],
        ).fetchall()
    due, met = defaultdict(int), defaultdict(int)
    for name, d, m in sla:
        due[name] += d
        met[name] += m
    rates = {name: met[name] / due[name] for name in due if due[name]}
    assert answers["latest"] == str(LAST)
    assert overdue[answers["most_overdue_community"]] == max(overdue.values()) > 0
    assert rates[answers["worst_response_category"]] == min(rates.values()) < 1
