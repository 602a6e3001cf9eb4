"""The camera datasets name each class as the class catalogue does: the calculated column
``class_name_zh`` gives every event class of civiclake/reference/frames/classes.yaml its
Chinese name, and a code it does not know shows as the code itself."""

from __future__ import annotations

import duckdb
import pytest

from civiclake.frames.classes import load_classes
from dashboards.importer import load_assets

CAMERA_DATASETS = ("mart_camera_events_hourly", "camera_event_map")


def _class_name_expression(table_name: str) -> str:
    (dataset,) = [
        a for rel, a in load_assets().items() if rel.startswith("datasets/") and a["table_name"] == table_name
    ]
    (column,) = [c for c in dataset["columns"] if c["column_name"] == "class_name_zh"]
    return column["expression"]


@pytest.mark.parametrize("table_name", CAMERA_DATASETS)
def test_class_names_are_the_catalogues(table_name):
    expression = _class_name_expression(table_name)
    events = {c.code: c.name_zh for c in load_classes().values() if c.event}
    assert events, "the class catalogue lists no event class"
    codes = [*events, "a_class_added_later"]
    with duckdb.connect() as con:
        con.execute("create table t (class_code varchar)")
        con.executemany("insert into t values (?)", [[code] for code in codes])
        got = dict(con.execute(f"select class_code, {expression} from t").fetchall())
    assert got == events | {"a_class_added_later": "a_class_added_later"}
