"""The report's charts: titled, sequential and load runs apart, outliers clipped and marked,
regimes coloured, stacks compared; a screenshot from headless Chromium for a person to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from servelab.records import (
    BenchResult,
    Cluster,
    ConcurrencyLevel,
    ImportedFrom,
    Provenance,
    Regimes,
    RunRecord,
    Summary,
)
from servelab.report import plots, stackchart
from servelab.report.board import BoardRow
from servelab.report.html import render_html, write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _bench(stack: str, values: list[float], **extra) -> BenchResult:
    runs = [RunRecord(index=i + 1, ok=True, decode_tps=v) for i, v in enumerate(values)]
    prov = Provenance(
        stack=stack,
        stack_version="1.0.0",
        endpoint="http://127.0.0.1:8080",
        model=stack,
        host="h",
        servelab_version="0",
        workload_id="w",
        workload_hash="x",
        tokens=100,
    )
    n = len(values)
    mean = sum(values) / n
    summary = Summary(n=n, mean=mean, ci95=[mean * 0.98, mean * 1.02], stdev=1.0)
    return BenchResult(
        id=stack,
        provenance=prov,
        started_at=1.0,
        status="complete",
        runs=runs,
        summary=summary,
        **extra,
    )


def _captured(monkeypatch) -> list:
    figures: list = []
    monkeypatch.setattr(plots, "_data_uri", lambda figure: figures.append(figure) or "data:,")
    monkeypatch.setattr(stackchart, "_data_uri", lambda figure: figures.append(figure) or "data:,")
    return figures


def test_outlier_is_clipped_and_marked(monkeypatch):
    figures = _captured(monkeypatch)
    values = [100.0, 101.0, 99.5, 100.5, 100.2, 5000.0]
    assert plots.robust_top(values) is not None and plots.robust_top(values) < 5000
    assert plots.robust_top([100.0, 101.0, 99.0, 100.5]) is None  # nothing to clip
    plots.runs_plot(
        [RunRecord(index=i + 1, ok=True, decode_tps=v) for i, v in enumerate(values)],
        title="s 1.0.0",
    )
    [axes] = figures[0].axes
    assert axes.get_ylim()[1] < 5000
    assert any("▲ 5,000" in text.get_text() for text in axes.texts)
    assert axes.get_title() == "s 1.0.0 — sequential runs"


def test_load_runs_are_a_separate_chart_in_their_own_colours(monkeypatch):
    figures = _captured(monkeypatch)
    runs = [RunRecord(index=1, ok=True, decode_tps=100.0)]
    runs += [RunRecord(index=2 + i, ok=True, decode_tps=60.0, concurrency=4) for i in range(4)]
    plots.runs_plot(runs, title="s")
    plots.load_runs_plot(runs, title="s")
    sequential, load = (figure.axes[0] for figure in figures)
    assert len(sequential.patches) == 1 and len(load.patches) == 4
    assert sequential.patches[0].get_facecolor() != load.patches[0].get_facecolor()
    assert load.get_title() == "s — runs under load"


def test_regimes_colour_the_runs(monkeypatch):
    figures = _captured(monkeypatch)
    values = [220.0, 221.0, 60.0, 61.0]
    regimes = Regimes(
        bimodal=True, clusters=[Cluster(mean=220.5, runs=[1, 2]), Cluster(mean=60.5, runs=[3, 4])]
    )
    runs = [RunRecord(index=i + 1, ok=True, decode_tps=v) for i, v in enumerate(values)]
    plots.runs_plot(runs, regimes=regimes)
    colours = {patch.get_facecolor() for patch in figures[0].axes[0].patches}
    assert len(colours) == 2
    assert [t.get_text() for t in figures[0].axes[0].get_legend().get_texts()][:2] == [
        "regime 1: 220.5",
        "regime 2: 60.5",
    ]


def test_stack_chart_has_ci_bars_and_load_peaks(monkeypatch):
    figures = _captured(monkeypatch)
    loaded = _bench(
        "b",
        [90.0, 91.0],
        concurrency=[
            ConcurrencyLevel(concurrency=c, requests=4, ok=4, aggregate_tps=t)
            for c, t in ((1, 90.0), (4, 300.0))
        ],
    )
    board = [
        {"stack": "a", "version": "1.0.0", "decode_tps": 100.0, "bench_id": "a"},
        {"stack": "b", "version": "1.0.0", "decode_tps": 90.5, "bench_id": "b"},
    ]
    stackchart.stacks_plot(board, {"a": _bench("a", [99.0, 101.0]), "b": loaded})
    first, second = figures[0].axes
    assert first.get_title().startswith("Decode t/s by stack")
    assert [t.get_text() for t in first.get_yticklabels()] == ["b 1.0.0", "a 1.0.0"]
    assert second.get_title() == "Peak aggregate t/s over load levels"
    assert stackchart.peak_load_tps(loaded) == 300.0


def _report_page() -> str:
    steady = _bench("llamacpp-stories260k", [2400.0, 2410.0, 2395.0, 2405.0, 2398.0, 9800.0])
    steady.runs += [
        RunRecord(index=7 + i, ok=True, decode_tps=900.0 + 10 * i, concurrency=4) for i in range(4)
    ]
    steady.concurrency = [
        ConcurrencyLevel(concurrency=c, requests=4, ok=4, aggregate_tps=t, per_user_decode_tps=u)
        for c, t, u in ((1, 2400.0, 2400.0), (4, 3700.0, 925.0))
    ]
    bimodal = _bench("drafter-stack", [220.0, 221.0, 219.0, 60.0, 61.0, 59.0])
    bimodal.regimes = Regimes(
        bimodal=True,
        clusters=[Cluster(mean=220.0, runs=[1, 2, 3]), Cluster(mean=60.0, runs=[4, 5, 6])],
        pattern="FFFSSS",
    )
    imported = _bench("standin-1b", [502.0], reported=True, source="imported from vllm bench serve")
    imported.provenance.imported = ImportedFrom(
        tool="vllm bench serve",
        file="r.json",
        sha256="0" * 64,
        figure="1000 / mean_tpot_ms",
        formula="TPOT = (e2el − ttft) / (output_len − 1)",
        comparable=True,
        note="harmonic mean",
    )
    board = [
        BoardRow(
            stack=b.provenance.stack,
            version="1.0.0",
            decode_tps=b.summary.mean,
            stdev=1.0,
            acceptance_rate=None,
            vision=None,
            tools=None,
            context=None,
            engine="llamacpp",
            gpu="",
            n=b.summary.n,
            reported=b.reported,
            bench_id=b.id,
            imported="vllm bench serve" if b is imported else None,
            figure="1000 / mean_tpot_ms; TPOT = …" if b is imported else None,
        ).model_dump()
        for b in (steady, imported, bimodal)
    ]
    return render_html([steady, bimodal, imported], {}, board, title="servelab charts")


def test_report_holds_every_chart():
    page = _report_page()
    assert 'alt="decode t/s by stack"' in page
    assert page.count('alt="decode t/s per run for') == 3
    assert page.count('alt="per-stream decode t/s under load for') == 1
    assert "(imported from vllm bench serve" in page and "1000 / mean_tpot_ms" in page


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/install-chromium.sh)")
def test_report_screenshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(os.environ.get("SERVELAB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    report = write_html(folder / "report-charts.html", _report_page())
    screenshot = folder / "report-charts.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1300,3600",
            f"--screenshot={screenshot}",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    from PIL import Image

    with Image.open(screenshot) as image:
        assert image.size == (1300, 3600)
        assert len(image.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 50
    with capsys.disabled():
        print(f"\nreport charts screenshot: {screenshot}")
