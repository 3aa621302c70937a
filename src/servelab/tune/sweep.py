"""A tune's plan: the swept key and values, the variants, the baseline, and the order they run.

The order is the baseline first, the variants shuffled with a recorded seed, then the baseline
again: drift of a noisy machine shows up as a difference between the two baseline runs instead
of masquerading as a speedup.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from servelab.errors import BadInput
from servelab.recipe import Recipe

BASELINE_START = "baseline-start"
BASELINE_END = "baseline-end"
OBJECTIVES = ("decode_tps", "speedup_ci_low")


class _Plain(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sweep(_Plain):
    """``KEY=V1,V2,…``: a dotted recipe path and the values to try."""

    key: str
    values: list[Any]


class TuneSettings(_Plain):
    """How every slot is benched (the same for all, so the benches are comparable)."""

    runs: int = Field(ge=1)
    tokens: int = Field(ge=2)
    workload: str
    timeout_s: float = 600.0


class Slot(_Plain):
    """One bench of the tune: the baseline (start or end) or one variant."""

    name: str = Field(description="baseline-start, baseline-end or variant-<n> (n: sweep index).")
    role: Literal["baseline", "variant"]
    value: Any = None
    label: str = Field(description="What the slot is, e.g. num_speculative_tokens=4.")
    stack: str = Field(description="Stack name its bench is stored under.")
    recipe: dict[str, Any]


class TunePlan(_Plain):
    """Everything a tune needs to run, resume, and be reported."""

    recipe_name: str
    recipe_hash: str
    key: str
    values: list[Any]
    baseline_name: str
    baseline_hash: str
    settings: TuneSettings
    seed: int
    slots: list[Slot] = Field(description="In run order.")

    @property
    def fingerprint(self) -> str:
        """Same recipe, baseline, sweep and bench settings ⇒ the same tune (the order is not)."""
        identity = {
            "recipe": self.recipe_hash,
            "baseline": self.baseline_hash,
            "key": self.key,
            "values": self.values,
            "settings": self.settings.model_dump(mode="json", exclude={"timeout_s"}),
        }
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def slot(self, name: str) -> Slot:
        for slot in self.slots:
            if slot.name == name:
                return slot
        raise KeyError(name)


def parse_value(text: str) -> Any:
    """A YAML scalar: ``4`` → 4, ``0.9`` → 0.9, ``fp8`` → "fp8", ``true`` → True."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise BadInput(f"{text!r} is not a YAML scalar", field="sweep") from None
    if isinstance(value, dict | list):
        raise BadInput(f"{text!r} is not a scalar (a number, text or true/false)", field="sweep")
    return value


def parse_sweep(text: str) -> Sweep:
    """``speculative.num_speculative_tokens=1,2,4,8`` → Sweep(key, [1, 2, 4, 8])."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip():
        raise BadInput(
            "expected KEY=V1,V2,… (e.g. speculative.method=a,b)", field="sweep", value=repr(text)
        )
    if any(not part for part in key.split(".")):
        raise BadInput(f"{key!r} is not a dotted recipe path", field="sweep", value=repr(text))
    values = [parse_value(part.strip()) for part in rest.split(",") if part.strip()]
    shown = [value_text(value) for value in values]
    if len(set(shown)) != len(shown):
        raise BadInput("a value is repeated", field="sweep", value=repr(text))
    return Sweep(key=key, values=values)


def value_text(value: Any) -> str:
    """A value as the user would type it (``true``, ``null``, ``4``, ``fp8``)."""
    return value if isinstance(value, str) else json.dumps(value)


def default_baseline(recipe: Recipe) -> Recipe:
    """The recipe without speculation (the recipe itself when it has none)."""
    return recipe.without_speculation() if recipe.speculative is not None else recipe


def build_plan(
    recipe: Recipe,
    sweep: Sweep,
    settings: TuneSettings,
    *,
    baseline: Recipe | None = None,
    seed: int | None = None,
) -> TunePlan:
    """Variants (one per value) between two baseline slots, variants in a seeded random order."""
    baseline = baseline or default_baseline(recipe)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    leaf = sweep.key.rsplit(".", 1)[-1]
    variants = []
    for index, value in enumerate(sweep.values, start=1):
        variant = recipe.with_value(sweep.key, value)
        label = f"{leaf}={value_text(value)}"
        variants.append(
            Slot(
                name=f"variant-{index}",
                role="variant",
                value=value,
                label=label,
                stack=f"{recipe.name}@{label}",
                recipe=variant.canonical(),
            )
        )
    random.Random(seed).shuffle(variants)

    def baseline_slot(name: str) -> Slot:
        return Slot(
            name=name,
            role="baseline",
            label=f"baseline ({baseline.name})",
            stack=baseline.name,
            recipe=baseline.canonical(),
        )

    return TunePlan(
        recipe_name=recipe.name,
        recipe_hash=recipe.hash,
        key=sweep.key,
        values=sweep.values,
        baseline_name=baseline.name,
        baseline_hash=baseline.hash,
        settings=settings,
        seed=seed,
        slots=[baseline_slot(BASELINE_START), *variants, baseline_slot(BASELINE_END)],
    )
