"""README.md's layout table names every folder of the tree, and only folders that exist:
each top-level folder and each package of the core (civiclake/<package>/)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tracked_folders() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    folders = set()
    for name in files:
        parts = name.split("/")
        if len(parts) > 1 and not parts[0].startswith("."):
            folders.add(f"{parts[0]}/")
        if (
            parts[0] == "civiclake"
            and len(parts) > 2
            and (ROOT / "civiclake" / parts[1] / "__init__.py").exists()
        ):
            folders.add(f"civiclake/{parts[1]}/")
    return folders


def readme_layout_rows() -> set[str]:
    """First cells of the layout table: rows like ``| `civiclake/lake/` | … |``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([\w./-]+/)` \|", text, flags=re.MULTILINE))


def test_the_layout_table_matches_the_tree():
    rows, folders = readme_layout_rows(), tracked_folders()
    assert not rows - folders, f"README names folders that do not exist: {sorted(rows - folders)}"
    assert not folders - rows, f"README's layout table misses: {sorted(folders - rows)}"
