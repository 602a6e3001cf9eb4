"""Reading lake tables without Spark, with delta-rs (``deltalake``): for code that only
reads a table or two — the quality gates, the run summary, reviewers' corrections — and
should not pay for a JVM.

Tables are named as the Spark jobs write them: a layer (bronze, silver, state) and a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from civiclake.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds
    from deltalake import DeltaTable


class TableMissingError(LookupError):
    """A lake table that is not there (its source was never loaded into this lake)."""

    def __init__(self, layer: str, name: str, uri: str):
        super().__init__(f"{layer}.{name} is not in the lake ({uri})")
        self.layer, self.name, self.uri = layer, name, uri


def wall_clock(values: pd.Series) -> pd.Series:
    """Lake times as the source's wall clock, naive. The lake keeps a source's wall-clock time
    as the UTC instant of the same digits (pandas reads it zone-aware in UTC); naive values are
    taken as those digits already."""
    import pandas as pd

    return pd.to_datetime(values, utc=True).dt.tz_localize(None)


def table_uri(settings: Settings, layer: str, name: str) -> str:
    """Where delta-rs finds ``layer.name``: the lake path, with Hadoop's ``s3a://`` spelt
    ``s3://`` as delta-rs expects."""
    path = settings.table_path(layer, name)
    return "s3://" + path.removeprefix("s3a://") if path.startswith("s3a://") else path


def has_table(settings: Settings, layer: str, name: str) -> bool:
    """Whether the lake holds ``layer.name`` (a Delta log at its path)."""
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(table_uri(settings, layer, name))


def table_or_none(settings: Settings, layer: str, name: str) -> DeltaTable | None:
    """``layer.name`` as a delta-rs table at its latest version; None when the lake lacks it."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(table_uri(settings, layer, name))
    except TableNotFoundError:
        return None


def dataset_or_none(settings: Settings, layer: str, name: str) -> ds.Dataset | None:
    """``layer.name`` as a pyarrow dataset (scanned lazily: counted, filtered, or handed to
    DuckDB); None when the lake lacks it."""
    table = table_or_none(settings, layer, name)
    return None if table is None else table.to_pyarrow_dataset()


def read_table(
    settings: Settings,
    layer: str,
    name: str,
    *,
    columns: list[str] | None = None,
    filters: list[tuple] | ds.Expression | None = None,
) -> pa.Table:
    """The rows of ``layer.name`` (only ``columns``, only rows matching ``filters``: delta-rs'
    ``[(column, op, value)]`` form or a pyarrow expression) as an Arrow table.

    Raises :class:`TableMissingError` when the lake lacks the table.
    """
    table = table_or_none(settings, layer, name)
    if table is None:
        raise TableMissingError(layer, name, table_uri(settings, layer, name))
    return table.to_pyarrow_table(columns=columns, filters=filters)
