"""What `up` shows while an engine loads: its phase (from real engine logs) and last line."""

from __future__ import annotations

import io

from rich.console import Console

from servelab.cli.notes import Notes
from servelab.engines import get_engine
from servelab.loadwatch import LoadingLine, last_line, loading_line
from tests.support import DATA

LOGS = DATA / "logs"


def _phase(engine: str, name: str) -> str | None:
    return get_engine(engine).load_phase((LOGS / name).read_text(errors="replace"))


def test_phases_from_real_logs():
    assert _phase("vllm", "vllm_0.22.0_h200_dflash_fa4_fp8.log") == "CUDA graphs captured"
    assert _phase("vllm", "vllm_0.20.2_h100_kv_too_small.log") == "compiling"
    assert _phase("llamacpp", "llamacpp_model_missing.log") == "loading weights"
    assert _phase("llamacpp", "llamacpp_bad_arg.log") is None


def test_loading_line_takes_the_last_progress_bar_segment(tmp_path):
    log = tmp_path / "engine.log"
    log.write_text(
        "INFO Starting to load model m...\n"
        "Capturing CUDA graphs (PIECEWISE):   6%| 2/32\r"
        "Capturing CUDA graphs (PIECEWISE):  50%| 16/32"
    )
    line = loading_line(log, get_engine("vllm"), 12.4)
    assert isinstance(line, LoadingLine)
    assert (
        line
        == "loading 12 s · capturing CUDA graphs · Capturing CUDA graphs (PIECEWISE):  50%| 16/32"
    )
    assert last_line("a\n\n") == "a" and len(last_line("x" * 500)) == 100


def test_notes_are_a_live_line_on_a_terminal_and_throttled_lines_elsewhere():
    tty = io.StringIO()
    notes = Notes(Console(file=tty, force_terminal=True, width=80))
    notes(LoadingLine("loading 2 s · starting · a"))
    notes(LoadingLine("loading 4 s · loading weights · b"))
    notes("started")
    assert tty.getvalue().count("\r\x1b[2K") == 3  # two updates in place, then cleared
    plain = io.StringIO()
    notes = Notes(Console(file=plain, force_terminal=False, width=200))
    notes(LoadingLine("loading 2 s · starting · a"))
    notes(LoadingLine("loading 4 s · starting · b"))  # within 10 s of the last: not printed
    assert plain.getvalue() == "loading 2 s · starting · a\n"
