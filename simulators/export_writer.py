"""Writes rows the way a source system exports them: Chinese headers, labels, CSV or Excel.

Used by the simulators (and tests) so the files they produce are exactly what the
reader gets from a real system, encodings included. The files hold raw personal data:
they are written 0600 and atomically (``civiclake.ingest.raw_exports``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path

from civiclake.contracts.base import SourceContract
from civiclake.ingest.raw_exports import publish_private, temporary_name, write_private

# The workbook's creation time, fixed. openpyxl stamps the time of saving into the workbook's
# modification time and its zip entries, so two saves of the same rows hold the same cells
# but not the same bytes.
_WORKBOOK_CREATED = datetime(2020, 1, 1)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def export_headers(contract: SourceContract, extra: Iterable[str] = ()) -> list[str]:
    return [f.header for f in contract.fields] + list(extra)


def write_csv(path: Path, headers: list[str], rows: Iterable[Iterable], encoding: str = "utf-8") -> int:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    count = 0
    for row in rows:
        writer.writerow([_text(v) for v in row])
        count += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, buffer.getvalue().encode(encoding))
    return count


def write_xlsx(path: Path, headers: list[str], rows: Iterable[Iterable], sheet: str = "Sheet1") -> int:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    workbook.properties.created = _WORKBOOK_CREATED
    workbook.properties.modified = _WORKBOOK_CREATED
    ws = workbook.create_sheet(sheet)
    ws.append(headers)
    count = 0
    for row in rows:
        # Identifiers stay text (an 18-digit ID number as a number loses its last digits).
        ws.append(
            [v if isinstance(v, int | float | date) and not isinstance(v, bool) else _text(v) for v in row]
        )
        count += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    workbook.save(temporary)
    publish_private(temporary, path)
    return count


def write_export(
    path: Path,
    contract: SourceContract,
    records: Iterable[Mapping],
    *,
    encoding: str | None = None,
    extra_columns: Iterable[str] = (),
    labels: bool = True,
) -> int:
    """Writes ``records`` (dicts by English column name, codes or labels) as ``contract``'s
    export; codes are shown as the system's labels. Returns the rows written."""
    extra = list(extra_columns)
    reverse = {f.name: {code: label for label, code in (f.codes or {}).items()} for f in contract.fields}

    def row(record: Mapping) -> list:
        values = []
        for f in contract.fields:
            value = record.get(f.name)
            if labels and f.codes and value in reverse[f.name]:
                value = reverse[f.name][value]
            values.append(value)
        return values + [record.get(name) for name in extra]

    headers = export_headers(contract, extra)
    rows = (row(r) for r in records)
    if path.suffix == ".csv":
        return write_csv(path, headers, rows, encoding or contract.source.encoding or "utf-8")
    return write_xlsx(path, headers, rows)
