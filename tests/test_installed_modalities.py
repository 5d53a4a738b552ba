"""One contract suite over every installed modality (timm-style): whatever plugins are installed
next to the core, each must pass ``lanistr_core.testing.check_modality`` on its own example cells."""

from __future__ import annotations

import pytest

from lanistr_core import get_registry, list_modalities
from lanistr_core.testing import check_modality

BUILT_IN = {"text", "image", "tabular", "timeseries", "audio"}


@pytest.mark.parametrize("name", list_modalities())
def test_installed_modality_passes_the_contract_suite(name, tmp_path):
    spec = get_registry().get_modality(name)
    if spec.example is None:
        owner = get_registry().owner("modality", name)
        pytest.skip(f"{owner.distribution} {owner.version} gives modality {name!r} no ModalitySpec.example")
    check_modality(spec, tmp_path, end_to_end=False)  # end-to-end training is in each plugin's own suite


def test_every_built_in_plugin_provides_example_cells():
    installed = BUILT_IN & set(list_modalities())
    assert installed, "no built-in plugin installed"
    assert [n for n in sorted(installed) if get_registry().get_modality(n).example is None] == []
