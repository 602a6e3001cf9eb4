"""Reads one exported file (CSV in UTF-8 or GBK, or Excel) against its contract.

The reader is strict about the file and lenient about rows: a file that cannot be read
as a whole (truncated workbook, broken quoting, a required column gone, wrong encoding
that cannot be repaired) raises :class:`FileReadError` naming the file and row, and
nothing of it is used; a readable file yields every data row as text, with the row
number a person would see in a spreadsheet (the header is row 1). Row-level checks are
the validator's job (``civiclake.ingest.validate``).
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from civiclake.contracts.base import SourceContract

log = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"
# GB18030 is the superset of GBK that Chinese systems' "GBK" exports decode with.
GBK = "gb18030"


class FileReadError(ValueError):
    """A file that cannot be used at all; the message names the file, the row and what to do."""

    def __init__(self, path: Path | str, message: str, row: int | None = None):
        self.file_name = Path(path).name
        self.row = row
        where = f"{self.file_name}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {message}")


class MissingColumnError(FileReadError):
    pass


@dataclass
class SourceRow:
    file_name: str
    row_number: int  # as a spreadsheet shows it: header = 1, first data row = 2
    values: dict[str, str | None]  # contract column → cell text (None when empty or absent)
    extra: dict[str, str | None] = field(default_factory=dict)  # columns the contract does not know


@dataclass
class FileRead:
    path: Path
    table: str
    status: str  # "loaded", "empty" or "failed"
    encoding: str | None = None  # stated for CSV: "utf-8", "utf-8-sig" or "gbk"
    rows: list[SourceRow] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def file_name(self) -> str:
        return self.path.name


def cell_text(value) -> str | None:
    """A cell as text: Excel numbers without a spurious ``.0``, datetimes in ISO form."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    return text or None


def _row_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _header_known(text: str, contract: SourceContract) -> bool:
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    cells = {c.strip().strip('"') for c in first_line.split(",")}
    return bool(cells & set(contract.headers))


def decode_csv(path: Path, data: bytes, contract: SourceContract) -> tuple[str, str, list[str]]:
    """(text, encoding, notes): UTF-8 when the bytes are valid UTF-8 and the header is the
    contract's, else GBK. A GBK export is never valid UTF-8 once it holds Chinese text, and
    its header only reads as the contract's headers when decoded as GBK, so the two checks
    together tell them apart; the encoding used is stated in the notes."""
    notes: list[str] = []
    if data.startswith(UTF8_BOM):
        candidates = [("utf-8-sig", "utf-8-sig")]
    else:
        candidates = [("utf-8", "utf-8"), (GBK, "gbk")]
    decoded: list[tuple[str, str]] = []
    first_error: UnicodeDecodeError | None = None
    for codec, label in candidates:
        try:
            decoded.append((data.decode(codec), label))
        except UnicodeDecodeError as error:
            first_error = first_error or error
    if not decoded:
        row = _row_of_offset(data, first_error.start) if first_error else None
        raise FileReadError(
            path,
            f"bytes {first_error.start if first_error else '?'} are neither UTF-8 nor GBK: "
            "the file is damaged or in another encoding; ask the source for a UTF-8 or GBK export",
            row=row,
        )
    text, label = next(((t, lbl) for t, lbl in decoded if _header_known(t, contract)), decoded[0])
    if label == "gbk":
        notes.append("read as GBK (bytes are not UTF-8)")
    declared = contract.source.encoding
    if declared and label.replace("-sig", "") != declared:
        notes.append(f"the source is declared as {declared} but this file is {label}")
    if "\ufffd" in text:
        row = text.count("\n", 0, text.index("\ufffd")) + 1
        raise FileReadError(
            path,
            "holds U+FFFD replacement characters: it was decoded with the wrong encoding (GBK read "
            "as UTF-8) before it was saved, and the original characters are lost; ask the source "
            "to export it again",
            row=row,
        )
    return text, label, notes


def _csv_rows(path: Path, text: str):
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    record = 0
    try:
        for record, cells in enumerate(reader, start=1):  # noqa: B007 - record is read on error
            yield record, cells
    except csv.Error as error:
        raise FileReadError(
            path,
            f"malformed CSV ({error}) at line {reader.line_num}: a quoted field is broken or cut off; "
            "fix or re-export the file",
            row=record + 1,
        ) from None


