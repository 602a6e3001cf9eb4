"""Every file export the platform knows, by silver table name."""

from __future__ import annotations

from civiclake.ingest.contracts import ExportContract
from civiclake.sources.party import PARTY_EXPORTS
from civiclake.sources.services import SERVICES_EXPORTS

SOURCES: dict[str, tuple[ExportContract, ...]] = {"party": PARTY_EXPORTS, "services": SERVICES_EXPORTS}
EXPORTS: dict[str, ExportContract] = {c.table: c for contracts in SOURCES.values() for c in contracts}
