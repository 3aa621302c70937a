"""`servelab export`: compose, k8s, LeaderWorkerSet, bench Job, Helm and Olares charts.

Kubernetes objects are validated with the kubernetes client's models: required fields must be
present, and a round trip through the model must give the object back (no unknown or
misplaced keys). Chart templates are rendered by a small reader of the Go-template subset the
charts use, and the results validated the same way.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from servelab.errors import BadInput
from servelab.export import export_files, render_export
from servelab.recipe import load_recipe, recipe_from_text
from tests.support import RunCli

DATA = Path(__file__).resolve().parents[1] / "data" / "recipes"
TP2 = DATA / "tp2-vllm.yaml"
PP2 = DATA / "pp2-vllm.yaml"
GEMMA = "gemma4-26b-a4b-vision-mtp"
LOCAL = "local-stories260k-draft"
MODELS = {
    "Deployment": "V1Deployment",
    "Service": "V1Service",
    "PersistentVolumeClaim": "V1PersistentVolumeClaim",
    "Job": "V1Job",
    "ConfigMap": "V1ConfigMap",
    "Secret": "V1Secret",
}
KEY_SENTINEL = "sk-never-write-me-4b1d"


@pytest.fixture(autouse=True)
def _keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in every variable an exporter could read: it must never reach a file."""
    for name in ("SERVELAB_API_KEY", "VLLM_API_KEY", "LLAMA_API_KEY"):
        monkeypatch.setenv(name, KEY_SENTINEL)


class _Response:
    def __init__(self, obj: dict[str, Any]):
        self.data = json.dumps(obj)


def _normalise(value: Any) -> Any:
    """Quantities may be written as numbers; the models hold them as strings."""
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def validated(obj: dict[str, Any], model: str | None = None) -> Any:
    """The object as a kubernetes client model; fails on missing or unknown fields."""
    client = ApiClient()
    parsed = client.deserialize(_Response(obj), model or MODELS[obj["kind"]])
    assert _normalise(client.sanitize_for_serialization(parsed)) == _normalise(obj)
    return parsed


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def flag_value(args: list[str], flag: str) -> str:
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def k8s(recipe: str | Path, **opts: Any) -> list[dict[str, Any]]:
    text = render_export(load_recipe(recipe), "k8s", **opts)
    assert KEY_SENTINEL not in text
    docs = documents(text)
    for doc in docs:
        if doc["kind"] in MODELS:
            validated(doc)
    return docs


# --- Kubernetes --------------------------------------------------------------------------


