"""attrs validators shared by the configs of the core and of plugins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs


def divides(other: str) -> Callable[[Any, attrs.Attribute, int], None]:
    """An attrs validator: the field's value must divide the field ``other`` (heads | width, patch | image)."""

    def check(instance: Any, attribute: attrs.Attribute, value: int) -> None:
        # attrs runs validators once every field is set, so ``other`` is available whatever its order.
        total = getattr(instance, other)
        if total % value:
            raise ValueError(f"{attribute.name} {value} must divide {other} {total}")

    return check
