"""The layering of DESIGN.md holds as import-linter contracts (pyproject.toml), and each
contract fails when code breaks it: a copy of the packages with one forbidden import per
contract is checked with the project's own configuration."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("civiclake", "simulators", "spark_jobs", "dashboards", "models", "quality")

# contract name → (module file that gains the import, the forbidden import)
BREACHES = {
    "The core imports no layer above it (only the CLI, an entry point, reaches up)": (
        "civiclake/geography.py",
        "import spark_jobs.score_cases",
    ),
    "Nothing imports the CLI": ("civiclake/settings.py", "import civiclake.cli"),
    "Jobs and dashboards above models and quality": (
        "models/case_classifier/pipeline.py",
        "import dashboards.boundaries",
    ),
    "The production path never imports a simulator": ("quality/gate.py", "import simulators.people"),
    "Simulators use the core only (contracts, geography, settings)": (
        "simulators/people.py",
        "import quality.gate",
    ),
    "No job imports another job": ("spark_jobs/score_cases.py", "import spark_jobs.train_classifier"),
    "No import cycles between sibling modules": ("civiclake/geography.py", "import civiclake.brief.compose"),
}


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    # The copy comes first on the path, ahead of the editable install's finder.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def contract_lines(output: str) -> dict[str, str]:
    """Contract name → KEPT or BROKEN, from the summary lines of lint-imports."""
    verdicts = {}
    for line in output.splitlines():
        for verdict in ("KEPT", "BROKEN"):
            if f" {verdict}" in line:
                name = line.split(f" {verdict}")[0].strip()
                if name in BREACHES:
                    verdicts[name] = verdict
    return verdicts


def copy_packages(tree: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "reference")
        )


def test_every_contract_breaks_on_its_forbidden_import(tmp_path):
    copy_packages(tmp_path)
    for path, statement in BREACHES.values():
        with (tmp_path / path).open("a", encoding="utf-8") as module:
            module.write(f"\n{statement}  # a forbidden import\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    verdicts = contract_lines(result.stdout)
    assert verdicts == dict.fromkeys(BREACHES, "BROKEN"), result.stdout[-4000:]
    for path, statement in BREACHES.values():
        importer = path.removesuffix(".py").replace("/", ".")
        assert importer in result.stdout, f"{importer} ({statement}) not reported"


def test_the_untouched_copy_keeps_every_contract(tmp_path):
    copy_packages(tmp_path)
    result = lint_imports(tmp_path)
    assert contract_lines(result.stdout) == dict.fromkeys(BREACHES, "KEPT"), result.stdout[-4000:]
    assert result.returncode == 0
