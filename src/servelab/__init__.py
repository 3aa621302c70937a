"""servelab: a recipe goes in; a verified, benchmarked, comparable LLM endpoint comes out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("servelab")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"


def launch(recipe, **kwargs):
    """Start a recipe's engine supervised: ``with servelab.launch(recipe) as ep: ...``."""
    from servelab.launch import launch as _launch

    return _launch(recipe, **kwargs)


__all__ = ["__version__", "launch"]
