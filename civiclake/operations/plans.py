"""Joint-operation plans (预案): which departments get which task, by when, and who is told
when a task is late.

One YAML file per plan in ``civiclake/reference/operations/plans/<plan_id>.yaml``. A plan
runs in an area of one level (district, street or community); every task becomes one order
to a department named by a template over that area (``{street_name}城市管理和综合执法队``),
due a number of wall-clock hours after the start; an order not completed by then goes up
once to the plan's escalation department, at a level above the operation's. Besides a
manual start, a plan may say which condition starts it (a cluster of cases of a category, a
cluster of camera events of a frame class, a weather warning of a kind and level).

Fields (``extra`` ones are refused):

* ``plan_id`` (the file's stem, ``[a-z0-9_]+``), ``name`` (shown on the screens), ``description``;
* ``area_level``: ``district``, ``street`` or ``community``;
* ``trigger.kind``: ``manual``; ``case_cluster`` with ``category`` (a code of
  civiclake/catalogue.py), ``min_cases`` (≥ 2), ``within_hours``; ``camera_cluster`` with
  ``class`` (an event class of civiclake/reference/frames/classes.yaml), ``min_events`` (≥ 2),
  ``within_hours``; ``weather_warning`` with ``kinds`` and ``min_level`` (blue < yellow <
  orange < red, :data:`civiclake.contracts.governance.WARNING_LEVELS`);
* ``tasks``: ``department`` (a template naming only the area's fields: ``{district_name}``;
  from the street down ``{street_name}``, ``{street_code}``; in a community
  ``{community_name}``, ``{community_code}``), ``task``, ``due_hours`` (> 0, wall clock);
* ``escalation``: ``department`` (a template, as above) and ``level``, above ``area_level``
  (a district operation's stays at the district).

Validation reports every problem it finds, each naming the file and the field path, e.g.
``garbage_cleanup.yaml: tasks[1].due_hours: must be > 0``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from civiclake.catalogue import CATEGORY_BY_CODE
from civiclake.contracts.governance import ORDER_LEVELS, WARNING_KINDS, WARNING_LEVELS
from civiclake.dispatch.escalation import TEMPLATE_FIELDS, check_template

PLANS_DIR = Path(__file__).resolve().parent.parent / "reference" / "operations" / "plans"
PLAN_ID = re.compile(r"[a-z0-9_]+")
AREA_LEVELS = ORDER_LEVELS  # community < street < district
TRIGGER_KINDS = ("manual", "case_cluster", "camera_cluster", "weather_warning")
# What a department template may name, by the level of the operation's area: a street-level
# operation has no community to name.
FIELDS_BY_LEVEL = {
    "district": ("district_name",),
    "street": ("district_name", "street_name", "street_code"),
    "community": TEMPLATE_FIELDS,
}


class PlanError(ValueError):
    """Plans that cannot be used; ``problems`` holds one line per problem (file: field: message)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManualTrigger(_Strict):
    kind: Literal["manual"]


class CaseClusterTrigger(_Strict):
    """At least ``min_cases`` cases of ``category`` in one area of the plan's level within
    ``within_hours``."""

    kind: Literal["case_cluster"]
    category: str
    min_cases: int = Field(ge=2)
    within_hours: float = Field(gt=0)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORY_BY_CODE:
            raise ValueError(f"unknown category {value!r}; expected one of {sorted(CATEGORY_BY_CODE)}")
        return value


class CameraClusterTrigger(_Strict):
    """At least ``min_events`` camera events of the frame class within ``within_hours``."""

    kind: Literal["camera_cluster"]
    frame_class: str = Field(alias="class")
    min_events: int = Field(ge=2)
    within_hours: float = Field(gt=0)

    @field_validator("frame_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        from civiclake.frames.classes import load_classes

        classes = load_classes()
        events = sorted(code for code, known in classes.items() if known.event)
        if value not in classes:
            raise ValueError(f"unknown frame class {value!r}; expected one of {events}")
        if not classes[value].event:
            raise ValueError(
                f"frame class {value!r} is a hard negative and raises no events; use one of {events}"
            )
        return value


class WeatherWarningTrigger(_Strict):
    """A warning in force of one of ``kinds`` at ``min_level`` or above."""

    kind: Literal["weather_warning"]
    kinds: list[Literal[WARNING_KINDS]] = Field(min_length=1)  # type: ignore[valid-type]
    min_level: Literal[WARNING_LEVELS]  # type: ignore[valid-type]


Trigger = Annotated[
    ManualTrigger | CaseClusterTrigger | CameraClusterTrigger | WeatherWarningTrigger,
    Field(discriminator="kind"),
]


class Task(_Strict):
    department: str = Field(min_length=1)
    task: str = Field(min_length=1)
    due_hours: float = Field(gt=0)

    @field_validator("department")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)


class Escalation(_Strict):
    department: str = Field(min_length=1)
    level: Literal[ORDER_LEVELS]  # type: ignore[valid-type]

    @field_validator("department")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)


