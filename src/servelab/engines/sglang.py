"""SGLang's server, as a skeleton adapter: argv, readiness, version. Only this file names it.

Facts used (SGLang docs): `python -m sglang.launch_server --model-path M --host H --port P`,
`--context-length`, `--tp-size`, `--served-model-name`; `GET /health` answers 200 once ready;
`GET /get_server_info` reports the `version`. Not yet here: metric names, KV layout, container
form and failure parsing (servelab says so rather than guess).
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import httpx

from servelab import model_files
from servelab.engines import register
from servelab.engines.base import Diagnosis, Engine, common_diagnosis, existing
from servelab.recipe import Recipe


@register
class SGLang(Engine):
    name = "sglang"
    rank = 2
    metric_prefix = "sglang:"
    default_port = 30000

    def argv(
        self, recipe: Recipe, *, host: str, port: int, resolve_models: bool = True
    ) -> list[str]:
        model = (
            model_files.resolve(recipe.model, needs_file=False)
            if resolve_models
            else model_files.describe(recipe.model)
        )
        args = ["python", "-m", "sglang.launch_server", "--model-path", model]
        args += ["--host", host, "--port", str(port)]
        if recipe.model.served_name:
            args += ["--served-model-name", recipe.model.served_name]
        if recipe.context.max_model_len is not None:
            args += ["--context-length", str(recipe.context.max_model_len)]
        if recipe.parallel.tensor > 1:
            args += ["--tp-size", str(recipe.parallel.tensor)]
        return args + list(recipe.extra_args)

    def api_key_env(self) -> str:
        """The variable launch sets to the key (SGLang itself takes `--api-key`)."""
        return "SGLANG_API_KEY"

    def find_binary(self, recipe: Recipe | None = None) -> Path | None:
        """The Python that can import sglang (the server runs as `python -m`)."""
        if recipe is not None and recipe.engine.binary:
            return existing(recipe.engine.binary)
        return Path(sys.executable) if importlib.util.find_spec("sglang") else None

    def binary_version(self, path: Path) -> str | None:
        try:
            return package_version("sglang")
        except PackageNotFoundError:
            return None

    def missing_binary_message(self) -> str:
        return "sglang is not installed here (pip install sglang on a GPU host, or engine.binary)"

    def server_version(self, base_url: str, headers: dict[str, str] | None = None) -> str | None:
        try:
            response = httpx.get(base_url + "/get_server_info", headers=headers, timeout=5.0)
            info = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return None
        version = info.get("version") if isinstance(info, dict) else None
        return f"sglang {version}" if isinstance(version, str) else None

    def diagnose(self, log: str) -> Diagnosis | None:
        return common_diagnosis(log)
