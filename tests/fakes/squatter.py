"""Someone else's OpenAI-compatible server: answers /health and /v1/models (issue 17).

``python -m tests.fakes.squatter PORT`` serves in its own process (prints ``listening PORT`` once
bound); ``Squatter(key=...)`` in a thread answers 401 to /v1/models without that bearer key.
"""

from __future__ import annotations

import sys
from typing import Any

from tests.fakes.openai_server import FakeHandler, FakeServer


class _Handler(FakeHandler):
    def do_GET(self) -> None:
        key = self.fake.key
        if key and self.path != "/health" and self.headers.get("Authorization") != f"Bearer {key}":
            self.send_json(401, {"error": {"code": 401, "message": "Invalid API Key"}})
        elif not self.common_get():
            self.send_json(404, {"error": {"code": 404, "message": "File Not Found"}})


class Squatter(FakeServer):
    """A server that is not the one servelab started."""

    Handler = _Handler

    def __init__(self, *, port: int = 0, key: str | None = None):
        super().__init__(port=port)
        self.key = key

    def models(self) -> list[dict[str, Any]]:
        return [{"id": "someone-else", "object": "model"}]


if __name__ == "__main__":
    server = Squatter(port=int(sys.argv[1]))
    print(f"listening {server.url.rsplit(':', 1)[1]}", flush=True)
    server.serve_forever()
