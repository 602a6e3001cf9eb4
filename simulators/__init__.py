"""Simulated source systems: the district's operational systems as the demo and the tests see them.

Each module imitates one external system through the same interface the real one offers
(PostgreSQL tables, file exports, registry snapshots, an Open311 API), writing only what
that system would. The platform's production path never imports this package: it knows a
source system by its contract (``civiclake.contracts``) and its connection settings, so a
district swaps a simulator for its real system without touching the jobs.
"""
