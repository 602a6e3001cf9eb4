"""Ingest of one batch three ways, side by side: MERGE into silver, Delta append, Parquet write.

The batch has the shape of ``silver.governance_cases`` (22 columns, Chinese text of about
60 characters). Silver already holds a year of cases (``--silver-rows``); the batch
(``--rows``) brings ``--update-share`` of its rows (at most all of them) as new versions
of cases of the last 30 days (what a day's extraction mostly is: recent cases moving on)
and the rest as new cases. The three writes take the same batch, materialised once beforehand:

* parquet: ``df.write.parquet`` into an empty folder;
* append: ``df.write.format("delta").mode("append")`` into a copy of silver;
* merge: ``civiclake.lake.writes.merge_upsert`` (keys ``case_id``, guarded by ``updated_at``)
  into another copy of silver, exactly as the ingest jobs call it: the batch's key range
  lets Delta skip the files of older cases, and a batch this large appends its new keys
  and MERGEs only the keys silver holds;
* merge_single: the same call as one MERGE of the whole batch (what smaller batches do).

Each is run ``--repeat`` times on a fresh target; the median is reported.

    .venvs/core/bin/python bench/bench_ingest_merge.py --rows 1000000 --silver-rows 1000000
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from civiclake.lake.writes import merge_upsert
from civiclake.settings import PROJECT_ROOT, Settings
from civiclake.spark import spark_session

log = logging.getLogger("bench")

DAY_SECONDS = 86_400
YEAR_START = "2025-11-26 00:00:00"


def _cases(spark, first_id: int, rows: int, days_back: int, days_span: int):
    """``rows`` synthetic cases with ids from ``first_id``, reported over ``days_span`` days
    ending ``days_back`` days before the end of the year."""
    from pyspark.sql import functions as F

    texts = [
        "小区门口垃圾桶满了好几天没人清运，味道很大，麻烦尽快处理一下谢谢",
        "晚上十一点还在施工，噪音太大影响休息",
    ]
    start = F.unix_timestamp(F.lit(YEAR_START)) + F.lit((365 - days_back - days_span) * DAY_SECONDS)
    reported = (start + (F.col("id") % (days_span * DAY_SECONDS))).cast("timestamp")
    return spark.range(first_id, first_id + rows).select(
        F.format_string("GC%010d", "id").alias("case_id"),
        F.element_at(
            F.array(*[F.lit(c) for c in ("find_secretary", "hotline_12345")]),
            (F.col("id") % 2 + 1).cast("int"),
        ).alias("channel"),
        F.lit("garbage").alias("category"),
        F.lit("城市管理和综合执法局").alias("department"),
        F.concat(
            F.element_at(F.array(*[F.lit(t) for t in texts]), (F.col("id") % 2 + 1).cast("int")),
            F.col("id").cast("string"),
        ).alias("description"),
        F.lit("440309").alias("district_code"),
        F.lit("440309002").alias("street_code"),
        F.format_string("440309002%03d", F.col("id") % 8 + 1).alias("community_code"),
        F.format_string("440309002%03d%02d", F.col("id") % 8 + 1, F.col("id") % 4 + 1).alias("grid_code"),
        (F.lit(113.96) + (F.col("id") % 1000) / 10_000).alias("lon"),
        (F.lit(22.60) + (F.col("id") % 1700) / 10_000).alias("lat"),
        F.concat(F.lit("name_"), F.md5(F.col("id").cast("string"))).alias("reporter_name_token"),
        F.concat(F.lit("phone_"), F.md5(F.concat(F.lit("p"), F.col("id").cast("string")))).alias(
            "reporter_phone_token"
        ),
        F.concat(F.lit("id_"), F.md5(F.concat(F.lit("i"), F.col("id").cast("string")))).alias(
            "reporter_id_token"
        ),
        F.lit(True).alias("reporter_id_valid"),
        reported.alias("reported_at"),
        (reported + F.expr("interval 30 minutes")).alias("dispatched_at"),
        F.lit(None).cast("timestamp").alias("closed_at"),
        F.lit("dispatched").alias("status"),
        F.lit(None).cast("smallint").alias("satisfaction"),
        (reported + F.expr("interval 30 minutes")).alias("updated_at"),
        reported.cast("date").alias("batch_date"),
    )


def _timed(label: str, action) -> float:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    log.info("%s: %.1f s", label, seconds)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the batch")
    parser.add_argument("--silver-rows", type=int, default=1_000_000, help="rows already in silver")
    parser.add_argument(
        "--update-share", type=float, default=0.05, help="share of the batch that updates silver"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--materialize-source",
        default=None,
        help="Delta's spark.databricks.delta.merge.materializeSource (auto, all, none) for this run",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    settings = Settings(data_dir=work, jars_dir=PROJECT_ROOT / "var" / "jars")
    spark = spark_session(settings, "bench-ingest-merge")
    if args.materialize_source:
        spark.conf.set("spark.databricks.delta.merge.materializeSource", args.materialize_source)
    from pyspark.sql import functions as F

    # Silver: a year of cases in files that follow the order cases arrived in, as daily
    # MERGEs leave it (about ten days a file).
    silver_seed = work / "silver-seed"
    _cases(spark, 0, args.silver_rows, 0, 365).repartitionByRange(36, "case_id").write.format("delta").save(
        str(silver_seed)
    )

    # Batch: new versions of recent cases (the last 30 days of silver) plus new cases.
    recent_first = args.silver_rows - int(args.silver_rows * 30 / 365)
    updates = min(int(args.rows * args.update_share), args.silver_rows - recent_first)
    changed = (
        spark.read.format("delta")
        .load(str(silver_seed))
        .where(F.col("case_id") >= F.format_string("GC%010d", F.lit(recent_first)))
        .limit(updates)
        .withColumn("status", F.lit("closed"))
        .withColumn("updated_at", F.col("updated_at") + F.expr("interval 2 days"))
        .withColumn("closed_at", F.col("updated_at"))
    )
    fresh = _cases(spark, args.silver_rows, args.rows - updates, 0, 1)
    batch_dir = work / "batch"
    changed.unionByName(fresh).write.parquet(str(batch_dir))
    batch = spark.read.parquet(str(batch_dir)).cache()
    rows = batch.count()
    updates = batch.where("status = 'closed'").count()

    timings: dict[str, list[float]] = {"parquet": [], "append": [], "merge": [], "merge_single": []}
    for n in range(args.repeat):
        target = work / f"run{n}"
        shutil.copytree(silver_seed, target / "append")
        shutil.copytree(silver_seed, target / "merge")
        shutil.copytree(silver_seed, target / "merge_single")
        timings["parquet"].append(_timed("parquet", lambda t=target: batch.write.parquet(str(t / "parquet"))))
        timings["append"].append(
            _timed(
                "append", lambda t=target: batch.write.format("delta").mode("append").save(str(t / "append"))
            )
        )
        for name, split_rows in (("merge", rows), ("merge_single", None)):
            timings[name].append(
                _timed(
                    name,
                    lambda t=target, name=name, split_rows=split_rows: merge_upsert(
                        spark, batch, str(t / name), ["case_id"], newer_than="updated_at", rows=split_rows
                    ),
                )
            )
            merged = spark.read.format("delta").load(str(target / name))
            assert merged.count() == args.silver_rows + rows - updates, f"{name} lost or duplicated rows"
        shutil.rmtree(target)

    median = {k: statistics.median(v) for k, v in timings.items()}
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; spark {spark.version}, "
        f"master {settings.spark_master}; merge.materializeSource "
        f"{spark.conf.get('spark.databricks.delta.merge.materializeSource', 'auto')}"
    )
    print(f"batch {rows:,} rows ({updates:,} updates of recent cases), silver {args.silver_rows:,} rows")
    print(f"median of {args.repeat} runs:")
    for name in ("parquet", "append", "merge", "merge_single"):
        print(f"  {name:12s} {median[name]:7.1f} s   {rows / median[name]:>10,.0f} rows/s")
    print(f"merge / append        = {median['merge'] / median['append']:.2f}x")
    print(f"merge_single / append = {median['merge_single'] / median['append']:.2f}x")
    print(f"merge / parquet       = {median['merge'] / median['parquet']:.2f}x")
    print(f"append / parquet      = {median['append'] / median['parquet']:.2f}x")
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
