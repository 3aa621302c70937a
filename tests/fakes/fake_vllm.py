"""Fault injection: a 'vllm serve' whose KV cache fits only FAKE_CAPACITY tokens.

Above that it fails the way vLLM 0.20.2 does, printing the next estimate from FAKE_ESTIMATES
(comma list, one per launch, counted in FAKE_STATE): the real engine's estimate varies between
launches. At or below it, it serves /health, /v1/models and /version until killed.
"""

import http.server
import json
import os
import sys
from pathlib import Path

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


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {
            "/health": {},
            "/version": {"version": "0.0-fake"},
            "/v1/models": {"data": [{"id": "fake", "max_model_len": length}]},
        }.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(json.dumps(body or {}).encode())

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
