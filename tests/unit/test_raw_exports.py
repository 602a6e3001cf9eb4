"""Raw exports outside the lake: private folders and files, removal by receipt and retention."""

from __future__ import annotations

import stat
from datetime import date, timedelta
from pathlib import Path

import pydantic
import pytest

from civiclake.contracts import services
from civiclake.ingest import raw_exports
from civiclake.ingest.delta import landing_folder, load_batch
from civiclake.ingest.raw_exports import RECEIPT, RawExportsRemovedError
from civiclake.ingest.registry_extracts import snapshot_dir
from civiclake.settings import Settings
from simulators import resources as resources_sim
from simulators import services as services_sim

DAY = date(2026, 11, 25)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def open_to_others(root: Path) -> list[str]:
    """Every folder under ``root`` (itself included) or file that group or other can use."""
    paths = [root, *root.rglob("*")]
    return [f"{p} {mode(p):o}" for p in paths if mode(p) & 0o077]


def batch(root: Path, day: date, content: bytes = b"id,phone\n1,13800000000\n") -> Path:
    folder = raw_exports.private_dir(root, day.isoformat())
    raw_exports.write_private(folder / "export.csv", content)
    return folder


def test_private_dir_creates_and_narrows_every_folder(tmp_path):
    (tmp_path / "landing").mkdir(mode=0o755)
    folder = raw_exports.private_dir(tmp_path / "landing", "party", DAY.isoformat())
    assert folder == tmp_path / "landing" / "party" / "2026-11-25"
    assert [mode(p) for p in (folder, folder.parent, folder.parent.parent)] == [0o700] * 3


def test_files_are_written_0600_even_over_a_wider_one(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"old")
    path.chmod(0o644)
    raw_exports.write_private(path, b"new")
    assert (path.read_bytes(), mode(path)) == (b"new", 0o600)
    temporary = raw_exports.temporary_name(tmp_path / "b.parquet")
    temporary.write_bytes(b"x")
    raw_exports.publish_private(temporary, tmp_path / "b.parquet")
    assert mode(tmp_path / "b.parquet") == 0o600 and not temporary.exists()


def test_secure_batch_narrows_a_delivery_made_with_wide_rights(tmp_path):
    folder = tmp_path / "landing" / "party" / "2026-11-25"
    folder.mkdir(parents=True, mode=0o755)
    (folder / "党员信息_20261125.xlsx").write_bytes(b"x")
    (folder / "党员信息_20261125.xlsx").chmod(0o644)
    raw_exports.secure_batch(tmp_path / "landing", "party", "2026-11-25")
    assert open_to_others(tmp_path / "landing") == []


def test_prune_removes_ingested_exports_once_retention_has_passed(tmp_path):
    root = tmp_path / "landing" / "services"
    days = [DAY - timedelta(days=n) for n in (3, 2, 1, 0)]
    folders = {d: batch(root, d) for d in days}
    for d in days[1:]:  # the oldest day was never ingested
        raw_exports.write_receipt(folders[d], d, [folders[d] / "export.csv"])
    # Delivered again with other content after its ingest: that version was not ingested.
    raw_exports.write_private(folders[days[2]] / "export.csv", b"id,phone\n2,13900000000\n")
    (root / "notes").mkdir()

    removed = raw_exports.prune(root, DAY, retention_days=1)

    assert removed == [folders[days[1]] / "export.csv"]
    assert (folders[days[0]] / "export.csv").exists()  # no receipt: not ingested, kept
    assert (folders[days[2]] / "export.csv").exists()  # changed since ingested
    assert (folders[DAY] / "export.csv").exists()  # within retention
    assert raw_exports.prune(root, DAY, retention_days=0) == [folders[DAY] / "export.csv"]
    assert all((folders[d] / RECEIPT).exists() for d in days[1:])
    with pytest.raises(ValueError, match="0 or more"):
        raw_exports.prune(root, DAY, retention_days=-1)


def test_a_removed_batch_is_known_and_new_files_for_it_are_refused(tmp_path):
    folder = batch(tmp_path / "landing" / "services", DAY)
    raw_exports.write_receipt(folder, DAY, [folder / "export.csv"])
    assert raw_exports.removed_batch(folder, [folder / "export.csv"]) is None  # still there: load it
    raw_exports.prune(folder.parent, DAY, 0)
    receipt = raw_exports.removed_batch(folder, [])
    assert receipt is not None and receipt.missing == ["export.csv"]
    assert "1 of its 1 raw export(s) were removed" in receipt.describe()
    with pytest.raises(
        RawExportsRemovedError, match=r"late\.csv arrived or changed since.*delete .*_ingested\.json"
    ):
        raw_exports.removed_batch(folder, [folder / "late.csv"])


def test_simulated_exports_are_private_and_not_delivered_again_once_ingested(tmp_path):
    settings = Settings(data_dir=tmp_path, sim_scale=0.002)
    written = services_sim.simulate_day(DAY, settings)
    folder = landing_folder(settings, "services", DAY)
    assert sorted(p.name for p in folder.iterdir()) == sorted(written)
    assert open_to_others(tmp_path / "landing") == []

    raw_exports.write_receipt(folder, DAY, list(folder.iterdir()))
    raw_exports.prune(folder.parent, DAY, 0)
    assert services_sim.simulate_day(DAY, settings) == {}
    assert [p.name for p in folder.iterdir()] == [RECEIPT]


def test_registry_extracts_are_private(tmp_path):
    settings = Settings(data_dir=tmp_path, sim_scale=0.002)
    resources_sim.simulate_day(DAY, settings, registries=("departments",))
    names = {p.name for p in snapshot_dir(settings, DAY).iterdir()}
    assert names == {"departments.parquet", "manifest.json"}
    assert open_to_others(tmp_path / "sources") == []


def test_an_ingest_rerun_after_removal_loads_nothing_and_says_why(tmp_path):
    settings = Settings(data_dir=tmp_path, sim_scale=0.002)
    services_sim.simulate_day(DAY, settings)
    folder = landing_folder(settings, "services", DAY)
    raw_exports.write_receipt(folder, DAY, list(folder.iterdir()))
    raw_exports.prune(folder.parent, DAY, 0)

    # No Spark session: a removed batch is answered before anything is read or written.
    result = load_batch(None, settings, "services", services.CONTRACTS, DAY)
    assert result.tables == [] and result.failed_files == []
    assert "was ingested" in result.note and "nothing to load" in result.note
    (folder / "福利券_20261125.csv").write_bytes(b"late delivery")
    with pytest.raises(RawExportsRemovedError, match="福利券_20261125.csv"):
        load_batch(None, settings, "services", services.CONTRACTS, DAY)


def test_retention_is_a_setting_that_cannot_be_negative(monkeypatch):
    assert Settings().raw_export_retention_days == 0
    monkeypatch.setenv("CIVICLAKE_RAW_EXPORT_RETENTION_DAYS", "7")
    assert Settings().raw_export_retention_days == 7
    with pytest.raises(pydantic.ValidationError, match="raw_export_retention_days"):
        Settings(raw_export_retention_days=-1)
