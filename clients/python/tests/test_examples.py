"""Runs the README's copy-paste example (examples/quickstart.py) against a live gateway, so the
documentation cannot drift from what works."""

from __future__ import annotations

import os
import subprocess
import sys
import unittest
from pathlib import Path

from .gateway import Gateway

PACKAGE_DIR = Path(__file__).resolve().parents[1]
README = PACKAGE_DIR.parents[1] / "README.md"


class QuickstartTest(unittest.TestCase):
    def test_quickstart_runs_end_to_end(self) -> None:
        gateway = Gateway()
        self.addCleanup(gateway.stop)
        env = dict(os.environ, COVERGATE_GRPC_TARGET=gateway.grpc_target, COVERGATE_TOKEN=gateway.token)
        res = subprocess.run(
            [sys.executable, str(PACKAGE_DIR / "examples" / "quickstart.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(res.returncode, 0, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        self.assertRegex(res.stdout, r"(?m)^quote [0-9a-f-]{36}: premium [0-9.]+ ETH$")
        self.assertRegex(res.stdout, r"(?m)^policy [0-9a-f-]{36}: POLICY_STATUS_[A-Z]+$")
        self.assertRegex(res.stdout, r"(?m)^VALIDATION_FAILED: policy_id STRING_UUID \(.+\)$")
        self.assertRegex(res.stdout, r"(?m)^[1-9][0-9]* event\(s\) listed$")
        self.assertRegex(res.stdout, r"(?m)^watched event [0-9]+: [a-z_.]+$")

    def test_readme_shows_quickstart_verbatim(self) -> None:
        example = (PACKAGE_DIR / "examples" / "quickstart.py").read_text()
        # assertTrue, not assertIn: a failure should not print the whole README.
        self.assertTrue(
            ("```python\n" + example + "```") in README.read_text(),
            "README.md must contain clients/python/examples/quickstart.py verbatim in a ```python block",
        )


if __name__ == "__main__":
    unittest.main()
