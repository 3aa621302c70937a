"""Tools and agent checks against the scripted server: pass paths and each way to break."""

from __future__ import annotations

import json
import random

from servelab.checks.agent import check_agent, mentions_number
from servelab.checks.chat import ChatClient
from servelab.checks.tools import check_tools
from tests.fakes.scripted_server import ScriptedServer


def _tools(mode: str):
    with ScriptedServer(mode) as server, ChatClient(server.url, server.model) as client:
        return check_tools(client), server


def _agent(mode: str):
    with ScriptedServer(mode) as server, ChatClient(server.url, server.model) as client:
        return check_agent(client, random.Random(7)), server


def test_a_schema_valid_tool_call_passes():
    result, server = _tools("correct")
    assert result.passed, result.detail
    assert '"city": "Paris"' in result.detail
    request = server.requests[0]
    assert request["tool_choice"] == "auto"
    assert request["tools"][0]["function"]["parameters"]["properties"]["unit"]["enum"] == [
        "celsius",
        "fahrenheit",
    ]


def test_malformed_arguments_fail_with_the_raw_answer():
    result, _ = _tools("malformed")
    assert not result.passed
    assert "not valid JSON" in result.detail
    raw = result.evidence[0]["raw_arguments"]
    assert raw.startswith("{city") and not raw.endswith("}")


def test_a_text_answer_is_not_a_tool_call():
    result, _ = _tools("wrong")
    assert not result.passed
    assert result.detail.startswith("no tool call")
    assert result.evidence[0]["answer"] == "Sunny."


def test_numbers_are_matched_whole():
    assert mentions_number("It is 17 °C.", ["17"])
    assert mentions_number("That is 1,234.50 EUR", ["1234.50"])
    assert not mentions_number("It is 171 °C.", ["17"])
    assert not mentions_number("It is 17.5 °C.", ["17"])


def test_the_full_agent_loop_passes():
    result, server = _agent("correct")
    assert result.passed, result.detail
    assert [item["index"] for item in result.evidence] == [1, 2, 3, 4]
    final = server.requests[-1]["messages"]
    roles = [message["role"] for message in final]
    assert roles == ["user", "assistant", "tool", "assistant", "user", "assistant", "tool"]
    assert final[2]["tool_call_id"] == "call_1"
    temperature = json.loads(final[2]["content"])["temperature"]
    assert str(temperature) in result.evidence[1]["answer"]


def test_a_tool_loop_reports_the_step_where_it_broke():
    result, _ = _agent("tool-loop")
    assert not result.passed
    assert result.detail.startswith("broke at step 2/4 (answer from the get_weather result)")
    assert "called 'get_weather' again" in result.detail


def test_no_tool_call_breaks_at_step_one():
    result, _ = _agent("red")
    assert not result.passed
    assert result.detail.startswith("broke at step 1/4")
    assert result.evidence[0]["answer"] == "Red"


def test_an_answer_that_ignores_the_tool_result_fails():
    result, _ = _agent("forget-result")
    assert not result.passed
    assert result.detail.startswith("broke at step 2/4 (answer from the get_weather result)")
    assert "does not use the tool's result" in result.detail
    assert result.evidence[1]["tool_result"]["temperature"] == random.Random(7).randint(11, 34)
