"""Pick the fastest measured stack that meets the needs, with the evidence behind the pick.

Only measured benches count (reported results never qualify); a need is met only by the latest
stored check of that name having passed; the context is the served context of the bench's
recipe; a bimodal stack is ranked by its slowest cluster's mean (its mean is no headline).
"""

from __future__ import annotations

from pydantic import BaseModel

from servelab.errors import RunFailed
from servelab.records import BenchResult
from servelab.report.board import latest_benches
from servelab.report.format import context_text, engine_text, gpu_text
from servelab.report.headline import Headline, headline, ranking_tps
from servelab.report.ranking import RULE, tie_reason
from servelab.store import Store, StoredCheck


class Candidate(BaseModel):
    """A stack version that meets the needs, with its evidence."""

    stack: str
    version: str
    bench_id: str
    n: int
    decode_tps: float
    stdev: float | None
    ranked_by_tps: float
    context: int | None
    engine: str
    gpu: str
    checks: dict[str, int]  # need → stored check id


class Recommendation(BaseModel):
    best: Candidate | None  # None on a tie: no winner is called
    others: list[Candidate]
    rejected: dict[str, str]  # stack@version → why
    tie: str | None = None  # why no winner is called (report/ranking.py)
    rule: str = RULE


def _gpu_matches(bench: BenchResult, gpu: str) -> bool:
    return gpu.lower() in gpu_text(bench).lower()


def _why_not(
    bench: BenchResult,
    found: dict[str, StoredCheck],
    needs: list[str],
    context: int | None,
    gpu: str | None,
) -> str | None:
    """None when the bench qualifies, else the first reason it does not."""
    if ranking_tps(bench) is None:
        return "no decode t/s stored"
    for need in needs:
        stored = found.get(need)
        if stored is None:
            return f"{need}: never checked"
        if not stored.result.passed:
            return f"{need}: check {stored.id} failed"
    served = bench.provenance.served_context()
    if context is not None and (served is None or served < context):
        return f"context {context_text(served) or 'unknown'} < {context}"
    if gpu is not None and not _gpu_matches(bench, gpu):
        return f"GPU {gpu_text(bench)} does not match {gpu!r}"
    return None


def recommend(
    store: Store,
    needs: list[str] | None = None,
    context: int | None = None,
    gpu: str | None = None,
) -> Recommendation:
    """The best qualifying measured stack; RunFailed naming why when none qualifies."""
    needs = [need.strip().lower() for need in needs or [] if need.strip()]
    benches = latest_benches(store, reported=False)
    if not benches:
        raise RunFailed("no measured benches stored yet (run `servelab bench` first)")
    qualified: list[Candidate] = []
    rejected: dict[str, str] = {}
    for bench in benches:
        prov = bench.provenance
        name = f"{prov.stack}@{prov.stack_version}"
        found = {s.result.name: s for s in store.check_records(prov.stack, prov.stack_version)}
        reason = _why_not(bench, found, needs, context, gpu)
        if reason is not None:
            rejected[name] = reason
            continue
        numbers = headline(bench)
        qualified.append(
            Candidate(
                stack=prov.stack,
                version=prov.stack_version,
                bench_id=bench.id or "",
                n=numbers.n,
                decode_tps=numbers.mean or 0.0,
                stdev=numbers.stdev,
                ranked_by_tps=ranking_tps(bench) or 0.0,
                context=prov.served_context(),
                engine=engine_text(bench),
                gpu=gpu_text(bench),
                checks={need: found[need].id for need in needs},
            )
        )
    if not qualified:
        wanted = ", ".join(needs) or "no needs"
        if context is not None:
            wanted += f", context ≥ {context}"
        if gpu is not None:
            wanted += f", GPU {gpu!r}"
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(rejected.items()))
        raise RunFailed(f"no measured stack meets ({wanted}): {reasons}")
    qualified.sort(  # equal ranking figures fall back to the mean, then the name: never store order
        key=lambda c: (-c.ranked_by_tps, -c.decode_tps, c.stack, c.version)
    )
    tie = _tie(qualified)
    if tie is not None:
        return Recommendation(best=None, others=qualified, rejected=rejected, tie=tie)
    return Recommendation(best=qualified[0], others=qualified[1:], rejected=rejected)


def _tie(ranked: list[Candidate]) -> str | None:
    """Why the first candidate cannot be called the winner over the second (None: it can)."""

    def numbers(candidate: Candidate) -> Headline:
        return Headline(candidate.decode_tps, candidate.stdev, candidate.n)

    def name(candidate: Candidate) -> str:
        return f"{candidate.stack}@{candidate.version}"

    first = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    return tie_reason(
        name(first),
        numbers(first),
        name(second) if second else None,
        numbers(second) if second else None,
    )


def evidence_text(candidate: Candidate) -> str:
    """One line: what the pick rests on."""
    spread = f" ± {candidate.stdev:.2f}" if candidate.stdev is not None else ""
    checks = ", ".join(f"{need} ✓ (check {cid})" for need, cid in candidate.checks.items())
    measured = f"n={candidate.n}, bench {candidate.bench_id}"
    parts = [
        f"{candidate.decode_tps:.2f}{spread} t/s decode ({measured})",
        checks,
        f"context {context_text(candidate.context)}" if candidate.context else "",
        f"{candidate.engine} on {candidate.gpu}" if candidate.engine else candidate.gpu,
    ]
    return "; ".join(part for part in parts if part)
