"""The plumbing every fake OpenAI-compatible server shares: a real HTTP server in a thread (or in
the foreground, posing as an engine on the host/port its argv names), JSON replies, routes.

A fake subclasses ``FakeServer`` and gives a ``Handler`` (a ``FakeHandler``); the handler reaches
its server as ``self.fake``. ``GET /health`` and ``GET /v1/models`` are answered here when the
server lists models (``models()`` returns entries); everything else is the fake's own.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


def argv_value(argv: list[str], flag: str, default: str) -> str:
    """The value after ``flag`` in an engine's argv (``--port 8080``), else ``default``."""
    return argv[argv.index(flag) + 1] if flag in argv else default


class FakeHandler(BaseHTTPRequestHandler):
    """Quiet, JSON-speaking request handler; ``fake`` is the server it belongs to."""

    fake: Any

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def send_json(self, status: int, body: dict[str, Any] | bytes, content_type: str = "") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def common_get(self) -> bool:
        """Answer /health and (when the fake lists models) /v1/models; False for other paths."""
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
            return True
        models = self.fake.models()
        if self.path == "/v1/models" and models is not None:
            self.send_json(200, {"object": "list", "data": models})
            return True
        return False


class FakeServer:
    """``with Fake(...) as server: server.url`` — on 127.0.0.1 and a free port unless told."""

    Handler: ClassVar[type[FakeHandler]] = FakeHandler

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0):
        handler = type("BoundHandler", (self.Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def models(self) -> list[dict[str, Any]] | None:
        """The /v1/models entries; None: no such route (404)."""
        return None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the foreground (a fake engine's main loop)."""
        self._httpd.serve_forever()
