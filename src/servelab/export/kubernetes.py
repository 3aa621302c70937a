"""Kubernetes manifests: a server (Deployment, or LeaderWorkerSet across nodes) and a bench Job.

Secure defaults: the API key comes from a Secret, no privilege escalation, all capabilities
dropped, a ClusterIP Service (the cluster decides exposure), probes on the engine's /health.
"""

from __future__ import annotations

import math
import shlex
from typing import Any

from servelab import __version__
from servelab.errors import BadInput
from servelab.export import sizing
from servelab.export.container import MODELS_MOUNT, ContainerSpec, app_name, container_spec
from servelab.export.options import ExportOptions
from servelab.export.yamltext import dump_all
from servelab.recipe import Recipe

API_KEY_SECRET_KEY = "api-key"
DB_SECRET_KEY = "url"
RAY_PORT = 6379
PROBE_PERIOD_S = 10
SHM_VOLUME = "dshm"
RECIPE_DIR = "/etc/servelab"

Obj = dict[str, Any]


def api_key_secret(app: str) -> str:
    return f"{app}-api-key"


def db_secret(app: str) -> str:
    return f"{app}-db"


def nodes_for(recipe: Recipe, opts: ExportOptions) -> int:
    """Nodes to spread over: --nodes, else one per pipeline stage."""
    return opts.nodes if opts.nodes is not None else recipe.parallel.pipeline


def _labels(recipe: Recipe, app: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": recipe.version,
        "app.kubernetes.io/managed-by": "servelab",
    }


def _selector(app: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/component": component}


def _meta(name: str, labels: dict[str, str], opts: ExportOptions, recipe: Recipe) -> Obj:
    annotations = {"servelab/recipe": recipe.name, "servelab/recipe-hash": recipe.hash}
    meta: Obj = {"name": name, "labels": labels, "annotations": annotations}
    if opts.namespace:
        meta["namespace"] = opts.namespace
    return meta


def escape_expansion(args: list[str]) -> list[str]:
    """Keep Kubernetes from expanding ``$(NAME)`` inside engine arguments."""
    return [arg.replace("$(", "$$(") for arg in args]


def pvc(name: str, recipe: Recipe, opts: ExportOptions, *, shared: bool) -> Obj:
    spec: Obj = {
        "accessModes": ["ReadWriteMany" if shared else "ReadWriteOnce"],
        "resources": {"requests": {"storage": opts.cache_size}},
    }
    if opts.storage_class:
        spec["storageClassName"] = opts.storage_class
    labels = _labels(recipe, app_name(recipe), "storage")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(name, labels, opts, recipe),
        "spec": spec,
    }


