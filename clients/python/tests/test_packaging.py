"""pyproject.toml packages everything: the wheel built from it, installed alone, imports the
wrapper, the generated stubs and the google.rpc error details next to Debian's google.protobuf."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]

IMPORTS = """
import covergate_client
from covergate.insurance.v1 import event_pb2_grpc, policy_pb2, quote_pb2_grpc
from covergate.webhooks.v1 import avata_pb2
from google.rpc import error_details_pb2, status_pb2
from buf.validate import validate_pb2
assert covergate_client.__file__.startswith(os.environ["WHEEL_TARGET"]), covergate_client.__file__
assert "reason" in error_details_pb2.BadRequest.FieldViolation.DESCRIPTOR.fields_by_name
print("ok")
"""


class WheelTest(unittest.TestCase):
    def test_wheel_installs_and_imports(self) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="covergate-py-wheel-"))
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
        src = tmp / "src"
        shutil.copytree(PACKAGE_DIR, src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        dist = tmp / "dist"
        build = subprocess.run(
            [sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_wheel({str(dist)!r})"],
            cwd=src, capture_output=True, text=True,
        )
        self.assertEqual(build.returncode, 0, build.stdout + build.stderr)
        wheels = list(dist.glob("covergate_client-*.whl"))
        self.assertEqual(len(wheels), 1, wheels)

        target = tmp / "site"
        install = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
             "--target", str(target), str(wheels[0])],
            capture_output=True, text=True,
        )
        self.assertEqual(install.returncode, 0, install.stdout + install.stderr)

        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(PYTHONPATH=str(target), WHEEL_TARGET=str(target))
        run = subprocess.run(
            [sys.executable, "-c", "import os\n" + IMPORTS], cwd=tmp, env=env, capture_output=True, text=True,
        )
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertEqual(run.stdout.strip(), "ok")


if __name__ == "__main__":
    unittest.main()
