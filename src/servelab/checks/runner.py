"""Choose checks, launch what they need, run them, collect the results (one report)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from servelab.checks.agent import check_agent
from servelab.checks.ceiling import find_ceiling
from servelab.checks.chat import ChatClient
from servelab.checks.context import check_context, default_target
from servelab.checks.lossless import DEFAULT_TOKENS, compare, generate
from servelab.checks.tools import check_tools
from servelab.checks.vision import check_vision
from servelab.endpoint import auth_headers, resolve_api_key
from servelab.engines import detect_engine, get_engine
from servelab.errors import BadInput, EngineFailed
from servelab.gpu import detect_gpus
from servelab.plan.facts import native_context as facts_native_context
from servelab.recipe import Recipe
from servelab.records import CheckResult, CheckSet
from servelab.urls import public_url

CHECK_NAMES = ("vision", "tools", "agent", "context", "lossless", "ceiling")
ENDPOINT_CHECKS = ("vision", "tools", "agent", "context")

Progress = Callable[[str], None]


@dataclass
class CheckOptions:
    """What the user asked for beyond the target."""

    only: list[str] | None = None
    context_len: int | None = None
    both_sides: bool = False
    tolerance: int = 0
    tokens: int = DEFAULT_TOKENS
    api_key: str | None = None  # the --api-key value; the key sent follows endpoint's rule
    url_key: str | None = None  # a key given in the endpoint URL's user-info
    twin_endpoint: str | None = None
    progress: Progress | None = None


@dataclass
class CheckReport:
    """The checks run against one stack or endpoint, and where they ran."""

    checks: list[CheckResult]
    endpoint: str
    model: str
    stack: str | None = None
    recipe: Recipe | None = None
    engine: str | None = None
    engine_version: str | None = None

    def __post_init__(self) -> None:
        self.endpoint = public_url(self.endpoint)  # never store or print user:KEY@host

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def contract(self) -> dict[str, Any]:
        """The `check --json` shape of docs/design.md, plus where it ran."""
        return {
            "checks": [check.model_dump() for check in self.checks],
            "stack": self.stack,
            "endpoint": self.endpoint,
            "model": self.model,
            "engine": self.engine,
            "engine_version": self.engine_version,
            "passed": self.passed,
        }


def parse_only(text: str | None) -> list[str] | None:
    """``vision,tools`` → ["vision", "tools"]; unknown names are bad input."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in CHECK_NAMES]
    if unknown or not names:
        raise BadInput(
            f"unknown check {', '.join(unknown) or '(none given)'} "
            f"(expected a comma list of {', '.join(CHECK_NAMES)})",
            field="only",
        )
    return list(dict.fromkeys(names))


def default_checks(recipe: Recipe | None) -> list[str]:
    """What the recipe's features claim (vision, tools + agent, lossless), context always."""
    if recipe is None:
        return ["context"]
    names = []
    if recipe.features.vision:
        names.append("vision")
    if recipe.features.tools:
        names += ["tools", "agent"]
    names.append("context")
    if recipe.speculative is not None:
        names.append("lossless")
    return names


def native_context(recipe: Recipe | None) -> int | None:
    """The model's native (trained) context, where the plan stage can tell."""
    return facts_native_context(recipe) if recipe is not None else None


def _note(options: CheckOptions, text: str) -> None:
    if options.progress:
        options.progress(text)


def run_on_endpoint(
    client: ChatClient,
    names: list[str],
    options: CheckOptions,
    *,
    max_len: int | None,
    recipe: Recipe | None = None,
) -> list[CheckResult]:
    """The checks that need only a running server: vision, tools, agent, context."""
    results = []
    for name in names:
        _note(options, f"check {name} …")
        if name == "vision":
            limits = recipe.limits.limit_mm_per_prompt if recipe else None
            results.append(check_vision(client, (limits or {}).get("image")))
        elif name == "tools":
            results.append(check_tools(client))
        elif name == "agent":
            results.append(check_agent(client))
        elif name == "context":
            target = options.context_len or default_target(max_len)
            results.append(
                check_context(
                    client, target, native=native_context(recipe), both_sides=options.both_sides
                )
            )
    return results


def check_recipe(recipe: Recipe, options: CheckOptions) -> CheckReport:
    """Launch the recipe (and its no-speculation twin for lossless), run, stop.

    The ceiling runs first, while nothing else holds the GPU. If the recipe then fails to
    start, the ceiling's answer is kept and the other checks say why they did not run.
    """
    names = options.only or default_checks(recipe)
    if "lossless" in names and recipe.speculative is None:
        raise BadInput(f"lossless: {recipe.name} has no speculative decoding (nothing to compare)")
    report = CheckReport(
        checks=[],
        endpoint="",
        model="",
        stack=recipe.name,
        recipe=recipe,
        engine=recipe.engine.name,
    )
    results: dict[str, CheckResult] = {}
    if "ceiling" in names:
        _note(options, "check ceiling …")
        results["ceiling"] = find_ceiling(recipe, options.context_len, progress=options.progress)
    served = [name for name in names if name in ENDPOINT_CHECKS or name == "lossless"]
    if served:
        try:
            results.update(_on_launched(recipe, served, options, report))
        except EngineFailed as exc:
            if "ceiling" not in results:
                raise
            for name in served:
                results.setdefault(
                    name,
                    CheckResult(
                        name=name,
                        passed=False,
                        detail=f"not run: the engine failed to start: {exc}",
                    ),
                )
    report.checks = [results[name] for name in names if name in results]
    return report


