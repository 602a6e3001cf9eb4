"""Spark jobs: each module has a ``run(spark, settings, logical_date)`` and a thin ``main``."""
