"""civiclake_review: a day's review queue, worked by a person in Airflow's browser UI.

Trigger it with the day whose queue to open (the ``date`` param). ``open_queue`` asks the
core for the cases the classifier was unsure of that day and no reviewer has decided yet
(``civiclake review queue --date D --json``); each becomes one human-in-the-loop task
(``case.decide``, Airflow 3.3's awaiting-input state) that shows the case's text, the
model's top suggestions with their probabilities, its place and channel, and offers every
category, the suggestions first. The reviewer picks the right one in the UI's "Required
actions" (or through the REST API's ``hitlDetails``), optionally naming a department.
``case.record`` then records that answer as a reviewers' correction
(``civiclake dispatch review``): the reviewer is the Airflow user who answered, the time
the moment they answered. Corrections route the case on the next scoring run and are
labels for the next training.

Each case's record step waits for that case's answer only (a mapped task group), so a
decision lands as soon as it is made, however long the rest of the queue stays open.

Every step is the ``civiclake`` CLI of the core environment (``.venvs/core``), run as a
subprocess with an argument list (no shell: answers are people's input); nothing runs at
import time. The cards (subject, Markdown body, options and their category codes) come
ready from the CLI, so this file knows nothing of the catalogue.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, get_current_context, task, task_group

ROOT = Path(os.environ.get("CIVICLAKE_HOME") or Path(__file__).resolve().parent.parent)
CORE_VENV = Path(os.environ.get("CIVICLAKE_CORE_VENV") or ROOT / ".venvs" / "core")
CIVICLAKE = CORE_VENV / "bin" / "civiclake"
# What each case's task group is given from the queue's JSON.
CARD_FIELDS = ("case_id", "subject", "body", "options", "option_codes")


class CaseReviewOperator(HITLOperator):
    """A human-in-the-loop task whose options, like its subject and body, are given at run
    time (one case of the queue each, in a mapped task group)."""

    template_fields = (*HITLOperator.template_fields, "options")


def _civiclake(*args: str) -> str:
    """Runs ``civiclake <args>``; its stdout, or a failure carrying the CLI's own message."""
    proc = subprocess.run(
        [str(CIVICLAKE), *args], cwd=ROOT, capture_output=True, text=True, encoding="utf-8", check=False
    )
    if proc.stderr:
        print(proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(
            f"`civiclake {' '.join(args)}` failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )
    return proc.stdout


@dag(
    dag_id="civiclake_review",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "date": Param(
            type="string",
            format="date",
            title="审核日期 (day)",
            description="The day whose review queue to open (the cases scored that day), YYYY-MM-DD.",
        ),
    },
    default_args={"owner": "dispatch", "retries": 0},
    tags=["civiclake", "review", "human-in-the-loop"],
    doc_md=__doc__,
)
def civiclake_review():
    @task(retries=1, retry_delay=timedelta(minutes=1))
    def open_queue() -> list[dict]:
        """The day's cases waiting for a reviewer, each as its review card."""
        day = get_current_context()["params"]["date"]
        cases = json.loads(_civiclake("review", "queue", "--date", day, "--json"))
        print(f"{len(cases)} cases of {day} wait for a reviewer")
        return [{field: case[field] for field in CARD_FIELDS} for case in cases]

    @task
    def record(case_id: str, option_codes: dict[str, str], decision: dict) -> dict:
        """The reviewer's answer as a correction (category, optional department, who and when)."""
        (chosen,) = decision["chosen_options"]
        category = option_codes[chosen]
        user = decision["responded_by_user"] or {}
        reviewer = user.get("name") or user.get("id")
        if not reviewer:
            raise ValueError(f"case {case_id}: the answer names no user; who decided must be recorded")
        responded_at = decision["responded_at"]
        reviewed_at = responded_at if isinstance(responded_at, str) else responded_at.isoformat()
        department = ((decision.get("params_input") or {}).get("department") or "").strip()
        args = [
            "--case-id",
            case_id,
            "--category",
            category,
            "--reviewer",
            reviewer,
            "--reviewed-at",
            reviewed_at,
        ]
        if department:
            args += ["--department", department]
        _civiclake("dispatch", "review", *args)
        return {
            "case_id": case_id,
            "category": category,
            "department": department or None,
            "reviewer": reviewer,
        }

    @task_group(group_id="case")
    def review_case(case_id, subject, body, options, option_codes):
        decision = CaseReviewOperator(
            task_id="decide",
            subject=subject,
            body=body,
            options=options,
            multiple=False,
            params={
                "department": Param(
                    None,
                    type=["null", "string"],
                    title="责任部门（可选）",
                    description="Leave empty to route by the routing rules; otherwise a known "
                    "department, e.g. 交通警察大队.",
                ),
            },
            doc_md="A reviewer decides this case's category (and, optionally, its department).",
            # Airflow's scheduler can mark a parked task failed when the answer resumes it
            # before the scheduler has seen its worker exit (the race of apache/airflow#71580).
            # One more try asks the reviewer again instead of dropping the case from the run.
            retries=1,
            retry_delay=timedelta(seconds=10),
        )
        record(case_id=case_id, option_codes=option_codes, decision=decision.output)

    review_case.expand_kwargs(open_queue())


civiclake_review()
