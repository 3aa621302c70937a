"""A small non-streaming OpenAI-compatible chat client for the checks (answers, not timings)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from servelab.endpoint import auth_headers, model_entries, served_context


@dataclass
class ChatReply:
    """One chat completion: the message, usage, or why the server refused it."""

    status: int | None
    body: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> dict[str, Any]:
        choices = self.body.get("choices") or [{}]
        return choices[0].get("message") or {}

    @property
    def content(self) -> str:
        """The answer text (falls back to reasoning text when the content is empty)."""
        message = self.message
        return message.get("content") or message.get("reasoning_content") or ""

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return self.message.get("tool_calls") or []

    @property
    def usage(self) -> dict[str, Any]:
        return self.body.get("usage") or {}


class ChatClient:
    """Posts chat completions to ``{base_url}/v1/chat/completions``.

    The API key is sent as a bearer token and never appears in replies or errors.
    """

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 600.0
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._http = httpx.Client(
            base_url=self.base_url, headers=auth_headers(api_key), timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chat(self, messages: list[dict[str, Any]], **fields: Any) -> ChatReply:
        """One request; HTTP errors, error bodies and bad JSON become ``ChatReply.error``."""
        payload = {"model": self.model, "messages": messages, "stream": False, **fields}
        try:
            response = self._http.post("/v1/chat/completions", json=payload)
        except httpx.HTTPError as exc:
            return ChatReply(None, error=f"request failed: {type(exc).__name__}: {exc}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            return ChatReply(response.status_code, error=_error_text(response, body))
        if body.get("error"):
            return ChatReply(response.status_code, body, error=_error_text(response, body))
        if not body.get("choices"):
            return ChatReply(response.status_code, body, error="the reply has no choices")
        return ChatReply(response.status_code, body)

    def served_max_len(self) -> int | None:
        """The context length the model list reports for this model, if it reports one."""
        try:
            return served_context(model_entries(self._http), self.model)
        except httpx.HTTPError:
            return None

    def first_model(self) -> str | None:
        """The first model id the server lists (used when none was given)."""
        try:
            entries = model_entries(self._http)
        except httpx.HTTPError:
            return None
        return entries[0].get("id") if entries else None


def _error_text(response: httpx.Response, body: Any) -> str:
    """``HTTP 500: <the server's message>`` in one line."""
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or body.get("message") or body.get("detail")
    if message is None:
        message = response.text.strip()[:300] or response.reason_phrase
    if not isinstance(message, str):
        message = json.dumps(message)[:300]
    return f"HTTP {response.status_code}: {' '.join(message.split())[:300]}"
