"""attrs validators that the core offers to plugin configs."""

import attrs
import pytest

from lanistr_core import divides


@attrs.frozen
class _Shape:
    heads: int = attrs.field(validator=divides("width"))  # declared before the field it checks
    width: int = 32


def test_divides_accepts_divisors_and_names_both_fields():
    assert _Shape(heads=4).heads == 4
    with pytest.raises(ValueError, match="^heads 3 must divide width 32$"):
        _Shape(heads=3)
