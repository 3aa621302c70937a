"""What a user may choose when exporting a recipe (everything else follows the recipe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servelab.errors import BadInput


@dataclass
class ExportOptions:
    """Export choices; every field has a secure, runnable default."""

    namespace: str | None = None
    nodes: int | None = None  # multi-node (LeaderWorkerSet) when > 1; default: pipeline size
    bind: str = "127.0.0.1"  # compose: host address the port is published on
    host_port: int | None = None  # compose: published port (default: the container's)
    cache_size: str | None = None  # model cache volume (default: from the model's weight size)
    shm_size: str = "16Gi"  # /dev/shm (memory-backed) for NCCL and engine workers
    run_as_user: int | None = None  # force a non-root UID (also for images that run as root)
    startup_seconds: int | None = None  # startup probe budget (default: 3× the engine's)
    image: str | None = None  # job: an image with servelab and the engine installed
    storage_class: str | None = None
    sizing: Any = None  # export.sizing.Sizing: requests derived from the model (set on export)

    def __post_init__(self) -> None:
        if self.nodes is not None and self.nodes < 1:
            raise BadInput(f"expected a positive number (got {self.nodes})", field="nodes")
        if self.run_as_user is not None and self.run_as_user < 1:
            raise BadInput(
                f"expected a non-root UID ≥ 1 (got {self.run_as_user})", field="run_as_user"
            )
        if self.host_port is not None and not 1 <= self.host_port <= 65535:
            raise BadInput(f"expected 1-65535 (got {self.host_port})", field="host_port")
