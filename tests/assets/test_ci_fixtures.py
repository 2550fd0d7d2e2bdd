"""Missing real data (issue 13): a test that needs it skips on a developer's machine and fails in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2]  # the project root, holding the tests package


@pytest.mark.parametrize(("ci", "code", "outcome"), [("true", 1, "1 failed"), (None, 0, "1 skipped")])
def test_missing_fixtures_fail_in_ci_and_skip_elsewhere(tmp_path, ci, code, outcome):
    (tmp_path / "test_needs_data.py").write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\nfrom tests.support.common import fixture_path\n\n"
        "def test_reads_real_data():\n    fixture_path('results', 'sympy-v1')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["DATASMITH_FIXTURES"] = str(tmp_path / "no-fixtures-here")
    if ci:
        env["CI"] = ci
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", "test_needs_data.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == code, run.stdout + run.stderr
    assert outcome in run.stdout
    assert (
        f"real fixture data not found at {tmp_path / 'no-fixtures-here' / 'results' / 'sympy-v1'}"
        in run.stdout
    )
    assert ("DATASMITH_FIXTURES" in run.stdout) and (("CI=true" in run.stdout) == bool(ci))
