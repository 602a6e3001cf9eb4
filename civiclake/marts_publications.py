"""What each publication of the marts read: the lake tables of the dbt sources at the
versions pinned before dbt ran, and the logical date it was built for.

``marts prepare`` pins the newest version of every lake table a dbt source names
(:func:`dbt_lake_sources`) into a file beside the build file; the dbt profile's delta plugin
(civiclake/lake/dbt_delta.py) reads every source at its pinned version; ``marts publish``
records the pins with the day and the marts' row counts in
``<marts>/publications/<day>/<published at>.json`` — one file per publication, never
rewritten, beside the published DuckDB file, which holds the marts alone. ``marts rebuild``
reads a day's latest record to build that day's marts again from the same versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from civiclake.lake.history import LakeVersions, TableRef
from civiclake.settings import PROJECT_ROOT, Settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
# How a source names its Delta table: below the lake root the profile is given.
_SOURCE_PATH = re.compile(
    r"""^\{\{\s*env_var\(\s*['"]CIVICLAKE_LAKE_PATH['"]\s*\)\s*\}\}/(?P<layer>\w+)/(?P<name>\w+)$"""
)
# What makes a build: the rebuild of a day is only the same build when these are the same.
_PROJECT_PARTS = ("dbt_project.yml", "macros", "models", "seeds", "tests")


class PublicationError(LookupError):
    """No record to rebuild a day from, or a record that cannot be read."""


def dbt_lake_sources(project_dir: Path = DBT_PROJECT_DIR) -> list[TableRef]:
    """Every lake table the dbt sources read (``meta.delta_table_path`` of each source table
    in the YAML files under ``models/``), sorted, each once."""
    found: set[TableRef] = set()
    for path in sorted((project_dir / "models").rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        if "sources:" not in text:  # most files describe models only: skip parsing them
            continue
        document = yaml.safe_load(text) or {}
        for source in document.get("sources", []):
            for table in source.get("tables", []):
                location = (table.get("meta") or {}).get("delta_table_path")
                if location is None:
                    continue
                match = _SOURCE_PATH.match(location.strip())
                if match is None:
                    raise PublicationError(
                        f"{path.relative_to(project_dir)}: source {source['name']}.{table['name']} "
                        f"names its Delta table as {location!r}; write it as "
                        "\"{{ env_var('CIVICLAKE_LAKE_PATH') }}/<layer>/<table>\" so that builds "
                        "can pin its version"
                    )
                found.add(TableRef(match["layer"], match["name"]))
    return sorted(found, key=str)


def dbt_project_digest(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """SHA-256 over the files that define the marts (models, macros, seeds, tests, project)."""
    digest = hashlib.sha256()
    for part in _PROJECT_PARTS:
        root = project_dir / part
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def pins_file(build: Path) -> Path:
    """Where a build's pinned lake versions lie: beside the build file (dbt/profiles.yml)."""
    return build.with_name(build.name + ".lake-versions.json")


@dataclass(frozen=True)
class Publication:
    """One publication of the marts: the day they were built for, the lake versions they read."""

    logical_date: date
    published_at: datetime
    lake_versions: LakeVersions
    dbt_project: str
    marts: dict[str, int]
    path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "logical_date": self.logical_date.isoformat(),
            "published_at": self.published_at.isoformat(timespec="microseconds"),
            "lake_versions": self.lake_versions.to_json(),
            "dbt_project": self.dbt_project,
            "marts": self.marts,
        }

    @classmethod
    def read(cls, path: Path) -> Publication:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                logical_date=date.fromisoformat(data["logical_date"]),
                published_at=datetime.fromisoformat(data["published_at"]),
                lake_versions=LakeVersions.from_json(data["lake_versions"]),
                dbt_project=data["dbt_project"],
                marts=data["marts"],
                path=path,
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise PublicationError(f"publication record {path} cannot be read: {error!r}") from None


def publications_dir(settings: Settings) -> Path:
    return settings.marts / "publications"


def record(settings: Settings, publication: Publication) -> Path:
    """Writes the record of ``publication`` as a new file (readers never see half of one)."""
    folder = publications_dir(settings) / publication.logical_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = publication.published_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}.json"
    writing = folder / f".{stamp}.json.writing"
    writing.write_text(json.dumps(publication.to_json(), indent=2, sort_keys=True), encoding="utf-8")
    os.replace(writing, path)
    return path


def published_days(settings: Settings) -> list[date]:
    """The days with at least one recorded publication, oldest first."""
    folder = publications_dir(settings)
    if not folder.is_dir():
        return []
    return sorted(
        date.fromisoformat(p.name) for p in folder.iterdir() if p.is_dir() and any(p.glob("*.json"))
    )


def newest_published_day(settings: Settings) -> date | None:
    """The newest day whose marts were published (the day viewers see), or None."""
    days = published_days(settings)
    return days[-1] if days else None


def publication_of(settings: Settings, day: date) -> Publication:
    """The latest publication of the marts of ``day``: what viewers last saw for that day, or,
    for a day backfilled after a newer one was live, that backfill's audited build."""
    records = sorted((publications_dir(settings) / day.isoformat()).glob("*.json"))
    if not records:
        days = published_days(settings)
        listed = ", ".join(d.isoformat() for d in days[-10:]) or "none"
        raise PublicationError(
            f"no publication of the marts of {day} is recorded in {publications_dir(settings)} "
            f"(recorded days{', the latest 10' if len(days) > 10 else ''}: {listed})"
        )
    return Publication.read(records[-1])


def now() -> datetime:
    """The time a publication is recorded (metadata of the record, not input to any mart)."""
    return datetime.now(UTC)
