"""The HTML report: content, escaping, and a real render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from servelab.records import (
    BenchResult,
    CheckResult,
    CheckSet,
    ConcurrencyLevel,
    Provenance,
    RunRecord,
    SpecStats,
    Summary,
)
from servelab.report.html import render_html, write_html

INJECTED = "<script>window.__pwned=1</script>"
# The post's second table: a cold 212.41 first, then nine warm runs (mean 250.803).
POST_RUNS = [212.41, 254.39, 251.89, 252.42, 250.74, 247.27, 249.58, 251.14, 253.27, 246.53]


def _bench() -> BenchResult:
    runs = [
        RunRecord(index=i + 1, cold=i == 0, ok=True, decode_tps=v, output_tokens=2500, chunks=880)
        for i, v in enumerate(POST_RUNS)
    ]
    runs.append(RunRecord(index=11, ok=False, error="short: 1900 of 2500 tokens", decode_tps=231.0))
    provenance = Provenance(
        stack="gemma4-26b-a4b-vision-mtp",
        stack_version="1.0.5",
        endpoint="http://127.0.0.1:8000",
        model="gemma",
        engine="vllm",
        engine_version="0.21.0",
        gpu=[{"name": "RTX 5090 Laptop GPU"}],
        host="bench-host",
        servelab_version="0.1.0",
        workload_id="space-invaders",
        workload_hash="abc",
        tokens=2500,
    )
    return BenchResult(
        id="b1",
        provenance=provenance,
        started_at=1_767_000_000.0,
        status="complete",
        runs=runs,
        summary=Summary(n=9, mean=250.803, min=246.53, max=254.39, range=7.86, stdev=2.64),
        spec=SpecStats(
            drafts=10000,
            drafted=29997,
            accepted=25920,
            acceptance_rate=25920 / 29997,
            mean_acceptance_length=1 + 25920 / 10000,
            per_position=[0.95, 0.87, 0.77],
            k=3,
            estimated_tokens_per_step=1 + 3 * 25920 / 29997,
            source="metrics",
        ),
        concurrency=[
            ConcurrencyLevel(
                concurrency=c, requests=4, ok=4, aggregate_tps=a, per_user_decode_tps=u
            )
            for c, a, u in [(1, 250.0, 250.0), (2, 410.0, 205.0), (4, 660.0, 165.0)]
        ],
    )


def _board() -> list[dict]:
    return [
        {
            "stack": "gemma4-26b-a4b-vision-mtp",
            "version": "1.0.5",
            "decode_tps": 250.548,
            "stdev": 1.687,
            "n": 10,
            "acceptance_rate": 25920 / 29997,
            "vision": True,
            "tools": True,
            "context": 131072,
            "engine": "vllm 0.21.0",
            "gpu": "RTX 5090 Laptop GPU",
            "reported": False,
        },
        {
            "stack": "qwen3.6-35b-a3b-mtp",
            "version": "1.0.0",
            "decode_tps": 249.30,
            "stdev": None,
            "n": None,
            "acceptance_rate": None,
            "vision": False,
            "tools": None,
            "context": 262144,
            "engine": "llamacpp",
            "gpu": None,
            "reported": True,
        },
    ]


def _checks() -> dict[str, list[CheckResult]]:
    answer = {"prompt": "What color is this image? One word.", "answer": f"{INJECTED} Red"}
    return {
        "gemma4-26b-a4b-vision-mtp 1.0.5": [
            CheckResult(name="vision", passed=True, detail="said red", evidence=[answer]),
            CheckResult(name="tools", passed=False, detail="no tool call", evidence=[]),
        ]
    }


@pytest.fixture(scope="module")
def page() -> str:
    return render_html([_bench()], _checks(), _board())


def _board_row(page: str, text: str) -> str:
    rows = re.findall(r"<tr class=\"board-row[^\"]*\">(.*?)</tr>", page, re.S)
    found = [row for row in rows if text in row]
    assert len(found) == 1, f"no single board row with {text!r}"
    return found[0]


def test_model_output_is_escaped_text(page: str) -> None:
    assert INJECTED not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; Red" in page
    assert "<script" not in page.lower()


def test_page_is_self_contained(page: str) -> None:
    assert re.search(r"(src|href)=\"(https?:)?//", page) is None
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    images = re.findall(r"<img src=\"data:image/png;base64,[A-Za-z0-9+/=]+\"", page)
    # the stack comparison, per-run, per-position acceptance, concurrency
    assert len(images) == 4
    assert 'alt="decode t/s by stack"' in page


def test_board_rows_marks_and_formula(page: str) -> None:
    gemma = _board_row(page, "gemma4-26b-a4b-vision-mtp</td>")
    assert "250.55 ± 1.69 (n=10)" in gemma and "86.4 %" in gemma
    assert gemma.count("✓") == 2
    qwen = _board_row(page, "qwen3.6-35b-a3b-mtp (reported)")
    assert "✗" in qwen and "✓" not in qwen  # tools never checked: blank, not ✓
    assert "(output_tokens − 1) / (t_last_chunk − t_first_token)" in page


def test_runs_cold_and_excluded_are_marked(page: str) -> None:
    cold_row = r"<tr class=\"cold\">\s*<td class=\"num\">1</td><td class=\"num\">212.41"
    assert re.search(cold_row, page)
    assert "excluded: short: 1900 of 2500 tokens" in page
    assert "Δaccepted / Δdrafted = 25,920 / 29,997 = 86.41 %" in page


def test_empty_store_renders(tmp_path: Path) -> None:
    path = write_html(tmp_path / "sub" / "empty.html", render_html([], [], []))
    text = path.read_text()
    assert "No stored results yet." in text and "No stored checks." in text


def test_report_command_reads_the_store(run_cli, tmp_path: Path) -> None:
    """`servelab report --html` against a real SQLite store: latest bench, board, checks."""
    from servelab.store import Store

    db = tmp_path / "results.db"
    bench = _bench()
    with Store(str(db)) as store:
        store.save_bench(bench.model_copy(update={"id": None}))
        store.save_checks(
            CheckSet(
                stack="gemma4-26b-a4b-vision-mtp",
                stack_version="1.0.5",
                checks=_checks()["gemma4-26b-a4b-vision-mtp 1.0.5"],
            )
        )
    out = tmp_path / "site" / "report.html"
    result = run_cli("report", "--html", str(out), "--db", str(db), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "1 board rows, 1 benches, 2 checks" in result.stdout
    page = out.read_text()
    row = _board_row(page, "gemma4-26b-a4b-vision-mtp</td>")
    assert "250.80" in row and "✓" in row and "✗" in row  # vision passed, tools failed
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; Red" in page
    assert "212.41" in page and "cold (excluded)" in page  # the stored runs came back
    assert page.count('<img src="data:image/png;base64,') == 4  # stacks compared + the bench's

    empty = run_cli("report", "--html", str(tmp_path), "--db", str(db), timeout=120)
    assert empty.returncode == 2 and "is a folder" in empty.stderr


# --- headless Chromium -------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium(tmp_path: Path, profile: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _console_lines(stderr: str) -> list[str]:
    """Chromium logs every console message and uncaught error as CONSOLE lines."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/install-chromium.sh)")
