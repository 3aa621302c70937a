"""A docker compose file for one engine server: GPU reservation, health check, loopback port."""

from __future__ import annotations

from typing import Any

from servelab import __version__
from servelab.export.container import ContainerSpec, container_spec
from servelab.export.kubernetes import startup_budget
from servelab.export.options import ExportOptions
from servelab.export.sizing import HF_TOKEN, hub_env, image_notes, sizing_notes
from servelab.export.yamltext import dump
from servelab.recipe import Recipe


def _escape(text: str) -> str:
    """Compose interpolates ``$``; engine arguments are meant literally."""
    return text.replace("$", "$$")


def _compose_size(size: str) -> str:
    """Kubernetes quantities (16Gi) in compose's byte units (16gb)."""
    for suffix, unit in (("Ki", "kb"), ("Mi", "mb"), ("Gi", "gb"), ("Ti", "tb")):
        if size.endswith(suffix):
            return size[: -len(suffix)] + unit
    return size


def compose_service(spec: ContainerSpec, opts: ExportOptions) -> dict[str, Any]:
    port = opts.host_port or spec.port
    environment: dict[str, str] = {
        spec.api_key_env: f"${{{spec.api_key_env}:?set {spec.api_key_env} to the API key}}"
    }
    environment |= {name: f"${{{name}:-}}" for name in hub_env(spec)}
    environment |= {key: _escape(value) for key, value in spec.env.items()}
    service: dict[str, Any] = {
        "image": spec.image,
        "command": [_escape(arg) for arg in spec.args],
        "ports": [f"{opts.bind}:{port}:{spec.port}"],
        "environment": environment,
        "restart": "unless-stopped",
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
        "healthcheck": {
            "test": ["CMD", "curl", "-fsS", f"http://127.0.0.1:{spec.port}{spec.health_path}"],
            "interval": "10s",
            "timeout": "5s",
            "retries": 3,
            "start_period": f"{startup_budget(spec, opts)}s",
        },
    }
    if opts.run_as_user is not None or not spec.runs_as_root:
        uid = opts.run_as_user or 1000
        service["user"] = f"{uid}:{uid}"
    if spec.mounts:
        service["volumes"] = [
            f"{m.host}:{m.path}" + (":ro" if m.read_only else "") for m in spec.mounts
        ]
    if spec.shared_memory:
        service["shm_size"] = _compose_size(opts.shm_size)
    reservations: dict[str, Any] = {}
    if opts.sizing is not None:
        reservations |= {"cpus": opts.sizing.cpu, "memory": _compose_size(opts.sizing.memory)}
    if spec.gpus:
        device = {"driver": "nvidia", "count": spec.gpus, "capabilities": ["gpu"]}
        reservations["devices"] = [device]
    if reservations:
        service["deploy"] = {"resources": {"reservations": reservations}}
    return service


def render_compose(recipe: Recipe, opts: ExportOptions) -> str:
    """`docker compose up` runs the recipe's server; the key comes from the environment."""
    spec = container_spec(recipe)
    # No top-level `name:` (docker-compose 1.x rejects it): the project name goes on -p.
    document = {"services": {spec.app: compose_service(spec, opts)}}
    lines = [
        f"servelab {__version__}: {recipe.name} {recipe.version} (recipe hash {recipe.hash})",
        f"Run: {spec.api_key_env}=... docker compose -p {spec.app} -f FILE up -d   (the key is "
        "never written here; docker-compose 1.27+ reads this file too)",
        f"The port is published on {opts.bind} only.",
    ]
    if HF_TOKEN in hub_env(spec):
        lines.append("Gated models: export HF_TOKEN first (passed through, never written here).")
    lines += sizing_notes(opts) + image_notes(spec)
    return "".join(f"# {line}\n" for line in lines) + dump(document)
