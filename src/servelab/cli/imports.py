"""`servelab import FILE…`: other tools' result files and published lists into the store."""

from __future__ import annotations

from pathlib import Path

import typer

from servelab.cli.app import DB_HELP, app, console, db_url, guarded
from servelab.imports import import_benches, read_source, reader_for, tool_name
from servelab.records import BenchResult, ReportedResult
from servelab.store import Store, load_reported
from servelab.store.reported import bundled_reported
from servelab.store.url import redacted

FILES_HELP = (
    "Result files: vllm bench serve --save-result JSON, GuideLLM benchmarks JSON, AIPerf "
    "profile_export_aiperf.json/.csv, llama-bench -o json/jsonl, servelab bench --json, or a "
    "YAML/JSON list of published results (or a bundled set: post-leaderboard)."
)


def _published_list(data: object) -> bool:
    """A list of published results (stack, version, decode_tps …), or a 'results:' list."""
    if isinstance(data, dict):
        data = data.get("results")
    return isinstance(data, list) and any(
        isinstance(item, dict) and "decode_tps" in item for item in data
    )


def _load(ref: str, stack: str | None) -> tuple[list[BenchResult], list[ReportedResult]]:
    """One file's benches (a tool's results) or published entries (a reported list)."""
    path = Path(ref)
    if not path.exists() and ref in bundled_reported():
        return [], load_reported(ref)
    source = read_source(path)
    if reader_for(source) is None and _published_list(source.data):
        return [], load_reported(path)
    benches = import_benches(source)
    if stack:
        for bench in benches:
            bench.provenance.stack = stack
    return benches, []


def _describe(bench: BenchResult) -> str:
    origin = bench.provenance.imported
    prov = bench.provenance
    mean = bench.summary.mean if bench.summary else None
    value = f"{mean:.2f} t/s" if mean is not None else "no t/s"
    if origin is None:
        return f"  {prov.stack}@{prov.stack_version}: {value}"
    rank = "ranked with servelab's" if origin.comparable else "not ranked with servelab's"
    return (
        f"  {prov.stack}@{prov.stack_version}: {value} = {origin.figure} [{tool_name(bench)}; "
        f"{origin.formula}; {rank}: {origin.note}]"
    )


@app.command("import")
@guarded
def import_command(
    files: list[str] = typer.Argument(..., metavar="FILE...", help=FILES_HELP),
    stack: str | None = typer.Option(None, "--stack", help="Store under this stack name."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Store other tools' results (marked imported, with provenance) and published lists."""
    loaded = [(ref, *_load(ref, stack)) for ref in files]  # every file read before any write
    with Store(db_url(db)) as store:
        where = redacted(store.url)
        for ref, benches, entries in loaded:
            if entries:
                ids = store.import_reported(entries)
                console.print(
                    f"imported {len(ids)} reported (not measured) results from {ref} into {where}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
                continue
            for bench in benches:
                bench.id = store.save_bench(bench)
            tools = sorted({tool_name(bench) for bench in benches})
            console.print(
                f"imported {len(benches)} benches from {ref} ({', '.join(tools)}) into {where}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            for bench in benches:
                console.print(_describe(bench), markup=False, highlight=False, soft_wrap=True)
