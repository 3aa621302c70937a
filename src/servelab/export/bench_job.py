"""The bench Job export: `servelab bench RECIPE --db $(SERVELAB_DB)` in a Kubernetes Job, the
database URL from a Secret, the recipe from a ConfigMap."""

from __future__ import annotations

from servelab import __version__
from servelab.export.container import MODELS_MOUNT, ContainerSpec, app_name, container_spec
from servelab.export.kubernetes import (
    DB_SECRET_KEY,
    RECIPE_DIR,
    SHM_VOLUME,
    Obj,
    _labels,
    _meta,
    container_security,
    db_secret,
    header,
    pod_security,
    pvc,
)
from servelab.export.options import ExportOptions
from servelab.export.yamltext import dump, dump_all
from servelab.recipe import Recipe


def _storage(
    spec: ContainerSpec, recipe: Recipe, opts: ExportOptions, name: str
) -> tuple[list[Obj], list[Obj], list[Obj], list[Obj]]:
    """(env, volumes, mounts, PVCs) of the Job: recipe, HF cache, models, shared memory."""
    app = spec.app
    cache = f"{app}-hf-cache"
    env: list[Obj] = [
        {
            "name": "SERVELAB_DB",
            "valueFrom": {"secretKeyRef": {"name": db_secret(app), "key": DB_SECRET_KEY}},
        },
        {"name": "SERVELAB_HOME", "value": "/tmp/servelab"},
        {"name": "HF_HOME", "value": "/cache/huggingface"},
    ]
    env += [{"name": key, "value": value} for key, value in spec.env.items()]
    volumes: list[Obj] = [
        {"name": "recipe", "configMap": {"name": f"{name}-recipe"}},
        {"name": "cache", "persistentVolumeClaim": {"claimName": cache}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[Obj] = [
        {"name": "recipe", "mountPath": RECIPE_DIR, "readOnly": True},
        {"name": "cache", "mountPath": "/cache/huggingface"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    claims: list[Obj] = [pvc(cache, recipe, opts, shared=False)]
    models = next((m for m in spec.mounts if m.path == MODELS_MOUNT), None)
    if models is not None:
        env.append({"name": "SERVELAB_MODELS", "value": MODELS_MOUNT})
        volumes.append(
            {
                "name": "models",
                "persistentVolumeClaim": {"claimName": f"{app}-{models.name}", "readOnly": True},
            }
        )
        mounts.append({"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True})
        claims.append(pvc(f"{app}-{models.name}", recipe, opts, shared=False))
    if spec.shared_memory:
        volumes.append(
            {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": opts.shm_size}}
        )
        mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
    return env, volumes, mounts, claims


def job_objects(recipe: Recipe, opts: ExportOptions) -> list[Obj]:
    """A bench Job: `servelab bench RECIPE --db $(SERVELAB_DB)`, the URL from a Secret."""
    spec = container_spec(recipe)
    name = f"{spec.app}-bench"
    labels = _labels(recipe, spec.app, "bench")
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(f"{name}-recipe", labels, opts, recipe),
        "data": {"recipe.yaml": dump(recipe.canonical())},
    }
    env, volumes, mounts, claims = _storage(spec, recipe, opts, name)
    container: Obj = {
        "name": "bench",
        "image": opts.image or f"servelab:{__version__}",
        "imagePullPolicy": "IfNotPresent",
        "command": ["servelab"],
        "args": ["bench", f"{RECIPE_DIR}/recipe.yaml", "--db", "$(SERVELAB_DB)"],
        "env": env,
        "volumeMounts": mounts,
        "securityContext": container_security(True),
    }
    if spec.gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": spec.gpus}}
    pod = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(opts.run_as_user or 1000),
        "containers": [container],
        "volumes": volumes,
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, labels, opts, recipe),
        "spec": {
            "backoffLimit": 0,  # a failed bench is a result to read, not to retry silently
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    return claims + [config_map, job]


def render_job(recipe: Recipe, opts: ExportOptions) -> str:
    """The bench Job's manifests as one multi-document YAML, with what to create first."""
    app = app_name(recipe)
    ns = f" -n {opts.namespace}" if opts.namespace else ""
    notes = [
        f"servelab {__version__}: bench Job for {recipe.name} {recipe.version}",
        "The database URL is read from a Secret; create it first:",
        f"  kubectl{ns} create secret generic {db_secret(app)} "
        f'--from-literal={DB_SECRET_KEY}="$SERVELAB_DB"',
        "The image must hold servelab and the engine (--image); the recipe travels in a ConfigMap.",
    ]
    text = dump_all(job_objects(recipe, opts))
    return header(notes) + "---\n" + text
