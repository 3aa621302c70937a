"""Is a run's decode figure the engine's speed? The burst rule, server agreement, the roofline.

A run is valid when it is ok and none of these fires (the first that fires is its reason):

Burst rule, from the per-read arrival stamps the transport keeps. With C content chunks over R
network reads that carried content, m₁ of them in the first such read, the decode window
W = t_last_chunk − t_first_token and the end-to-end time E = t_last_chunk − t_request_sent:

- **no window**: output tokens ≥ 2 but W = 0 (every content chunk arrived in one read);
- **held at start**: m₁ ≥ ``HELD_MIN`` and m₁ − 1 ≥ ``HELD_SHARE`` · (C − 1): that share of the
  chunks after the first arrived together with it, so their generation time lies before the
  decode window and the figure is overstated by up to (C − 1) / (C − m₁);
- **compressed**: C / R ≥ ``CLUMP`` and W < ``WINDOW_SHARE`` · E: the chunks came in clumps
  within a decode window that is a small part of the request (a buffering proxy, a starved
  server thread).

The rule counts chunks and reads, never tokens: a speculative stream whose chunks carry several
tokens each, one chunk per read, passes; so does a plain stream at thousands of t/s.

Server agreement: where the engine reports its own decode figure S for the run, the client's D
is rejected when |D / S − 1| > ``AGREEMENT_TOLERANCE`` and the two decode windows differ by more
than ``AGREEMENT_SLACK_S`` (the slack absorbs scheduling jitter on short runs).

Roofline: a decode figure above the plan's roofline for the recipe's GPU is implausible.
"""

from __future__ import annotations

from servelab.records import RunRecord

HELD_MIN = 4
HELD_SHARE = 0.25
CLUMP = 8.0
WINDOW_SHARE = 0.10
AGREEMENT_TOLERANCE = 0.25  # CPU contention moved a real llama-server run by 12.6 % (RESULTS.md)
AGREEMENT_SLACK_S = 0.020

RULE = (
    f"burst: no decode window, or ≥ {HELD_SHARE:.0%} of the chunks after the first arrived in "
    f"the first read (≥ {HELD_MIN} chunks), or ≥ {CLUMP:g} chunks per read within a decode "
    f"window < {WINDOW_SHARE:.0%} of end-to-end time"
)
AGREEMENT_RULE = (
    f"|decode t/s ÷ server decode t/s − 1| ≤ {AGREEMENT_TOLERANCE:.0%} "
    f"(or decode windows within {1000 * AGREEMENT_SLACK_S:g} ms)"
)


def _window(run: RunRecord) -> float | None:
    if run.duration_s is None or run.ttft_s is None:
        return None
    return run.duration_s - run.ttft_s


def burst_reason(run: RunRecord) -> str | None:
    """The burst rule's finding with its evidence in one line, or None."""
    chunks, reads, first = run.chunks, run.reads or 0, run.first_read_chunks or 0
    window, e2e = _window(run), run.duration_s
    evidence = (
        f"{chunks} content chunks in {reads} reads, {first} in the first; decode window "
        f"{1000 * (window or 0):.1f} ms of {1000 * (e2e or 0):.1f} ms end-to-end"
    )
    if (run.output_tokens or 0) >= 2 and run.decode_tps is None:
        return f"burst (no decode window): {evidence}"
    if first >= HELD_MIN and first - 1 >= HELD_SHARE * (chunks - 1):
        return f"burst (held at start): {evidence}"
    clumped = bool(reads) and chunks / reads >= CLUMP
    if clumped and window is not None and e2e and window < WINDOW_SHARE * e2e:
        return f"burst (compressed): {evidence}"
    return None


def disagreement_reason(run: RunRecord) -> str | None:
    """Why the client's and the server's own decode figures disagree, or None."""
    client, server = run.decode_tps, run.server_decode_tps
    if client is None or not server or not run.output_tokens:
        return None
    ratio = client / server - 1
    steps = run.output_tokens - 1
    gap = abs(steps / client - steps / server)
    if abs(ratio) <= AGREEMENT_TOLERANCE or gap <= AGREEMENT_SLACK_S:
        return None
    return (
        f"disagrees with the server: {client:.2f} t/s here, {server:.2f} t/s by the server's "
        f"own record ({ratio:+.1%}; tolerance {AGREEMENT_TOLERANCE:.0%})"
    )


def roofline_reason(run: RunRecord, roofline_tps: float | None) -> str | None:
    """A decode figure above the roofline is implausible."""
    if roofline_tps is None or run.decode_tps is None or run.decode_tps <= roofline_tps:
        return None
    return (
        f"implausible: {run.decode_tps:.2f} t/s is above the roofline "
        f"{roofline_tps:.2f} t/s for this GPU"
    )


def assess(run: RunRecord, roofline_tps: float | None = None) -> RunRecord:
    """Set ``valid`` and ``invalid_reason`` on a run (failed runs are not valid, no reason)."""
    if not run.ok:
        run.valid, run.invalid_reason = False, None
        return run
    reason = burst_reason(run) or disagreement_reason(run) or roofline_reason(run, roofline_tps)
    run.valid, run.invalid_reason = reason is None, reason
    return run


def bench_verdict(runs: list[RunRecord], load_ok: int | None = None) -> tuple[str, str | None]:
    """A finished bench's status and one-line reason: ``failed`` when every run failed,
    ``invalid`` when no run is valid, else ``complete``. A bench of load levels alone
    (``load_ok``: its ok requests) is judged by those: ``failed`` when none answered."""
    if not runs and load_ok is not None:
        return ("complete", None) if load_ok else ("failed", "no load request succeeded")
    if not runs:
        return "failed", "no run was made"
    if not any(run.ok for run in runs):
        first = next((run.error for run in runs if run.error), "unknown error")
        return "failed", f"all {len(runs)} runs failed (run 1: {first})"
    if not any(run.valid for run in runs):
        first = next(run for run in runs if run.ok)
        why = first.invalid_reason or "not valid"
        return "invalid", f"no valid run of {len(runs)} (run {first.index}: {why})"
    return "complete", None
