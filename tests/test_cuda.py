"""GPU paths: xformers/sdpa fusions agree with math on CUDA, and a model trains with bf16 autocast.

Skipped without a CUDA device (CI has none); run on a GPU machine with `pytest tests/test_cuda.py`.
"""

import numpy as np
import pytest
import torch

from lanistr_core import Lanistr, create_fusion
from lanistr_core.attention import xformers_available
from lanistr_core.testing.data import make_multimodal_frame

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("fusion", ["perceiver", "concat_transformer"])
@pytest.mark.parametrize("backend", ["sdpa", "xformers"])
def test_fusion_backends_agree_on_cuda(fusion, backend):
    if backend == "xformers" and not xformers_available():
        pytest.skip("xformers not installed (pip install 'lanistr[cuda]')")
    torch.manual_seed(0)
    ref = create_fusion(fusion, dim=64, n_modalities=2, heads=4, attention="math").cuda().eval()
    fast = create_fusion(fusion, dim=64, n_modalities=2, heads=4, attention=backend).cuda().eval()
    fast.load_state_dict(ref.state_dict())
    tokens = torch.randn(6, 300, 64, device="cuda")
    mask = torch.rand(6, 300, device="cuda") > 0.3
    mask[:, 0] = True
    mask[3, 150:] = False  # one row misses its whole second modality
    with torch.no_grad():
        a, b = ref(tokens, mask).pooled, fast(tokens, mask).pooled
        noisy = torch.where(mask.unsqueeze(-1), tokens, torch.randn_like(tokens) * 100)
        c = fast(noisy, mask).pooled
    assert (a - b).abs().max() < 1e-4
    assert (b - c).abs().max() < 1e-5


def test_model_trains_on_cuda_with_bf16(tmp_path):
    frame = make_multimodal_frame(48, image_dir=tmp_path, seed=0, missing=0.25)
    mods = {"text": ["review"], "image": ["photo"], "tabular": ["age", "size"], "timeseries": ["vitals"]}
    model = Lanistr(mods, label="label", preset="tiny", device="cuda", verbose=False,
                    pretrain={"epochs": 2, "batch_size": 8}, finetune={"epochs": 2, "batch_size": 8})
    model.pretrain(frame.drop(columns="label")).fit(frame)
    proba = model.predict_proba(frame)
    assert np.isfinite(proba).all() and proba.shape == (48, 2)
    model.save(tmp_path / "m")
    np.testing.assert_allclose(Lanistr.load(tmp_path / "m").predict_proba(frame), proba, atol=1e-6)
