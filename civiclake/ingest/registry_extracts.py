"""Where the registry office delivers its full extracts, and the manifest that announces them.

One folder per day, ``<data_dir>/sources/resources/<date>/``, holding one Parquet file per
registry (``<registry>.parquet``, its columns as ``civiclake.contracts.resources`` declares
them) and ``manifest.json`` with the rows of each file, written last, so that a day with a
manifest is a complete delivery. Once ingested, the folder keeps only its ingest receipt
(``civiclake.ingest.raw_exports``).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from civiclake.ingest import raw_exports
from civiclake.settings import Settings

MANIFEST = "manifest.json"


class SnapshotMissingError(FileNotFoundError):
    """No registry extract has been delivered for a date."""


def sources_root(settings: Settings) -> Path:
    """Where the registry office's extracts land, one folder per day."""
    return Path(settings.data_dir) / "sources" / "resources"


def snapshot_dir(settings: Settings, day: date) -> Path:
    return sources_root(settings) / day.isoformat()


def snapshot_file(settings: Settings, registry: str, day: date) -> Path:
    return snapshot_dir(settings, day) / f"{registry}.parquet"


def read_manifest(settings: Settings, day: date) -> dict:
    path = snapshot_dir(settings, day) / MANIFEST
    if not path.exists():
        receipt = raw_exports.read_receipt(path.parent)
        if receipt is not None:
            raise SnapshotMissingError(
                f"{receipt.describe()}; a registry that was not part of that extract cannot be "
                f"loaded for {day}"
            )
        raise SnapshotMissingError(
            f"no registry extract delivered for {day}: {path} is missing. Deliver it with "
            f"`civiclake simulate resources --date {day}` (or copy the registry office's extract there)."
        )
    return json.loads(path.read_text(encoding="utf-8"))
