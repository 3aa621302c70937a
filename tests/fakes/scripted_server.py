"""A scripted OpenAI-compatible chat server for the checks' tests (a thread on 127.0.0.1).

It does what the tiny real model cannot: read images, call tools, recall needles. Modes:
- ``correct``: names the colour of each image (decoded with Pillow), calls the tool the
  question asks for with valid arguments, answers from tool results, recalls the passphrase;
- ``red``: every answer is "Red" (text only, never a tool call);
- ``wrong``: names the wrong colours, answers in text instead of calling tools, forgets;
- ``malformed``: tool calls whose arguments are not valid JSON;
- ``tool-loop``: calls get_weather again and again, never answers;
- ``forget-result``: calls tools correctly, but answers without using their results;
- ``reject-images``: an error for any image part (as a server without vision does);
- ``diverge``: like ``correct``, but fixed-length texts differ from ``correct`` on the second
  prompt it sees (a lossless failure to detect).

Run as a script it poses as ``llama-server`` for launch tests: ``-c N`` above the
environment variable FAKE_MAX_CTX exits at start, as an engine out of KV memory does.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
from typing import Any

from PIL import Image

from tests.fakes.openai_server import FakeHandler, FakeServer, argv_value

MODES = (
    "correct",
    "red",
    "wrong",
    "malformed",
    "tool-loop",
    "forget-result",
    "reject-images",
    "diverge",
)
_PALETTE = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}
_WRONG = {"red": "blue", "green": "red", "blue": "yellow", "yellow": "green"}
_WORDS = ("the", "cat", "sat", "on", "a", "warm", "mat", "and", "looked", "at", "sun")


def colour_of(data_url: str) -> str:
    """The palette colour nearest to the image's first pixel."""
    png = base64.b64decode(data_url.split(",", 1)[1])
    pixel = Image.open(io.BytesIO(png)).convert("RGB").getpixel((0, 0))
    return min(
        _PALETTE,
        key=lambda name: sum((a - b) ** 2 for a, b in zip(_PALETTE[name], pixel, strict=True)),
    )


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if part.get("type") == "text")
    return content or ""


def _images_of(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]


def _tool_call(name: str, arguments: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
        ],
    }


