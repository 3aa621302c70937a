"""`tune --executor ray` and `bench --ray` on a real two-node Ray cluster on this machine (head +
one worker).

The test starts both nodes with `ray start --block` in their own process groups (1 CPU each,
no GPU, a 100 MB object store, no dashboard) and stops exactly those groups afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from servelab.launch import free_port
from servelab.store import Store
from tests.fakes.truth import TruthServer
from tests.fakes.tune_engine import launches, write_recipe
from tests.support import RunCli, models_root

pytest.importorskip("ray")

RAY = str(Path(sys.executable).with_name("ray"))
NODE_FLAGS = [
    "--block",
    "--num-cpus",
    "1",
    "--num-gpus",
    "0",
    "--object-store-memory",
    "100000000",
    "--disable-usage-stats",
]


def _node_ip() -> str:
    """The address Ray gives this host (a driver connecting to 127.0.0.1 is sent there)."""
    from ray.util import get_node_ip_address

    return get_node_ip_address()


def _start_node(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [RAY, "start", *args, *NODE_FLAGS, "--node-ip-address", _node_ip()],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _alive_nodes(address: str) -> int:
    probe = (
        f"import ray; ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False)"
        "; print(sum(1 for n in ray.nodes() if n['Alive']))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return int(done.stdout.strip() or 0) if done.returncode == 0 else 0


def _stop(node: subprocess.Popen) -> None:
    """SIGTERM the node's process group, SIGKILL what is left after 5 s."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        try:
            os.killpg(node.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(node.pid, 0)
            except ProcessLookupError:
                node.wait(timeout=5)
                return
            node.poll()
            time.sleep(0.2)
    node.wait(timeout=5)


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ray-nodes")
    temp = tempfile.mkdtemp(prefix="srl-ray-")  # short: Ray's unix sockets live under it
    env = {
        **os.environ,
        "SERVELAB_HOME": str(home / "servelab"),
        "SERVELAB_MODELS": str(models_root()),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env.pop("NCCL_NVLS_ENABLE", None)  # workers must get it from the executor
    env.pop("SERVELAB_DB", None)
    port = free_port()
    address = f"{_node_ip()}:{port}"
    nodes = []
    try:
        nodes.append(
            _start_node(
                [
                    "--head",
                    "--port",
                    str(port),
                    "--include-dashboard=false",
                    "--temp-dir",
                    temp,
                    "--ray-client-server-port",
                    str(free_port()),
                    "--dashboard-agent-listen-port",
                    str(free_port()),
                ],
                home / "head.log",
                env,
            )
        )
        deadline = time.monotonic() + 120
        while _alive_nodes(address) < 1:
            assert time.monotonic() < deadline, (home / "head.log").read_text()[-2000:]
            assert nodes[0].poll() is None, (home / "head.log").read_text()[-2000:]
            time.sleep(1)
        nodes.append(
            _start_node(
                ["--address", address, "--dashboard-agent-listen-port", str(free_port())],
                home / "worker.log",
                env,
            )
        )
        while _alive_nodes(address) < 2:
            assert time.monotonic() < deadline, (home / "worker.log").read_text()[-2000:]
            assert nodes[1].poll() is None, (home / "worker.log").read_text()[-2000:]
            time.sleep(1)
        yield address
    finally:
        for node in reversed(nodes):
            _stop(node)
        shutil.rmtree(temp, ignore_errors=True)


def _same_structure(a: Any, b: Any, where: str = "report") -> None:
    """Same keys and value kinds, recursively (lists by their elements; null matches any)."""
    if a is None or b is None:
        return
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), where
        for key in a:
            _same_structure(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list), where
        for item_a, item_b in zip(a, b, strict=False):
            _same_structure(item_a, item_b, f"{where}[]")
    elif isinstance(a, bool) or isinstance(b, bool):
        assert type(a) is type(b), where
    elif isinstance(a, int | float):
        assert isinstance(b, int | float), where
    else:
        assert type(a) is type(b), where


def _finished(done: subprocess.CompletedProcess) -> None:
    """Every slot finished. A run may fail when llama-server drops a reused keep-alive connection
    right after a streamed answer ("after 0 chunks"; frequent with two engines busy on two
    cores): such a run is stored and flagged, the tune exits 1, and nothing else may fail."""
    if done.returncode == 0:
        return
    assert done.returncode == 1, done.stderr
    assert "slots failed or had failed runs" in done.stderr, done.stderr


@pytest.fixture
def tune_cli(run_cli: RunCli):
    def tune_cli(*args: str, db: Path, out: Path) -> subprocess.CompletedProcess:
        return run_cli("tune", *args, "--db", str(db), "--json", str(out), timeout=400)

    return tune_cli


@pytest.mark.llama
@pytest.mark.engine
@pytest.mark.timeout(600)
def test_ray_tune_stores_every_result_and_reports_like_a_sequential_run(
    tune_cli, ray_address, tmp_path
):
    sweep = [
        "local-stories260k-draft",
        "--sweep",
        "speculative.num_speculative_tokens=1,2,4",
        "--runs",
        "3",
        "--tokens",
        "200",
        "--seed",
        "5",
    ]
    fanned = tune_cli(
        *sweep,
        "--executor",
        "ray",
        "--ray-address",
        ray_address,
        db=tmp_path / "ray.db",
        out=tmp_path / "ray.json",
    )
    _finished(fanned)
    sequential = tune_cli(*sweep, db=tmp_path / "seq.db", out=tmp_path / "seq.json")
    _finished(sequential)
    ray_report = json.loads((tmp_path / "ray.json").read_text())
    seq_report = json.loads((tmp_path / "seq.json").read_text())
    assert ray_report["executor"] == "ray" and seq_report["executor"] == "local"
    _same_structure(ray_report, seq_report)
    assert len(ray_report["variants"]) == len(seq_report["variants"]) == 3
    assert [v["value"] for v in ray_report["variants"]] == [1, 2, 4]
    assert ray_report["order"] == seq_report["order"]  # same seed, same plan
    for variant in ray_report["variants"]:
        assert variant["status"] == "complete" and variant["speedup"] > 0
        assert variant["acceptance_rate"] == pytest.approx(1.0, abs=0.05)  # draft == target
    best = ray_report["best"]
    assert best is None or best["value"] in (1, 2, 4)  # None: every variant lost a run
    with Store(str(tmp_path / "ray.db")) as store:
        tune = store.tune(ray_report["tune_id"])
        assert tune.status == "complete"
        attempts = store.tune_attempts(tune.id)
        assert sorted(a.slot for a in attempts) == sorted(ray_report["order"])
        assert all(a.bench_status == "complete" and a.error is None for a in attempts)
        stored = store.benches(status="complete")
        assert {b.id for b in stored} == {a.bench_id for a in attempts}
        assert all(len(b.runs) == 3 for b in stored)
        for run in (run for b in stored for run in b.runs if not run.ok):
            assert "after 0 chunks" in run.error  # the keep-alive drop described in _finished
    assert "best: " in " ".join(fanned.stdout.split())


@pytest.mark.engine
@pytest.mark.timeout(600)
def test_a_failing_ray_task_is_reported_and_the_others_are_kept(tune_cli, ray_address, tmp_path):
    log = tmp_path / "launches.jsonl"
    recipe = write_recipe(tmp_path, env={"FAKE_LAUNCH_LOG": str(log), "FAKE_FAIL_K": "3"})
    done = tune_cli(
        str(recipe),
        "--sweep",
        "speculative.num_speculative_tokens=3,4",
        "--runs",
        "3",
        "--tokens",
        "40",
        "--executor",
        "ray",
        "--ray-address",
        ray_address,
        db=tmp_path / "ray.db",
        out=tmp_path / "ray.json",
    )
    assert done.returncode == 1 and "1 of 4 slots failed" in done.stderr
    report = json.loads((tmp_path / "ray.json").read_text())
    failed, kept = sorted(report["variants"], key=lambda v: v["value"])
    assert failed["status"] == "failed" and "injected start failure" in failed["error"]
    assert kept["all_ok"] and kept["speedup"] == pytest.approx(2.0, rel=0.03)
    assert all(b["status"] == "complete" for b in report["baseline"]["benches"])
    started = launches(log)
    assert sorted(record["k"] for record in started) == [0, 0, 3, 4]
    assert {record["nvls"] for record in started} == {"0"}  # through Ray's runtime_env
    with Store(str(tmp_path / "ray.db")) as store:
        assert len(store.benches(status="complete")) == 3
        assert store.tune(report["tune_id"]).status == "incomplete"


@pytest.mark.timeout(300)
def test_bench_load_fans_out_over_the_ray_cluster(run_cli: RunCli, ray_address, tmp_path):
    """One generator task per node (1 CPU each); their results merge like local processes."""
    out = tmp_path / "ray-load.json"
    with TruthServer(100.0, 0.2) as server:  # 10 ms between tokens, 200 ms to the first
        result = run_cli(
            "bench", "--endpoint", server.url, "--model", "truth", "--max-concurrency", "4",
            "--num-prompts", "16", "--output-len", "100", "--ray", ray_address,
            "--db", str(tmp_path / "r.db"), "--json", str(out), timeout=240,
        )  # fmt: skip
        served = httpx.get(server.url + "/truth").json()["requests"]
    assert result.returncode == 0, result.stderr
    (level,) = json.loads(out.read_text())["load"]["levels"]
    assert level["client"]["fanout"] == f"ray ({ray_address})"
    assert level["client"]["processes"] == 2  # the cluster's two CPUs
    assert level["requests"] == level["ok"] == 16 and len(served) >= 16
    assert level["max_in_flight"] == 4
    assert level["tpot_ms"]["p50"] == pytest.approx(10.0, rel=0.01)
    assert level["ttft_ms"]["p50"] == pytest.approx(200.0, rel=0.05)
    assert level["duration_s"] < 4 * (0.2 + 99 * 0.01) + 2  # stamps merged onto one clock
    assert "Ray task(s) on" in result.stdout


def test_bench_ray_on_an_unreachable_cluster_is_one_line(run_cli: RunCli):
    with TruthServer(1000.0, 0.01) as server:
        result = run_cli(
            "bench", "--endpoint", server.url, "--model", "truth", "--max-concurrency", "2",
            "--num-prompts", "2", "--ray", f"127.0.0.1:{free_port()}", timeout=120,
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "cannot reach the Ray cluster" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
