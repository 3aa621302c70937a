"""What the measuring commands (bench, tune) share: their defaults, in one place, and the one
rule that merges a setting: the command line's value, else the recipe's, else the default."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from servelab.recipe import BenchDefaults


class MeasureSettings(BaseModel):
    """Runs per bench, output tokens per run and the workload; the defaults are servelab's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    runs: int = Field(10, ge=1, description="Runs per bench.")
    tokens: int = Field(2500, ge=1, description="Output tokens per run.")
    workload: str = Field("space-invaders", description="Workload name or @FILE.")


DEFAULTS = MeasureSettings()


def measure_settings(
    recipe: BenchDefaults | None,
    *,
    runs: int | None = None,
    tokens: int | None = None,
    workload: str | None = None,
) -> MeasureSettings:
    """Each setting from the command line, else the recipe's ``bench`` section, else DEFAULTS."""
    from_recipe = (
        {"runs": recipe.runs, "tokens": recipe.tokens, "workload": recipe.prompt} if recipe else {}
    )
    given = {"runs": runs, "tokens": tokens, "workload": workload}
    return MeasureSettings(
        **{
            key: value if value is not None else from_recipe.get(key, getattr(DEFAULTS, key))
            for key, value in given.items()
        }
    )
