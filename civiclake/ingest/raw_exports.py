"""Raw exports outside the lake: private while they wait, removed once ingested.

Source systems deliver files that hold raw personal data (national ID numbers, mobile
numbers, names) into ``<data_dir>/landing/<source>/<date>/`` (party building, people
services) and ``<data_dir>/sources/resources/<date>/`` (registry extracts). Tokens replace
those values before the lake; the files themselves are kept to the minimum:

* the folders are ``0700`` and the files ``0600``, whoever wrote them (a file delivered
  with wider rights is narrowed when its batch is ingested);
* once a batch is ingested successfully, the ingest writes a receipt (:data:`RECEIPT`) into
  its folder naming each file it used with its SHA-256. A batch's files are removed when it
  is ``raw_export_retention_days`` old (0: at once), counted from the logical date being
  ingested, never from the clock. A file whose content changed after the ingest is kept:
  that version was not ingested.

The receipt stays behind, so a rerun of the day and a simulated source know that the batch
was ingested and its exports removed, and neither reloads nor redelivers it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

RECEIPT = "_ingested.json"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class RawExportsRemovedError(RuntimeError):
    """New files arrived for a batch that was ingested and whose exports were removed."""


def _narrow(path: Path, mode: int) -> None:
    """Sets ``mode`` on a path we own; warns about one owned by another user that others can read."""
    info = path.stat()
    if info.st_uid == os.geteuid():
        if stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)
    elif info.st_mode & 0o077:
        log.warning(
            "%s belongs to uid %d and is open to group/other (mode %o); it holds raw personal data: "
            "ask its owner to make it %o",
            path,
            info.st_uid,
            stat.S_IMODE(info.st_mode),
            mode,
        )


def private_dir(root: Path, *parts: str) -> Path:
    """``root/parts…``, each folder created or narrowed to 0700; returns the last one."""
    folders = [Path(root)]
    for part in parts:
        folders.append(folders[-1] / part)
    folders[0].parent.mkdir(parents=True, exist_ok=True)  # the data folder: not raw data itself
    for folder in folders:
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        _narrow(folder, PRIVATE_DIR)
    return folders[-1]


def secure_batch(root: Path, *parts: str) -> Path:
    """Narrows an existing batch folder (and the folders above it, up to ``root``) to 0700
    and every file in it to 0600; exports delivered by other means arrive as the sender left them."""
    folder = private_dir(root, *parts)
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            _narrow(path, PRIVATE_FILE)
    return folder


def temporary_name(path: Path) -> Path:
    """Where a file is written before it is renamed to ``path``: hidden, so no export pattern matches it."""
    return path.with_name(f".{path.name}.tmp")


def write_private(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` as a 0600 file, atomically (a reader never sees half a file)."""
    temporary = temporary_name(path)
    temporary.unlink(missing_ok=True)  # a stale one would keep its old mode
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def publish_private(temporary: Path, target: Path) -> None:
    """Makes a file a library wrote (Parquet, Excel) 0600 and moves it to its name."""
    os.chmod(temporary, PRIVATE_FILE)
    os.replace(temporary, target)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What an ingest took from a batch folder: file name → SHA-256 of the content it read."""

    folder: Path
    batch_date: str
    files: dict[str, str]

    @property
    def path(self) -> Path:
        return self.folder / RECEIPT

    @property
    def missing(self) -> list[str]:
        """Files the ingest used that are gone (removed, or being removed) from the folder."""
        return sorted(name for name in self.files if not (self.folder / name).exists())

    def describe(self) -> str:
        return (
            f"{self.folder} was ingested (receipt {self.path}) and {len(self.missing)} of its "
            f"{len(self.files)} raw export(s) were removed since, as raw_export_retention_days "
            "(CIVICLAKE_RAW_EXPORT_RETENTION_DAYS) says"
        )


def write_receipt(folder: Path, batch_date: date, files: Iterable[Path]) -> Receipt:
    """Records that the batch in ``folder`` was ingested from ``files``."""
    receipt = Receipt(Path(folder), batch_date.isoformat(), {p.name: sha256_of(p) for p in sorted(files)})
    body = {"batch_date": receipt.batch_date, "files": receipt.files}
    write_private(receipt.path, json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True).encode())
    return receipt


def read_receipt(folder: Path) -> Receipt | None:
    path = Path(folder) / RECEIPT
    if not path.exists():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return Receipt(Path(folder), str(body["batch_date"]), dict(body["files"]))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path}: not a readable ingest receipt ({type(error).__name__}: {error}); delete it to "
            "have the batch's files loaded again, or restore it"
        ) from None


def removed_batch(folder: Path, arrived: Iterable[Path]) -> Receipt | None:
    """The receipt of a batch whose exports were removed after its ingest; None when the folder
    should be loaded as usual. Raises :class:`RawExportsRemovedError` when ``arrived`` (the
    export files now in the folder) would have to be loaded without the removed ones: the
    batch's partitions are replaced as a whole, so loading them alone would lose the rest."""
    receipt = read_receipt(folder)
    if receipt is None or not receipt.missing:
        return None
    arrived = sorted(p.name for p in arrived)
    if arrived:
        raise RawExportsRemovedError(
            f"{receipt.describe()}; the file(s) {', '.join(arrived)} arrived or changed since and "
            "cannot be loaded without the removed ones (the batch is replaced as a whole). Deliver "
            f"every file of the day again and delete {receipt.path}, or deliver them as another day's batch."
        )
    return receipt


def _batch_date(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def _remove_ingested(receipt: Receipt) -> list[Path]:
    removed = []
    for name, digest in sorted(receipt.files.items()):
        path = receipt.folder / name
        if not path.exists():
            continue
        if sha256_of(path) != digest:
            log.warning("%s changed after its batch was ingested; kept (this version was not ingested)", path)
            continue
        path.unlink()
        removed.append(path)
    return removed


def prune(root: Path, logical_date: date, retention_days: int) -> list[Path]:
    """Removes the ingested exports of every batch under ``root`` (folders named by date) that
    is ``retention_days`` old on ``logical_date``; returns the files removed."""
    if retention_days < 0:
        raise ValueError(f"raw_export_retention_days must be 0 or more, got {retention_days}")
    root = Path(root)
    if not root.is_dir():
        return []
    cutoff = logical_date - timedelta(days=retention_days)
    removed: list[Path] = []
    for folder in sorted(root.iterdir()):
        batch = _batch_date(folder.name)
        if batch is None or batch > cutoff or not folder.is_dir():
            continue
        receipt = read_receipt(folder)
        if receipt is not None:
            removed += _remove_ingested(receipt)
    if removed:
        log.info(
            "removed %d ingested raw export(s) under %s up to %s (retention %d days)",
            len(removed),
            root,
            cutoff,
            retention_days,
        )
    return removed


def ingested_before(folder: Path) -> bool:
    """True, and logged, when the batch in ``folder`` has an ingest receipt. A simulator then
    does not deliver the day again: that would bring back raw data the retention removed, and
    give the files a new modification time (bronze's ``_extracted_at``) for a rerun to load."""
    receipt = read_receipt(folder)
    if receipt is None:
        return False
    state = receipt.describe() if receipt.missing else f"{folder} was ingested (receipt {receipt.path})"
    log.info("not delivered again: %s", state)
    return True
