"""Training defaults: data-scaled schedule, small-data validation rule, per-group learning rates,
early stopping that waits for learning to start, and the time limit."""

import copy
import time

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from lanistr_core import Lanistr
from lanistr_core import engine as engine_module
from lanistr_core.config import FINETUNE_DEFAULTS, PRETRAIN_DEFAULTS, TrainConfig
from lanistr_core.data import MultimodalBatch
from lanistr_core.engine import TimeLimitWarning, Trainer
from lanistr_core.optim import encoder_lr_scales, layer_depths, parameter_groups
from lanistr_core.schedule import resolve_schedule
from lanistr_core.testing.data import make_multimodal_frame
from lanistr_core.validation import SmallDataWarning, plan_validation

TWO = {"text": ["review"], "tabular": ["age", "size"]}
QUIET = {"preset": "tiny", "verbose": False, "device": "cpu"}


@pytest.fixture(scope="module")
def frame():
    return make_multimodal_frame(48, modalities=("text", "tabular"), seed=11, missing=0.2)


# -- the schedule rule ---------------------------------------------------------------------------


def test_epochs_scale_with_the_data():
    cfg = TrainConfig(min_steps=1000, max_epochs=200)
    small, medium, large = (resolve_schedule(cfg, spe) for spe in (4, 11, 5000))
    assert (small.epochs, small.total_steps) == (200, 800)  # capped by max_epochs
    assert (medium.epochs, medium.patience, medium.min_epochs) == (91, 19, 19)
    assert (large.epochs, large.patience, large.min_epochs) == (1, 5, 1)  # one pass once an epoch is long
    assert all(s.epochs_derived for s in (small, medium, large))
    explicit = resolve_schedule(TrainConfig(epochs=3, patience=2, min_epochs=7), 10)
    assert (explicit.epochs, explicit.patience, explicit.min_epochs, explicit.epochs_derived) == (3, 2, 3, False)
    # early stopping never fires during the warmup, even when the user asks for a long one
    assert resolve_schedule(TrainConfig(epochs=10, warmup_ratio=0.5), 10).min_epochs == 5


def test_phase_defaults_are_the_documented_ones():
    assert (FINETUNE_DEFAULTS.lr, FINETUNE_DEFAULTS.encoder_lr_scale, FINETUNE_DEFAULTS.epochs) == (1e-3, 0.1, None)
    assert (FINETUNE_DEFAULTS.min_steps, FINETUNE_DEFAULTS.max_epochs) == (1000, 200)
    assert (PRETRAIN_DEFAULTS.min_steps, PRETRAIN_DEFAULTS.max_epochs) == (1000, 30)
    assert FINETUNE_DEFAULTS.validation == "auto" and FINETUNE_DEFAULTS.patience is None


# -- the validation rule ---------------------------------------------------------------------------


def _labels(counts):
    return pd.Series(np.concatenate([np.full(n, c) for c, n in counts.items()]))


def test_large_balanced_data_keeps_the_configured_split():
    plan = plan_validation(400, TrainConfig(), _labels({0: 200, 1: 200}))
    assert (plan.n_val, plan.adapted) == (40, False)


def test_split_grows_until_the_rarest_class_is_represented():
    plan = plan_validation(200, TrainConfig(), _labels({0: 160, 1: 40}))  # 20 requested; 25 for 5 positives
    assert (plan.n_val, plan.adapted) == (30, True)  # and min_val_rows=30 on top
    plan = plan_validation(1000, TrainConfig(), _labels({0: 960, 1: 40}))  # 100 requested, 125 needed
    assert (plan.n_val, plan.adapted) == (125, True) and "rarest class 1" in plan.reason


def test_no_split_when_it_would_eat_the_training_set():
    # the clinical case of the issue: 140 labeled rows, 8% positives
    plan = plan_validation(140, TrainConfig(), _labels({0: 129, 1: 11}))
    assert (plan.n_val, plan.adapted) == (0, True)
    assert "no early stopping" in plan.reason and "rarest class 1" in plan.reason
    assert plan_validation(100, TrainConfig()).n_val == 0  # regression / pretraining: 30 rows > 25%


def test_explicit_validation_modes_bypass_the_rule():
    labels = _labels({0: 129, 1: 11})
    assert plan_validation(140, TrainConfig(validation="split", val_fraction=0.1), labels).n_val == 14
    assert plan_validation(4000, TrainConfig(validation="none"), None).n_val == 0