def test_console_scan_sees_errors(tmp_path: Path) -> None:
    """Control: the scan below would notice a page that logs or throws."""
    bad = tmp_path / "bad.html"
    bad.write_text("<p>x</p><script>console.error('boom'); missingFunction();</script>")
    result = _chromium(tmp_path, "profile-bad", "--dump-dom", bad.as_uri())
    lines = _console_lines(result.stderr)
    assert any("boom" in line for line in lines)
    assert any("Uncaught ReferenceError" in line for line in lines)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/install-chromium.sh)")
def test_report_renders_in_chromium(
    tmp_path: Path, page: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = write_html(tmp_path / "report.html", page)

    dom = _chromium(tmp_path, "profile-dom", "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<script" not in dom.stdout.lower()  # the stored answer stayed text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; Red" in dom.stdout
    assert dom.stdout.count('class="board-row') == 2
    assert "gemma4-26b-a4b-vision-mtp" in dom.stdout and "qwen3.6-35b-a3b-mtp" in dom.stdout
    assert _console_lines(dom.stderr) == []

    screenshot = tmp_path / "report.png"
    shot = _chromium(
        tmp_path,
        "profile-shot",
        "--window-size=1200,2400",
        f"--screenshot={screenshot}",
        report.as_uri(),
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert _console_lines(shot.stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(screenshot) as image:
        assert image.size == (1200, 2400)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text and plots, not a blank page
    with capsys.disabled():  # into the CI log even when output is captured
        print(f"\nreport screenshot: {screenshot}")


# --- load levels ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def load_page() -> str:
    from tests.store_samples import sample_load

    bench = _bench().model_copy(update={"load": sample_load()})
    return render_html([bench], {}, _board())


def test_load_levels_draw_the_latency_curve_with_slo_and_formulas(load_page: str) -> None:
    images = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', load_page)
    assert any(alt.startswith("latency against throughput for ") for alt in images)
    assert "TTFT = first content chunk received − request sent" in load_page
    assert "dashed: SLO" in load_page and "ttft_ms ≤ 500.0" in load_page
    assert "unreliable: client CPU pegged" in load_page


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/install-chromium.sh)")
def test_load_curve_renders_in_chromium(tmp_path: Path, load_page: str) -> None:
    report = write_html(tmp_path / "load.html", load_page)
    dom = _chromium(tmp_path, "profile-load", "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'alt="latency against throughput for ' in dom.stdout
    assert _console_lines(dom.stderr) == []
