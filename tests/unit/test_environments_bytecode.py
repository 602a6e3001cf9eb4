"""Each environment's packages are compiled to bytecode when infra/lib.sh builds it: where
PYTHONDONTWRITEBYTECODE is set, nothing else would write it, and every process would compile
what it imports again (bench/bench_bytecode.py)."""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from civiclake.settings import PROJECT_ROOT

LIB = PROJECT_ROOT / "infra" / "lib.sh"
# A module each environment imports in every process of its kind.
IMPORTED_FIRST = {
    "core": "great_expectations/__init__.py",
    "airflow": "airflow/__init__.py",
    "superset": "superset/__init__.py",
}


def valid_bytecode(source: Path) -> bool:
    """Whether the bytecode Python would load for ``source`` exists and is current: this
    interpreter's magic number, and the source's modification time and size in its header."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    if not cached.is_file():
        return False
    header = cached.read_bytes()[:16]
    flags, mtime, size = struct.unpack("<III", header[4:16])
    stat = source.stat()
    return (
        header[:4] == importlib.util.MAGIC_NUMBER
        and flags == 0
        and mtime == int(stat.st_mtime) & 0xFFFFFFFF
        and size == stat.st_size & 0xFFFFFFFF
    )


def compile_packages(*folders: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f'source "{LIB}" && compile_packages "$@"', "_", sys.executable, *map(str, folders)],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"},
        timeout=120,
    )


def test_compile_packages_writes_bytecode_despite_the_environment_and_passes_over_broken_files(tmp_path):
    package = tmp_path / "site-packages" / "pkg"
    (package / "sub").mkdir(parents=True)
    modules = [package / "__init__.py", package / "sub" / "mod.py"]
    modules[0].write_text("VALUE = 1\n")
    modules[1].write_text("def f():\n    return 2\n")
    broken = package / "python2_example.py"
    broken.write_text("print 'hello'\n")
    assert not any(valid_bytecode(m) for m in modules)

    done = compile_packages(tmp_path / "site-packages")

    assert done.returncode == 0, done.stderr
    assert all(valid_bytecode(m) for m in modules)
    assert not valid_bytecode(broken)
    assert done.stdout == done.stderr == ""


@pytest.mark.parametrize("environment", sorted(IMPORTED_FIRST))
def test_each_built_environment_holds_current_bytecode_of_what_it_imports_first(environment):
    venv = PROJECT_ROOT / ".venvs" / environment
    found = sorted(venv.glob(f"lib/python3*/site-packages/{IMPORTED_FIRST[environment]}"))
    if not found:
        pytest.skip(
            f"no {environment} environment with {IMPORTED_FIRST[environment]}: run `bash infra/setup.sh`"
        )
    assert valid_bytecode(found[0]), (
        f"{found[0]} has no current bytecode: infra/lib.sh did not compile {venv}"
    )