def test_small_labeled_set_trains_a_fixed_schedule_with_a_warning():
    data = make_multimodal_frame(60, modalities=("tabular",), seed=3)
    data["label"] = (np.arange(60) % 10 == 0).astype(int)  # 6 positives
    model = Lanistr({"tabular": ["age", "size"]}, label="label", finetune={"max_epochs": 6}, **QUIET)
    with pytest.warns(SmallDataWarning, match=r"finetune: .*rarest class 1.*no early stopping"):
        model.fit(data)
    info = model.training_["finetune"]
    assert (info["validation_rows"], info["train_rows"]) == (0, 60)
    assert info["stop_reason"] == "completed" and info["epochs_run"] == info["epochs"] == 6
    assert all("val/loss" not in record for record in model.history_["finetune"])


# -- learning rates per parameter group ----------------------------------------------------------


def _capture_optimizers(monkeypatch):
    built = []

    def spy(named_parameters, config, lr_scales=None):
        named = list(named_parameters)
        optimizer = engine_module_build(named, config, lr_scales)
        built.append((dict(named), optimizer))
        return optimizer

    engine_module_build = engine_module.build_optimizer
    monkeypatch.setattr(engine_module, "build_optimizer", spy)
    return built


def _rates(named, optimizer):
    """Parameter name -> learning rate its optimizer group starts with (absent: not optimized)."""
    ids = {id(p): n for n, p in named.items()}
    return {ids[id(p)]: round(g["initial_lr"], 12) for g in optimizer.param_groups for p in g["params"]}


def test_pretrained_encoders_train_at_the_lower_rate(frame, monkeypatch):
    built = _capture_optimizers(monkeypatch)
    options = {**QUIET, "pretrain": {"epochs": 1, "lr": 2e-3}, "finetune": {"epochs": 1, "lr": 1e-3}}
    model = Lanistr(TWO, label="label", **options)
    model.pretrain(frame.drop(columns="label")).fit(frame)
    (pre_named, pre_opt), (ft_named, ft_opt) = built
    pre_rates, ft_rates = _rates(pre_named, pre_opt), _rates(ft_named, ft_opt)
    # pretraining from random init: every parameter (encoders and objective heads too) at the fresh rate
    assert set(pre_rates.values()) == {2e-3}
    assert any(n.startswith("loss.objectives.") for n in pre_rates)
    # fine-tuning after pretraining: encoders at lr * encoder_lr_scale, everything else at lr
    encoders = {n: r for n, r in ft_rates.items() if n.startswith("encoders.")}
    fresh = {n: r for n, r in ft_rates.items() if not n.startswith("encoders.")}
    assert encoders and set(encoders.values()) == {1e-4}
    assert {n.split(".")[0] for n in fresh} == {"projections", "modality_embed", "fusion", "head"}
    assert set(fresh.values()) == {1e-3}
    assert model.training_["finetune"]["pretrained_encoders"] == ["text", "tabular"]


def test_without_pretraining_encoders_start_random_and_get_the_fresh_rate(frame, monkeypatch):
    built = _capture_optimizers(monkeypatch)
    Lanistr(TWO, label="label", **QUIET, finetune={"epochs": 1}).fit(frame)
    (named, optimizer), = built
    assert set(_rates(named, optimizer).values()) == {1e-3}


def test_encoders_loaded_pretrained_get_the_lower_rate_from_the_start(frame, monkeypatch):
    from lanistr_plugin_text.encoder import TextEncoder

    monkeypatch.setattr(TextEncoder, "pretrained", True)  # what from_pretrained sets
    built = _capture_optimizers(monkeypatch)
    Lanistr(TWO, **QUIET, pretrain={"epochs": 1}).pretrain(frame.drop(columns="label"))
    (named, optimizer), = built
    rates = _rates(named, optimizer)
    assert {r for n, r in rates.items() if n.startswith("model.encoders.text.")} == {1e-4}
    assert {r for n, r in rates.items() if not n.startswith("model.encoders.text.")} == {1e-3}


def test_frozen_parameters_are_not_given_to_the_optimizer(frame, monkeypatch):
    built = _capture_optimizers(monkeypatch)
    model = Lanistr(TWO, label="label", freeze_encoders=True, **QUIET, finetune={"epochs": 1}).fit(frame)
    (named, optimizer), = built
    optimized = set(_rates(named, optimizer))
    assert not any(n.startswith("encoders.") for n in optimized)
    assert optimized == {n for n, p in model.model_.named_parameters() if p.requires_grad}
    assert model.training_["finetune"]["frozen_encoders"]


