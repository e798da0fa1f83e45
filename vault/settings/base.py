"""What every settings table shares: strict models and ISO 8601 durations."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
)

from vault.durations import Duration
from vault.errors import VaultError


def _duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    try:
        return Duration.parse(str(value))
    except VaultError as exc:
        raise ValueError(exc.message) from None


IsoDuration = Annotated[Duration, BeforeValidator(_duration), PlainSerializer(str, return_type=str)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
