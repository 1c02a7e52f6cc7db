"""The console page's pure scripts (``ari_app/screenpop/static``) under Node's own test runner
(``tests/unit/js/*.test.mjs``): which call pops and for how long, the socket's numbering."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_the_console_scripts_pure_parts() -> None:
    assert NODE is not None
    tests = sorted(str(p) for p in (ROOT / "tests" / "unit" / "js").glob("*.test.mjs"))
    assert tests, "no script tests found"
    done = subprocess.run([NODE, "--test", *tests], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout
