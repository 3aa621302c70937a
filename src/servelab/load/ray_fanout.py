"""Load generation over a Ray cluster: one Ray task per share (a generator, one CPU each), merged
like local client processes.

Stamps are ``time.perf_counter()`` values, comparable only within one host. Each task reports
its clock offset (``time.time() − time.perf_counter()`` at its start), and the driver moves its
stamps onto the driver's clock: a request's TTFT, TPOT and E2EL are differences within one task
and exact; a level's duration and in-flight count across nodes carry the nodes' wall-clock skew
(NTP keeps it to milliseconds). Every task starts at one wall-clock instant, ``START_DELAY_S``
after the driver submits them (so a task still being scheduled does not start late).
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace

from servelab.errors import BadInput
from servelab.load import eventloop
from servelab.load.fanout import lost
from servelab.load.worker import Share, ShareResult, run_share

START_DELAY_S = 3.0
GET_TIMEOUT_S = 3600.0
CONNECT_TIMEOUT_S = 5.0


def _ray():
    try:
        import ray
    except ImportError:
        raise BadInput(
            "{ray} needs Ray: pip install 'servelab[ray]' (on the driver and every node)",
            mentions=["ray"],
        ) from None
    return ray


def connect(address: str) -> int:
    """Join the cluster at ``address`` ('local': start one here; 'auto': the running one) and
    return its CPU count (the default number of generators)."""
    ray = _ray()
    if not ray.is_initialized():
        _reachable(address)
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except Exception as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()] or [""]
            raise BadInput(
                f"cannot reach the Ray cluster: {type(exc).__name__}: {lines[-1].strip()[:300]}",
                field="ray",
                value=address,
            ) from None
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _reachable(address: str) -> None:
    """Fail fast on a host:port nothing listens on (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # 'auto', 'local', or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise BadInput(f"cannot reach the Ray cluster: {exc}", field="ray", value=address) from None


def _generate(share: Share) -> ShareResult:
    """The body of one Ray task."""
    return eventloop.run(run_share(share))


def _on_driver_clock(result: ShareResult, driver_offset: float) -> ShareResult:
    """``result`` with every stamp moved from its process's perf_counter to the driver's."""
    shift = result.clock_offset - driver_offset
    if not shift:
        return result

    def moved(value: float | None) -> float | None:
        return None if value is None else value + shift

    result.outcomes = [
        o._replace(t_due=moved(o.t_due), t_sent=o.t_sent + shift, t_end=o.t_end + shift)
        for o in result.outcomes
    ]
    result.late_wakes = [(wake + shift, late) for wake, late in result.late_wakes]
    result.clock_offset = driver_offset
    return result


def run_shares(shares: list[Share], address: str) -> list[ShareResult]:
    """Every share as one Ray task, started together; each result on the driver's clock."""
    ray = _ray()
    connect(address)
    task = ray.remote(num_cpus=1, max_retries=0)(_generate)
    start_at = time.time() + START_DELAY_S
    refs = [task.remote(replace(share, start_at=start_at)) for share in shares]
    driver_offset = time.time() - time.perf_counter()
    results = []
    for share, ref in zip(shares, refs, strict=True):
        try:
            result = ray.get(ref, timeout=GET_TIMEOUT_S)
        except Exception as exc:  # a task that raised, or a node that died
            lines = [line for line in str(exc).splitlines() if line.strip()] or [""]
            results.append(lost(share, f"Ray generator failed: {type(exc).__name__}: {lines[-1]}"))
            continue
        results.append(_on_driver_clock(result, driver_offset))
    return results
