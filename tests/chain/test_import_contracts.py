"""The dependency direction (pyproject.toml, [tool.importlinter]) holds, and each kind of contract
breaks on the import it forbids: a copy of the code with one forbidden import fails lint-imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = str(Path(sys.executable).parent / "lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    # the copy goes first on the path: grimp finds its packages there, not the installed ones
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [LINT, "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_code_keeps_every_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # an earlier stage importing a later one (the layers contract)
        ("jobrec/retrieval/stage.py", "from jobrec import rerank", "stages in chain order"),
        # a stage reaching into another stage's module instead of its package
        (
            "jobrec/redistribution/stage.py",
            "from jobrec.rerank.stage import top_of",
            "jobrec.rerank's modules",
        ),
        # production code importing the synthetic generator
        ("jobrec/evaluation/oracle.py", "import jobrec.synth.oracle", "synthetic generator"),
        # assets importing orchestration (the cycle the layout removed)
        ("assets/common.py", "import orchestration.definitions", "stages in chain order"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, broken):
    for package in ("jobrec", "assets", "orchestration"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "1 broken" in result.stdout
    broken_section = result.stdout.split("Broken contracts")[-1]
    assert broken in broken_section, result.stdout
