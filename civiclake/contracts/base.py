"""What a source contract says, whatever kind of source it describes.

A contract declares one source table once: where its rows come from (a PostgreSQL table,
a file export, a registry snapshot, an API), its columns and their types, the business
key, the columns that carry personal data (and the token kind that replaces them), the
values a coded column may hold, the headers a file export writes (the source system's
own, Chinese), and what silver adds: area codes looked up from the geography, validity
flags, lineage columns and SCD2 history.

The Spark jobs, the quality suites and the Arrow schemas of empty silver tables are made
from the contracts, the simulated source systems write what they declare, and tests hold
the dbt sources to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnType:
    spark: str  # the Spark SQL type silver stores
    postgres: str  # the column's type in an operational PostgreSQL source


TYPES = {
    "string": ColumnType("string", "text"),
    "int": ColumnType("bigint", "bigint"),
    "smallint": ColumnType("smallint", "smallint"),
    "float": ColumnType("double", "double precision"),
    "decimal(10,2)": ColumnType("decimal(10,2)", "numeric(10, 2)"),
    "date": ColumnType("date", "date"),
    "timestamp": ColumnType("timestamp", "timestamp"),
    "bool": ColumnType("boolean", "boolean"),
}


def _check_type(name: str, type_: str) -> None:
    if type_ not in TYPES:
        raise ValueError(f"column {name}: unknown type {type_!r}; expected one of {tuple(TYPES)}")


def stored_codes(*codes: str) -> dict[str, str]:
    """The accepted values of a column whose source stores the codes themselves."""
    return {code: code for code in codes}


@dataclass(frozen=True)
class Field:
    """One column of the source, as the source holds it (a file export: under ``header``)."""

    name: str
    header: str | None = None  # the header a file export writes
    type: str = "string"
    required: bool = True  # the column must be in an exported file (a missing one fails the file)
    nullable: bool = False  # a value may be empty
    # Label → code: the values the column may hold (a file export may write either). The file
    # loader quarantines anything else; the other jobs and the quality suites say which coded
    # columns they check.
    codes: Mapping[str, str] | None = None
    pii: str | None = None  # token kind (civiclake.pii.TOKEN_KINDS): the value becomes a token
    # An 18-character resident ID number whose check digit is verified: a file export's row
    # that fails is quarantined; a database or registry row keeps a ``<name>_valid`` flag.
    id_number: bool = False
    not_after_batch: bool = False  # a date/timestamp that cannot lie after the batch day

    def __post_init__(self):
        _check_type(self.name, self.type)

    @property
    def stored_name(self) -> str:
        """Column name once written: personal data is stored as ``<name>_token``."""
        return f"{self.name.removesuffix('_number')}_token" if self.pii else self.name

    @property
    def accepted(self) -> tuple[str, ...]:
        """The codes the column may hold, in declared order (empty: any value)."""
        return tuple(dict.fromkeys((self.codes or {}).values()))


@dataclass(frozen=True)
class SilverColumn:
    """A column silver has and the source does not: looked up, flagged or added by the ingest."""

    name: str
    type: str = "string"

    def __post_init__(self):
        _check_type(self.name, self.type)


# The district and street of the row's community, looked up in the reference geography.
AREA = (SilverColumn("district_code"), SilverColumn("street_code"))
BATCH_DATE = SilverColumn("batch_date", "date")
# The version bookkeeping of an SCD2 table (civiclake.lake.scd2.scd2_merge adds it).
SCD2 = (
    SilverColumn("_row_hash"),
    SilverColumn("valid_from", "date"),
    SilverColumn("valid_to", "date"),
    SilverColumn("is_current", "bool"),
    SilverColumn("is_deleted", "bool"),
)


# --- where a source table's rows come from ---------------------------------------------------


@dataclass(frozen=True)
class DatabaseTable:
    """A table of an operational PostgreSQL database, extracted by a watermark column."""

    name: str  # schema-qualified, e.g. ``governance.cases``
    updated_column: str = "updated_at"

    @property
    def lineage(self) -> tuple[SilverColumn, ...]:
        return (BATCH_DATE,)


@dataclass(frozen=True)
class ExportFiles:
    """A periodic export of a source system, landing as files matching ``pattern`` in a batch
    folder ``landing/<family>/<date>/``."""

    title: str  # the export's own name, e.g. ``党员信息``
    pattern: str  # file glob inside the batch folder, e.g. ``党员信息_*.xlsx``
    encoding: str | None = None  # what the source system is known to write (the reader still detects)

    @property
    def lineage(self) -> tuple[SilverColumn, ...]:
        # A record the export marks deleted stays in silver, flagged; each row names its file.
        return (SilverColumn("is_deleted", "bool"), SilverColumn("source_file"), BATCH_DATE)


@dataclass(frozen=True)
class RegistrySnapshot:
    """A registry office's full extract of one registry a day (civiclake.ingest.registry_extracts)."""

    registry: str  # e.g. ``households``: the file ``households.parquet`` of the day's extract

    @property
    def lineage(self) -> tuple[SilverColumn, ...]:
        return (BATCH_DATE,)


