"""``to_json``: the one way a result becomes JSON (HTTP bodies, CLI ``--json``, signatures)."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any


def to_json(value: Any) -> Any:
    """A result as JSON-ready data: dataclasses as objects, enums as values, times in ISO 8601.

    Fields whose name starts with ``_`` are internal and left out; a class may
    name read-only properties to include in ``json_properties``. Dict keys are
    sorted, so signed documents built from results are canonical.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {
            f.name: to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
        for name in getattr(value, "json_properties", ()):
            out[name] = to_json(getattr(value, name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | frozenset | set):
        items = [to_json(v) for v in value]
        return sorted(items) if isinstance(value, frozenset | set) else items
    return value
