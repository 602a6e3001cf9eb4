"""What the dbt project is told about the Spark session of its spark target."""

import pytest

from civiclake import marts
from civiclake.settings import Settings

MODE = "CIVICLAKE_SPARK_CODEGEN_FACTORY_MODE"


@pytest.mark.parametrize(
    ("master", "interpreted", "mode"),
    [
        ("local[2]", True, "NO_CODEGEN"),  # as the lake's jobs run locally
        ("local[2]", False, "FALLBACK"),  # CIVICLAKE_SPARK_INTERPRETED=false: Spark's generated code
        ("spark://127.0.0.1:7077", True, "FALLBACK"),  # a cluster keeps generated code
    ],
)
def test_the_spark_target_evaluates_expressions_as_the_jobs_do(tmp_path, master, interpreted, mode):
    settings = Settings(data_dir=tmp_path, spark_master=master, spark_interpreted=interpreted)
    assert marts.dbt_environment(settings)[MODE] == mode


def test_the_profile_reads_the_mode():
    profile = (marts.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    assert f"spark.sql.codegen.factoryMode: \"{{{{ env_var('{MODE}', 'FALLBACK') }}}}\"" in profile
