"""The engine's container form, read from its adapter, as neutral data for manifests.

The engine adapter owns every flag: its ``docker_argv`` says the image, the arguments after
the image's entrypoint, the port inside the container, the environment it passes through and
the folders it mounts. This module only reads that command back into fields.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from servelab.engines import get_engine
from servelab.engines.base import Engine
from servelab.errors import BadInput
from servelab.recipe import ModelRef, Recipe

MODELS_MOUNT = "/models"  # where local (non-hub) model files live inside a container
_HOST_PORT = 8000  # a placeholder: only the container side of -p is read
_VALUE_FLAGS = {
    "-p",
    "--publish",
    "-v",
    "--volume",
    "-e",
    "--env",
    "--gpus",
    "--name",
    "--shm-size",
    "--user",
    "-u",
    "--network",
    "--entrypoint",
    "-w",
    "--workdir",
}


@dataclass
class Mount:
    """A folder the server reads or writes: where it lies in the container and on a host."""

    name: str
    path: str
    host: str
    read_only: bool


@dataclass
class ContainerSpec:
    """Everything a manifest needs to run one engine server, engine-neutral."""

    app: str
    image: str
    args: list[str]
    argv: list[str]
    port: int
    api_key_env: str
    env: dict[str, str]
    mounts: list[Mount]
    gpus: int
    shared_memory: bool
    runs_as_root: bool
    health_path: str
    ready_timeout_s: float
    served_model: str
    passthrough_env: list[str] = field(default_factory=list)


def app_name(recipe: Recipe) -> str:
    """A Kubernetes-safe name (DNS-1035 label) for the stack."""
    name = re.sub(r"[^a-z0-9-]+", "-", recipe.name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"s-{name}"
    return name[:63].rstrip("-")


def _looks_local(ref: ModelRef) -> bool:
    parts = ref.id.split("/")
    hub_id = len(parts) == 2 and all(parts) and not ref.id.startswith((".", "/", "~"))
    return ref.file is not None or not hub_id


def _in_cluster(ref: ModelRef | None) -> ModelRef | None:
    if ref is None or not _looks_local(ref):
        return ref
    absolute = ref.id.startswith(("/", "~"))
    relative = ref.id.rstrip("/").rsplit("/", 1)[-1] if absolute else ref.id
    return ref.model_copy(update={"id": f"{MODELS_MOUNT}/{relative}"})


def cluster_recipe(recipe: Recipe) -> Recipe:
    """The recipe with local model files moved under the container's models mount."""
    data = recipe.model_copy(deep=True)
    data.model = _in_cluster(data.model)
    if data.speculative is not None:
        data.speculative.model = _in_cluster(data.speculative.model)
    data.features.mmproj = _in_cluster(data.features.mmproj)
    return data


def uses_local_models(recipe: Recipe) -> bool:
    refs = [recipe.model, recipe.features.mmproj]
    if recipe.speculative is not None:
        refs.append(recipe.speculative.model)
    return any(ref is not None and _looks_local(ref) for ref in refs)


@contextmanager
def no_local_models() -> Iterator[None]:
    """Describe models as a cluster sees them, never as this machine's absolute paths."""
    saved = os.environ.get("SERVELAB_MODELS")
    os.environ["SERVELAB_MODELS"] = os.devnull + "-servelab-no-models"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SERVELAB_MODELS", None)
        else:
            os.environ["SERVELAB_MODELS"] = saved


def _split_docker(argv: list[str]) -> tuple[dict[str, list[str]], str, list[str]]:
    """(flag → values, image, arguments after the image) of a `docker run` command."""
    if argv[:2] != ["docker", "run"]:
        raise BadInput(f"the engine's container form is not a `docker run` command: {argv[:3]}")
    flags: dict[str, list[str]] = {}
    index = 2
    while index < len(argv) and argv[index].startswith("-"):
        flag = argv[index]
        if "=" in flag:
            key, value = flag.split("=", 1)
            flags.setdefault(key, []).append(value)
        elif flag in _VALUE_FLAGS:
            flags.setdefault(flag, []).append(argv[index + 1])
            index += 1
        else:
            flags.setdefault(flag, []).append("")
        index += 1
    if index >= len(argv):
        raise BadInput("the engine's container form names no image")
    return flags, argv[index], argv[index + 1 :]


def _mount_name(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", path.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")
    name = base or "data"
    while name in taken:
        name += "-x"
    taken.add(name)
    return name


def _mounts(specs: list[str], local_models: bool) -> list[Mount]:
    mounts: list[Mount] = []
    taken: set[str] = set()
    for spec in specs:
        host, path, *mode = spec.split(":")
        mounts.append(Mount(_mount_name(path, taken), path, host, "ro" in mode))
    if local_models and not any(mount.path == MODELS_MOUNT for mount in mounts):
        mounts.append(
            Mount(_mount_name(MODELS_MOUNT, taken), MODELS_MOUNT, "${SERVELAB_MODELS}", True)
        )
    return mounts


def container_spec(recipe: Recipe, *, executor: str | None = None) -> ContainerSpec:
    """The server's container form for a recipe (``executor`` overrides parallel.executor)."""
    engine: Engine = get_engine(recipe.engine.name)
    inner = cluster_recipe(recipe)
    if executor is not None:
        inner = inner.with_value("parallel.executor", executor)
    with no_local_models():
        try:
            docker = engine.docker_argv(inner, port=_HOST_PORT)
        except NotImplementedError as exc:
            raise BadInput(f"{recipe.name}: {exc}") from None
        flags, image, args = _split_docker(docker)
        ports = flags.get("-p", []) + flags.get("--publish", [])
        if not ports:
            raise BadInput(f"{recipe.name}: the engine's container form publishes no port")
        port = int(ports[0].rsplit(":", 1)[-1])
        argv = engine.argv(inner, host="0.0.0.0", port=port, resolve_models=False)
    env: dict[str, str] = {}
    passthrough: list[str] = []
    for item in flags.get("-e", []) + flags.get("--env", []):
        if "=" in item:
            key, value = item.split("=", 1)
            env[key] = value
        else:
            passthrough.append(item)
    gpus = recipe.parallel.gpus if "--gpus" in flags else 0
    if gpus > 1:
        env.setdefault("NCCL_NVLS_ENABLE", "0")  # NVLink multicast stays off on shared hosts
    mounts = _mounts(flags.get("-v", []) + flags.get("--volume", []), uses_local_models(recipe))
    return ContainerSpec(
        app=app_name(recipe),
        image=image,
        args=args,
        argv=argv,
        port=port,
        api_key_env=engine.api_key_env(),
        env=env,
        mounts=mounts,
        gpus=gpus,
        shared_memory=gpus > 1 or flags.get("--ipc") == ["host"],
        runs_as_root=any(mount.path.startswith("/root/") for mount in mounts),
        health_path=engine.health_path,
        ready_timeout_s=engine.default_ready_timeout,
        served_model=engine.served_model_name(recipe),
        passthrough_env=[name for name in passthrough if name != engine.api_key_env()],
    )
