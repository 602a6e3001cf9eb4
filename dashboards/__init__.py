"""Superset assets (YAML) and their importer: ``python -m dashboards.importer``."""
