"""The lake's tables as civiclake reads and writes them.

``writes``: Spark writes to Delta tables (MERGE upserts, partition overwrites) that tell
what their own commit landed; ``scd2``: registries that keep every version of a key;
``runs``: what each run records in the ``state`` tables (extraction windows, page
progress, file manifests, reconciliation); ``read``: reading a table without Spark.
"""
