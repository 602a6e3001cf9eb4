"""Row checks of a batch of exported files, then personal data → tokens.

Each row gets typed text values and either no reason (good) or a reason naming every
field that failed: a value that does not parse, a label outside the code list, an ID
number whose check digit is wrong, an unknown community, coordinates outside the
jurisdiction, a date after the batch day, a business key already seen in the batch.
A repeat of a row already seen with the same content is a known duplicate, not a
quarantine case. Messages never repeat a personal value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from civiclake.contracts.base import Field, SourceContract
from civiclake.geography import Geography
from civiclake.ingest.files import FileRead, SourceRow
from civiclake.jurisdiction import Jurisdiction
from civiclake.pii import is_valid_id_number, is_valid_mobile, tokenise

_TRUE = {"是", "y", "yes", "true", "1", "t"}
_FALSE = {"否", "n", "no", "false", "0", "f"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
_TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
)


@dataclass
class CheckedRow:
    file_name: str
    row_number: int
    values: dict[str, str | None]  # canonical text (e.g. ISO dates) where the value parsed
    extra: dict[str, str | None] = field(default_factory=dict)
    reason: str | None = None
    duplicate: bool = False
    # The same problems without their values, for counting by reason: "member_id_number: bad ID number".
    reason_kinds: list[str] = field(default_factory=list)


def _parse(value: str, kind: str):
    """The value as a Python object of ``kind`` (raises ValueError when it is not one)."""
    if kind == "string":
        return value
    if kind == "int":
        number = float(value)
        if not number.is_integer():
            raise ValueError
        return int(number)
    if kind == "float":
        return float(value)
    if kind == "bool":
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError
    for fmt in _TIMESTAMP_FORMATS + _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if kind == "timestamp":
            return parsed
        # Excel keeps a date as a datetime at midnight; any other time is not a date.
        if parsed.time() == datetime.min.time():
            return parsed.date()
    raise ValueError


def _canonical(value, kind: str) -> str:
    if kind == "bool":
        return "true" if value else "false"
    if kind == "timestamp":
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if kind == "date":
        return value.isoformat()
    return str(value)


def _check_field(f: Field, raw: str | None, batch_end: datetime, problems: list[tuple[str, str]]):
    """(canonical text, parsed value); appends a problem naming the field when it fails."""
    if raw is None:
        if not f.nullable:
            problems.append((f"{f.name}: missing value", f"{f.name} ({f.header}): missing value"))
        return None, None
    value = raw
    if f.codes is not None:
        if raw in f.codes:
            value = f.codes[raw]
        elif raw not in f.codes.values():
            problems.append((f"{f.name}: unknown code", f"{f.name} ({f.header}): unknown code {raw!r}"))
            return raw, None
    try:
        parsed = _parse(value, f.type)
    except ValueError:
        shown = "the value" if f.pii else repr(raw)
        problems.append(
            (f"{f.name}: not a {f.type}", f"{f.name} ({f.header}): cannot read {shown} as {f.type}")
        )
        return raw, None
    if f.id_number and not is_valid_id_number(value):
        problems.append(
            (f"{f.name}: bad ID number", f"{f.name} ({f.header}): ID number fails its format or check digit")
        )
    if f.not_after_batch and f.type in ("date", "timestamp"):
        moment = parsed if isinstance(parsed, datetime) else datetime.combine(parsed, datetime.min.time())
        if moment >= batch_end:
            problems.append(
                (
                    f"{f.name}: in the future",
                    f"{f.name} ({f.header}): {_canonical(parsed, f.type)} is in the future of the batch day "
                    f"{(batch_end - timedelta(days=1)).date()}",
                )
            )
    return _canonical(parsed, f.type), parsed


def check_row(
    row: SourceRow,
    contract: SourceContract,
    batch_date: date,
    geography: Geography,
    jurisdiction: Jurisdiction,
) -> CheckedRow:
    batch_end = datetime.combine(batch_date + timedelta(days=1), datetime.min.time())
    problems: list[tuple[str, str]] = []
    values: dict[str, str | None] = {}
    parsed: dict[str, object] = {}
    for f in contract.fields:
        values[f.name], parsed[f.name] = _check_field(f, row.values.get(f.name), batch_end, problems)
    community = values.get(contract.community_field) if contract.community_field else None
    if community is not None and community not in geography.communities:
        problems.append(
            (
                f"{contract.community_field}: unknown community code",
                f"{contract.community_field}: unknown community code {community!r} "
                f"(not in the geography of {geography.district.name})",
            )
        )
    if contract.lon_field and contract.lat_field:
        lon, lat = parsed.get(contract.lon_field), parsed.get(contract.lat_field)
        if lon is not None and lat is not None and not jurisdiction.contains(lon, lat):
            problems.append(
                (
                    f"{contract.lon_field}/{contract.lat_field}: outside the jurisdiction",
                    f"{contract.lon_field}/{contract.lat_field}: coordinates ({lon}, {lat}) are outside "
                    f"the jurisdiction {jurisdiction.code}",
                )
            )
    return CheckedRow(
        file_name=row.file_name,
        row_number=row.row_number,
        values=values,
        extra=dict(row.extra),
        reason="; ".join(text for _, text in problems) or None,
        reason_kinds=[kind for kind, _ in problems],
    )


def check_batch(
    reads: list[FileRead],
    contract: SourceContract,
    batch_date: date,
    geography: Geography,
    jurisdiction: Jurisdiction,
) -> list[CheckedRow]:
    """Checks every row of the batch's readable files, in file and row order.

    The first good row of a business key is kept; a later row with the same key and the
    same content is a duplicate, one with other content is quarantined, because the batch
    does not say which of the two is right.
    """
    checked: list[CheckedRow] = []
    first_seen: dict[tuple, CheckedRow] = {}
    for read in reads:
        if read.status != "loaded":
            continue
        for row in read.rows:
            result = check_row(row, contract, batch_date, geography, jurisdiction)
            if result.reason is None:
                key = tuple(result.values[k] for k in contract.key)
                first = first_seen.get(key)
                if first is None:
                    first_seen[key] = result
                elif first.values == result.values and first.extra == result.extra:
                    result.duplicate = True
                else:
                    names = ", ".join(contract.key)
                    result.reason_kinds = [f"{names}: duplicate key with other content"]
                    result.reason = (
                        f"{names}: duplicate key {'/'.join(str(k) for k in key)} in the batch with other "
                        f"content (first in {first.file_name} row {first.row_number})"
                    )
            checked.append(result)
    return checked


def _tokenise_extra(value: str | None, key: bytes) -> str | None:
    """Values of unknown columns that look like an ID number or a phone become tokens too."""
    if value is None:
        return None
    compact = "".join(value.split())
    if is_valid_id_number(compact) or (len(compact) == 18 and compact[:17].isdigit()):
        return tokenise(compact, "id_number", key)
    if is_valid_mobile(compact):
        return tokenise(compact, "phone", key)
    return value


def tokenised_record(row: CheckedRow, contract: SourceContract, key: bytes) -> dict[str, str | None]:
    """The row as written to the lake: personal values replaced by tokens, unknown columns as JSON."""
    record: dict[str, str | None] = {}
    for f in contract.fields:
        value = row.values.get(f.name)
        record[f.stored_name] = tokenise(value, f.pii, key) if f.pii else value
    extra = {name: _tokenise_extra(v, key) for name, v in row.extra.items()}
    record["_extra_columns"] = json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None
    return record
