"""Tool-calling check: one OpenAI `tools` schema; the call's JSON arguments must validate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from servelab.checks.chat import ChatClient, ChatReply
from servelab.records import CheckResult

ANSWER_TOKENS = 512

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris."},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}

CURRENCY_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "convert_currency",
        "description": "Convert an amount of money from one currency to another.",
        "parameters": {
            "type": "object",
            "properties": {
                "amount": {"type": "number"},
                "from_currency": {"type": "string", "description": "ISO code, e.g. USD."},
                "to_currency": {"type": "string", "description": "ISO code, e.g. EUR."},
            },
            "required": ["amount", "from_currency", "to_currency"],
            "additionalProperties": False,
        },
    },
}

WEATHER_QUESTION = "What is the weather in Paris right now, in celsius? Use the get_weather tool."


@dataclass
class ToolCall:
    """A validated tool call, or why the reply is not one."""

    id: str | None = None
    name: str | None = None
    arguments: dict[str, Any] | None = None
    raw_arguments: str | None = None
    problem: str | None = None


def parse_tool_call(reply: ChatReply, tool: dict[str, Any]) -> ToolCall:
    """The reply's first call of ``tool``, with its arguments checked against the schema."""
    expected = tool["function"]["name"]
    if not reply.ok:
        return ToolCall(problem=f"the server refused the request ({reply.error})")
    calls = reply.tool_calls
    if not calls:
        return ToolCall(
            problem=f"no tool call; the model answered in text instead of calling {expected}"
        )
    function = calls[0].get("function") or {}
    call = ToolCall(id=calls[0].get("id"), name=function.get("name"))
    raw = function.get("arguments")
    call.raw_arguments = raw if isinstance(raw, str) else json.dumps(raw)
    if call.name != expected:
        call.problem = f"called {call.name!r} instead of {expected!r}"
        return call
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        call.problem = f"the arguments are not valid JSON ({exc.msg} at char {exc.pos})"
        return call
    if not isinstance(arguments, dict):
        call.problem = f"the arguments are not a JSON object (got {type(arguments).__name__})"
        return call
    try:
        jsonschema.validate(arguments, tool["function"]["parameters"])
    except jsonschema.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(arguments)"
        call.problem = f"the arguments do not match the schema at {where}: {exc.message}"
        return call
    call.arguments = arguments
    return call


def reply_evidence(step: str, reply: ChatReply, call: ToolCall | None = None) -> dict[str, Any]:
    """What the model answered at one step (text, tool calls, raw arguments, error)."""
    item: dict[str, Any] = {"step": step, "answer": reply.content or None}
    if reply.tool_calls:
        item["tool_calls"] = reply.tool_calls
    if call is not None and call.raw_arguments is not None:
        item["raw_arguments"] = call.raw_arguments
    if reply.error:
        item["error"] = reply.error
    return item


def check_tools(client: ChatClient) -> CheckResult:
    """Ask for the weather with ``tool_choice: auto``; pass on a schema-valid get_weather call."""
    reply = client.chat(
        [{"role": "user", "content": WEATHER_QUESTION}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        temperature=0,
        max_tokens=ANSWER_TOKENS,
    )
    call = parse_tool_call(reply, WEATHER_TOOL)
    evidence = [reply_evidence("tool call", reply, call)]
    if call.problem is None and "paris" not in str(call.arguments.get("city", "")).lower():
        call.problem = f"city is {call.arguments.get('city')!r}, the question asked for Paris"
    if call.problem:
        return CheckResult(name="tools", passed=False, detail=call.problem, evidence=evidence)
    return CheckResult(
        name="tools",
        passed=True,
        evidence=evidence,
        detail=f"get_weather called with schema-valid arguments {json.dumps(call.arguments)}",
    )
