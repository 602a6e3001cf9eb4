"""What the dbt project is told about the Spark session of its spark target."""

import pytest

from civiclake import marts
from civiclake.settings import Settings
from civiclake.spark import ADAPTIVE_EXECUTION, CODEGEN_FACTORY_MODE, spark_session

MODE = "CIVICLAKE_SPARK_CODEGEN_FACTORY_MODE"
ADAPTIVE = "CIVICLAKE_SPARK_ADAPTIVE_EXECUTION"
CLUSTER = "spark://127.0.0.1:7077"


@pytest.mark.parametrize(
    ("master", "setting", "variable", "expected"),
    [
        # Expressions: interpreted as the lake's jobs run locally; a cluster keeps generated
        # code; CIVICLAKE_SPARK_INTERPRETED decides for either.
        ("local[2]", {}, MODE, "NO_CODEGEN"),
        ("local[2]", {"spark_interpreted": False}, MODE, "FALLBACK"),
        (CLUSTER, {}, MODE, "FALLBACK"),
        (CLUSTER, {"spark_interpreted": True}, MODE, "NO_CODEGEN"),
        # Planning: once per query locally; a cluster keeps adaptive execution;
        # CIVICLAKE_SPARK_ADAPTIVE decides for either.
        ("local[2]", {}, ADAPTIVE, "false"),
        ("local[2]", {"spark_adaptive": True}, ADAPTIVE, "true"),
        (CLUSTER, {}, ADAPTIVE, "true"),
        (CLUSTER, {"spark_adaptive": False}, ADAPTIVE, "false"),
    ],
)
def test_the_spark_target_runs_queries_as_the_jobs_do(tmp_path, master, setting, variable, expected):
    settings = Settings(data_dir=tmp_path, spark_master=master, **setting)
    assert marts.dbt_environment(settings)[variable] == expected


@pytest.mark.parametrize(
    ("variable", "conf", "default"),
    [(MODE, CODEGEN_FACTORY_MODE, "FALLBACK"), (ADAPTIVE, ADAPTIVE_EXECUTION, "true")],
)
def test_the_profile_reads_each_setting(variable, conf, default):
    profile = (marts.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    assert f"{conf}: \"{{{{ env_var('{variable}', '{default}') }}}}\"" in profile


class _Recording:
    """Stands in for ``SparkSession.builder``: records what the session is configured with."""

    def __init__(self):
        self.conf: dict[str, str] = {}

    def appName(self, name):
        return self

    def master(self, master):
        self.conf["master"] = master
        return self

    def config(self, key, value):
        self.conf[key] = value
        return self

    def getOrCreate(self):
        raise _Built(self.conf)


class _Built(Exception):
    def __init__(self, conf):
        self.conf = conf


@pytest.mark.parametrize(
    ("master", "adaptive", "expected"),
    [
        ("local[2]", None, "false"),
        ("local[2]", True, None),
        (CLUSTER, None, None),
        (CLUSTER, False, "false"),
    ],
)
def test_the_jobs_session_plans_adaptively_only_where_it_pays(
    tmp_path, monkeypatch, master, adaptive, expected
):
    from pyspark.sql import SparkSession

    (tmp_path / "jars").mkdir()
    (tmp_path / "jars" / "delta-spark_2.13-4.0.1.jar").touch()
    monkeypatch.setattr(SparkSession, "builder", _Recording())
    settings = Settings(
        data_dir=tmp_path, jars_dir=tmp_path / "jars", spark_master=master, spark_adaptive=adaptive
    )
    with pytest.raises(_Built) as built:
        spark_session(settings, "plan")
    assert built.value.conf.get(ADAPTIVE_EXECUTION) == expected