@dataclass(frozen=True)
class ApiResource:
    """A paged HTTP API resource, e.g. Open311 GeoReport v2 ``/requests.json``."""

    path: str

    @property
    def lineage(self) -> tuple[SilverColumn, ...]:
        return (SilverColumn("source_url"), BATCH_DATE)  # the page the row came from


Source = DatabaseTable | ExportFiles | RegistrySnapshot | ApiResource


@dataclass(frozen=True)
class SourceContract:
    """One source table and the silver table it feeds.

    ``columns`` lists the source's fields in the source's order, with the columns silver adds
    (:class:`SilverColumn`) where silver places them; personal fields are stored as tokens in
    their place. Silver ends with the source kind's lineage columns and, for an SCD2 table
    (``scd2_tracked``), the version bookkeeping. A source whose silver table reshapes it
    rather than types its columns (an API) gives silver's own columns in ``silver``.
    """

    table: str  # bronze/silver table name, e.g. ``party_members``
    family: str  # source family, e.g. ``party``
    source: Source
    columns: tuple[Field | SilverColumn, ...]
    key: tuple[str, ...]  # business key in silver
    community_field: str | None = None  # checked against the geography; gives the area codes
    lon_field: str | None = None
    lat_field: str | None = None
    deleted_field: str | None = None  # a bool field marking a record deleted (soft delete)
    free_text: tuple[str, ...] = ()  # fields residents write: personal numbers in them become tokens
    scd2_tracked: tuple[str, ...] = ()  # SCD2: silver columns whose change opens a new version
    silver: tuple[SilverColumn, ...] = ()  # silver's columns before lineage, where they are not ``columns``

    def __post_init__(self):
        names = [f.name for f in self.fields]
        for name in (
            self.community_field,
            self.lon_field,
            self.lat_field,
            self.deleted_field,
            *self.free_text,
        ):
            if name is not None and name not in names:
                raise ValueError(f"contract {self.table}: {name!r} is not one of its fields")
        columns = self.silver_columns()
        for name in (*self.key, *self.scd2_tracked):
            if name not in columns and name not in names:
                raise ValueError(f"contract {self.table}: {name!r} is not one of its columns")
        if len(set(columns)) != len(columns):
            raise ValueError(f"contract {self.table}: silver columns repeat a name: {columns}")
        if isinstance(self.source, ExportFiles):
            # The file loader looks the area up exactly when there is a community field.
            has_area = all(c in self.columns for c in AREA)
            if has_area != (self.community_field is not None):
                raise ValueError(f"contract {self.table}: declare AREA exactly when it has a community_field")
            unlabelled = [f.name for f in self.fields if not f.header]
            if unlabelled:
                raise ValueError(f"contract {self.table}: fields without the export's header: {unlabelled}")

    @property
    def fields(self) -> tuple[Field, ...]:
        """The source's columns, in the source's order."""
        return tuple(c for c in self.columns if isinstance(c, Field))

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"contract {self.table} has no field {name!r}")

    @property
    def source_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def headers(self) -> dict[str, Field]:
        """Header → field; a file may also use the English column names."""
        mapping = {f.header: f for f in self.fields if f.header}
        mapping.update({f.name: f for f in self.fields})
        return mapping

    @property
    def pii(self) -> dict[str, str]:
        """Personal fields → token kind."""
        return {f.name: f.pii for f in self.fields if f.pii}

    @property
    def not_after_batch(self) -> tuple[str, ...]:
        """Date and timestamp fields that cannot lie after the batch day."""
        return tuple(f.name for f in self.fields if f.not_after_batch)

    def _body(self) -> tuple[Field | SilverColumn, ...]:
        if self.silver:
            return self.silver
        return tuple(c for c in self.columns if not (isinstance(c, Field) and c.name == self.deleted_field))

    def merge_columns(self) -> tuple[str, ...]:
        """The columns the ingest hands to silver's MERGE: silver's, less the SCD2 bookkeeping
        that the MERGE adds itself."""
        body = [c.stored_name if isinstance(c, Field) else c.name for c in self._body()]
        return (*body, *(c.name for c in self.source.lineage))

    def silver_columns(self) -> tuple[str, ...]:
        """Columns of the silver table, in order."""
        history = tuple(c.name for c in SCD2) if self.scd2_tracked else ()
        return (*self.merge_columns(), *history)

    def silver_types(self) -> dict[str, str]:
        """Silver column (and stored field) → Spark SQL type; tokens are strings."""
        types = {f.stored_name: "string" if f.pii else TYPES[f.type].spark for f in self.fields}
        added: Iterable[SilverColumn] = (
            *(c for c in self.columns if isinstance(c, SilverColumn)),
            *self.silver,
            *self.source.lineage,
            *(SCD2 if self.scd2_tracked else ()),
        )
        types.update({c.name: TYPES[c.type].spark for c in added})
        return types
