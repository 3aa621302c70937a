"""A deterministic 'llama-server' for tune tests: its decode rate depends on the variant.

Run as ``python -m tests.fakes.tune_engine <llama-server argv>``. It streams at
``BASE_RATE × (1 + k / 4) × FACTORS[i]`` tokens/s, where k is ``--spec-draft-n-max`` (0 without
``--spec-type``) and i counts the requests this process served (so the three warm runs of a
4-run bench are 0.95, 1.05, 1.00 × the variant's rate: mean exactly the rate, σ 5 %).
Speculation is counted per FaultServer's SpecProfile with ``ACCEPT[:k]`` per position.

Every start appends one JSON line ``{"k", "pid", "nvls"}`` to the file named by
FAKE_LAUNCH_LOG; a k listed in FAKE_FAIL_K (comma list) exits at start like a broken engine.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.fakes.fault_server import FaultServer, SpecProfile
from tests.fakes.openai_server import argv_value

BASE_RATE = 100.0
FACTORS = (1.00, 0.95, 1.05, 1.00)
ACCEPT = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2)


def variant_rate(k: int) -> float:
    return BASE_RATE * (1 + k / 4)


class VariantServer(FaultServer):
    """FaultServer whose rate follows FACTORS request by request."""

    def __init__(self, k: int, **kwargs):
        self.base_rate = variant_rate(k)
        spec = SpecProfile(rates=ACCEPT[:k]) if k else None
        super().__init__(timings=True, spec=spec, **kwargs)

    @property
    def rate(self) -> float:  # read while streaming; requests are served one at a time
        served = max(1, len(self.requests))
        return self.base_rate * FACTORS[(served - 1) % len(FACTORS)]

    @rate.setter
    def rate(self, value: float) -> None:  # FaultServer.__init__ sets a default: ignored
        pass

    def models(self) -> list[dict]:
        return [{"id": self.model, "object": "model"}]


def write_recipe(folder: Path, *, env: dict[str, str] | None = None, k: int = 2) -> Path:
    """A draft-model recipe (k drafts) whose engine binary is this fake; returns its path."""
    wrapper = folder / "fake-llama-server"
    repo = Path(__file__).resolve().parents[2]
    wrapper.write_text(
        f'#!/bin/sh\nPYTHONPATH="{repo}" exec "{sys.executable}" -m tests.fakes.tune_engine "$@"\n'
    )
    wrapper.chmod(0o755)
    model = {"id": "stories260k", "file": "stories260k.gguf"}
    recipe = {
        "name": "fake-draft",
        "engine": {"name": "llamacpp", "binary": str(wrapper)},
        "model": model,
        "speculative": {"method": "draft_model", "model": model, "num_speculative_tokens": k},
        "context": {"max_model_len": 512},
        "env": env or {},
        "bench": {"runs": 4, "tokens": 100, "prompt": "story"},
    }
    path = folder / "fake-draft.yaml"
    path.write_text(json.dumps(recipe))  # JSON is YAML
    return path


def launches(log: Path) -> list[dict]:
    """The launch records the fake wrote (one per engine start)."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def main(argv: list[str]) -> None:
    def value(flag: str, default: str) -> str:
        return argv_value(argv, flag, default)

    if "--version" in argv:
        print("version: 0 (fake tune engine)", flush=True)
        return
    k = int(value("--spec-draft-n-max", "0")) if "--spec-type" in argv else 0
    if os.environ.get("FAKE_LAUNCH_LOG"):
        with open(os.environ["FAKE_LAUNCH_LOG"], "a") as log:
            record = {"k": k, "pid": os.getpid(), "nvls": os.environ.get("NCCL_NVLS_ENABLE")}
            log.write(json.dumps(record) + "\n")
    failing = {int(x) for x in os.environ.get("FAKE_FAIL_K", "").split(",") if x.strip()}
    if k in failing:
        print(f"error: injected start failure for k={k}", flush=True)
        sys.exit(1)
    server = VariantServer(k, host=value("--host", "127.0.0.1"), port=int(value("--port", "8080")))
    print(f"fake tune engine k={k} listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
