"""Connectors that read the district's source systems: PostgreSQL tables over JDBC and
Open311 GeoReport v2 APIs (what each source holds: ``civiclake.contracts``)."""