class Script:
    """Decides each answer from the mode and the request."""

    def __init__(self, mode: str):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.fixed_prompts: list[str] = []

    def answer(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, message or error body)."""
        messages = payload.get("messages") or []
        last = messages[-1] if messages else {}
        images = _images_of(last)
        if images:
            return self._vision(images)
        if payload.get("tools"):
            return 200, self._tools(last, payload)
        text = _text_of(last)
        if payload.get("ignore_eos"):
            return 200, {"role": "assistant", "content": self._fixed(text, payload["max_tokens"])}
        needle = re.search(r"passphrase is ([a-z]+-\d+)\.", text)
        if needle and self.mode in ("correct", "diverge"):
            return 200, {"role": "assistant", "content": needle.group(1)}
        reply = "Red" if self.mode == "red" else "I do not know."
        return 200, {"role": "assistant", "content": reply}

    def _vision(self, images: list[str]) -> tuple[int, dict[str, Any]]:
        if self.mode == "reject-images":
            return 400, {"error": {"message": "image input is not supported", "code": 400}}
        if self.mode == "red":
            return 200, {"role": "assistant", "content": "Red"}
        colours = [colour_of(url) for url in images]
        if self.mode == "wrong":
            colours = [_WRONG[c] for c in colours]
        text = (
            f"{colours[0].capitalize()}."
            if len(colours) == 1
            else "The first is " + ", the second is ".join(colours) + "."
        )
        return 200, {"role": "assistant", "content": text}

    def _tools(self, last: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        if self.mode == "tool-loop":
            return _tool_call("get_weather", json.dumps({"city": "Paris"}))
        if self.mode in ("red", "wrong"):
            return {"role": "assistant", "content": "Red" if self.mode == "red" else "Sunny."}
        if last.get("role") == "tool" and self.mode == "forget-result":
            return {"role": "assistant", "content": "Done, the tool has answered."}
        if last.get("role") == "tool":
            result = json.loads(last["content"])
            if "temperature" in result:
                text = f"It is {result['temperature']} °C with {result['conditions']}."
            else:
                text = f"{result['amount']} USD is {result['result']:.2f} EUR."
            return {"role": "assistant", "content": text}
        text = _text_of(last)
        if "convert_currency" in text:
            amount = int(re.search(r"(\d+) US dollars", text).group(1))
            args = json.dumps({"amount": amount, "from_currency": "USD", "to_currency": "EUR"})
            name = "convert_currency"
        else:
            city = re.search(r"weather in (\w+)", text).group(1)
            args = json.dumps({"city": city, "unit": "celsius"})
            name = "get_weather"
        if self.mode == "malformed":
            args = args[:-1].replace('"', "", 2)  # drops a quote pair and the closing brace
        return _tool_call(name, args)

    def _fixed(self, prompt: str, tokens: int) -> str:
        if prompt not in self.fixed_prompts:
            self.fixed_prompts.append(prompt)
        seed = sum(prompt.encode())
        words = [_WORDS[(seed + i * 7) % len(_WORDS)] for i in range(tokens)]
        if self.mode == "diverge" and self.fixed_prompts.index(prompt) == 1:
            words[tokens // 2] = "DIFFERENT"
        return " ".join(words)


def _usage(payload: dict[str, Any], message: dict[str, Any]) -> dict[str, int]:
    prompt_chars = sum(len(_text_of(m)) for m in payload.get("messages") or [])
    completion = len((message.get("content") or "").split()) or 1
    if payload.get("ignore_eos"):
        completion = payload["max_tokens"]
    prompt = prompt_chars // 4 + 8
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class ScriptedHandler(FakeHandler):
    fake: ScriptedServer

    def do_GET(self) -> None:
        if not self.common_get():
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        server = self.fake
        payload = self.read_json()
        authorization = self.headers.get("Authorization")
        server.requests.append(payload)
        server.authorizations.append(authorization)
        if server.api_key and authorization != f"Bearer {server.api_key}":
            self.send_json(401, {"error": {"message": "Invalid API Key"}})
            return
        status, message = server.script.answer(payload)
        if status != 200:
            self.send_json(status, message)
            return
        finish = "tool_calls" if message.get("tool_calls") else "length"
        self.send_json(
            200,
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "model": server.model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": _usage(payload, message),
            },
        )


class ScriptedServer(FakeServer):
    """``with ScriptedServer("correct") as server:`` → ``server.url``; requests are recorded."""

    Handler = ScriptedHandler

    def __init__(
        self,
        mode: str = "correct",
        *,
        model: str = "scripted",
        max_model_len: int = 4096,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.script = Script(mode)
        self.model = model
        self.max_model_len = max_model_len
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        super().__init__(host=host, port=port)

    def models(self) -> list[dict[str, Any]]:
        return [{"id": self.model, "object": "model", "max_model_len": self.max_model_len}]


def _pose_as_llama_server(argv: list[str]) -> None:
    """``-c N --host H --port P …``: exit when N > FAKE_MAX_CTX, else serve ``correct``."""

    def value(flag: str, default: str) -> str:
        return argv_value(argv, flag, default)

    if "--version" in argv:
        print("version: 0 (fake)", flush=True)
        return
    ctx = int(value("-c", "4096"))
    limit = int(os.environ.get("FAKE_MAX_CTX", "1000000000"))
    if ctx > limit:
        print(f"llama_kv_cache: failed to allocate buffer for a context of {ctx}", flush=True)
        sys.exit(1)
    host, port = value("--host", "127.0.0.1"), int(value("--port", "8080"))
    scripted = ScriptedServer("correct", max_model_len=ctx, host=host, port=port)
    print(f"fake llama-server listening, n_ctx {ctx}", flush=True)
    scripted.serve_forever()


if __name__ == "__main__":
    _pose_as_llama_server(sys.argv[1:])