class Plan(_Strict):
    plan_id: str
    name: str = Field(min_length=1)
    description: str = ""
    area_level: Literal[AREA_LEVELS]  # type: ignore[valid-type]
    trigger: Trigger
    tasks: list[Task] = Field(min_length=1)
    escalation: Escalation

    @field_validator("plan_id")
    @classmethod
    def _plan_id(cls, value: str) -> str:
        if not PLAN_ID.fullmatch(value):
            raise ValueError("must be lower-case letters, digits and _ (the file's stem)")
        return value


def _path(loc: tuple) -> str:
    """A pydantic location as a field path: ``tasks[1].due_hours``; the trigger's kind tag,
    which pydantic puts in the location of a discriminated union, left out."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        if index > 0 and loc[index - 1] == "trigger" and part in TRIGGER_KINDS:
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + ("class" if part == "frame_class" else str(part)))
    return "".join(parts) or "(plan)"


def _message(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in ("greater_than", "greater_than_equal"):
        return f"must be {'>' if kind == 'greater_than' else '>='} {ctx.get('gt', ctx.get('ge')):g}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "union_tag_invalid":
        return f"kind {ctx.get('tag')!r} is not one of {list(TRIGGER_KINDS)}"
    if kind == "union_tag_not_found":
        return f"kind is required: one of {list(TRIGGER_KINDS)}"
    return str(error["msg"]).removeprefix("Value error, ")


def _cross_checks(plan: Plan) -> list[tuple[str, str]]:
    """What a single field cannot tell: templates over the area's level, the escalation above it."""
    problems = []
    allowed = FIELDS_BY_LEVEL[plan.area_level]
    templates = [(f"tasks[{i}].department", t.department) for i, t in enumerate(plan.tasks)]
    templates.append(("escalation.department", plan.escalation.department))
    for where, template in templates:
        try:
            check_template(template, allowed)
        except ValueError as error:
            problems.append((where, f"{error} (the plan runs in a {plan.area_level})"))
    allowed_levels = escalation_levels(plan.area_level)
    if plan.escalation.level not in allowed_levels:
        problems.append(
            (
                "escalation.level",
                f"{plan.escalation.level!r} is not above the plan's area_level {plan.area_level!r}: "
                f"expected one of {list(allowed_levels)}",
            )
        )
    return problems


def escalation_levels(area_level: str) -> tuple[str, ...]:
    """Where a late order of an operation at ``area_level`` may go: a level above it; for a
    district operation, with nothing above, the district's own command."""
    above = ORDER_LEVELS[ORDER_LEVELS.index(area_level) + 1 :]
    return above or (ORDER_LEVELS[-1],)


@dataclass
class PlanCheck:
    """What validating plan files found: the usable plans by id and a line per problem."""

    plans: dict[str, Plan] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def parse_plan(document: object, name: str) -> tuple[Plan | None, list[str]]:
    """A plan from a parsed YAML document of the file called ``name`` (its stem is the plan
    id), and the problems found (each ``name: field: message``)."""
    if not isinstance(document, dict):
        return None, [
            f"{name}: (plan): expected a mapping with plan_id, name, area_level, trigger, tasks, escalation"
        ]
    try:
        plan = Plan.model_validate(document)
    except ValidationError as error:
        return None, [f"{name}: {_path(e['loc'])}: {_message(e)}" for e in error.errors()]
    problems = [f"{name}: {where}: {message}" for where, message in _cross_checks(plan)]
    stem = Path(name).stem
    if plan.plan_id != stem:
        problems.append(f"{name}: plan_id: {plan.plan_id!r} must equal the file's stem {stem!r}")
    return (None if problems else plan), problems


def _files(paths: Iterable[Path | str] | None) -> list[Path]:
    if paths is None:
        paths = [PLANS_DIR]
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        else:
            files.append(path)
    return files


def check_plans(paths: Iterable[Path | str] | None = None) -> PlanCheck:
    """Validates plan files (a folder: its ``*.yaml``; default: the shipped plans)."""
    check = PlanCheck(files=_files(paths))
    if not check.files:
        check.problems.append(f"{', '.join(map(str, paths or [PLANS_DIR]))}: no plan files (*.yaml)")
    for path in check.files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            check.problems.append(f"{path.name}: (file): cannot read it ({error.strerror})")
            continue
        except yaml.YAMLError as error:
            check.problems.append(f"{path.name}: (file): not valid YAML ({error})")
            continue
        plan, problems = parse_plan(document, path.name)
        check.problems += problems
        if plan is None:
            continue
        if plan.plan_id in check.plans:
            check.problems.append(f"{path.name}: plan_id: {plan.plan_id!r} is given by another file too")
            continue
        check.plans[plan.plan_id] = plan
    return check


def load_plans(paths: Iterable[Path | str] | None = None) -> dict[str, Plan]:
    """The plans by id; raises :class:`PlanError` listing every problem when any file has one."""
    check = check_plans(paths)
    if check.problems:
        raise PlanError(check.problems)
    return check.plans


def get_plan(plan_id: str, paths: Iterable[Path | str] | None = None) -> Plan:
    """One plan by id (from the shipped plans by default); PlanError naming the known ids."""
    plans = load_plans(paths)
    if plan_id not in plans:
        raise PlanError([f"{plan_id}: no such plan; plans: {sorted(plans)}"])
    return plans[plan_id]
