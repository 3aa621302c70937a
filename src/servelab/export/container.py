"""The engine's container form, read from its adapter, as neutral data for manifests.

The engine adapter owns every flag: its ``container()`` says, as data, the image, the arguments
after the image's entrypoint, the port inside the container, the environment it passes through
and the folders it mounts. This module adds what a cluster needs (names, model mounts).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from servelab.engines import get_engine
from servelab.engines.base import Engine, Volume
from servelab.errors import BadInput
from servelab.recipe import ModelRef, Recipe

MODELS_MOUNT = "/models"  # where local (non-hub) model files live inside a container


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


def _mount_name(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", path.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-")
    name = base or "data"
    while name in taken:
        name += "-x"
    taken.add(name)
    return name


def _mounts(volumes: list[Volume], local_models: bool) -> list[Mount]:
    mounts: list[Mount] = []
    taken: set[str] = set()
    for volume in volumes:
        name = _mount_name(volume.path, taken)
        mounts.append(Mount(name, volume.path, volume.host, volume.read_only))
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
            form = engine.container(inner)
        except NotImplementedError as exc:
            raise BadInput(f"{recipe.name}: {exc}") from None
        argv = engine.argv(inner, host="0.0.0.0", port=form.port, resolve_models=False)
    env = dict(form.env)
    gpus = recipe.parallel.gpus if form.gpus else 0
    if gpus > 1:
        env.setdefault("NCCL_NVLS_ENABLE", "0")  # NVLink multicast stays off on shared hosts
    mounts = _mounts(form.volumes, uses_local_models(recipe))
    return ContainerSpec(
        app=app_name(recipe),
        image=form.image,
        args=form.args,
        argv=argv,
        port=form.port,
        api_key_env=engine.api_key_env(),
        env=env,
        mounts=mounts,
        gpus=gpus,
        shared_memory=gpus > 1 or form.ipc_host,
        runs_as_root=any(mount.path.startswith("/root/") for mount in mounts),
        health_path=engine.health_path,
        ready_timeout_s=engine.default_ready_timeout,
        served_model=engine.served_model_name(recipe),
        passthrough_env=[name for name in form.passthrough_env if name != engine.api_key_env()],
    )
