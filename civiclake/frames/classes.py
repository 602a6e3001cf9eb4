"""The class catalogue of camera frames and the registry of the frame models that serve it.

The catalogue (civiclake/reference/frames/classes.yaml) lists every class a camera model may
emit or a district may add, with the district category an event of it becomes a case of.
The registry reads the registered model folders' plain files — ``labels.json`` (the classes
a model emits), ``thresholds.json`` (the score a detection must reach) and ``card.json`` (its
version and, per class, ``auto_dispatch``: precision >= 0.90 at the threshold on held-out real
images) — without loading the model, so the core can tell which folder serves a class and
whether its events may be dispatched without a person looking first. Each class has at most
one model: two folders serving one class would make an event's score depend on the order of
the setting, so that is refused, as is a class the catalogue does not know (its events would
have no category).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from civiclake.catalogue import CATEGORY_CODES
from civiclake.settings import PROJECT_ROOT, get_settings

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "reference" / "frames" / "classes.yaml"
# Located by path: the core never imports the models package.
SHIPPED_MODEL_DIR = PROJECT_ROOT / "models" / "frame_detector" / "shipped"
FIELDS = ("code", "name_zh", "category", "event", "model", "description")
MODEL_KINDS = ("shipped", "none")
CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


class FrameClassesError(ValueError):
    """The class catalogue is malformed or names an unknown category."""


class FrameModelRegistryError(ValueError):
    """A registered model folder is unreadable, or the folders disagree with the catalogue or each other."""


@dataclass(frozen=True)
class FrameClass:
    code: str
    name_zh: str
    category: str | None  # a code of civiclake.catalogue; None: never becomes a case
    event: bool  # False: a hard negative, detected only so that it is not mistaken for an event
    model: str  # "shipped" or "none"
    description: str


def _entry_error(path: Path, index: int, entry: object, message: str) -> FrameClassesError:
    code = entry.get("code") if isinstance(entry, dict) else None
    where = f"entry {index}" + (f" (code {code!r})" if code is not None else "")
    return FrameClassesError(f"{path}: {where}: {message}")


def _parse_entry(path: Path, index: int, entry: object) -> FrameClass:
    if not isinstance(entry, dict):
        raise _entry_error(path, index, entry, f"expected a mapping with fields {', '.join(FIELDS)}")
    missing = [field for field in FIELDS if field not in entry]
    if missing:
        raise _entry_error(path, index, entry, f"missing field(s) {', '.join(missing)}")
    unknown = sorted(str(field) for field in entry if field not in FIELDS)
    if unknown:
        raise _entry_error(
            path, index, entry, f"unknown field(s) {', '.join(unknown)}; fields: {', '.join(FIELDS)}"
        )
    code, category = entry["code"], entry["category"]
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        raise _entry_error(
            path, index, entry, "code must be lower-case letters, digits and _ (as models emit it)"
        )
    if category is not None and category not in CATEGORY_CODES:
        raise _entry_error(
            path,
            index,
            entry,
            f"unknown category {category!r}; use one of {', '.join(CATEGORY_CODES)} (civiclake/catalogue.py) "
            "or null for a class that never becomes a case",
        )
    if not isinstance(entry["event"], bool):
        raise _entry_error(path, index, entry, f"event must be true or false, got {entry['event']!r}")
    if entry["event"] and category is None:
        raise _entry_error(path, index, entry, "an event class needs a category: its events become cases")
    if entry["model"] not in MODEL_KINDS:
        raise _entry_error(
            path, index, entry, f"model must be one of {', '.join(MODEL_KINDS)}, got {entry['model']!r}"
        )
    for field in ("name_zh", "description"):
        if not isinstance(entry[field], str) or not entry[field].strip():
            raise _entry_error(path, index, entry, f"{field} must be non-empty text")
    return FrameClass(
        code=code,
        name_zh=entry["name_zh"].strip(),
        category=category,
        event=entry["event"],
        model=entry["model"],
        description=entry["description"].strip(),
    )


def parse_classes(content: object, path: Path) -> dict[str, FrameClass]:
    """Checks the loaded YAML ``content`` of ``path``: its classes by code, in the file's order."""
    if not isinstance(content, dict) or not isinstance(content.get("classes"), list):
        raise FrameClassesError(f"{path}: top level: expected a mapping with `classes:` (a list of classes)")
    classes: dict[str, FrameClass] = {}
    for index, entry in enumerate(content["classes"], start=1):
        frame_class = _parse_entry(path, index, entry)
        if frame_class.code in classes:
            raise _entry_error(path, index, entry, "duplicate code: each class is listed once")
        classes[frame_class.code] = frame_class
    if not classes:
        raise FrameClassesError(f"{path}: top level: `classes:` is empty")
    return classes


def load_classes(path: Path | str | None = None) -> dict[str, FrameClass]:
    """The checked class catalogue of ``path`` (default: the district's file), by code."""
    path = Path(path) if path else DEFAULT_PATH
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FrameClassesError(f"{path}: no such file (the camera frame class catalogue)") from None
    except yaml.YAMLError as error:
        raise FrameClassesError(f"{path}: not valid YAML: {error}") from None
    return parse_classes(content, path)


