"""One settings object for the whole platform, read from ``CIVICLAKE_*`` variables.

Local defaults point at folders under the project's git-ignored ``var/``; a
cluster deployment changes the same fields (Spark master, lake path on object
storage) and nothing else. Secrets have no defaults: reading one that is not set
raises an error that names the variable.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import NonNegativeInt, PositiveFloat, PositiveInt, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# Retention: Delta refuses to VACUUM with less than its default 7 days unless told to.
DELTA_MIN_HISTORY_DAYS = 7


class MissingSecretError(RuntimeError):
    """A secret the current step needs is not set in the environment."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIVICLAKE_", extra="ignore")

    # Where runtime state lives (embedded default: var/ in the project).
    data_dir: Path = PROJECT_ROOT / "var"
    lake_path: str | None = None  # Delta root; a local folder or an s3a:// URI
    marts_dir: Path | None = None  # published DuckDB file and its build area
    jars_dir: Path | None = None
    models_dir: Path | None = None

    # Spark: local[*] by default; a spark:// or k8s:// URL on a cluster.
    spark_master: str = "local[2]"
    spark_driver_memory: str = "2g"
    spark_shuffle_partitions: int = 4
    # Expressions interpreted, not compiled, and each query planned once, without adaptive
    # execution: unset, in local mode only; true or false, on any master (civiclake.spark).
    spark_interpreted: bool | None = None
    spark_adaptive: bool | None = None
    # A Spark cluster (infra/spark/cluster.sh starts a standalone one on this machine): what
    # each executor takes from a worker, and the address executors reach the driver at
    # (unset: loopback when the master is on loopback, else the address the host name resolves
    # to). Unused by local[...] runs.
    spark_executor_memory: str = "1g"
    spark_executor_cores: PositiveInt = 1
    spark_driver_host: str | None = None
    # A warm Spark driver serving the Spark commands of this machine's runs (infra/spark/driver.sh,
    # `civiclake spark-driver serve`): the Unix socket it listens on. Unset: each Spark command
    # starts its own session.
    spark_driver_socket: Path | None = None

    # Operational source database (simulated systems in the embedded default).
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "civiclake"
    pg_password: SecretStr | None = None
    pg_sources_db: str = "civiclake_sources"

    # Key for HMAC tokens that replace personal data at extraction.
    pii_key: SecretStr | None = None

    # Simulation.
    seed: int = 20261126
    sim_cases_per_day: int = 600
    # Days of history a source system is given before the first simulated day.
    sim_history_days: int = 30
    # Share of the district's full size that registries and exports simulate:
    # 1.0 is Longhua at scale (about 2.5 million residents, ~1 million cases a year).
    sim_scale: float = 0.01
    # Street cameras (simulators/cameras.py): how many of the registry's online cameras send
    # recordings, how many files (clips and single frames) they send a day in all, and the
    # real photos the recordings are made from (../shared/data/urban_event_images).
    sim_camera_count: PositiveInt = 6
    sim_camera_files_per_day: NonNegativeInt = 16
    sim_camera_images_dir: Path = PROJECT_ROOT.parent / "shared" / "data" / "urban_event_images"

    # Raw exports delivered as files (landing/<source>/<date>/, sources/resources/<date>/) hold
    # national ID and mobile numbers. Once a batch is ingested they are removed when it is this
    # many days older than the logical date being ingested; 0 removes them as soon as the
    # batch is in the lake (civiclake/ingest/raw_exports.py).
    raw_export_retention_days: NonNegativeInt = 0

    # --- Retention (civiclake/lake/retention.py: `civiclake maintain`, DAG civiclake_maintenance) ---
    # Landing: raw_export_retention_days above, for every export whose batch has its ingest
    # receipt; camera recordings (landing/cameras/<day>/<hour>/) the same number of days after
    # their hour's reconciliation is recorded in the lake.
    # Bronze: partitions (batch_date) older than this many days before the maintenance date are
    # deleted from every bronze table. It is also the horizon of everything that replays bronze:
    # a rerun of a day reprocesses that day's bronze, and the SCD2 rebuild from the registries'
    # bronze snapshots (civiclake/lake/scd2.py) refuses, naming the missing days, beyond it.
    # 400 days: last year's figures can still be rebuilt while the annual report is prepared.
    bronze_retention_days: PositiveInt = 400
    # Delta history: VACUUM deletes the data files no version of the last N days needs, and the
    # log keeps N days of commits (delta.logRetentionDuration), so time travel reaches N days
    # back. Delta's own safe minimum is 7 days (a reader or writer still at work may need the
    # files); an erasure's zero-hour VACUUM (civiclake/lake/erasure.py) is separate from this.
    delta_history_retention_days: int = 30
    # OPTIMIZE where it pays: a table, or one partition of it, holding more than
    # optimize_min_small_files files smaller than optimize_small_file_mb is compacted; the
    # others are left as they are (rewriting them would cost more than reading them saves).
    optimize_min_small_files: PositiveInt = 16
    optimize_small_file_mb: PositiveInt = 32

    # Incremental extraction re-reads this much before the previous high watermark, so a
    # row committed late with an older ``updated_at`` is still picked up; rows already in
    # silver at the same version count as known duplicates.
    extract_lookback_minutes: int = 120

    # Jurisdiction whose boundary checks apply to incoming coordinates.
    jurisdiction: str = "longhua"
    # Version of the reference geography (civiclake/reference/geography/<version>/); unset: the
    # current one (civiclake.geography.CURRENT_VERSION). "v1" reproduces a run made before the
    # official street codes; `civiclake geography map` translates codes between versions.
    # civiclake.geography.active_version() reads it from the environment directly.
    geography_version: str | None = None

    # Case dispatch: the confidence threshold is chosen so that automatically
    # dispatched cases are right at least this often on validation data.
    dispatch_target_precision: float = 0.97

    # Case classifier and review queue (models/case_classifier, civiclake/review). Files of the
    # district's past case texts without labels (CSV or Parquet, separated by commas; a relative
    # path is taken from the project root), each with the column classifier_unlabelled_text_column:
    # the text vectoriser is fitted on them beside the labelled texts, the classifier on labels
    # only. Empty: the labelled texts alone.
    classifier_unlabelled_texts: str = ""
    classifier_unlabelled_text_column: str = "description"
    # Share of each day's review queue picked at random (seeded by the day), marked as such, so
    # that the accuracy measured on reviewed random picks is an unbiased estimate; the rest is
    # ordered by what a reviewer's answer teaches the model (uncertainty, then diversity).
    review_random_share: float = 0.2

    # Camera frame models (civiclake/frames/classes.py): folders, separated by commas, each
    # holding one detector (model.onnx, labels.json, thresholds.json, card.json). Empty: the
    # shipped model, models/frame_detector/shipped. A relative folder is taken from the project
    # root. A district adds a model for a class the shipped one lacks by listing both folders.
    frame_model_dirs: str = ""
    # Camera events (civiclake/frames/events.py): a clip is sampled every frame_sample_every_s
    # seconds, and a class seen at one camera in at least k of n consecutive sampled frames
    # is one event; fewer is flicker, not a condition of the street.
    frame_sample_every_s: PositiveFloat = 1.0
    frames_event_k: PositiveInt = 3
    frames_event_n: PositiveInt = 5

    # Outgoing mail for the leaders' brief (civiclake/brief). Unset host: no mail is sent
    # (the daily DAG's brief_push task is skipped). No defaults for the sender or the
    # password: they belong to the deployment.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str | None = None  # From: address, e.g. "龙华区指挥中心 <brief@example.org>"
    # starttls (submission port 587), ssl (implicit TLS, port 465) or none (a local relay).
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"

    # The intake API (civiclake/intake): residents' apps post GeoReport v2 requests to it.
    # Client apps and their keys, ``client:channel:key`` separated by commas (channel: a code
    # of civiclake.catalogue.CHANNELS, the channel the client's cases get), or the same, one
    # per line, in the file ``intake_api_keys_file``. No default: without keys the service does
    # not start (infra/secrets.sh generates demo keys into var/secrets.env).
    intake_api_keys: SecretStr | None = None
    intake_api_keys_file: Path | None = None
    intake_host: str = "127.0.0.1"
    intake_port: int = 8320
    # Per key, a token bucket: this many posts at once, refilled at this many a minute.
    intake_rate_burst: PositiveInt = 20
    intake_rate_per_minute: PositiveFloat = 60.0
    # The same post (key, service, place, description) again within this window is refused (0: off).
    intake_duplicate_window_s: NonNegativeInt = 600
    # GeoReport v2 caps a description at 4000 characters; a longer body is refused unread (a
    # 4000-character Chinese description takes about 36 KB form-encoded).
    intake_max_description_chars: PositiveInt = 4000
    intake_max_body_bytes: PositiveInt = 65536

    @field_validator("delta_history_retention_days")
    @classmethod
    def _history_at_least_delta_minimum(cls, days: int) -> int:
        """Retention: below Delta's 7 days, VACUUM could delete files a running job still reads."""
        if days < DELTA_MIN_HISTORY_DAYS:
            raise ValueError(
                f"CIVICLAKE_DELTA_HISTORY_RETENTION_DAYS={days}: Delta history must be kept at least "
                f"{DELTA_MIN_HISTORY_DAYS} days (Delta's safe minimum for VACUUM: a job still running "
                "may need older files). Only an erasure request vacuums with zero hours "
                "(`civiclake erase`), for its own tables."
            )
        return days

    @cached_property
    def lake(self) -> str:
        """The lake's root: a URL (s3a://…) as given, a local path made absolute, because
        Spark's ``delta.`path``` and dbt's sources would otherwise read it relative to
        whichever directory each of them runs in."""
        if self.lake_path and "://" in self.lake_path:
            return self.lake_path
        return str(Path(self.lake_path or self.data_dir / "lake").resolve())

    @cached_property
    def marts(self) -> Path:
        return self.marts_dir or self.data_dir / "marts"

    @property
    def landing(self) -> Path:
        """Where the file-export sources deliver their batches: ``landing/<source>/<date>/``."""
        return Path(self.data_dir) / "landing"

    @property
    def evidence(self) -> Path:
        """Evidence images of camera events, outside the lake (civiclake/frames/evidence.py)."""
        return Path(self.data_dir) / "evidence"

    @property
    def published_marts_file(self) -> Path:
        return self.marts / "civiclake.duckdb"

    @cached_property
    def jars(self) -> Path:
        return self.jars_dir or self.data_dir / "jars"

    @cached_property
    def model_store(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    def table_path(self, layer: str, name: str) -> str:
        """Path of a Delta table, e.g. ``table_path("silver", "governance_cases")``."""
        return f"{self.lake.rstrip('/')}/{layer}/{name}"

    def require_pii_key(self) -> bytes:
        if self.pii_key is None or not self.pii_key.get_secret_value():
            raise MissingSecretError(
                "CIVICLAKE_PII_KEY is not set: personal data cannot be tokenised without it. "
                "Set it in the environment (infra/secrets.sh writes one to var/secrets.env "
                "for a local machine)."
            )
        return self.pii_key.get_secret_value().encode()

    def pg_conninfo(self, database: str | None = None) -> str:
        if self.pg_password is None:
            raise MissingSecretError(
                "CIVICLAKE_PG_PASSWORD is not set: cannot connect to the source database "
                f"{self.pg_user}@{self.pg_host}:{self.pg_port}."
            )
        return (
            f"host={self.pg_host} port={self.pg_port} user={self.pg_user} "
            f"password={self.pg_password.get_secret_value()} "
            f"dbname={database or self.pg_sources_db}"
        )

    def intake_clients_text(self) -> str:
        """The intake API's ``client:channel:key`` entries as configured (commas or lines), or an
        error naming both settings when neither is set."""
        if self.intake_api_keys is not None and self.intake_api_keys.get_secret_value().strip():
            return self.intake_api_keys.get_secret_value()
        if self.intake_api_keys_file is not None:
            try:
                return self.intake_api_keys_file.read_text(encoding="utf-8")
            except OSError as error:
                raise MissingSecretError(
                    f"CIVICLAKE_INTAKE_API_KEYS_FILE={self.intake_api_keys_file}: cannot read it ({error})"
                ) from None
        raise MissingSecretError(
            "CIVICLAKE_INTAKE_API_KEYS (client:channel:key,…) and CIVICLAKE_INTAKE_API_KEYS_FILE are "
            "not set: the intake API has no client keys. Set one in the environment (infra/secrets.sh "
            "writes demo keys to var/secrets.env for a local machine)."
        )

    def pg_jdbc_url(self, database: str | None = None) -> str:
        return f"jdbc:postgresql://{self.pg_host}:{self.pg_port}/{database or self.pg_sources_db}"


def get_settings() -> Settings:
    return Settings()