def _probe(spec: ContainerSpec, failures: int, period: int = PROBE_PERIOD_S) -> Obj:
    return {
        "httpGet": {"path": spec.health_path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def startup_budget(spec: ContainerSpec, opts: ExportOptions) -> int:
    """Seconds a server may take to load (downloads and compilation included)."""
    return opts.startup_seconds or int(3 * spec.ready_timeout_s)


def container_security(non_root: bool) -> Obj:
    context: Obj = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    if non_root:
        context["runAsNonRoot"] = True
    return context


def pod_security(uid: int | None) -> Obj:
    context: Obj = {"seccompProfile": {"type": "RuntimeDefault"}}
    if uid is not None:
        context |= {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid}
    return context


def server_uid(spec: ContainerSpec, opts: ExportOptions) -> int | None:
    """The UID to run as; None where the image must run as root (its cache is under /root)."""
    if opts.run_as_user is not None:
        return opts.run_as_user
    return None if spec.runs_as_root else 1000


def _env(spec: ContainerSpec, app: str) -> list[Obj]:
    key_ref = {"secretKeyRef": {"name": api_key_secret(app), "key": API_KEY_SECRET_KEY}}
    env: list[Obj] = [{"name": spec.api_key_env, "valueFrom": key_ref}]
    for name in sizing.hub_env(spec):
        ref = {"name": api_key_secret(app), "key": name.lower().replace("_", "-"), "optional": True}
        env.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    env += [{"name": key, "value": value} for key, value in spec.env.items()]
    return env


def _volumes(spec: ContainerSpec, app: str, opts: ExportOptions) -> tuple[list[Obj], list[Obj]]:
    volumes: list[Obj] = []
    mounts: list[Obj] = []
    for mount in spec.mounts:
        claim = {"claimName": f"{app}-{mount.name}", "readOnly": mount.read_only}
        volumes.append({"name": mount.name, "persistentVolumeClaim": claim})
        mounts.append({"name": mount.name, "mountPath": mount.path, "readOnly": mount.read_only})
    if spec.shared_memory:
        volumes.append(
            {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": opts.shm_size}}
        )
        mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
    return volumes, mounts


def _server_container(
    spec: ContainerSpec, app: str, opts: ExportOptions, gpus: int, *, role: str = "single"
) -> Obj:
    """role: single (image entrypoint + args), leader or worker (Ray cluster via a shell)."""
    container: Obj = {"name": "server", "image": spec.image, "imagePullPolicy": "IfNotPresent"}
    if role == "single":
        container["args"] = escape_expansion(spec.args)
    elif role == "leader":
        start = f"ray start --head --port={RAY_PORT} && exec {shlex.join(spec.argv)}"
        container |= {"command": ["/bin/sh", "-c"], "args": [start.replace("$(", "$$(")]}
    else:
        join = f'ray start --address="${{LWS_LEADER_ADDRESS}}:{RAY_PORT}" --block'
        container |= {"command": ["/bin/sh", "-c"], "args": [join]}
    _, mounts = _volumes(spec, app, opts)
    container["env"] = _env(spec, app)
    container["volumeMounts"] = mounts
    container["resources"] = sizing.resources_for(opts, gpus)
    if role != "worker":
        container["ports"] = [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}]
        container["startupProbe"] = _probe(
            spec, math.ceil(startup_budget(spec, opts) / PROBE_PERIOD_S)
        )
        container["readinessProbe"] = _probe(spec, 3)
        container["livenessProbe"] = _probe(spec, 6, period=30)
    container["securityContext"] = container_security(server_uid(spec, opts) is not None)
    return container


def _pod(spec: ContainerSpec, app: str, opts: ExportOptions, container: Obj) -> Obj:
    volumes, _ = _volumes(spec, app, opts)
    pod: Obj = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(server_uid(spec, opts)),
        "containers": [container],
        "volumes": volumes,
    }
    if not volumes:
        del pod["volumes"]
    return pod


def deployment(recipe: Recipe, spec: ContainerSpec, opts: ExportOptions) -> Obj:
    labels = _labels(recipe, spec.app, "server")
    container = _server_container(spec, spec.app, opts, spec.gpus)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(spec.app, labels, opts, recipe),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},  # a GPU server can't overlap its successor
            "selector": {"matchLabels": _selector(spec.app, "server")},
            "template": {
                "metadata": {"labels": labels},
                "spec": _pod(spec, spec.app, opts, container),
            },
        },
    }


def leader_worker_set(recipe: Recipe, spec: ContainerSpec, opts: ExportOptions, nodes: int) -> Obj:
    """One engine across ``nodes`` pods: the leader starts Ray's head and the engine."""
    per_pod = spec.gpus // nodes if spec.gpus else 0
    labels = _labels(recipe, spec.app, "server")
    leader = _server_container(spec, spec.app, opts, per_pod, role="leader")
    worker = _server_container(spec, spec.app, opts, per_pod, role="worker")
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": _meta(spec.app, labels, opts, recipe),
        "spec": {
            "replicas": 1,
            "startupPolicy": "LeaderCreated",
            "leaderWorkerTemplate": {
                "size": nodes,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {
                    "metadata": {"labels": labels | {"servelab/role": "leader"}},
                    "spec": _pod(spec, spec.app, opts, leader),
                },
                "workerTemplate": {
                    "metadata": {"labels": labels | {"servelab/role": "worker"}},
                    "spec": _pod(spec, spec.app, opts, worker),
                },
            },
        },
    }