def test_gemma_k8s_carries_the_posts_flags_and_secure_defaults() -> None:
    docs = k8s(GEMMA)
    deployment = only(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = container["args"]

    spec_config = json.loads(flag_value(args, "--speculative-config"))
    assert spec_config == {
        "model": "google/gemma-4-26B-A4B-it-assistant",
        "method": "gemma4_mtp",
        "num_speculative_tokens": 3,
    }
    assert flag_value(args, "--attention-backend") == "triton_attn"
    assert flag_value(args, "--kv-cache-dtype") == "fp8"
    assert flag_value(args, "--gpu-memory-utilization") == "0.94"
    assert "--enable-prefix-caching" in args and "--enable-auto-tool-choice" in args
    assert json.loads(flag_value(args, "--limit-mm-per-prompt")) == {"image": 1}
    assert flag_value(args, "--tool-call-parser") == "gemma4"
    assert flag_value(args, "--max-model-len") == "131072"
    assert flag_value(args, "--host") == "0.0.0.0"
    assert container["image"] == "vllm/vllm-openai:v0.21.0-cu129"

    [key] = [env for env in container["env"] if env["name"] == "VLLM_API_KEY"]
    assert "value" not in key
    assert key["valueFrom"]["secretKeyRef"] == {"name": f"{GEMMA}-api-key", "key": "api-key"}

    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800  # vLLM loads slowly

    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False
    assert "hostNetwork" not in pod and "hostPath" not in json.dumps(pod)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1

    cache = next(m for m in container["volumeMounts"] if m["name"] == "huggingface")
    assert cache["mountPath"].endswith("/.cache/huggingface")
    claim = next(v for v in pod["volumes"] if v["name"] == "huggingface")
    pvc = only(docs, "PersistentVolumeClaim")
    assert claim["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]

    service = only(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == container["ports"][0]["containerPort"] == 8000


def test_tensor_parallel_two_requests_two_gpus_and_shared_memory() -> None:
    docs = k8s(TP2)
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert flag_value(container["args"], "--tensor-parallel-size") == "2"
    shm = next(v for v in pod["volumes"] if v.get("emptyDir"))
    assert shm["emptyDir"]["medium"] == "Memory"
    mount = next(m for m in container["volumeMounts"] if m["name"] == shm["name"])
    assert mount["mountPath"] == "/dev/shm"
    assert {"name": "NCCL_NVLS_ENABLE", "value": "0"} in container["env"]


def test_pipeline_parallel_becomes_a_leader_worker_set() -> None:
    docs = k8s(PP2)
    assert not [doc for doc in docs if doc["kind"] == "Deployment"]
    lws = only(docs, "LeaderWorkerSet")
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1"
    group = lws["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2
    leader = validated(group["leaderTemplate"], "V1PodTemplateSpec")
    worker = validated(group["workerTemplate"], "V1PodTemplateSpec")
    for template in (leader, worker):
        [container] = template.spec.containers
        assert container.resources.limits["nvidia.com/gpu"] == "2"  # 4 GPUs over 2 nodes
        assert any(v.empty_dir and v.empty_dir.medium == "Memory" for v in template.spec.volumes)
    leader_cmd = leader.spec.containers[0].args[0]
    assert leader_cmd.startswith("ray start --head")
    assert "vllm serve" in leader_cmd and "--distributed-executor-backend ray" in leader_cmd
    assert "--pipeline-parallel-size 2" in leader_cmd
    assert leader.spec.containers[0].readiness_probe.http_get.path == "/health"
    assert "LWS_LEADER_ADDRESS" in worker.spec.containers[0].args[0]
    service = only(docs, "Service")
    assert service["spec"]["selector"]["servelab/role"] == "leader"
    assert only(docs, "PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]


def test_nodes_option_and_refusals() -> None:
    lws = only(k8s(TP2, nodes=2), "LeaderWorkerSet")
    pod = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    with pytest.raises(BadInput, match="no Ray executor"):
        render_export(load_recipe(LOCAL), "k8s", nodes=2)
    with pytest.raises(BadInput, match="do not split evenly over 3 nodes"):
        render_export(load_recipe(PP2), "k8s", nodes=3)
    with pytest.raises(BadInput, match="unknown format"):
        render_export(load_recipe(LOCAL), "swarm")


def test_local_llamacpp_reads_models_from_a_volume_as_non_root() -> None:
    docs = k8s(LOCAL)
    text = render_export(load_recipe(LOCAL), "k8s")
    models_dir = os.environ.get("SERVELAB_MODELS")
    assert not models_dir or models_dir not in text  # no path of this machine
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert flag_value(container["args"], "-m") == "/models/stories260k/stories260k.gguf"
    assert flag_value(container["args"], "--host") == "0.0.0.0"
    assert "limits" not in container["resources"]  # a CPU recipe asks for no GPU
    assert container["resources"]["requests"]["cpu"] == "1"  # memory: from the model's size
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"]
    [key] = [env for env in container["env"] if env["name"] == "LLAMA_API_KEY"]
    assert key["valueFrom"]["secretKeyRef"]["name"] == f"{LOCAL}-api-key"
    models = next(m for m in container["volumeMounts"] if m["mountPath"] == "/models")
    assert models["readOnly"] is True


def test_bench_job_writes_to_the_database_from_a_secret() -> None:
    text = render_export(load_recipe(LOCAL), "job", image="servelab-llamacpp:test")
    assert KEY_SENTINEL not in text
    docs = documents(text)
    for doc in docs:
        validated(doc)
    job = only(docs, "Job")
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] + container["args"] == [
        "servelab",
        "bench",
        "/etc/servelab/recipe.yaml",
        "--db",
        "$(SERVELAB_DB)",
    ]
    [db] = [env for env in container["env"] if env["name"] == "SERVELAB_DB"]
    assert db["valueFrom"]["secretKeyRef"] == {"name": f"{LOCAL}-db", "key": "url"}
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert container["image"] == "servelab-llamacpp:test"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    config = only(docs, "ConfigMap")
    shipped = recipe_from_text(config["data"]["recipe.yaml"], "configmap")
    assert shipped.hash == load_recipe(LOCAL).hash  # the very recipe travels with the Job


# --- compose -----------------------------------------------------------------------------


def test_compose_reserves_gpus_binds_loopback_and_checks_health() -> None:
    text = render_export(load_recipe(GEMMA), "compose")
    assert KEY_SENTINEL not in text
    compose = yaml.safe_load(text)
    [service] = compose["services"].values()
    assert service["ports"] == ["127.0.0.1:8000:8000"]
    assert service["environment"]["VLLM_API_KEY"].startswith("${VLLM_API_KEY:?")
    [device] = service["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    assert service["healthcheck"]["test"][-1] == "http://127.0.0.1:8000/health"
    assert service["cap_drop"] == ["ALL"] and "no-new-privileges:true" in service["security_opt"]
    assert "privileged" not in service
    assert flag_value(service["command"], "--tool-call-parser") == "gemma4"

    tp2 = yaml.safe_load(render_export(load_recipe(TP2), "compose", host_port=9000))
    [service] = tp2["services"].values()
    assert service["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2
    assert service["shm_size"] == "16gb" and service["ports"] == ["127.0.0.1:9000:8000"]
    assert service["environment"]["NCCL_NVLS_ENABLE"] == "0"


# --- Helm and Olares charts --------------------------------------------------------------

_IF = re.compile(r"\{\{ if (\S+) \}\}((?:(?!\{\{ if ).)*?)\{\{ end \}\}", re.S)


def _lookup(path: str, scope: dict[str, Any]) -> Any:
    node: Any = scope
    for part in path.lstrip(".").split("."):
        node = node[part]
    return node


def _evaluate(expression: str, scope: dict[str, Any]) -> str:
    stages = [stage.strip() for stage in expression.split("|")]
    head = stages[0].split()
    if head[0] == "toYaml":
        text = yaml.safe_dump(_lookup(head[1], scope), sort_keys=False).rstrip("\n")
        value: Any = text
    else:
        value = _lookup(head[0], scope)
        if isinstance(value, bool):
            value = str(value).lower()
    for stage in stages[1:]:
        name, *arguments = stage.split()
        if name == "quote":
            value = json.dumps(str(value))
        elif name == "nindent":
            pad = " " * int(arguments[0])
            value = "\n" + "\n".join(pad + line for line in str(value).splitlines())
        else:
            raise AssertionError(f"template function {name} is not part of the checked subset")
    return str(value)


def render_template(text: str, scope: dict[str, Any]) -> str:
    """Helm's rendering for the subset the charts use: values, if/end, toYaml, nindent, quote."""
    text = re.sub(r"\s*\{\{-\s*", "{{ ", text)
    text = re.sub(r"\s*-\}\}\s*", " }}", text)
    text = re.sub(r"\{\{\s*(.*?)\s*\}\}", lambda m: "{{ " + m.group(1) + " }}", text)
    while True:
        rendered = _IF.sub(lambda m: m.group(2) if _lookup(m.group(1), scope) else "", text)
        if rendered == text:
            break
        text = rendered
    assert "{{ if" not in text and "{{ end" not in text
    return re.sub(r"\{\{ (.*?) \}\}", lambda m: _evaluate(m.group(1), scope), text)


def render_chart(folder: Path, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    chart = yaml.safe_load((folder / "Chart.yaml").read_text())
    scope = {
        "Values": values or yaml.safe_load((folder / "values.yaml").read_text()),
        "Release": {"Name": "demo", "Namespace": "default", "Service": "Helm"},
        "Chart": {"Name": chart["name"], "AppVersion": chart["appVersion"]},
    }
    docs: list[dict[str, Any]] = []
    for template in sorted((folder / "templates").glob("*.yaml")):
        docs += documents(render_template(template.read_text(), scope))
    return docs


@pytest.fixture
def export_cli(run_cli: RunCli):
    def export_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("export", *args, timeout=120)

    return export_cli


def test_helm_chart_renders_the_same_server(export_cli, tmp_path: Path) -> None:
    result = export_cli(GEMMA, "--format", "helm", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / GEMMA
    assert KEY_SENTINEL not in "".join(p.read_text() for p in folder.rglob("*") if p.is_file())
    chart = yaml.safe_load((folder / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["version"] == "1.0.5"

    docs = render_chart(folder)
    for doc in docs:
        validated(doc)
    rendered = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    exported = only(k8s(GEMMA), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert rendered["args"] == exported["args"]
    assert rendered["image"] == exported["image"]
    assert rendered["env"] == exported["env"]
    assert rendered["resources"] == exported["resources"]
    assert rendered["readinessProbe"]["httpGet"]["path"] == "/health"
    assert only(docs, "Service")["spec"]["type"] == "ClusterIP"
    claim = only(docs, "PersistentVolumeClaim")["metadata"]["name"]
    volumes = only(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert claim in [v.get("persistentVolumeClaim", {}).get("claimName") for v in volumes]

    values = yaml.safe_load((folder / "values.yaml").read_text())
    values["gpus"] = 0
    values["sharedMemory"]["enabled"] = False
    plain = only(render_chart(folder, values), "Deployment")
    validated(plain)
    [container] = plain["spec"]["template"]["spec"]["containers"]
    assert "limits" not in container["resources"]  # no GPU asked for
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert all(m["mountPath"] != "/dev/shm" for m in container["volumeMounts"])


def test_olares_app_chart(export_cli, tmp_path: Path) -> None:
    result = export_cli(LOCAL, "--format", "olares", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    [folder] = list((tmp_path / "out").iterdir())
    manifest = yaml.safe_load((folder / "OlaresManifest.yaml").read_text())
    chart = yaml.safe_load((folder / "Chart.yaml").read_text())
    name = manifest["metadata"]["name"]
    assert re.fullmatch(r"[a-z][a-z0-9]{0,29}", name)
    assert name == chart["name"] == folder.name
    assert manifest["olaresManifest.type"] == "app"
    assert manifest["metadata"]["version"] == chart["version"]
    [api_key] = manifest["envs"]
    assert api_key["type"] == "password" and api_key["required"] is True
    assert "default" not in api_key

    values = yaml.safe_load((folder / "values.yaml").read_text())
    values["userspace"] = {"appCache": "/cache", "appData": "/data"}
    values["olaresEnv"] = {api_key["envName"]: "entered-at-install"}
    docs = render_chart(folder, values)
    for doc in docs:
        validated(doc)
    service = only(docs, "Service")
    [entrance] = manifest["entrances"]
    assert entrance["host"] == service["metadata"]["name"]
    assert entrance["port"] == service["spec"]["ports"][0]["port"] == 8080
    assert entrance["authLevel"] == "private"
    secret = only(docs, "Secret")
    assert secret["stringData"]["api-key"] == "entered-at-install"
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [key] = [env for env in container["env"] if env["name"] == "LLAMA_API_KEY"]
    assert key["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["hostPath"]["path"] == f"/data/{name}/models"


def test_cli_refuses_bad_requests_in_one_line(export_cli) -> None:
    for args, message in [
        ((LOCAL, "--format", "helm"), "give --out DIR"),
        ((LOCAL, "--format", "swarm"), "unknown format"),
        ((LOCAL, "--format", "k8s", "--nodes", "2"), "no Ray executor"),
        (("no-such-recipe", "--format", "k8s"), "no recipe of that name"),
    ]:
        result = export_cli(*args)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_show_hook_lists_every_chart_file() -> None:
    text = render_export(load_recipe(LOCAL), "helm")
    files = export_files(load_recipe(LOCAL), "helm")
    assert {f"# ===== {path} =====" for path in files} <= set(text.splitlines())
    assert f"{LOCAL}/templates/deployment.yaml" in files
