"""The command-line scripts: `nightly --help` and a malformed day answer before any set-up."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parents[2] / "scripts"


@pytest.fixture
def bare_checkout(tmp_path):
    """The scripts alone in a folder without a venv: any set-up would create `.venv` there."""
    shutil.copytree(SCRIPTS, tmp_path / "scripts")
    return tmp_path


@pytest.mark.parametrize(
    "args, code",
    [
        (["--help"], 0),
        (["-h"], 0),
        (["2026-13-45"], 2),
        (["yesterday"], 2),
        (["2026-11-01", "more"], 2),
    ],
)
def test_nightly_answers_before_setting_up(bare_checkout, args, code):
    out = subprocess.run(
        [str(bare_checkout / "scripts" / "nightly"), *args], capture_output=True, text=True
    )
    assert out.returncode == code
    printed = out.stdout if code == 0 else out.stderr
    assert printed.splitlines()[0 if code == 0 else 1] == "usage: ./scripts/nightly [DAY]"
    if code:
        assert printed.startswith("nightly: not a day")
    assert not (bare_checkout / ".venv").exists()
