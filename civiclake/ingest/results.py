"""What an ingest run did, the same for every source family.

An :class:`IngestResult` holds one :class:`TableResult` per silver table the run wrote.
Every table result carries the terms of the batch's reconciliation (source = silver +
quarantine + duplicates) and the quarantine's reasons; the kind of source adds its part:
the extraction window (a database or an API), the pages fetched (an API), the files read (a
file export) or the versions kept (an SCD2 registry). ``summary()`` gives the plain values
the CLI prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from civiclake.ingest.files import FileRead
from civiclake.lake.runs import record_reconciliation
from civiclake.settings import Settings


@dataclass(frozen=True)
class SourceWindow:
    """The source window a batch extracted, [start, end); no start on the first batch."""

    start: str | None
    end: str


@dataclass(frozen=True)
class ApiPages:
    """Where an API batch came from and the pages this run fetched (none: bronze reprocessed)."""

    base_url: str
    jurisdiction: str
    first_page: int | None
    fetched: int


@dataclass(frozen=True)
class Files:
    """The files of a file export's batch: how many, which failed (with the error) or were empty,
    and the columns the contract does not know yet."""

    count: int
    failed: list[str]
    empty: list[str]
    new_columns: list[str]
    # The files as read (their rows included), for the batch's manifest and receipt.
    reads: list[FileRead] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def of(cls, reads: list[FileRead]) -> Files:
        """The batch's files as read."""
        return cls(
            count=len(reads),
            failed=[r.error for r in reads if r.status == "failed"],
            empty=[r.file_name for r in reads if r.status == "empty"],
            new_columns=sorted({c for r in reads for c in r.new_columns}),
            reads=reads,
        )

    def summary(self) -> dict:
        return {
            "count": self.count,
            "failed": self.failed,
            "empty": self.empty,
            "new_columns": self.new_columns,
        }


@dataclass(frozen=True)
class History:
    """An SCD2 table after a snapshot: keys whose version it opened, changed or closed as
    deleted, keys it found unchanged, and the current versions it holds."""

    opened: int
    changed: int
    deleted: int
    unchanged: int
    current_rows: int


@dataclass(frozen=True)
class TableResult:
    """One silver table's batch."""

    table: str
    batch_date: str
    extracted: bool  # this run read the source (False: an earlier run did; bronze was reprocessed)
    source_rows: int
    silver_rows: int
    quarantined_rows: int
    duplicate_rows: int
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    # Rows silver holds after the batch (an API: of the batch's jurisdiction; SCD2: every version).
    silver_total: int | None = None
    window: SourceWindow | None = None
    pages: ApiPages | None = None
    files: Files | None = None
    history: History | None = None

    def summary(self) -> dict:
        """Plain values for logs and the CLI: the parts the source kind has, without file rows."""
        parts = ("window", "pages", "files", "history")
        values = {k: v for k, v in self.__dict__.items() if k not in parts and v is not None}
        for name in parts:
            part = getattr(self, name)
            if part is not None:
                values[name] = part.summary() if isinstance(part, Files) else asdict(part)
        return values


@dataclass(frozen=True)
class IngestResult:
    """One run of a family's ingest for one logical date."""

    family: str
    batch_date: str
    tables: list[TableResult]
    note: str | None = None  # why nothing was loaded (the batch was ingested and removed before)

    def table(self, name: str) -> TableResult:
        for result in self.tables:
            if result.table == name:
                return result
        raise KeyError(f"the {self.family} ingest of {self.batch_date} wrote no table {name!r}")

    @property
    def failed_files(self) -> list[str]:
        return [error for t in self.tables if t.files for error in t.files.failed]

    def summary(self) -> list[dict]:
        return [t.summary() for t in self.tables]


def record_batch(spark, settings: Settings, result: TableResult, name: str | None = None) -> TableResult:
    """Stores the batch's reconciliation under ``name`` (default: its table) and returns the
    result; a batch whose terms do not add up fails here (``civiclake.lake.runs``)."""
    record_reconciliation(
        spark,
        settings,
        name or result.table,
        date.fromisoformat(result.batch_date),
        source_rows=result.source_rows,
        silver_rows=result.silver_rows,
        quarantined=result.quarantined_rows,
        duplicates=result.duplicate_rows,
    )
    return result