def _api_key(recipe: Recipe | None, options: CheckOptions) -> str | None:
    return resolve_api_key(options.api_key, recipe, options.url_key)


def _on_launched(
    recipe: Recipe, names: list[str], options: CheckOptions, report: CheckReport
) -> dict[str, CheckResult]:
    """Run the served checks on the recipe's engine (the one `up` started, else launched here);
    lossless also launches the no-speculation twin."""
    from servelab.launch import launch
    from servelab.serving import serving

    engine = get_engine(recipe.engine.name)
    api_key = _api_key(recipe, options)
    results: dict[str, CheckResult] = {}
    with (
        serving(recipe, progress=options.progress) as ep,
        ChatClient(ep.url, ep.model, api_key) as client,
    ):
        report.endpoint, report.model = ep.url, ep.model
        report.engine_version = ep.engine_version
        checks = [name for name in names if name != "lossless"]
        for result in run_on_endpoint(
            client, checks, options, max_len=ep.max_model_len, recipe=recipe
        ):
            results[result.name] = result
        if "lossless" in names:
            _note(options, f"check lossless: {recipe.name} (speculative) …")
            spec_outputs = generate(client, engine, options.tokens)
    if "lossless" in names:
        twin = recipe.without_speculation()
        _note(options, f"check lossless: {twin.name} (no speculation) …")
        try:
            with (
                launch(twin, progress=options.progress) as ep,
                ChatClient(ep.url, ep.model, api_key) as client,
            ):
                base_outputs = generate(client, engine, options.tokens)
        except EngineFailed as exc:
            results["lossless"] = CheckResult(
                name="lossless",
                passed=False,
                detail=f"the no-speculation twin {twin.name} failed to start: {exc}",
            )
        else:
            results["lossless"] = compare(
                spec_outputs, base_outputs, options.tokens, options.tolerance
            )
    return results


def check_endpoint(url: str, model: str | None, options: CheckOptions) -> CheckReport:
    """Checks against a server something else started (lossless needs --twin-endpoint)."""
    names = options.only or default_checks(None)
    if "ceiling" in names:
        raise BadInput("ceiling: needs a RECIPE (servelab starts the server at each length)")
    if "lossless" in names and not options.twin_endpoint:
        raise BadInput(
            "lossless: with {endpoint}, give the no-speculation server as {twin_endpoint} URL",
            mentions=["endpoint", "twin_endpoint"],
        )
    from servelab.serving import endpoint_identity

    url = url.rstrip("/").removesuffix("/v1")
    api_key = _api_key(None, options)
    engine, version = detect_engine(url, auth_headers(api_key))
    with ChatClient(url, model or "", api_key) as client:
        if not model:
            client.model = client.first_model() or ""
            if not client.model:
                raise BadInput(
                    "no model listed; pass {model}",
                    field="endpoint",
                    value=url,
                    mentions=["model"],
                )
        report = CheckReport(
            checks=[],
            endpoint=url,
            model=client.model,
            stack=endpoint_identity(url, client.model, version)[0],
            engine=engine.name if engine else None,
            engine_version=version,
        )
        checks = [name for name in names if name in ENDPOINT_CHECKS]
        report.checks = run_on_endpoint(client, checks, options, max_len=client.served_max_len())
        if "lossless" in names:
            spec_outputs = generate(client, engine, options.tokens)
            twin_url = options.twin_endpoint.rstrip("/").removesuffix("/v1")
            with ChatClient(twin_url, client.model, api_key) as twin:
                twin.model = twin.first_model() or client.model
                base_outputs = generate(twin, detect_engine(twin_url)[0], options.tokens)
            report.checks.append(
                compare(spec_outputs, base_outputs, options.tokens, options.tolerance)
            )
    order = {name: index for index, name in enumerate(names)}
    report.checks.sort(key=lambda check: order[check.name])
    return report


def store_report(report: CheckReport, url: str | None) -> str:
    """Save the checks, their evidence and provenance; returns the stored set's id."""
    from servelab.serving import endpoint_identity
    from servelab.store import Store

    recipe = report.recipe
    with Store(url) as store:
        return store.save_checks(
            CheckSet(
                stack=report.stack or report.model,
                stack_version=(
                    recipe.version
                    if recipe
                    else endpoint_identity(report.endpoint, report.model, report.engine_version)[1]
                ),
                checks=report.checks,
                recipe_hash=recipe.hash if recipe else None,
                recipe=recipe.canonical() if recipe else None,
                endpoint=report.endpoint,
                engine=report.engine,
                engine_version=report.engine_version,
                gpu=get_engine(recipe.engine.name).gpus_serving(recipe)
                if recipe
                else detect_gpus(),
                host=socket.gethostname(),
            )
        )
