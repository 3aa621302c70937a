"""Capability checks: vision, tools, agent loop, context recall, lossless speculation, ceiling.

Each check returns a :class:`servelab.records.CheckResult` with the answers as evidence.
"""

from servelab.checks.runner import (
    CHECK_NAMES,
    CheckOptions,
    CheckReport,
    check_endpoint,
    check_recipe,
    default_checks,
    store_report,
)

__all__ = [
    "CHECK_NAMES",
    "CheckOptions",
    "CheckReport",
    "check_endpoint",
    "check_recipe",
    "default_checks",
    "store_report",
]
