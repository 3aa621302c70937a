"""Workloads: prompts, images, tool schemas and haystacks that stages send to a server."""

from servelab.workloads.depth import with_depth
from servelab.workloads.prompts import (
    DEFAULT_WORKLOAD,
    Workload,
    get_workload,
    list_workloads,
    messages_hash,
)

__all__ = [
    "DEFAULT_WORKLOAD",
    "Workload",
    "get_workload",
    "list_workloads",
    "messages_hash",
    "with_depth",
]
