"""YAML text for manifests: block style, keys in the order written, no anchors or aliases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class _PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_PlainDumper, sort_keys=False, width=1000, allow_unicode=True)


def dump_all(documents: Iterable[Any]) -> str:
    return yaml.dump_all(
        list(documents), Dumper=_PlainDumper, sort_keys=False, width=1000, allow_unicode=True
    )
