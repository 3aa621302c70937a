"""Supervised engines: start, capture the log, wait until ready, stop, classify failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from servelab.endpoint import auth_headers, first_served
from servelab.engines import get_engine
from servelab.engines.base import (
    ENGINE_EXITED,
    KV_TOO_SMALL,
    MODEL_NOT_FOUND,
    NOT_READY,
    Diagnosis,
)
from servelab.errors import BadInput, EngineFailed
from servelab.gpu import detect_gpus
from servelab.loadwatch import NOTE_EVERY_S, loading_line
from servelab.model_files import ModelNotFound
from servelab.paths import state_dir
from servelab.ports import ensure_port_free, free_port, owners, url_host
from servelab.procgroup import group_alive, group_members, start_time, stop_group
from servelab.recipe import Recipe, load_recipe
from servelab.registry import keepers_dir, launch_token, registry_dir

Progress = Callable[[str], None]


@dataclass
class Endpoint:
    """A running, ready server."""

    name: str
    url: str
    model: str
    engine: str
    engine_version: str | None
    pid: int
    keeper_pid: int
    log_path: str
    recipe: dict[str, Any]
    max_model_len: int | None = None
    launch: str | None = None
    keeper_start: str | None = None
    started: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def log_path_for(name: str) -> Path:
    folder = state_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


class _Started:
    """An engine under a keeper process, not yet known to be ready."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, grace: float, **where):
        log.write_text("")
        self.launch = uuid.uuid4().hex[:16]
        spec = {
            "record": str(keepers_dir() / f"{self.launch}.json"),
            "launch": launch_token(self.launch, where["name"]),
            "name": where["name"],
            "url": where["url"],
            "log": str(log),
            "grace": grace,
        }
        # The keeper's stderr goes to the log: it must not hold the caller's terminal or pipes;
        # its own session: a Ctrl-C meant for servelab reaches it only through the pipe.
        with log.open("ab") as keeper_err:
            self.keeper = subprocess.Popen(
                [sys.executable, "-m", "servelab.supervisor", json.dumps(spec), "--", *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=keeper_err,
                env={**os.environ, **env},
                text=True,
                start_new_session=True,
            )
        self.keeper_start = start_time(self.keeper.pid)
        assert self.keeper.stdout is not None
        first = self.keeper.stdout.readline().strip()
        if not first.startswith("pid "):
            self.keeper.wait(timeout=10)
            raise EngineFailed(
                f"cannot start {argv[0]}: {log.read_text().strip() or 'exec failed'}"
            )
        self.pid = int(first.split()[1])
        self.log = log

    def owns_port(self, port: int) -> bool:
        """Whether the listener on ``port`` is in the engine's process group (True where the
        system cannot tell: there the port was checked free before the start)."""
        held = owners(port, group_members(self.pid))
        return held is None or bool(held)

    def engine_running(self) -> bool:
        return self.keeper.poll() is None and group_alive(self.pid)

    def detach(self) -> None:
        assert self.keeper.stdin is not None
        self.keeper.stdin.write("detach\n")
        self.keeper.stdin.flush()

    def stop(self, grace: float = 10.0) -> None:
        if self.keeper.poll() is None:
            try:
                assert self.keeper.stdin is not None
                self.keeper.stdin.write("stop\n")
                self.keeper.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.keeper.wait(timeout=grace + 8)
            except subprocess.TimeoutExpired:
                self.keeper.kill()
        stop_group(self.pid, grace)


def _api_key(recipe: Recipe) -> str | None:
    """The key a keyed recipe's engine requires (from ``server.api_key_env``), else None."""
    if not recipe.server.api_key_env:
        return None
    key = os.environ.get(recipe.server.api_key_env)
    if not key:
        raise BadInput(f"server.api_key_env: {recipe.server.api_key_env} is not set")
    return key


def _wait_ready(
    started: _Started,
    base: str,
    timeout: float,
    engine,
    progress: Progress | None,
    api_key: str | None = None,
) -> tuple[str, int | None]:
    """Poll /health until 200 — from the engine servelab started, not whatever else answers on
    the port — then the model list; returns (model id, served context)."""
    begun = last_note = time.monotonic()
    deadline = begun + timeout
    port = httpx.URL(base).port or 80
    with httpx.Client(timeout=5.0, headers=auth_headers(api_key)) as client:
        while time.monotonic() < deadline:
            if not started.engine_running():
                raise _exited(started, engine)
            try:
                health = client.get(base + engine.health_path)
                if health.status_code == 200 and started.owns_port(port):
                    served = first_served(client, base)
                    if served is not None:
                        return served
            except httpx.HTTPError:
                pass
            now = time.monotonic()
            if progress and now - last_note >= NOTE_EVERY_S:
                last_note = now
                progress(loading_line(started.log, engine, now - begun))
            time.sleep(0.2)
    not_ready = Diagnosis(
        NOT_READY,
        f"the engine was not ready within {timeout:g} s; raise --timeout or read "
        f"`servelab logs` ({started.log})",
    )
    raise _failure(engine, started.log.read_text(errors="replace"), not_ready)


def _exited(started: _Started, engine) -> EngineFailed:
    started.keeper.wait(timeout=15)
    text = started.log.read_text(errors="replace")
    tail = [line for line in text.strip().splitlines() if line.strip()][-1:] or ["(no log)"]
    exited = Diagnosis(
        ENGINE_EXITED,
        f"the engine exited during start (code {started.keeper.returncode}); last log "
        f"line: {tail[0].strip()[:200]}",
    )
    return _failure(engine, text, exited)


def _failure(engine, log: str, fallback: Diagnosis) -> EngineFailed:
    """The engine's own reading of its log, else ``fallback``, as the error to raise."""
    diagnosis = engine.diagnose(log) or fallback
    return EngineFailed(diagnosis.message, diagnosis)


def check_gpu_count(recipe: Recipe, engine) -> None:
    """Refuse (one line) a recipe that needs more GPUs than NVML finds on this machine."""
    needed = engine.gpus_required(recipe)
    if not needed:
        return
    override = os.environ.get("SERVELAB_GPU_COUNT")  # CPU builds, containers without NVML
    found = int(override) if override and override.isdigit() else len(detect_gpus())
    source = "SERVELAB_GPU_COUNT" if override and override.isdigit() else "NVML"
    if found < needed:
        par = recipe.parallel
        raise EngineFailed(
            f"{recipe.name} needs {needed} GPU{'s' if needed > 1 else ''} (parallel: tensor "
            f"{par.tensor} × pipeline {par.pipeline} × data {par.data}); this machine has "
            f"{found} ({source})"
        )


def start(
    recipe: Recipe,
    *,
    port: int | None = None,
    host: str | None = None,
    timeout: float | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    grace: float = 10.0,
) -> tuple[Endpoint, _Started]:
    """Start and wait for readiness; on failure nothing is left running."""
    engine = get_engine(recipe.engine.name)
    check_gpu_count(recipe, engine)
    host = host or recipe.server.host
    port = port or recipe.server.port or free_port(host)
    name = name or recipe.name
    binary = engine.find_binary(recipe)
    if binary is None:
        raise EngineFailed(engine.missing_binary_message())
    try:
        plan = engine.launch_plan(recipe, host=host, port=port)
    except ModelNotFound as exc:
        raise EngineFailed(str(exc), Diagnosis(MODEL_NOT_FOUND, str(exc))) from None
    argv = [str(binary), *plan.argv[1:]]
    env = plan.env
    key = _api_key(recipe)
    if key:
        env[engine.api_key_env()] = key
    ensure_port_free(host, port)
    log = log_path_for(name)
    base = f"http://{url_host(host)}:{port}"
    started = _Started(argv, env, log, grace, name=name, url=base)
    try:
        if progress:
            progress(f"started {engine.name} (pid {started.pid}); log: {log}")
        model, max_len = _wait_ready(
            started, base, timeout or engine.default_ready_timeout, engine, progress, key
        )
        version = engine.server_version(base)
        if version is None and binary is not None:
            version = engine.binary_version(binary)
    except BaseException:
        started.stop(grace=2.0)
        raise
    endpoint = Endpoint(
        name=name,
        url=base,
        model=model,
        engine=engine.name,
        engine_version=version,
        pid=started.pid,
        keeper_pid=started.keeper.pid,
        log_path=str(log),
        recipe=recipe.canonical(),
        max_model_len=max_len or recipe.context.max_model_len,
        launch=started.launch,
        keeper_start=started.keeper_start,
    )
    return endpoint, started


FIT_ATTEMPTS = 3
FIT_MARGIN = 0.9
FIT_ALIGN = 16


def _fit_length(diagnosis: Diagnosis, native: int | None, previous: int | None) -> int:
    """The next length to try: the engine's estimate, capped at the native context; below the
    previous attempt by a margin when the engine's estimate did not hold (it varies between
    launches: on vLLM 0.20.2 the same recipe reported 0.24 and then 0.19 GiB available)."""
    length = diagnosis.max_model_len_fit or 0
    if native:
        length = min(length, native)
    if previous is not None:
        length = min(length, int(previous * FIT_MARGIN))
    return max(FIT_ALIGN, length // FIT_ALIGN * FIT_ALIGN)


def start_fitting(
    recipe: Recipe, *, fit_context: bool, progress: Progress | None = None, **kwargs: Any
) -> tuple[Endpoint, _Started]:
    """Start; with ``fit_context``, when the KV cache is too small, relaunch at the engine's
    estimate capped at the native context (up to FIT_ATTEMPTS launches in all)."""
    notes: list[str] = []
    current, previous = recipe, None
    native = _native_context(recipe) if fit_context else None
    for attempt in range(1, FIT_ATTEMPTS + 1):
        try:
            endpoint, started = start(current, progress=progress, **kwargs)
        except EngineFailed as exc:
            diagnosis = exc.diagnosis
            fits = diagnosis is not None and diagnosis.kind == KV_TOO_SMALL
            if not (
                fit_context and fits and diagnosis.max_model_len_fit and attempt < FIT_ATTEMPTS
            ):
                raise
            requested = diagnosis.requested_len or current.context.max_model_len
            new_len = _fit_length(diagnosis, native, previous)
            note = (
                f"--fit-context: {requested} did not fit ({diagnosis.needed_gib} GiB needed, "
                f"{diagnosis.available_gib} GiB available); relaunching with max_model_len "
                f"{new_len} (engine estimate {diagnosis.max_model_len_fit}"
                + (f", native context {native}" if native else "")
                + ")"
            )
            if progress:
                progress(note)
            notes.append(note)
            previous = new_len
            current = recipe.with_value("context.max_model_len", new_len)
            continue
        endpoint.notes.extend(notes)
        return endpoint, started
    raise AssertionError("unreachable")


def _native_context(recipe: Recipe) -> int | None:
    try:
        from servelab.plan.facts import native_context
    except ImportError:
        return None
    try:
        return native_context(recipe)
    except Exception:
        return None


# --- detached engines (servelab up / down / status / logs) -----------------------------------


def up(
    recipe: Recipe, *, fit_context: bool = False, progress: Progress | None = None, **kwargs: Any
) -> Endpoint:
    """Start an engine that outlives this process; registered for `down` and `status`."""
    name = kwargs.get("name") or recipe.name
    existing = registry_dir() / f"{name}.json"
    if existing.exists():
        record = json.loads(existing.read_text())
        if group_alive(record["pid"]):
            raise BadInput(f"{name} is already running at {record['url']}; `servelab down {name}`")
        existing.unlink()
    endpoint, started = start_fitting(recipe, fit_context=fit_context, progress=progress, **kwargs)
    (registry_dir() / f"{endpoint.name}.json").write_text(json.dumps(endpoint.to_json(), indent=2))
    started.detach()
    return endpoint


@contextmanager
def launch(
    recipe: Recipe | str,
    *,
    fit_context: bool = False,
    progress: Progress | None = None,
    **kwargs: Any,
) -> Iterator[Endpoint]:
    """``with launch(recipe) as ep:`` — the engine lives exactly as long as the block."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    endpoint, started = start_fitting(recipe, fit_context=fit_context, progress=progress, **kwargs)
    try:
        yield endpoint
    finally:
        started.stop(grace=kwargs.get("grace", 10.0))
