"""Periodic file exports (CSV, Excel) into the lake: contracts, reader, validator, loader."""
