"""The linters the style guide asks for, run with the suite so that CI keeps them clean: ruff's rules
(pyproject.toml: B, ASYNC, DTZ, I, …) over the repository, and mypy over the four packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing_in_the_packages() -> None:
    result = _run("mypy", "--cache-dir", "/dev/null", "core", "bot", "adapters", "scheduler")
    assert result.returncode == 0, result.stdout + result.stderr
