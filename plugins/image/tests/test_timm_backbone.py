"""timm backbones of the image plugin: contracts, SimMIM on a timm ViT, CNN masking, local weights, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from safetensors.torch import save_file

from lanistr_core import Lanistr
from lanistr_core.testing import (
    build_modality,
    check_encoder_contract,
    check_missing_rows,
    check_objective_contract,
    check_objective_learns,
    check_state_roundtrip,
)
from lanistr_core.testing import make_multimodal_frame
from lanistr_plugin_image import SPEC

# A 2-block ViT of width 32 with 8x8 patches: 16 patch tokens + CLS at the tiny preset's 32x32.
TINY_VIT = {
    "backbone": "timm:vit_tiny_patch16_224",
    "timm_kwargs": {"patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2},
}
# timm's own 370k-parameter test ResNet, reduction 32: at 64x64 its last feature map is 2x2 (4 tokens).
TINY_CNN = {"backbone": "timm:test_resnet", "image_size": 64}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)  # weight init independent of test order


def _frame(folder: Path, n: int = 8, missing: tuple[int, ...] = (3,), seed: int = 0) -> pd.DataFrame:
    """A ``photo`` column of generated PNG paths (a coloured square on grey), None at ``missing``."""
    frame = make_multimodal_frame(n, image_dir=folder, modalities=("image",), seed=seed)[["photo"]]
    frame.iloc[list(missing), 0] = None
    return frame


def _run_contracts(parts, frame: pd.DataFrame, missing_rows: list[int]) -> torch.Tensor:
    encoded = check_encoder_contract(SPEC, parts, frame)
    check_objective_contract(SPEC, parts, frame)
    check_missing_rows(SPEC, parts, frame, missing_rows=missing_rows)
    check_state_roundtrip(SPEC, parts, frame)
    return encoded.tokens


# -- contracts --------------------------------------------------------------------------------


def test_timm_vit_passes_the_plugin_contract(tmp_path):
    frame = _frame(tmp_path)
    parts = build_modality(SPEC, frame, ["photo"], **TINY_VIT)
    assert type(parts.encoder.model).__name__ == "VisionTransformer" and parts.encoder.vit_family
    assert (parts.encoder.dim, parts.encoder.patch_size, parts.encoder.n_prefix_tokens) == (32, 8, 1)
    assert parts.preprocessor.patch_size_ == 8 and not parts.encoder.pretrained
    tokens = _run_contracts(parts, frame, missing_rows=[3])
    assert tokens.shape == (8, 1 + 16, 32)  # CLS + (32 / 8) ** 2 patches
    assert parts.encoder.mask_token.grad is not None  # the masked view used it


def test_timm_cnn_passes_the_plugin_contract_with_two_image_slots(tmp_path):
    front = _frame(tmp_path / "front", 6, missing=(1, 4))["photo"]
    back = _frame(tmp_path / "back", 6, missing=(2, 4), seed=1)["photo"]  # row 4: no image at all
    frame = pd.DataFrame({"front": front, "back": back})
    parts = build_modality(SPEC, frame, ["front", "back"], **TINY_CNN)
    assert not parts.encoder.vit_family and parts.encoder.n_prefix_tokens == 0
    assert parts.preprocessor.patch_size_ == 32 and parts.preprocessor.n_patches == 4
    tokens = _run_contracts(parts, frame, missing_rows=[4])
    assert tokens.shape == (6, 2 * 4, 96)  # two slots of a 2x2 feature map, 96 channels
    mask = parts.encoder(parts.preprocessor.transform(frame)).mask
    # Same mask semantics as the ViT path: an empty slot of a present row is padding.
    assert not mask[1, :4].any() and mask[1, 4:].all() and mask[4].all() and mask[0].all()


# -- SimMIM ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backbone", [TINY_VIT, TINY_CNN], ids=["vit", "cnn"])
def test_simmim_learns_on_a_fixed_batch(backbone, tmp_path):
    frame = _frame(tmp_path, 16)
    # lr 3e-3 as for the HF ViT: the L1 falls to 0.24-0.26x (ViT) and 0.21-0.24x (CNN) over seeds 0-3.
    first, last = check_objective_learns(SPEC, build_modality(SPEC, frame, ["photo"], **backbone), frame, lr=3e-3)
    assert last < first


def test_mask_token_is_inserted_before_the_position_embeddings(tmp_path):
    """The hook on patch_embed gives exactly the VisionTransformer forward with masked patch embeddings replaced."""
    frame = _frame(tmp_path, 4, missing=())
    parts = build_modality(SPEC, frame, ["photo"], **TINY_VIT)
    masked, _ = parts.objective.mask(parts.preprocessor.transform(frame), torch.Generator().manual_seed(0))
    vit, encoder = parts.encoder.model, parts.encoder.eval()
    with torch.no_grad():
        got = encoder(masked).tokens  # (4, 17, 32)
        x = vit.patch_embed(masked["pixel_values"][:, 0])  # (4, 16, 32)
        x = torch.where(masked["patch_mask"][:, 0, :, None], encoder.mask_token, x)
        x = vit.norm(vit.blocks(vit.norm_pre(vit.patch_drop(vit._pos_embed(x)))))  # (4, 17, 32)
        clean = vit.forward_features(masked["pixel_values"][:, 0])  # no stale mask outside the encoder
    torch.testing.assert_close(got, x, rtol=0, atol=0)
    assert not torch.equal(got, clean)


def test_cnn_sees_masked_patches_as_zero_pixels(tmp_path):
    frame = _frame(tmp_path, 4, missing=())
    parts = build_modality(SPEC, frame, ["photo"], **TINY_CNN)
    batch = parts.preprocessor.transform(frame)
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(0))
    assert masked["patch_mask"].sum(dim=-1).flatten().tolist() == [2, 2, 2, 2]  # 50% of the 2x2 grid
    pixels = batch["pixel_values"][:, 0].clone()  # (4, 3, 64, 64)
    for row, cell in masked["patch_mask"][:, 0].nonzero().tolist():
        r, c = divmod(cell, 2)  # row-major cells of 32x32 pixels
        pixels[row, :, 32 * r : 32 * (r + 1), 32 * c : 32 * (c + 1)] = 0.0
    encoder = parts.encoder.eval()
    with torch.no_grad():
        expected = encoder.model.forward_features(pixels).flatten(2).transpose(1, 2)  # (4, 96, 2, 2) -> (4, 4, 96)
        torch.testing.assert_close(encoder(masked).tokens, expected, rtol=0, atol=0)
        assert torch.isfinite(parts.objective.loss(encoder(masked), targets))


# -- local weights ------------------------------------------------------------------------------------


def _save_tiny_timm_vit(path: Path, **overrides: object) -> torch.nn.Module:
    """A tiny timm ViT with a 10-class head (the plugin ignores head keys), saved as safetensors."""
    torch.manual_seed(3)
    kwargs = {**TINY_VIT["timm_kwargs"], **overrides}
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10, img_size=32, **kwargs)
    save_file(model.state_dict(), str(path))
    return model.eval()


def test_timm_weights_reproduce_the_saved_model(tmp_path):
    saved = _save_tiny_timm_vit(tmp_path / "vit.safetensors")
    frame = _frame(tmp_path, 6)
    parts = build_modality(SPEC, frame, ["photo"], **TINY_VIT, timm_weights=str(tmp_path / "vit.safetensors"))
    assert parts.encoder.pretrained  # the engine gives it the lower encoder learning rate
    batch = parts.preprocessor.transform(frame)
    with torch.no_grad():
        got = parts.encoder.eval()(batch).tokens
        expected = saved.forward_features(batch["pixel_values"][:, 0])  # (6, 17, 32)
    assert torch.equal(got, expected)
    check_objective_contract(SPEC, parts, frame)


def test_weights_errors_name_the_file(tmp_path):
    frame = _frame(tmp_path, 4)
    missing = str(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match=r"'.*nope\.safetensors' is not a file.*never downloaded"):
        build_modality(SPEC, frame, ["photo"], **TINY_VIT, timm_weights=missing)
    _save_tiny_timm_vit(tmp_path / "deeper.safetensors", depth=3)
    deeper = str(tmp_path / "deeper.safetensors")
    with pytest.raises(ValueError, match=r"'.*deeper\.safetensors' do not match.*unexpected keys \['blocks\.2\."):
        build_modality(SPEC, frame, ["photo"], **TINY_VIT, timm_weights=deeper)
    _save_tiny_timm_vit(tmp_path / "wider.safetensors", embed_dim=64)
    with pytest.raises(ValueError, match=r"'.*wider\.safetensors' do not fit.*size mismatch"):
        build_modality(SPEC, frame, ["photo"], **TINY_VIT, timm_weights=str(tmp_path / "wider.safetensors"))


# -- configuration errors -------------------------------------------------------------------------------


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown timm model 'vit_tinyy_patch16_224'.*vit_tiny_patch16.*list_models"):
        SPEC.build_preprocessor(SPEC.make_config("tiny", backbone="timm:vit_tinyy_patch16_224"), ["photo"])


def test_image_size_must_fit_the_cnn_reduction():
    with pytest.raises(ValueError, match=r"2x2 feature map at image_size 48 \(reduction 32\).*multiple of the reduction"):
        SPEC.build_preprocessor(SPEC.make_config("tiny", backbone="timm:test_resnet", image_size=48), ["photo"])


def test_preprocessor_and_encoder_must_agree_on_the_grid(tmp_path):
    frame = _frame(tmp_path, 4)
    config = SPEC.make_config("tiny", **TINY_VIT)
    pre = SPEC.build_preprocessor(config, ["photo"]).fit(frame)
    pre.load_state_dict({**pre.state_dict(), "patch_size": 16})  # e.g. state saved with another backbone
    with pytest.raises(ValueError, match="token stride of 8 pixels but the preprocessor was fitted with patch_size 16"):
        SPEC.build_encoder(config, pre)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backbone": "resnet18"}, r"backbone must be 'vit' or 'timm:<model_name>'"),
        ({"backbone": "timm:hf-hub:timm/resnet18.a1_in1k"}, r"hub prefixes such as hf-hub: are refused"),
        ({"timm_weights": "w.safetensors"}, r"timm_weights needs backbone='timm:<model_name>'"),
        ({"timm_kwargs": {"depth": 2}}, r"timm_kwargs needs backbone='timm:<model_name>'"),
        ({"backbone": "timm:resnet18", "timm_kwargs": {"pretrained": True}}, r"may not set \['pretrained'\]"),
        ({"backbone": "timm:resnet18", "timm_kwargs": {"act": object()}}, r"timm_kwargs must be JSON-able"),
        ({"backbone": "timm:resnet18", "pretrained_path": "vit"}, r"with a timm backbone use timm_weights"),
    ],
    ids=["no_prefix", "hub", "weights_on_vit", "kwargs_on_vit", "reserved", "not_json", "hf_checkpoint"],
)
def test_config_validation(overrides, message):
    with pytest.raises(ValueError, match=message):
        SPEC.make_config("tiny", **overrides)


def test_config_defaults_keep_the_hf_vit(tmp_path):
    config = SPEC.make_config("tiny", backbone="timm:resnet18.a1_in1k", timm_kwargs={"drop_rate": 0.1})
    assert config.timm_model == "resnet18.a1_in1k" and config.timm_kwargs == {"drop_rate": 0.1}
    same = SPEC.make_config("tiny", backbone="timm:resnet18.a1_in1k", timm_kwargs={"drop_rate": 0.1})
    assert hash(config) == hash(same)  # timm_kwargs is left out of the hash, not out of ==
    default = SPEC.make_config("tiny")
    assert (default.backbone, default.timm_model, default.timm_weights, default.timm_kwargs) == ("vit", None, None, {})
    assert type(build_modality(SPEC, _frame(tmp_path, 4), ["photo"]).encoder).__name__ == "ImageEncoder"


# -- end to end ---------------------------------------------------------------------------------------------


def test_lanistr_pretrains_fits_saves_and_loads_with_a_timm_backbone(tmp_path):
    frame = make_multimodal_frame(16, image_dir=tmp_path / "images", modalities=("image", "tabular"), seed=0)
    model = Lanistr(
        {"image": ["photo"], "tabular": ["age", "size"]}, label="label", preset="tiny", device="cpu", verbose=False,
        modality_config={"image": TINY_VIT},
        pretrain={"epochs": 1, "batch_size": 8, "validation": "none"},
        finetune={"epochs": 1, "batch_size": 8, "validation": "none"},
    )
    model.pretrain(frame.drop(columns="label"), run_dir=tmp_path / "run")
    model.fit(frame, run_dir=tmp_path / "run")
    loaded = Lanistr.load(model.save(tmp_path / "model"))
    assert loaded.config.modality_config["image"]["backbone"] == "timm:vit_tiny_patch16_224"
    proba = model.predict_proba(frame)
    assert proba.shape == (16, 2) and np.isfinite(proba).all()
    np.testing.assert_array_equal(proba, loaded.predict_proba(frame))


# -- accelerator (runs only where CUDA is available) -----------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("backbone", [TINY_VIT, TINY_CNN], ids=["vit", "cnn"])
def test_timm_encoder_and_objective_run_on_cuda_under_bf16_autocast(backbone, tmp_path):
    frame = _frame(tmp_path, 8)
    parts = build_modality(SPEC, frame, ["photo"], **backbone)
    parts.encoder.cuda(), parts.objective.cuda()
    batch = {k: v.cuda() for k, v in parts.preprocessor.transform(frame).items()}
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(0))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        encoded = parts.encoder(masked)
        loss = parts.objective.loss(encoded, targets)
    loss.backward()
    assert encoded.tokens.is_cuda and encoded.mask.is_cuda and torch.isfinite(loss)
    assert all(p.grad is not None for p in parts.encoder.parameters())
