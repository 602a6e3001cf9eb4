"""Landing retention: raw exports, and camera recordings, removed once the lake holds them.

Part of `civiclake maintain retention` (civiclake/lake/retention.py has the lake's layers).
An export is removed ``raw_export_retention_days`` after its batch got its ingest receipt
(``civiclake.ingest.raw_exports.prune``, which the ingest itself also runs for the day it
loads); a batch without a receipt (not ingested, or one of its files failed) and a file the
receipt does not name (it arrived after the ingest) are never touched. Camera recordings
(``landing/cameras/<day>/<HH>/``) are removed the same number of days after their hour's
reconciliation is recorded in ``state.reconciliation`` (``camera_clips/<HH>``, written by the
camera ingest); a receipt in the day's folder then names them, so a simulator does not deliver
them again and a rerun of the day finds nothing to load.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

from civiclake.ingest import raw_exports
from civiclake.ingest.registry_extracts import sources_root
from civiclake.lake.retention import Action, done
from civiclake.lake.runs import RECONCILIATION_TABLE, state_rows
from civiclake.settings import Settings

# The camera landing's folder and the name its ingest records an hour's reconciliation under
# (civiclake.frames.tables FAMILY and CLIPS; frames builds on ingest, not the reverse).
CAMERA_LANDING = "cameras"
CLIPS = "camera_clips"


def _files_under(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def _export_roots(settings: Settings) -> list[Path]:
    """Where batches of raw exports wait, one folder per day under each: every landing source
    but the cameras, and the registry office's extracts."""
    landing = Path(settings.landing)
    roots = (
        sorted(p for p in landing.iterdir() if p.is_dir() and p.name != CAMERA_LANDING)
        if landing.is_dir()
        else []
    )
    return [*roots, sources_root(settings)]


def apply_landing_retention(spark, settings: Settings, run_date: date) -> list[Action]:
    """Removes the raw exports (and camera recordings) whose batch is in the lake and
    ``raw_export_retention_days`` old on ``run_date``."""
    actions = []
    for root in _export_roots(settings):
        before = _files_under(root)
        removed = raw_exports.prune(root, run_date, settings.raw_export_retention_days)
        if removed:
            detail = f"{len(removed)} export file(s) of ingested batches removed"
            actions.append(done(Action("landing", str(root), detail, before, _files_under(root))))
    actions += _camera_landing_retention(spark, settings, run_date)
    return actions


def _reconciled_hours(spark, settings: Settings, day: date) -> set[str]:
    """The camera landing hours of ``day`` (``HH``) whose reconciliation the lake records."""
    rows = state_rows(
        spark, settings, RECONCILIATION_TABLE, f"batch_date = '{day}' and table_name like '{CLIPS}/%'"
    )
    if rows is None:
        return set()
    return {r.table_name.rsplit("/", 1)[-1] for r in rows.select("table_name").collect()}


def _camera_landing_retention(spark, settings: Settings, run_date: date) -> list[Action]:
    root = Path(settings.landing) / CAMERA_LANDING
    if not root.is_dir():
        return []
    cutoff = run_date - timedelta(days=settings.raw_export_retention_days)
    actions = []
    for day_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            day = date.fromisoformat(day_dir.name)
        except ValueError:
            continue
        if day > cutoff:
            continue
        reconciled = _reconciled_hours(spark, settings, day)
        hours = sorted(p for p in day_dir.iterdir() if p.is_dir() and p.name in reconciled)
        if not hours:
            continue
        before = _files_under(day_dir)
        receipt = raw_exports.read_receipt(day_dir)
        files = dict(receipt.files) if receipt else {}
        for hour in hours:
            for path in sorted(p for p in hour.rglob("*") if p.is_file()):
                files[str(path.relative_to(day_dir))] = raw_exports.sha256_of(path)
        # The receipt first: a run stopped part-way still knows the day was ingested.
        _write_receipt_of(day_dir, day, files)
        for hour in hours:
            shutil.rmtree(hour)
        detail = f"recordings of {len(hours)} reconciled hour(s) removed"
        actions.append(done(Action("landing", str(day_dir), detail, before, _files_under(day_dir))))
    return actions


def _write_receipt_of(folder: Path, day: date, files: dict[str, str]) -> None:
    body = {"batch_date": day.isoformat(), "files": dict(sorted(files.items()))}
    raw_exports.write_private(
        folder / raw_exports.RECEIPT, json.dumps(body, indent=2, sort_keys=True).encode()
    )
