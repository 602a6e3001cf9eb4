"""The source families of ``families.toml``, checked, for the CLI.

The file is the one list of families: the CLI makes ``simulate``, ``ingest`` and
``quality`` commands from it, and the civiclake_daily DAG its task groups (the DAG reads
the file with ``tomllib`` itself, since the Airflow environment lacks this package).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FAMILIES_FILE = Path(__file__).with_name("families.toml")

# A family's name is a command, a task group id and part of module names.
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_OPTION = re.compile(r"^[a-z][a-z0-9-]*$")
_FAMILY_KEYS = {
    "title": str,
    "simulated": bool,
    "gate_per_jurisdiction": bool,
    "ingest_options": dict,
    "simulate_also": list,
    "after": list,
}
_REQUIRED = ("title", "simulated")
_OPTION_KEYS = {"env": str, "default": str}


class FamilyRegistryError(ValueError):
    """families.toml does not say what the CLI and the DAG need; the message names the entry."""


@dataclass(frozen=True)
class IngestOption:
    """An option the daily run passes to ``civiclake ingest <family>`` as ``--<name>``."""

    name: str
    env: str
    default: str


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    simulated: bool
    gate_per_jurisdiction: bool
    ingest_options: tuple[IngestOption, ...]
    # Further simulated inputs of the family's system (``civiclake simulate <name>``), run after
    # the family's own simulator and before its ingest.
    simulate_also: tuple[str, ...] = ()
    # Families whose silver this family's ingest reads: the daily run's ingest of this family
    # waits for their quality gates.
    after: tuple[str, ...] = ()

    def ingest_option(self, name: str) -> IngestOption:
        for option in self.ingest_options:
            if option.name == name:
                return option
        raise FamilyRegistryError(
            f"{FAMILIES_FILE}: family {self.name!r} declares no ingest option {name!r}; "
            f"add [{self.name}.ingest_options.{name}] with env and default"
        )

    def silver_tables(self) -> tuple[str, ...]:
        """The silver tables the family's ingest writes (from its source contracts); its
        quality gate has a suite for each."""
        from civiclake.contracts import catalog
        from civiclake.frames import tables as camera_tables

        # Camera clips have no row contract: their tables are the frames module's.
        if self.name == camera_tables.FAMILY:
            return tuple(camera_tables.TABLES)
        if self.name not in catalog.FAMILIES:
            raise FamilyRegistryError(
                f"no source contracts for family {self.name!r}: add civiclake/contracts/{self.name}.py "
                "and list it in civiclake.contracts.catalog.FAMILIES"
            )
        return catalog.silver_tables(self.name)


def _check_keys(where: str, entry: dict, allowed: dict[str, type], required: tuple[str, ...]) -> None:
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise FamilyRegistryError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(allowed)}"
        )
    missing = [key for key in required if key not in entry]
    if missing:
        raise FamilyRegistryError(f"{where}: missing {', '.join(missing)}")
    for key, value in entry.items():
        if not isinstance(value, allowed[key]):
            raise FamilyRegistryError(
                f"{where}: {key} must be a {allowed[key].__name__}, got {type(value).__name__} {value!r}"
            )


def _family(path: Path, name: str, entry: object, earlier: tuple[str, ...] = ()) -> Family:
    where = f"{path}: [{name}]"
    if not isinstance(entry, dict):
        raise FamilyRegistryError(f"{where} must be a table of the family's settings, got {entry!r}")
    if not _NAME.match(name):
        raise FamilyRegistryError(f"{where}: a family name is lowercase letters, digits and _")
    _check_keys(where, entry, _FAMILY_KEYS, _REQUIRED)
    options = []
    for option, spec in entry.get("ingest_options", {}).items():
        option_where = f"{path}: [{name}.ingest_options.{option}]"
        if not _OPTION.match(option) or not isinstance(spec, dict):
            raise FamilyRegistryError(
                f"{option_where}: an ingest option is a table named like the CLI option "
                "without its dashes (base-url), with env and default"
            )
        _check_keys(option_where, spec, _OPTION_KEYS, tuple(_OPTION_KEYS))
        options.append(IngestOption(option, spec["env"], spec["default"]))
    also = entry.get("simulate_also", [])
    if not entry["simulated"] and also:
        raise FamilyRegistryError(f"{where}: simulate_also needs simulated = true")
    bad = [step for step in also if not isinstance(step, str) or not _NAME.match(step)]
    if bad:
        raise FamilyRegistryError(f"{where}: simulate_also lists `civiclake simulate` commands, got {bad!r}")
    after = entry.get("after", [])
    unknown = [family for family in after if family not in earlier]
    if unknown:
        raise FamilyRegistryError(
            f"{where}: after names {unknown!r}, which are not families declared before it "
            f"(earlier: {', '.join(earlier) or 'none'})"
        )
    return Family(
        name=name,
        title=entry["title"],
        simulated=entry["simulated"],
        gate_per_jurisdiction=entry.get("gate_per_jurisdiction", False),
        ingest_options=tuple(options),
        simulate_also=tuple(also),
        after=tuple(after),
    )


def load_families(path: Path = FAMILIES_FILE) -> dict[str, Family]:
    """The families of ``path`` by name, in the file's order."""
    try:
        with path.open("rb") as file:
            entries = tomllib.load(file)
    except FileNotFoundError:
        raise FamilyRegistryError(f"the source family registry {path} is missing") from None
    except tomllib.TOMLDecodeError as error:
        raise FamilyRegistryError(f"{path} is not valid TOML: {error}") from None
    if not entries:
        raise FamilyRegistryError(f"{path} declares no source family")
    names = list(entries)
    return {
        name: _family(path, name, entry, tuple(names[:i])) for i, (name, entry) in enumerate(entries.items())
    }


@cache
def families() -> dict[str, Family]:
    """The source families the platform ships (``families.toml`` beside this module)."""
    return load_families()
