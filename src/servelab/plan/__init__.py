"""Plan a stack before it launches: model facts, memory and KV math, context fit, roofline."""

from servelab.plan.build import build_plan

__all__ = ["build_plan"]
