"""The camera class catalogue and the registry of frame models (which folder serves which class)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.frames.classes import (
    DEFAULT_PATH,
    SHIPPED_MODEL_DIR,
    FrameClassesError,
    FrameModelRegistryError,
    configured_model_dirs,
    load_classes,
    load_registry,
)
from civiclake.settings import PROJECT_ROOT


def _shipped() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def _write_catalogue(tmp_path, content: dict):
    path = tmp_path / "classes.yaml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def _model_folder(tmp_path, name: str, thresholds: dict[str, float], gates: dict[str, bool]):
    """A model folder's plain files, as the registry reads them (no model.onnx needed)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "labels.json").write_text(json.dumps({"classes": list(thresholds)}), encoding="utf-8")
    (folder / "thresholds.json").write_text(json.dumps(thresholds), encoding="utf-8")
    card = {"version": f"{name}-1", "input_size": 320, "auto_dispatch": gates}
    (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def test_the_catalogue_maps_each_class_to_a_district_category():
    classes = load_classes()
    assert {code: c.category for code, c in classes.items()} == {
        "garbage_overflow": "garbage",
        "garbage": "garbage",
        "pothole": "road_facility",
        "garbage_bin": None,
        "illegal_parking": "parking",
        "manhole_missing": "manhole",
    }
    assert [code for code, c in classes.items() if not c.event] == ["garbage_bin"]
    assert [code for code, c in classes.items() if c.model == "none"] == [
        "illegal_parking",
        "manhole_missing",
    ]
    assert all(c.name_zh and c.description for c in classes.values())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda entries: entries[2].update(category="roads"),
            "entry 3 (code 'pothole'): unknown category 'roads'",
        ),
        (lambda entries: entries[1].pop("event"), "entry 2 (code 'garbage'): missing field(s) event"),
        (lambda entries: entries[0].pop("code"), "entry 1: missing field(s) code"),
        (
            lambda entries: entries.append(dict(entries[0])),
            "entry 7 (code 'garbage_overflow'): duplicate code",
        ),
        (
            lambda entries: entries[4].update(model="trained"),
            "entry 5 (code 'illegal_parking'): model must be one of",
        ),
        (
            lambda entries: entries[3].update(event=True),
            "entry 4 (code 'garbage_bin'): an event class needs a category",
        ),
        (
            lambda entries: entries[0].update(colour="red"),
            "entry 1 (code 'garbage_overflow'): unknown field(s) colour",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_the_file_and_the_entry(tmp_path, change, expected):
    content = _shipped()
    change(content["classes"])
    path = _write_catalogue(tmp_path, content)
    with pytest.raises(FrameClassesError) as error:
        load_classes(path)
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_a_missing_catalogue_file_is_named(tmp_path):
    with pytest.raises(FrameClassesError, match="no such file"):
        load_classes(tmp_path / "absent.yaml")


def test_the_registry_reads_which_folder_serves_a_class_and_its_gate(tmp_path):
    shipped = _model_folder(
        tmp_path,
        "shipped",
        {"garbage_overflow": 0.4, "garbage": 0.5, "pothole": 0.45, "garbage_bin": 0.5},
        {"garbage_overflow": True, "garbage": False, "garbage_bin": True},  # pothole: not judged
    )
    district = _model_folder(
        tmp_path, "district_parking", {"illegal_parking": 0.6}, {"illegal_parking": True}
    )
    registry = load_registry([shipped, district])
    assert {code: served.folder for code, served in registry.served.items()} == {
        "garbage_overflow": shipped,
        "garbage": shipped,
        "pothole": shipped,
        "garbage_bin": shipped,
        "illegal_parking": district,
    }
    assert registry.model_for("illegal_parking").version == "district_parking-1"
    assert registry.model_for("pothole").threshold == 0.45
    gates = {code: registry.gate(code) for code in registry.classes}
    assert gates == {
        "garbage_overflow": "auto",
        "garbage": "review",
        "pothole": "review",  # a class the card does not judge stays closed
        "garbage_bin": "not an event",
        "illegal_parking": "auto",
        "manhole_missing": "no model",
    }
    assert [code for code in registry.classes if registry.auto_dispatch(code)] == [
        "garbage_overflow",
        "illegal_parking",
    ]


def test_a_class_served_by_two_folders_is_refused_naming_both(tmp_path):
    first = _model_folder(tmp_path, "first", {"garbage": 0.5, "pothole": 0.5}, {})
    second = _model_folder(tmp_path, "second", {"pothole": 0.3}, {"pothole": True})
    with pytest.raises(FrameModelRegistryError) as error:
        load_registry([first, second])
    message = str(error.value)
    assert "'pothole'" in message and str(first) in message and str(second) in message


def test_a_class_the_catalogue_does_not_know_is_refused(tmp_path):
    folder = _model_folder(tmp_path, "faces", {"garbage": 0.5, "person": 0.5}, {})
    with pytest.raises(FrameModelRegistryError) as error:
        load_registry([folder])
    message = str(error.value)
    assert (
        str(folder / "labels.json") in message and "person" in message and "not in the catalogue" in message
    )


@pytest.mark.parametrize(
    ("file", "content", "expected"),
    [
        ("card.json", {"version": "x", "auto_dispatch": {"garbage": "yes"}}, "auto_dispatch of 'garbage'"),
        ("card.json", {"auto_dispatch": {}}, "text `version`"),
        ("thresholds.json", {"garbage": 1.5}, "class 'garbage' needs a score threshold"),
        ("labels.json", {"labels": ["garbage"]}, 'expected {"classes"'),
    ],
)
def test_a_malformed_model_file_is_named(tmp_path, file, content, expected):
    folder = _model_folder(tmp_path, "m", {"garbage": 0.5}, {"garbage": True})
    (folder / file).write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(FrameModelRegistryError) as error:
        load_registry([folder])
    assert str(folder / file) in str(error.value) and expected in str(error.value)


def test_a_missing_folder_or_file_is_named(tmp_path):
    with pytest.raises(FrameModelRegistryError, match="no such model folder"):
        load_registry([tmp_path / "absent"])
    folder = _model_folder(tmp_path, "m", {"garbage": 0.5}, {})
    (folder / "card.json").unlink()
    with pytest.raises(FrameModelRegistryError) as error:
        load_registry([folder])
    assert f"{folder / 'card.json'}: no such file" in str(error.value)


def test_the_setting_lists_folders_and_defaults_to_the_shipped_one(monkeypatch):
    monkeypatch.delenv("CIVICLAKE_FRAME_MODEL_DIRS", raising=False)
    assert configured_model_dirs() == [SHIPPED_MODEL_DIR]
    assert SHIPPED_MODEL_DIR == PROJECT_ROOT / "models" / "frame_detector" / "shipped"
    monkeypatch.setenv("CIVICLAKE_FRAME_MODEL_DIRS", "models/frame_detector/shipped, /srv/models/parking ,")
    assert configured_model_dirs() == [SHIPPED_MODEL_DIR, Path("/srv/models/parking")]


def test_the_classes_command_lists_model_and_gate(tmp_path, monkeypatch):
    folder = _model_folder(tmp_path, "only_potholes", {"pothole": 0.5}, {"pothole": True})
    monkeypatch.setenv("CIVICLAKE_FRAME_MODEL_DIRS", str(folder))
    result = CliRunner().invoke(app, ["frames", "classes"])
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) == 8:  # a table row: border, 6 columns, border
            rows[cells[1]] = cells[1:7]
    assert rows["pothole"] == [
        "pothole",
        "路面坑洼",
        "road_facility",
        "yes",
        "only_potholes only_potholes-1",
        "auto",
    ]
    assert rows["garbage_bin"][2:] == ["-", "no", "no model", "no model"]
    for code in ("garbage_overflow", "garbage", "illegal_parking", "manhole_missing"):
        assert rows[code][4:] == ["no model", "no model"]


def test_the_classes_command_fails_on_a_broken_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_FRAME_MODEL_DIRS", str(tmp_path / "absent"))
    result = CliRunner().invoke(app, ["frames", "classes"])
    assert result.exit_code == 1
    # The console wraps long lines: compare without whitespace.
    assert f"{tmp_path / 'absent'}:nosuchmodelfolder" in "".join(result.stderr.split())


@pytest.mark.skipif(
    not (SHIPPED_MODEL_DIR / "labels.json").is_file(), reason=f"{SHIPPED_MODEL_DIR} is absent"
)
def test_the_shipped_model_serves_exactly_the_classes_marked_shipped():
    registry = load_registry([SHIPPED_MODEL_DIR])
    assert set(registry.served) == {code for code, c in registry.classes.items() if c.model == "shipped"}
