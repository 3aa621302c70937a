"""The truth server (benchmarks/truthserver) as a fixture-friendly context manager."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "benchmarks" / "truthserver"


class TruthServer:
    """A zero-compute streaming server with a known TTFT and per-stream rate."""

    def __init__(self, rate: float, ttft: float) -> None:
        self.rate, self.ttft = rate, ttft
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> TruthServer:
        argv = [sys.executable, str(SERVER), "--port", "0"]
        argv += ["--rate", str(self.rate), "--ttft", str(self.ttft)]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if "listening on " not in line:
            self.process.kill()
            raise RuntimeError(f"truth server did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1].strip()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
