"""The category catalogue's mapping per source system (civiclake/reference/cases/source_categories.yaml).

Each source system names its categories its own way — the city-management system says
``illegal_parking`` where the district's catalogue says ``parking``, New York's 311 says
``noise_residential``. The mapping gives every source code a catalogue code of
:mod:`civiclake.catalogue`, or null where the source's category is not one the district
handles. The governance and city systems have closed code lists (their contracts'
accepted codes): each of those codes must be listed, so a code added to a source system
fails the check instead of passing unmapped. So has the camera source: its codes are the
event classes of the frame class catalogue (civiclake/reference/frames/classes.yaml), each
mapped to the category the catalogue gives it. An Open311 jurisdiction's service list is
open-ended: a code it does not list maps to null.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from civiclake.catalogue import CATEGORY_CODES

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "reference" / "cases" / "source_categories.yaml"
GOVERNANCE = "governance"
CITY = "city"
CAMERA = "camera"
OPEN311_PREFIX = "open311_"


class SourceCategoriesError(ValueError):
    """The mapping file is malformed, names an unknown catalogue code or misses a source's code."""


def open311_source(jurisdiction: str) -> str:
    """The mapping's source name for the Open311 service codes of ``jurisdiction``."""
    return f"{OPEN311_PREFIX}{jurisdiction}"


def _closed_code_lists() -> dict[str, tuple[str, ...]]:
    """Sources whose every category code must be mapped: the codes their contracts accept."""
    from civiclake.contracts import city, governance

    return {
        GOVERNANCE: tuple(governance.CASES.field("category").accepted),
        CITY: tuple(city.CASES.field("category").accepted),
        CAMERA: tuple(_camera_categories()),
    }


def _camera_categories() -> dict[str, str]:
    """The frame class catalogue's event classes and their categories."""
    from civiclake.frames.classes import load_classes

    return {code: c.category for code, c in load_classes().items() if c.event}


@dataclass(frozen=True)
class CategoryMapping:
    path: Path
    sources: dict[str, dict[str, str | None]]

    def category(self, source: str, code: str | None) -> str | None:
        """The catalogue code of ``code`` in ``source`` (None: not a district category)."""
        if code is None:
            return None
        return self.sources.get(source, {}).get(code)

    def rows(self) -> list[tuple[str, str, str | None]]:
        """(source, source_code, category) for every listed code, e.g. for a join."""
        return [
            (source, code, category)
            for source, codes in sorted(self.sources.items())
            for code, category in sorted(codes.items())
        ]


def _fail(path: Path, where: str, message: str) -> SourceCategoriesError:
    return SourceCategoriesError(f"{path}: {where}: {message}")


def _check_open311_source(path: Path, source: str, closed: dict) -> None:
    from civiclake.jurisdiction import UnknownJurisdictionError, load_jurisdiction

    expected = f"expected one of {sorted(closed)} or {OPEN311_PREFIX}<jurisdiction>"
    if not source.startswith(OPEN311_PREFIX):
        raise _fail(path, f"source {source!r}", f"unknown source; {expected}")
    try:
        load_jurisdiction(source.removeprefix(OPEN311_PREFIX))
    except UnknownJurisdictionError as error:
        raise _fail(path, f"source {source!r}", f"{expected}: {error.args[0]}") from error


def parse(content: object, path: Path) -> CategoryMapping:
    """Checks the loaded YAML ``content`` of ``path`` and returns its mapping."""
    if not isinstance(content, dict) or not isinstance(content.get("sources"), dict):
        raise _fail(path, "top level", "expected a mapping with `sources:` (source name → its categories)")
    closed = _closed_code_lists()
    sources: dict[str, dict[str, str | None]] = {}
    for source, entry in content["sources"].items():
        if not isinstance(source, str):
            raise _fail(path, f"source {source!r}", "a source name must be text")
        if source not in closed:
            _check_open311_source(path, source, closed)
        if not isinstance(entry, dict) or not isinstance(entry.get("categories"), dict):
            raise _fail(
                path, f"source {source!r}", "expected `categories:` (source code → catalogue code or null)"
            )
        codes: dict[str, str | None] = {}
        for code, target in entry["categories"].items():
            if not isinstance(code, str) or not code.strip():
                raise _fail(path, f"source {source!r}, code {code!r}", "a source code must be non-empty text")
            if target is not None and target not in CATEGORY_CODES:
                raise _fail(
                    path,
                    f"source {source!r}, code {code!r}",
                    f"unknown catalogue code {target!r}; use one of {', '.join(CATEGORY_CODES)} "
                    "(civiclake/catalogue.py) or null for a category the district does not handle",
                )
            codes[code] = target
        sources[source] = codes
    for source, accepted in closed.items():
        if source not in sources:
            raise _fail(path, f"source {source!r}", "missing; every code of its contract must be mapped")
        missing = sorted(set(accepted) - set(sources[source]))
        if missing:
            raise _fail(
                path,
                f"source {source!r}",
                f"codes {missing} of its contract are not mapped; map each to a catalogue code or null",
            )
        unknown = sorted(set(sources[source]) - set(accepted))
        if unknown:
            raise _fail(
                path,
                f"source {source!r}",
                f"codes {unknown} are not codes its contract accepts ({sorted(accepted)})",
            )
    for code, category in _camera_categories().items():
        if sources[CAMERA][code] != category:
            raise _fail(
                path,
                f"source {CAMERA!r}, code {code!r}",
                f"maps to {sources[CAMERA][code]!r} but the frame class catalogue "
                f"(civiclake/reference/frames/classes.yaml) gives the class the category {category!r}; "
                "make the two agree",
            )
    return CategoryMapping(path, sources)


def load_categories(path: Path | str | None = None) -> CategoryMapping:
    """The checked mapping of ``path`` (default: the district's file)."""
    path = Path(path) if path else DEFAULT_PATH
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SourceCategoriesError(f"{path}: no such file (the source category mapping)") from error
    except yaml.YAMLError as error:
        raise SourceCategoriesError(f"{path}: not valid YAML: {error}") from error
    return parse(content, path)
