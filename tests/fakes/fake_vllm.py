"""Fault injection: a 'vllm serve' whose KV cache fits only FAKE_CAPACITY tokens.

Above that it fails the way vLLM 0.20.2 does, printing the next estimate from FAKE_ESTIMATES
(comma list, one per launch, counted in FAKE_STATE): the real engine's estimate varies between
launches. At or below it, it serves /health, /v1/models and /version until killed.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script by path
from tests.fakes.openai_server import FakeHandler, FakeServer  # noqa: E402

args = sys.argv[1:]
length = int(args[args.index("--max-model-len") + 1])
port = int(args[args.index("--port") + 1])
state = Path(os.environ["FAKE_STATE"])
launches = int(state.read_text()) if state.exists() else 0
state.write_text(str(launches + 1))
capacity = int(os.environ["FAKE_CAPACITY"])
if length > capacity:
    estimates = [int(x) for x in os.environ["FAKE_ESTIMATES"].split(",")]
    estimate = estimates[min(launches, len(estimates) - 1)]
    needed = length * 64 / 2**20
    available = estimate * 64 / 2**20
    print(
        f"ValueError: To serve at least one request with the models's max seq len ({length}), "
        f"({needed:.2f} GiB KV cache is needed, which is larger than the available KV cache "
        f"memory ({available:.2f} GiB). Based on the available memory, the estimated maximum "
        f"model length is {estimate}. Try increasing `gpu_memory_utilization`",
        flush=True,
    )
    sys.exit(1)


class FakeVllm(FakeServer):
    """/health, /version and /v1/models with the served length, as a started vLLM answers."""

    class Handler(FakeHandler):
        def do_GET(self):
            if self.path == "/version":
                self.send_json(200, {"version": "0.0-fake"})
            elif not self.common_get():
                self.send_json(404, {})

    def models(self):
        return [{"id": "fake", "max_model_len": length}]


FakeVllm(port=port).serve_forever()
