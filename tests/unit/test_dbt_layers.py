"""The dbt layers the daily DAG builds one by one (dbt/selectors.yml) cover every model
and seed once, in the DAG's order; staging has a folder per source system, and the
intermediate layer the subject folders of the marts."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DBT = ROOT / "dbt"


def selectors() -> dict[str, dict]:
    content = yaml.safe_load((DBT / "selectors.yml").read_text(encoding="utf-8"))
    return {s["name"]: s["definition"] for s in content["selectors"]}


def dag_layers() -> tuple[str, ...]:
    """DBT_LAYERS of dags/civiclake_daily.py, read without importing Airflow."""
    tree = ast.parse((ROOT / "dags" / "civiclake_daily.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DBT_LAYERS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("dags/civiclake_daily.py has no DBT_LAYERS")


def layer_tags() -> dict[str, str]:
    """What dbt_project.yml tags: models folder (or "seeds") -> its layer tag."""
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))
    tags = {
        folder: config["+tags"][0]
        for folder, config in project["models"]["civiclake"].items()
        if isinstance(config, dict) and "+tags" in config
    }
    return tags | {"seeds": project["seeds"]["civiclake"]["+tags"][0]}


def test_the_dag_builds_every_selector_in_order():
    assert dag_layers() == ("staging", "intermediate", "marts")
    assert list(selectors()) == list(dag_layers())
    for layer, definition in selectors().items():
        assert definition == {"method": "tag", "value": f"layer_{layer}", "indirect_selection": "buildable"}


def test_every_model_and_seed_lies_in_exactly_one_layer():
    tags = layer_tags()
    assert set(tags.values()) == {f"layer_{layer}" for layer in dag_layers()}
    assert tags["seeds"] == "layer_staging", "the seeds are built first"
    models = sorted((DBT / "models").rglob("*.sql"))
    assert len(models) > 40, "the project's models were not found"
    for model in models:
        folder = model.relative_to(DBT / "models").parts[0]
        assert folder in tags, f"{model.relative_to(DBT)} lies in no layer (models/{folder} has no layer tag)"
        assert "tags" not in model.read_text(encoding="utf-8"), f"{model.name} sets tags of its own"
    assert list((DBT / "seeds").glob("*.csv")), "the project's seeds were not found"


def test_staging_has_a_folder_per_source_system():
    """staging/<source>/ declares the one source <source> and its models are
    stg_<source>__<entity>; no other model reads a source."""
    staging = DBT / "models" / "staging"
    folders = sorted(p for p in staging.iterdir() if p.is_dir())
    assert {p.name for p in folders} >= {"governance", "dispatch", "reference"}
    for folder in folders:
        declared = yaml.safe_load((folder / f"_{folder.name}__sources.yml").read_text(encoding="utf-8"))
        assert [s["name"] for s in declared["sources"]] == [folder.name]
        for model in folder.glob("*.sql"):
            assert model.stem.startswith(f"stg_{folder.name}__"), f"{model.relative_to(DBT)} is misnamed"
            assert f"source('{folder.name}'," in model.read_text(encoding="utf-8")
    for model in (DBT / "models").rglob("*.sql"):
        if staging not in model.parents:
            assert "source(" not in model.read_text(encoding="utf-8"), (
                f"{model.relative_to(DBT)} reads a source"
            )


def test_intermediate_folders_mirror_the_marts():
    def subjects(layer: str) -> set[str]:
        return {p.name for p in (DBT / "models" / layer).iterdir() if p.is_dir()}

    assert subjects("intermediate") <= subjects("marts")
