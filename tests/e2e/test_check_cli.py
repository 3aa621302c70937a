"""`servelab check` end to end: JSON contract, exit codes, storage, API key, real engine."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from servelab.recipe import load_recipe
from servelab.store import Store
from tests.fakes.scripted_server import ScriptedServer

SCHEMA = json.loads((resources.files("servelab") / "schemas" / "check.json").read_text())


def test_endpoint_checks_pass_match_the_contract_and_are_stored(run_cli, tmp_path):
    db = tmp_path / "results.db"
    with ScriptedServer("correct", max_model_len=2048) as server:
        done = run_cli(
            "check",
            "--endpoint",
            server.url,
            "--only",
            "vision,tools,agent,context",
            "--json",
            "-",
            "--db",
            str(db),
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert [check["name"] for check in report["checks"]] == ["vision", "tools", "agent", "context"]
    assert all(check["passed"] for check in report["checks"])
    assert report["model"] == "scripted"
    host_port = server.url.split("://", 1)[1].rstrip("/")
    with Store(str(db)) as store:  # stored under the model id and the server's host:port
        stored = {check.name: check for check in store.checks(f"scripted ({host_port})")}
    assert set(stored) == {"vision", "tools", "agent", "context"}
    assert stored["vision"].evidence[0]["answer"] == "Red."


def test_a_failed_check_exits_1_with_one_line(run_cli, tmp_path):
    with ScriptedServer("red") as server:
        done = run_cli(
            "check",
            "--endpoint",
            server.url,
            "--only",
            "vision",
            "--json",
            str(tmp_path / "out.json"),
            "--no-store",
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "servelab: 1 of 1 checks failed: vision"
    report = json.loads((tmp_path / "out.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["checks"][0]["passed"] is False
    assert "FAIL" in done.stdout  # the table


def test_the_api_key_is_sent_as_bearer_and_never_written(run_cli, tmp_path):
    db = tmp_path / "results.db"
    with ScriptedServer("correct", api_key="sk-test-4711") as server:
        done = run_cli(
            "check",
            "--endpoint",
            server.url,
            "--only",
            "tools",
            "--json",
            "-",
            "--db",
            str(db),
            env={"SERVELAB_API_KEY": "sk-test-4711"},
        )
        assert set(server.authorizations) == {"Bearer sk-test-4711"}
    assert done.returncode == 0, done.stderr
    assert "sk-test-4711" not in done.stdout + done.stderr
    assert b"sk-test-4711" not in db.read_bytes()


def test_a_wrong_api_key_is_an_honest_failure(run_cli):
    with ScriptedServer("correct", api_key="right") as server:
        done = run_cli(
            "check",
            "--endpoint",
            server.url,
            "--only",
            "tools",
            "--api-key",
            "wrong",
            "--json",
            "-",
            "--no-store",
        )
    assert done.returncode == 1
    assert "HTTP 401: Invalid API Key" in json.loads(done.stdout)["checks"][0]["detail"]


def test_lossless_between_two_endpoints(run_cli):
    with ScriptedServer("diverge") as spec, ScriptedServer("correct") as base:
        done = run_cli(
            "check",
            "--endpoint",
            spec.url,
            "--twin-endpoint",
            base.url,
            "--only",
            "lossless",
            "--tokens",
            "40",
            "--json",
            "-",
            "--no-store",
        )
        tolerated = run_cli(
            "check",
            "--endpoint",
            spec.url,
            "--twin-endpoint",
            base.url,
            "--only",
            "lossless",
            "--tokens",
            "40",
            "--tolerance",
            "1",
            "--json",
            "-",
            "--no-store",
        )
    assert done.returncode == 1
    assert "first divergence" in json.loads(done.stdout)["checks"][0]["detail"]
    assert tolerated.returncode == 0, tolerated.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "http://127.0.0.1:9", "--only", "vision,colour"], "--only: unknown check"),
        (["local-stories260k", "--endpoint", "http://127.0.0.1:9"], "give a RECIPE or"),
        (["--endpoint", "http://127.0.0.1:9", "--only", "ceiling"], "ceiling: needs a RECIPE"),
        (["--endpoint", "http://127.0.0.1:9", "--only", "lossless"], "--twin-endpoint"),
        (["local-stories260k", "--only", "lossless"], "has no speculative decoding"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_cli, args, message):
    done = run_cli("check", *args, "--no-store")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.llama
@pytest.mark.engine
def test_real_llama_server_reports_honest_failures(run_cli, tmp_path):
    out = tmp_path / "checks.json"
    done = run_cli(
        "check",
        "local-stories260k",
        "--only",
        "vision,tools,context,ceiling",
        "--json",
        str(out),
        "--db",
        str(tmp_path / "results.db"),
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(out.read_text())
    jsonschema.validate(report, SCHEMA)
    checks = {check["name"]: check for check in report["checks"]}
    assert not checks["vision"]["passed"]
    assert "rejected an image request (HTTP" in checks["vision"]["detail"]
    assert not checks["tools"]["passed"]
    assert checks["tools"]["detail"].startswith("no tool call")
    assert checks["tools"]["evidence"][0]["answer"]  # the story it told instead
    served = load_recipe("local-stories260k").context.max_model_len
    assert checks["ceiling"]["passed"] and f"{served} starts" in checks["ceiling"]["detail"]
    recall = checks["context"]["evidence"]  # measured in the server's own tokens
    assert [item["depth"] for item in recall] == [0.1, 0.5, 0.9]
    assert all(0.8 * item["target_tokens"] <= item["prompt_tokens"] <= 512 for item in recall)