def test_layer_decay_lowers_the_rate_towards_the_embeddings():
    from transformers import BertConfig, BertModel

    bert = BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=16), add_pooling_layer=False)
    depths = layer_depths(n for n, _ in bert.named_parameters())
    assert depths["embeddings.word_embeddings.weight"] == (0, 2)
    assert depths["encoder.layer.0.attention.self.query.weight"] == (1, 2)
    assert depths["encoder.layer.1.output.dense.weight"] == (2, 2)
    scales = encoder_lr_scales({"text": bert}, ["text"], scale=0.1, layer_decay=0.5)
    assert scales["encoders.text.embeddings.word_embeddings.weight"] == pytest.approx(0.1 * 0.5**3)
    assert scales["encoders.text.encoder.layer.0.attention.self.query.weight"] == pytest.approx(0.1 * 0.5**2)
    assert scales["encoders.text.encoder.layer.1.output.dense.weight"] == pytest.approx(0.1 * 0.5)
    # no layers, no decay: a flat encoder trains at lr * scale throughout
    assert set(encoder_lr_scales({"t": nn.Linear(2, 2)}, ["t"], scale=0.1, layer_decay=0.5).values()) == {0.1}


def test_parameter_groups_split_decay_and_keep_their_scale():
    module = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    groups = parameter_groups(module.named_parameters(), TrainConfig(lr=1.0, weight_decay=0.5), {"0.weight": 0.1})
    summary = {(g["lr"], g["weight_decay"]): sorted(g["names"]) for g in groups}
    assert summary == {(1.0, 0.0): ["0.bias", "1.bias", "1.weight"], (0.1, 0.5): ["0.weight"]}


# -- early stopping waits for learning to start ----------------------------------------------------


def _batches(n):
    items = [MultimodalBatch(batches={}, targets=torch.zeros(1), row_ids=[i]) for i in range(n)]
    return DataLoader(items, batch_size=None)


def test_patience_counts_only_after_min_epochs_and_best_weights_come_back():
    torch.manual_seed(0)
    module = nn.Linear(2, 1)
    trainer = Trainer(module=module, config=TrainConfig(epochs=10, patience=1, min_epochs=3, lr=0.1),
                      phase="finetune", device=torch.device("cpu"), verbose=False)
    val_losses, snapshots = iter(range(1, 11)), []  # the validation loss only gets worse after epoch 1

    def evaluate(loader):
        snapshots.append(copy.deepcopy(module.state_dict()))
        return {"loss": float(next(val_losses))}

    def step(batch, global_step):
        loss = module(torch.ones(1, 2)).square().sum()
        return loss, {"loss/task": float(loss)}

    trainer.train(train_loader=_batches(3), step=step, val_loader=_batches(1), evaluate=evaluate)
    # epochs 2 and 3 are worse but inside min_epochs; epoch 4 is the first that counts (patience 1)
    assert len(trainer.history) == 4 and trainer.stop_reason == "early_stopping"
    for name, tensor in module.state_dict().items():
        assert torch.equal(tensor, snapshots[0][name]), name


# -- time limit ------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["pretrain", "finetune"])
def test_time_limit_stops_within_one_epoch_and_leaves_a_usable_model(frame, phase):
    limit = 2.0
    model = Lanistr(TWO, label="label", **QUIET, **{phase: {"epochs": 1000, "batch_size": 8}})
    started = time.perf_counter()
    with pytest.warns(TimeLimitWarning, match=f"{phase}: time_limit=2s reached"):
        if phase == "pretrain":
            model.pretrain(frame.drop(columns="label"), time_limit=limit)
        else:
            model.fit(frame, time_limit=limit)
    elapsed = time.perf_counter() - started
    history = model.history_[phase]
    slowest = max(r["epoch_seconds"] for r in history)
    assert model.training_[phase]["stop_reason"] == "time_limit" and 1 <= len(history) < 1000
    assert elapsed <= limit + slowest + 0.5, (elapsed, slowest)  # within one epoch of the limit
    assert elapsed >= limit - 2 * slowest - 0.5, (elapsed, slowest)  # and it used the time it had
    if phase == "pretrain":
        model.fit(frame, time_limit=limit)  # a time-limited pretraining still fine-tunes
    proba = model.predict_proba(frame)
    assert proba.shape == (len(frame), 2) and np.isfinite(proba).all()
