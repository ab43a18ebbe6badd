"""The import contract in pyproject.toml holds for the tree, and breaks when a layer is crossed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _not_python(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if not name.endswith(".py") and not Path(folder, name).is_dir()]


def _copy_packages(target: Path) -> None:
    """The Python files of every root package the contract names, and the contract itself."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for package in config["tool"]["importlinter"]["root_packages"]:
        shutil.copytree(ROOT / package, target / package, ignore=_not_python)
    shutil.copy(ROOT / "pyproject.toml", target)


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _copy_packages(tmp_path)
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("chat/services.py", "import simulator.world", "The product never imports"),
        ("inventory/selectors.py", "import harness.stack", "The product never imports"),
        ("travelbot/outbox.py", "import knowledge.models", "The travelbot platform never imports"),
        ("harness/stack.py", "import tests.factories", "Tests and benchmarks stand on the harness"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, module: str, forbidden: str, contract: str
) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{forbidden}  # crossing a layer\n")
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert f"{contract}" in result.stdout
    assert "BROKEN" in result.stdout