def service(recipe: Recipe, spec: ContainerSpec, opts: ExportOptions, *, leader: bool) -> Obj:
    selector = _selector(spec.app, "server") | ({"servelab/role": "leader"} if leader else {})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec.app, _labels(recipe, spec.app, "server"), opts, recipe),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def server_spec(recipe: Recipe, opts: ExportOptions) -> tuple[ContainerSpec, int]:
    """The container form and the node count; multi-node needs an engine with a Ray executor."""
    nodes = nodes_for(recipe, opts)
    if nodes == 1:
        return container_spec(recipe), 1
    ray = container_spec(recipe, executor="ray")
    if ray.args == container_spec(recipe, executor="mp").args:
        raise BadInput(
            f"{recipe.name}: {recipe.engine.name} has no Ray executor, so it can't span "
            f"{nodes} nodes; export it for one node ({{nodes}} 1)",
            mentions=["nodes"],
        )
    if recipe.parallel.gpus % nodes:
        raise BadInput(
            f"{recipe.name}: {recipe.parallel.gpus} GPUs (tensor×pipeline×data) do not split "
            f"evenly over {nodes} nodes"
        )
    return ray, nodes


def server_objects(recipe: Recipe, opts: ExportOptions) -> list[Obj]:
    """PVCs, the server workload and its ClusterIP Service."""
    spec, nodes = server_spec(recipe, opts)
    objects = [pvc(f"{spec.app}-{m.name}", recipe, opts, shared=nodes > 1) for m in spec.mounts]
    if nodes > 1:
        objects.append(leader_worker_set(recipe, spec, opts, nodes))
    else:
        objects.append(deployment(recipe, spec, opts))
    objects.append(service(recipe, spec, opts, leader=nodes > 1))
    return objects


def header(lines: list[str]) -> str:
    return "".join(f"# {line}\n" if line else "#\n" for line in lines)


def server_notes(recipe: Recipe, spec: ContainerSpec, opts: ExportOptions) -> list[str]:
    """Comment lines: what to create first, and what the defaults mean."""
    ns = f" -n {opts.namespace}" if opts.namespace else ""
    notes = [
        f"servelab {__version__}: {recipe.name} {recipe.version} (recipe hash {recipe.hash})",
        "The API key is read from a Secret; create it first (the key is never written here):",
        f"  kubectl{ns} create secret generic {api_key_secret(spec.app)} "
        f'--from-literal={API_KEY_SECRET_KEY}="$SERVELAB_API_KEY"',
        f"The Service is ClusterIP; reach it with: kubectl{ns} port-forward "
        f"svc/{spec.app} {spec.port}:{spec.port}",
    ]
    if sizing.HF_TOKEN in sizing.hub_env(spec):
        notes.append('Gated models: add --from-literal=hf-token="$HF_TOKEN" (optional key).')
    notes += sizing.sizing_notes(opts) + sizing.image_notes(spec)
    if spec.runs_as_root and opts.run_as_user is None:
        notes.append(
            "The engine image runs as root (its cache lives under /root), so runAsNonRoot is not "
            "set; privilege escalation is off and all capabilities are dropped. Use --run-as-user "
            "UID with an image built to run as another user."
        )
    if any(mount.path == MODELS_MOUNT for mount in spec.mounts):
        notes.append(
            f"Local model files are read from the PVC mounted at {MODELS_MOUNT}: copy "
            "them there (same relative paths as under SERVELAB_MODELS)."
        )
    return notes


def render_k8s(recipe: Recipe, opts: ExportOptions) -> str:
    """The server manifests as one multi-document YAML."""
    spec, _ = server_spec(recipe, opts)
    text = dump_all(server_objects(recipe, opts))
    return header(server_notes(recipe, spec, opts)) + "---\n" + text
