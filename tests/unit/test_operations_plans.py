"""Joint-operation plans: the shipped ones are valid, and every kind of mistake in a plan file
is reported with the file and the field path."""

from __future__ import annotations

import copy

import pytest
import yaml

from civiclake.operations.plans import PLANS_DIR, PlanError, check_plans, get_plan, load_plans

GOOD = {
    "plan_id": "garbage_cleanup",
    "name": "垃圾堆积联合整治",
    "description": "test",
    "area_level": "community",
    "trigger": {"kind": "case_cluster", "category": "garbage", "min_cases": 5, "within_hours": 24},
    "tasks": [
        {"department": "{street_name}环卫所", "task": "清运积存垃圾", "due_hours": 4},
        {"department": "{community_name}网格工作站", "task": "劝导居民", "due_hours": 8},
    ],
    "escalation": {"department": "{street_name}办事处", "level": "street"},
}


def problems_of(tmp_path, document, name: str = "garbage_cleanup.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return check_plans([path]).problems


def changed(path: str, value) -> dict:
    """GOOD with the value at a dotted path (list indexes as numbers) set, or removed for ...."""
    document = copy.deepcopy(GOOD)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = document
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return document


def test_the_shipped_plans_are_valid_one_of_each_start_kind():
    plans = load_plans()
    assert sorted(plans) == ["flood_response", "garbage_cleanup", "street_vending_crackdown"]
    assert {p.trigger.kind for p in plans.values()} == {"manual", "case_cluster", "weather_warning"}
    assert plans["garbage_cleanup"].area_level == "community"
    assert plans["garbage_cleanup"].trigger.category == "garbage"
    assert plans["flood_response"].trigger.kinds == ["rainstorm", "typhoon"]
    assert plans["flood_response"].trigger.min_level == "orange"
    assert {p.area_level for p in (plans["flood_response"], plans["street_vending_crackdown"])} == {"street"}
    assert sorted(path.name for path in PLANS_DIR.glob("*.yaml")) == [f"{p}.yaml" for p in sorted(plans)]


def test_a_good_plan_has_no_problems(tmp_path):
    assert problems_of(tmp_path, GOOD) == []


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("tasks.1.due_hours", 0, "garbage_cleanup.yaml: tasks[1].due_hours: must be > 0"),
        (
            "tasks.0.due_hours",
            "soon",
            "garbage_cleanup.yaml: tasks[0].due_hours: Input should be a valid number",
        ),
        ("tasks.0.owner", "x", "garbage_cleanup.yaml: tasks[0].owner: unknown field"),
        ("priority", 1, "garbage_cleanup.yaml: priority: unknown field"),
        ("name", ..., "garbage_cleanup.yaml: name: required"),
        ("tasks.1.task", ..., "garbage_cleanup.yaml: tasks[1].task: required"),
        ("name", "", "garbage_cleanup.yaml: name: must not be empty"),
        ("tasks", [], "garbage_cleanup.yaml: tasks: must not be empty"),
        (
            "area_level",
            "grid",
            "garbage_cleanup.yaml: area_level: Input should be 'community', 'street' or 'district'",
        ),
        ("escalation.level", "city", "garbage_cleanup.yaml: escalation.level: Input should be"),
        (
            "plan_id",
            "Garbage-Cleanup",
            "garbage_cleanup.yaml: plan_id: must be lower-case letters, digits and _",
        ),
        (
            "plan_id",
            "litter",
            "garbage_cleanup.yaml: plan_id: 'litter' must equal the file's stem 'garbage_cleanup'",
        ),
        (
            "tasks.0.department",
            "{grid_name}保洁",
            "garbage_cleanup.yaml: tasks[0].department: names ['grid_name']; a department may name",
        ),
        (
            "escalation.department",
            "{street}办事处",
            "garbage_cleanup.yaml: escalation.department: names ['street']",
        ),
        (
            "escalation.level",
            "community",
            "garbage_cleanup.yaml: escalation.level: 'community' is not above the plan's area_level "
            "'community': expected one of ['street', 'district']",
        ),
        ("trigger.kind", "rumour", "garbage_cleanup.yaml: trigger: kind 'rumour' is not one of ['manual', "),
        ("trigger.kind", ..., "garbage_cleanup.yaml: trigger: kind is required"),
        ("trigger.category", "litter", "garbage_cleanup.yaml: trigger.category: unknown category 'litter'"),
        ("trigger.min_cases", 1, "garbage_cleanup.yaml: trigger.min_cases: must be >= 2"),
        ("trigger.within_hours", -1, "garbage_cleanup.yaml: trigger.within_hours: must be > 0"),
        ("trigger.class", "garbage", "garbage_cleanup.yaml: trigger.class: unknown field"),
    ],
)
def test_each_mistake_is_named_by_file_and_field(tmp_path, path, value, problem):
    problems = problems_of(tmp_path, changed(path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems


def test_a_template_may_name_only_the_areas_of_the_plans_level(tmp_path):
    street = changed("area_level", "street") | {
        "escalation": {"department": "{district_name}指挥中心", "level": "district"}
    }
    problems = problems_of(tmp_path, street)
    assert problems == [
        "garbage_cleanup.yaml: tasks[1].department: names ['community_name']; a department may name "
        "['district_name', 'street_name', 'street_code'] (the plan runs in a street)"
    ]
    district = street | {
        "area_level": "district",
        "tasks": [{"department": "{district_name}城管局", "task": "x", "due_hours": 1}],
    }
    # A district operation has nothing above it: its late orders stay at the district.
    assert problems_of(tmp_path, district) == []
    assert problems_of(
        tmp_path, district | {"escalation": {"department": "{street_name}办事处", "level": "district"}}
    ) == [
        "garbage_cleanup.yaml: escalation.department: names ['street_name']; a department may name "
        "['district_name'] (the plan runs in a district)"
    ]


@pytest.mark.parametrize(
    ("trigger", "problem"),
    [
        ({"kind": "camera_cluster", "class": "garbage_overflow", "min_events": 3, "within_hours": 6}, None),
        (
            {"kind": "camera_cluster", "class": "ufo", "min_events": 3, "within_hours": 6},
            "trigger.class: unknown frame class 'ufo'",
        ),
        (
            {"kind": "camera_cluster", "class": "garbage_bin", "min_events": 3, "within_hours": 6},
            "trigger.class: frame class 'garbage_bin' is a hard negative",
        ),
        (
            {"kind": "camera_cluster", "class": "garbage_overflow", "within_hours": 6},
            "trigger.min_events: required",
        ),
        ({"kind": "weather_warning", "kinds": ["rainstorm"], "min_level": "orange"}, None),
        (
            {"kind": "weather_warning", "kinds": ["drizzle"], "min_level": "orange"},
            "trigger.kinds[0]: Input should be",
        ),
        ({"kind": "weather_warning", "kinds": [], "min_level": "red"}, "trigger.kinds: must not be empty"),
        (
            {"kind": "weather_warning", "kinds": ["typhoon"], "min_level": "purple"},
            "trigger.min_level: Input should be",
        ),
        ({"kind": "manual"}, None),
        ({"kind": "manual", "category": "garbage"}, "trigger.category: unknown field"),
    ],
)
def test_each_trigger_kind_checks_its_own_fields(tmp_path, trigger, problem):
    problems = problems_of(tmp_path, GOOD | {"trigger": trigger})
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(f"garbage_cleanup.yaml: {problem}"), problems


def test_every_problem_of_every_file_is_reported(tmp_path):
    document = changed("tasks.0.due_hours", -2)
    document["tasks"][1]["department"] = "{nowhere}"
    document["colour"] = "red"
    (tmp_path / "garbage_cleanup.yaml").write_text(
        yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
    )
    (tmp_path / "broken.yaml").write_text("plan_id: [unclosed\n", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    good = GOOD | {"plan_id": "litter_sweep"}
    (tmp_path / "litter_sweep.yaml").write_text(yaml.safe_dump(good, allow_unicode=True), encoding="utf-8")
    check = check_plans([tmp_path])
    assert list(check.plans) == ["litter_sweep"]
    assert sorted(p.split(":")[0] for p in check.problems) == [
        "broken.yaml",
        "garbage_cleanup.yaml",
        "garbage_cleanup.yaml",
        "garbage_cleanup.yaml",
        "list.yaml",
    ]
    assert "garbage_cleanup.yaml: tasks[0].due_hours: must be > 0" in check.problems
    assert "garbage_cleanup.yaml: colour: unknown field" in check.problems
    assert any(
        p.startswith("garbage_cleanup.yaml: tasks[1].department: names ['nowhere']") for p in check.problems
    )
    assert any(p.startswith("broken.yaml: (file): not valid YAML") for p in check.problems)
    assert any(p.startswith("list.yaml: (plan): expected a mapping") for p in check.problems)
    with pytest.raises(PlanError) as raised:
        load_plans([tmp_path])
    assert raised.value.problems == check.problems


def test_two_files_of_one_plan_and_an_empty_folder_are_refused(tmp_path):
    for suffix in ("yaml", "yml"):
        (tmp_path / f"garbage_cleanup.{suffix}").write_text(
            yaml.safe_dump(GOOD, allow_unicode=True), encoding="utf-8"
        )
    assert check_plans([tmp_path]).problems == [
        "garbage_cleanup.yml: plan_id: 'garbage_cleanup' is given by another file too"
    ]
    empty = tmp_path / "none"
    empty.mkdir()
    assert check_plans([empty]).problems == [f"{empty}: no plan files (*.yaml)"]


def test_an_unknown_plan_id_names_the_known_ones():
    assert get_plan("flood_response").name == "防汛应急联合行动"
    with pytest.raises(
        PlanError, match=r"sandstorm: no such plan; plans: \['flood_response', 'garbage_cleanup', "
    ):
        get_plan("sandstorm")