def _excel_rows(path: Path):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as error:
        raise FileReadError(
            path,
            f"not a readable .xlsx workbook ({type(error).__name__}: {error}): the file is truncated "
            "or damaged; re-export it",
        ) from None
    record = 0
    try:
        sheet = workbook.worksheets[0]
        for record, cells in enumerate(sheet.iter_rows(values_only=True), start=1):  # noqa: B007
            yield record, [cell_text(c) for c in cells]
    except Exception as error:  # openpyxl raises many kinds on a damaged sheet
        raise FileReadError(
            path,
            f"the workbook breaks off while reading ({type(error).__name__}: {error}); re-export it",
            row=record + 1,
        ) from None
    finally:
        workbook.close()


def read_export(path: Path, contract: SourceContract) -> FileRead:
    """Reads one file; raises :class:`FileReadError` when it cannot be used as a whole."""
    path = Path(path)
    suffix = path.suffix.lower()
    result = FileRead(path=path, table=contract.table, status="loaded")
    data = path.read_bytes()
    if not data.strip() or data.strip() == UTF8_BOM:
        result.status = "empty"
        result.notes.append("empty file (0 rows)")
        return result
    if suffix == ".csv":
        text, result.encoding, result.notes = decode_csv(path, data, contract)
        rows = _csv_rows(path, text)
    elif suffix in (".xlsx", ".xlsm"):
        rows = _excel_rows(path)
    else:
        raise FileReadError(path, f"unsupported file type {suffix!r}: expected .csv or .xlsx")

    header: list[str | None] | None = None
    known = contract.headers
    positions: dict[str, int] = {}
    extras: dict[str, int] = {}
    for record, cells in rows:
        if header is None:
            if not any(cells):
                continue  # blank lines before the header
            header = [(c or "").strip().lstrip("\ufeff") for c in cells]
            seen = [h for h in header if h]
            duplicated = sorted({h for h in seen if seen.count(h) > 1})
            if duplicated:
                raise FileReadError(path, f"header repeats the columns {duplicated}", row=record)
            for index, name in enumerate(header):
                if not name:
                    continue
                if name in known:
                    positions[known[name].name] = index
                else:
                    extras[name] = index
            missing = [f for f in contract.fields if f.required and f.name not in positions]
            if missing:
                names = ", ".join(f"{f.header} ({f.name})" for f in missing)
                raise MissingColumnError(
                    path,
                    f"required column {names} is missing from the header; nothing of this file is "
                    f"loaded. The export {contract.source.title} must carry it",
                    row=record,
                )
            result.new_columns = list(extras)
            if extras:
                log.warning(
                    "%s: new column(s) %s not in the contract of %s: kept in _extra_columns",
                    path.name,
                    result.new_columns,
                    contract.table,
                )
            continue
        if not any(c not in (None, "") for c in cells):
            continue  # a blank line is not a row
        if len(cells) > len(header) and any(c not in (None, "") for c in cells[len(header) :]):
            raise FileReadError(
                path,
                f"row has {len(cells)} fields but the header has {len(header)}: a separator or quote "
                "is out of place; fix or re-export the file",
                row=record,
            )
        if suffix == ".csv" and len(cells) < len(header):
            raise FileReadError(
                path,
                f"row has {len(cells)} fields but the header has {len(header)}: the row is cut off",
                row=record,
            )

        def cell(index: int, cells=cells) -> str | None:
            return cell_text(cells[index]) if index < len(cells) else None

        result.rows.append(
            SourceRow(
                file_name=path.name,
                row_number=record,
                values={name: cell(index) for name, index in positions.items()},
                extra={name: cell(index) for name, index in extras.items()},
            )
        )
    if header is None or not result.rows:
        result.status = "empty"
        result.notes.append("no data rows")
    return result


def read_batch(folder: Path, contract: SourceContract) -> list[FileRead]:
    """Every file of ``contract`` in a batch folder, in name order; a file that fails is
    returned with status ``failed`` and its error, so the batch's other files still load."""
    reads = []
    for path in sorted(Path(folder).glob(contract.source.pattern)):
        try:
            reads.append(read_export(path, contract))
        except FileReadError as error:
            log.error("%s: %s", contract.table, error)
            reads.append(FileRead(path=path, table=contract.table, status="failed", error=str(error)))
    return reads
