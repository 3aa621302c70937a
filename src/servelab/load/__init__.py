"""Sustained load: concurrency and request-rate levels, sweeps, latency distributions, goodput,
each level checked against the server's own counters and the client's own saturation."""