# The registry of frame models.


@dataclass(frozen=True)
class ServedClass:
    """One class as the model that serves it sees it."""

    code: str
    folder: Path
    version: str  # the model card's version: silver's model_version
    threshold: float
    auto_dispatch: bool  # the card's gate; only an event class's cases use it


@dataclass(frozen=True)
class FrameRegistry:
    classes: dict[str, FrameClass]
    folders: tuple[Path, ...]
    served: dict[str, ServedClass]  # class code -> its model; a class without one is absent

    def model_for(self, code: str) -> ServedClass | None:
        return self.served.get(code)

    def auto_dispatch(self, code: str) -> bool:
        """Whether an event of ``code`` goes to a department without review: an event class whose
        model's card opens the gate. A class without a model or outside the catalogue: False."""
        served = self.served.get(code)
        frame_class = self.classes.get(code)
        return bool(served and frame_class and frame_class.event and served.auto_dispatch)

    def gate(self, code: str) -> str:
        """What happens to a detection of ``code``: "auto", "review", "no model" or "not an event"."""
        if code not in self.served:
            return "no model"
        if not self.classes[code].event:
            return "not an event"
        return "auto" if self.auto_dispatch(code) else "review"


def configured_model_dirs(value: str | None = None) -> list[Path]:
    """The folders of the setting ``frame_model_dirs`` (or ``value``): the shipped one when empty."""
    value = get_settings().frame_model_dirs if value is None else value
    folders = [part.strip() for part in value.split(",") if part.strip()]
    if not folders:
        return [SHIPPED_MODEL_DIR]
    return [PROJECT_ROOT / Path(folder).expanduser() for folder in folders]


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FrameModelRegistryError(f"{path}: no such file; a frame model folder needs it") from None
    except (OSError, ValueError) as error:
        raise FrameModelRegistryError(f"{path}: not readable JSON: {error}") from None


def _read_folder(folder: Path, known: dict[str, FrameClass]) -> list[ServedClass]:
    if not folder.is_dir():
        raise FrameModelRegistryError(
            f"{folder}: no such model folder (listed in CIVICLAKE_FRAME_MODEL_DIRS, or the shipped default)"
        )
    labels, thresholds, card = (
        _read_json(folder / name) for name in ("labels.json", "thresholds.json", "card.json")
    )
    emitted = labels.get("classes") if isinstance(labels, dict) else None
    if not isinstance(emitted, list) or not emitted or not all(isinstance(code, str) for code in emitted):
        raise FrameModelRegistryError(f'{folder / "labels.json"}: expected {{"classes": [class codes, ...]}}')
    unknown = [code for code in emitted if code not in known]
    if unknown:
        raise FrameModelRegistryError(
            f"{folder / 'labels.json'}: class(es) {', '.join(unknown)} not in the catalogue {DEFAULT_PATH.name}; "
            "add each there (with its category) before registering the model"
        )
    if len(set(emitted)) != len(emitted):
        raise FrameModelRegistryError(f"{folder / 'labels.json'}: a class is listed twice")
    if not isinstance(card, dict) or not isinstance(card.get("version"), str):
        raise FrameModelRegistryError(f"{folder / 'card.json'}: expected a mapping with a text `version`")
    gates = card.get("auto_dispatch", {})
    if not isinstance(gates, dict):
        raise FrameModelRegistryError(f"{folder / 'card.json'}: `auto_dispatch` must map class -> true/false")
    served = []
    for code in emitted:
        threshold = thresholds.get(code) if isinstance(thresholds, dict) else None
        if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
            raise FrameModelRegistryError(
                f"{folder / 'thresholds.json'}: class {code!r} needs a score threshold between 0 and 1"
            )
        # A class the card does not judge stays closed: its events go to review.
        gate = gates.get(code, False)
        if not isinstance(gate, bool):
            raise FrameModelRegistryError(
                f"{folder / 'card.json'}: auto_dispatch of {code!r} must be true or false, got {gate!r}"
            )
        served.append(ServedClass(code, folder, card["version"], float(threshold), gate))
    return served


def load_registry(
    folders: Sequence[Path | str] | None = None, classes: dict[str, FrameClass] | None = None
) -> FrameRegistry:
    """Which model folder serves which class of the catalogue, and each class's gate.

    ``folders`` defaults to the setting ``frame_model_dirs``; ``classes`` to the district's
    catalogue. Refuses a class served by two folders (naming both) and a class the catalogue
    does not know (naming the folder's labels.json).
    """
    classes = load_classes() if classes is None else classes
    paths = (
        tuple(Path(folder) for folder in folders) if folders is not None else tuple(configured_model_dirs())
    )
    served: dict[str, ServedClass] = {}
    for folder in paths:
        for entry in _read_folder(folder, classes):
            if entry.code in served:
                raise FrameModelRegistryError(
                    f"class {entry.code!r} is served by two model folders, {served[entry.code].folder} and "
                    f"{folder}; register one model per class (CIVICLAKE_FRAME_MODEL_DIRS)"
                )
            served[entry.code] = entry
    return FrameRegistry(classes, paths, served)
