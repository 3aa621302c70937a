"""Agent check: the full tool loop twice in one conversation; reports the step that broke."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from servelab.checks.chat import ChatClient, ChatReply
from servelab.checks.tools import (
    ANSWER_TOKENS,
    CURRENCY_TOOL,
    WEATHER_QUESTION,
    WEATHER_TOOL,
    ToolCall,
    parse_tool_call,
    reply_evidence,
)
from servelab.records import CheckResult

CURRENCY_AMOUNT = 250
CURRENCY_QUESTION = (
    f"Thanks. Now convert {CURRENCY_AMOUNT} US dollars (USD) to euros (EUR). "
    "Use the convert_currency tool."
)
STEPS = 4


def mentions_number(answer: str, forms: list[str]) -> bool:
    """True when the answer contains one of the number's written forms as a whole number."""
    text = answer.replace(",", "")
    return any(re.search(rf"(?<![\d.]){re.escape(form)}(?!\d|\.\d)", text) for form in forms)


def _assistant_turn(reply: ChatReply) -> dict[str, Any]:
    message = reply.message
    return {
        "role": "assistant",
        "content": message.get("content"),
        "tool_calls": message.get("tool_calls"),
    }


def _tool_turn(call: ToolCall, result: dict[str, Any]) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call.id or call.name, "content": json.dumps(result)}


class _Conversation:
    """Messages so far, the requests' fixed fields, and the evidence of each step."""

    def __init__(self, client: ChatClient):
        self.client = client
        self.messages: list[dict[str, Any]] = []
        self.evidence: list[dict[str, Any]] = []

    def send(self) -> ChatReply:
        return self.client.chat(
            self.messages,
            tools=[WEATHER_TOOL, CURRENCY_TOOL],
            tool_choice="auto",
            temperature=0,
            max_tokens=ANSWER_TOKENS,
        )

    def broke(self, step: int, what: str, problem: str) -> CheckResult:
        return CheckResult(
            name="agent",
            passed=False,
            evidence=self.evidence,
            detail=f"broke at step {step}/{STEPS} ({what}): {problem}",
        )


def _tool_step(convo: _Conversation, step: int, tool: dict[str, Any]) -> ToolCall | CheckResult:
    what = f"call {tool['function']['name']}"
    reply = convo.send()
    call = parse_tool_call(reply, tool)
    convo.evidence.append({"index": step, **reply_evidence(what, reply, call)})
    if call.problem:
        return convo.broke(step, what, call.problem)
    convo.messages.append(_assistant_turn(reply))
    return call


def _answer_step(
    convo: _Conversation, step: int, call: ToolCall, result: dict[str, Any], forms: list[str]
) -> CheckResult | None:
    what = f"answer from the {call.name} result"
    convo.messages.append(_tool_turn(call, result))
    reply = convo.send()
    convo.evidence.append({"index": step, "tool_result": result, **reply_evidence(what, reply)})
    if not reply.ok:
        return convo.broke(step, what, f"the server refused the request ({reply.error})")
    if reply.tool_calls and not reply.content:
        name = (reply.tool_calls[0].get("function") or {}).get("name")
        return convo.broke(step, what, f"called {name!r} again instead of answering")
    if not mentions_number(reply.content, forms):
        return convo.broke(step, what, f"the answer does not use the tool's result {forms[0]}")
    convo.messages.append({"role": "assistant", "content": reply.content})
    return None


def check_agent(client: ChatClient, rng: random.Random | None = None) -> CheckResult:
    """Weather: call → result → answer; then currency in the same conversation."""
    rng = rng or random.Random()
    convo = _Conversation(client)
    convo.messages.append({"role": "user", "content": WEATHER_QUESTION})
    call = _tool_step(convo, 1, WEATHER_TOOL)
    if isinstance(call, CheckResult):
        return call
    temperature = rng.randint(11, 34)
    weather = {
        "city": call.arguments.get("city"),
        "temperature": temperature,
        "unit": "celsius",
        "conditions": "light rain",
    }
    broke = _answer_step(convo, 2, call, weather, [str(temperature)])
    if broke:
        return broke
    convo.messages.append({"role": "user", "content": CURRENCY_QUESTION})
    call = _tool_step(convo, 3, CURRENCY_TOOL)
    if isinstance(call, CheckResult):
        return call
    if call.arguments.get("amount") != CURRENCY_AMOUNT:
        return convo.broke(
            3,
            "call convert_currency",
            f"amount is {call.arguments.get('amount')!r}, asked {CURRENCY_AMOUNT}",
        )
    converted = round(rng.uniform(200, 240), 2)
    result = {**call.arguments, "result": converted}
    forms = [f"{converted:.2f}", f"{converted:.1f}", str(round(converted))]
    broke = _answer_step(convo, 4, call, result, forms)
    if broke:
        return broke
    return CheckResult(
        name="agent",
        passed=True,
        evidence=convo.evidence,
        detail=f"{STEPS} of {STEPS} steps: get_weather → answer used {temperature}; "
        f"convert_currency → answer used {converted:.2f}",
    )
