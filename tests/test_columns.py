"""Column assignment: explicit dicts, detection by name, and the errors for ambiguous or empty cases."""

import attrs
import numpy as np
import pandas as pd
import pytest

from lanistr_core import hookimpl
from lanistr_core.columns import resolve_columns
from lanistr_core.registry import build_registry, set_registry
from lanistr_core.testing.toy import VECTOR_SPEC


class _Toys:
    @hookimpl
    def lanistr_register_modalities(self, registrar):
        registrar.add_modality(VECTOR_SPEC)
        registrar.add_modality(attrs.evolve(VECTOR_SPEC, name="vector_too"))


@pytest.fixture
def toy_registry():
    registry = build_registry(entry_points=False)
    registry.register_plugin(_Toys(), name="toys")
    previous = set_registry(registry)
    yield registry
    set_registry(previous)


@pytest.fixture
def frame():
    return pd.DataFrame({"vec": [np.zeros(8), np.ones(8)], "note": ["a", "b"], "y": [0, 1]})


def test_detection_assigns_columns(toy_registry, frame):
    assert resolve_columns(["vector"], frame, exclude=["y"]) == {"vector": ["vec"]}


def test_column_claimed_twice_is_an_error_that_says_how_to_assign(toy_registry, frame):
    with pytest.raises(ValueError, match=r"column 'vec' could belong to modalities \['vector', 'vector_too'\]; "
                                         r"assign columns explicitly, e\.g\. modalities=\{'vector': \['vec'"):
        resolve_columns(["vector", "vector_too"], frame)


def test_modality_without_columns_is_an_error(toy_registry, frame):
    with pytest.raises(ValueError, match=r"no column of the data was detected as \['vector'\]"):
        resolve_columns(["vector"], frame[["note", "y"]])


def test_explicit_assignment_is_checked(toy_registry, frame):
    assert resolve_columns({"vector": "vec"}, frame) == {"vector": ["vec"]}
    with pytest.raises(ValueError, match="assigned to both 'vector' and 'vector_too'"):
        resolve_columns({"vector": ["vec"], "vector_too": ["vec"]}, frame)
    with pytest.raises(TypeError, match="got the string 'vector'"):
        resolve_columns("vector", frame)
