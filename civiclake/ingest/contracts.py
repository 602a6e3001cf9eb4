"""Declared contracts of periodic file exports: which file, which headers, which types.

A real export speaks its source system's language (Chinese headers, labels such as
``正式党员``); the contract maps each header to an English column, each label to a code,
and says which columns carry personal data (tokenised before anything is written),
which are checked against the reference geography and which must not lie after the
batch day. The reader, the validator, the Spark loader and the quality suites all read
the same contract, so a table never drifts from the file it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TYPES = ("string", "int", "float", "date", "timestamp", "bool")
SPARK_TYPES = {
    "string": "string",
    "int": "bigint",
    "float": "double",
    "date": "date",
    "timestamp": "timestamp",
    "bool": "boolean",
}


@dataclass(frozen=True)
class Field:
    """One column of an export: its English name and the header the source system writes."""

    name: str
    header: str
    type: str = "string"
    required: bool = True  # the column must be in the file (a missing one fails the file)
    nullable: bool = False  # a cell may be empty
    codes: Mapping[str, str] | None = None  # exported label → code; anything else is quarantined
    pii: str | None = None  # token kind (civiclake.pii.TOKEN_KINDS): the value becomes a token
    id_number: bool = False  # an 18-character resident ID number: its check digit is verified
    not_after_batch: bool = False  # a date/timestamp that cannot lie after the batch day

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type!r}; expected one of {TYPES}")

    @property
    def stored_name(self) -> str:
        """Column name once written: personal data is stored as ``<name>_token``."""
        return f"{self.name.removesuffix('_number')}_token" if self.pii else self.name


@dataclass(frozen=True)
class ExportContract:
    """One export of a source system, landing as files matching ``pattern`` in a batch folder."""

    table: str  # bronze/silver table name, e.g. ``party_members``
    source: str  # source family, e.g. ``party``
    title: str  # the export's own name, e.g. ``党员信息``
    pattern: str  # file glob inside the batch folder, e.g. ``党员信息_*.xlsx``
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # business key in silver
    community_field: str | None = None  # checked against the geography; gives street_code
    lon_field: str | None = None
    lat_field: str | None = None
    deleted_field: str | None = None  # a bool column marking a record deleted (soft delete)
    encoding: str | None = None  # what the source system is known to write (the reader still detects)

    def __post_init__(self):
        names = [f.name for f in self.fields]
        for name in (*self.key, self.community_field, self.lon_field, self.lat_field, self.deleted_field):
            if name is not None and name not in names:
                raise ValueError(f"contract {self.table}: {name!r} is not one of its fields")

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def headers(self) -> dict[str, Field]:
        """Header → field; a file may also use the English column names."""
        mapping = {f.header: f for f in self.fields}
        mapping.update({f.name: f for f in self.fields})
        return mapping

    def silver_columns(self) -> tuple[str, ...]:
        """Columns of the silver table: typed fields (tokens for personal data) and lineage."""
        columns = [f.stored_name for f in self.fields if f.name != self.deleted_field]
        if self.community_field:
            columns += ["district_code", "street_code"]
        return (*columns, "is_deleted", "source_file", "batch_date")

    def silver_types(self) -> dict[str, str]:
        types = {f.stored_name: SPARK_TYPES[f.type] for f in self.fields}
        types.update(district_code="string", street_code="string", is_deleted="boolean", source_file="string")
        types["batch_date"] = "date"
        return types
