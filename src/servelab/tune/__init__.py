"""Tunes: sweep one recipe key against a matched baseline, with error bars and drift."""

from servelab.tune.analysis import analyse, decode_values
from servelab.tune.executors import LocalExecutor, make_executor
from servelab.tune.experiment import TuneRun, open_tune, report, run_tune
from servelab.tune.slot import SlotOutcome, run_slot
from servelab.tune.sweep import Sweep, TunePlan, TuneSettings, build_plan, parse_sweep

__all__ = [
    "LocalExecutor",
    "SlotOutcome",
    "Sweep",
    "TunePlan",
    "TuneRun",
    "TuneSettings",
    "analyse",
    "build_plan",
    "decode_values",
    "make_executor",
    "open_tune",
    "parse_sweep",
    "report",
    "run_slot",
    "run_tune",
]
