"""servelab: a recipe goes in; a verified, benchmarked, comparable LLM endpoint comes out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("servelab")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"

# ``with servelab.launch(recipe) as ep:`` (the module stays importable as servelab.launch).
from servelab.launch import launch  # noqa: E402

__all__ = ["__version__", "launch"]
