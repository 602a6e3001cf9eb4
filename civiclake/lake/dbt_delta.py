"""dbt-duckdb plugin (``dbt/profiles.yml``): each Delta source read at the version its
marts build pinned, so that what a publication records is what the build read.

``marts prepare`` pins the newest version of every lake table the dbt sources name
(``lake-versions.json`` beside the build file, ``pins_file`` in the profile), before dbt
runs: a table that gets a new version while dbt runs is still read as pinned, by every dbt
invocation of the build. Without a pins file (dbt run by hand, no ``marts prepare``), each
source is read at its newest version, as dbt-duckdb's own delta plugin reads it — whose
``as_of_version`` option is not used because it takes version 0 for "newest".

Imported only by dbt, in the core environment where dbt runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig

from civiclake.lake.history import LakeVersions, TimeTravelError, open_pinned


class Plugin(BasePlugin):
    def initialize(self, config: dict[str, Any]) -> None:
        self.pins_file = Path(config["pins_file"]) if config.get("pins_file") else None

    def configure_cursor(self, cursor) -> None:
        pass

    def load(self, source_config: SourceConfig):
        from deltalake import DeltaTable

        if "delta_table_path" not in source_config:
            raise TimeTravelError(f"source {source_config.table_name()} has no meta.delta_table_path")
        location = source_config["delta_table_path"]
        storage_options = source_config.get("storage_options")
        versions = LakeVersions.read(self.pins_file) if self.pins_file else None
        if versions is None:
            return DeltaTable(location, storage_options=storage_options).to_pyarrow_dataset()
        key, pin = versions.pin_for(location)
        table = open_pinned(location, pin, key.replace("/", "."), storage_options)
        return table.to_pyarrow_dataset()

    def default_materialization(self) -> str:
        return "view"
