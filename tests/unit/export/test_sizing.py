"""Manifests sized from the model; compose readable by docker-compose 1.x; HF_TOKEN passed
through for hub models; Helm charts rendered by the real `helm` where it is installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from servelab.export import export_files, render_export, write_export
from servelab.export.sizing import sizing_for
from servelab.recipe import load_recipe

GEMMA = "gemma4-26b-a4b-vision-mtp"
LOCAL = "local-stories260k"


def test_cache_and_memory_follow_the_model_size():
    tiny = sizing_for(load_recipe(LOCAL), gpus=0)
    assert (tiny.cache_size, tiny.memory, tiny.cpu) == ("2Gi", "2Gi", "1")  # a 1 MB model
    big = sizing_for(load_recipe(GEMMA), gpus=1)
    # 13.21 GiB of AWQ weights: cache ceil(2 × 13.21 + 1) = 28, memory ceil(13.21 + 4) = 18
    assert (big.cache_size, big.memory, big.cpu) == ("28Gi", "18Gi", "2")
    claims = [
        doc
        for doc in yaml.safe_load_all(render_export(load_recipe(GEMMA), "k8s"))
        if doc and doc["kind"] == "PersistentVolumeClaim"
    ]
    assert [claim["spec"]["resources"]["requests"]["storage"] for claim in claims] == ["28Gi"]
    forced = render_export(load_recipe(GEMMA), "k8s", cache_size="500Gi")
    assert "storage: 500Gi" in forced


def test_compose_has_no_top_level_name_and_passes_hf_token_for_hub_models():
    hub = yaml.safe_load(render_export(load_recipe(GEMMA), "compose"))
    assert set(hub) == {"services"}  # docker-compose 1.29 rejects a top-level `name:`
    [service] = hub["services"].values()
    assert service["environment"]["HF_TOKEN"] == "${HF_TOKEN:-}"  # never the token itself
    reservations = service["deploy"]["resources"]["reservations"]
    assert reservations["memory"] == "18gb" and reservations["cpus"] == "2"
    local = yaml.safe_load(render_export(load_recipe(LOCAL), "compose"))
    [service] = local["services"].values()
    assert "HF_TOKEN" not in service["environment"]  # local file: nothing to fetch


def test_k8s_reads_hf_token_from_the_secret_optionally():
    docs = [d for d in yaml.safe_load_all(render_export(load_recipe(GEMMA), "k8s")) if d]
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    token = next(item for item in container["env"] if item["name"] == "HF_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["optional"] is True
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "18Gi"}


@pytest.mark.skipif(
    shutil.which("helm") is None,
    reason="no `helm` binary here: Debian and PyPI ship no Go template engine; the chart is "
    "checked by tests/e2e/test_export.py's renderer instead",
)
@pytest.mark.parametrize("recipe", [GEMMA, LOCAL])
def test_helm_template_renders_the_chart(tmp_path, recipe):
    [values] = [
        path
        for path in write_export(load_recipe(recipe), "helm", tmp_path)
        if path.name == "values.yaml"
    ]
    done = subprocess.run(
        ["helm", "template", "t", str(values.parent)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(done.stdout) if doc}
    assert {"Deployment", "Service"} <= kinds
    assert set(export_files(load_recipe(recipe), "helm"))  # the same files as written


def test_an_unqualified_image_is_flagged_as_a_placeholder():
    for fmt in ("compose", "k8s", "helm"):
        text = render_export(load_recipe(LOCAL), fmt)
        assert "PLACEHOLDER IMAGE: llama.cpp:server" in text, fmt
    assert "PLACEHOLDER" not in render_export(load_recipe(GEMMA), "compose")  # vllm/vllm-openai
