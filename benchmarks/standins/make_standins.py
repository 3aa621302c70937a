"""Write architecture-faithful, random-weight stand-ins of the post's models.

    SERVELAB_MODELS=<models> python benchmarks/standins/make_standins.py [--only a,b] [--out DIR]

Stand-ins land in <out> (default: $SERVELAB_MODELS/standins), one folder each; the recipes
src/servelab/recipes/standin-*.yaml name them as standins/<folder>.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import folder_mib, models_root, stories_gguf, stories_hf_dir  # noqa: E402
from gemma4 import write_gemma4_assistant, write_gemma4_dflash, write_gemma4_target  # noqa: E402
from nemotron_h import write_nemotron_h  # noqa: E402
from qwen_dflash_gguf import write_qwen_dflash_gguf  # noqa: E402
from qwen_mtp_gguf import write_qwen_mtp_gguf  # noqa: E402

# name -> (writer, needs torch + transformers); the qwen3.6 ones are GGUFs built on stories260k's
STANDINS: dict[str, tuple[Callable[[Path, Path], Path], bool]] = {
    "gemma4-target": (write_gemma4_target, True),
    "gemma4-assistant": (write_gemma4_assistant, True),
    "gemma4-dflash": (write_gemma4_dflash, False),
    "qwen3.6-35b-a3b-mtp": (write_qwen_mtp_gguf, False),
    "qwen3.6-27b": (write_qwen_dflash_gguf, False),
    "nemotron-h": (write_nemotron_h, True),
}


def make(names: list[str], out: Path, root: Path) -> dict[str, Path]:
    """Write the named stand-ins under out; returns name -> written path."""
    unknown = sorted(set(names) - set(STANDINS))
    if unknown:
        raise SystemExit(
            f"--only: unknown stand-in(s) {', '.join(unknown)} (known: {', '.join(STANDINS)})"
        )
    written: dict[str, Path] = {}
    for name in names:
        writer, _ = STANDINS[name]
        source = stories_gguf(root) if name.startswith("qwen3.6") else stories_hf_dir(root)
        written[name] = writer(out, source)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma list of stand-ins (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="default: $SERVELAB_MODELS/standins")
    args = parser.parse_args(argv)
    root = models_root()
    out = (args.out or root / "standins").resolve()
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.only.split(",") if n] or list(STANDINS)
    for name, path in make(names, out, root).items():
        print(f"{name}: {path} ({folder_mib(path):.2f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
