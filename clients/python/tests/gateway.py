"""Test harness: a real ``covergate serve`` (embedded partner sandboxes, a fresh SQLite file,
random ports) for the duration of a test class. The binary is bin/covergate at the repository
root (``make build``), or $COVERGATE_BIN."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

# Upper bound for start-up, only so that a broken binary fails the run instead of hanging it.
START_LIMIT_S = 60.0


class Gateway:
    def __init__(self) -> None:
        binary = Path(os.environ.get("COVERGATE_BIN", REPO_ROOT / "bin" / "covergate"))
        if not binary.exists():
            raise RuntimeError(f"gateway binary {binary} not found: run 'make build' (or set COVERGATE_BIN)")
        self.token = f"py-client-{uuid.uuid4()}"
        self._dir = Path(tempfile.mkdtemp(prefix="covergate-py-client-"))
        # The gateway logs to a file rather than a pipe: nobody has to keep draining it.
        self._log_path = self._dir / "gateway.log"
        self._log = open(self._log_path, "wb")
        # Drop the caller's COVERGATE_* settings so a developer's environment cannot change the test.
        env = {k: v for k, v in os.environ.items() if not k.startswith("COVERGATE_")}
        self._proc = subprocess.Popen(
            [
                str(binary), "serve",
                "--grpc-addr", "127.0.0.1:0",
                "--http-addr", "127.0.0.1:0",
                "--database", f"sqlite:{self._dir / 'covergate.db'}",
                "--partners", "sandbox",
                "--api-keys", f"{self.token}:*",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env=env,
        )
        try:
            self.grpc_target, http = self._wait_for_serving()
            self.http_base_url = f"http://{http}"
            self._wait_for_ready()
        except BaseException:
            self.stop()
            raise

    def logs(self) -> str:
        return self._log_path.read_text(errors="replace")

    def _wait_for_serving(self) -> tuple[str, str]:
        deadline = time.monotonic() + START_LIMIT_S
        while time.monotonic() < deadline:
            for line in self.logs().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "covergate serving":
                    return rec["grpc"], rec["http"]
            if self._proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self._proc.returncode} before serving:\n{self.logs()}")
            time.sleep(0.05)
        raise RuntimeError(f"gateway did not report its ports in {START_LIMIT_S}s:\n{self.logs()}")

    def _wait_for_ready(self) -> None:
        deadline = time.monotonic() + START_LIMIT_S
        while time.monotonic() < deadline and self._proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.http_base_url}/readyz", timeout=5) as res:
                    if res.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass  # not ready yet
            time.sleep(0.05)
        raise RuntimeError(f"gateway at {self.http_base_url} never became ready:\n{self.logs()}")

    def stop(self) -> None:
        """SIGTERM, wait for exit, remove the database."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def hex_digits(n: int) -> str:
    """0x followed by n random hex digits."""
    digits = ""
    while len(digits) < n:
        digits += uuid.uuid4().hex
    return "0x" + digits[:n]
