"""Every benchmark script starts (its --help), run the way the README says: a script that cannot
import (e.g. one shadowing a standard-library module for its neighbours) fails here, not on the
day someone needs the figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The runnable benchmarks; seed.py, load.py and stack.py are their shared pieces (seed.py runs too).
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py") if p.name not in {"load.py", "stack.py"})


def test_the_benchmarks_are_listed():
    assert {"sweep.py", "notifier.py", "analytics.py", "calendar_index.py", "seed.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_benchmark_starts(script):
    done = subprocess.run(
        [sys.executable, f"bench/{script}", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
