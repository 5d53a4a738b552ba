"""End-to-end behaviour of the Lanistr facade with all four built-in modalities (tiny preset, CPU)."""

import numpy as np
import pandas as pd
import pytest
import torch

from lanistr_core import Lanistr, RegistryError
from lanistr_core.testing.data import make_multimodal_frame

MODALITIES = {"text": ["review"], "image": ["photo"], "tabular": ["age", "size"], "timeseries": ["vitals"]}
FAST = {
    "preset": "tiny",
    "verbose": False,
    "device": "cpu",
    "pretrain": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "val_fraction": 0.0},
    # these tests check the engine's mechanics on 48 rows: always hold out the 20% (no small-data rule)
    "finetune": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "val_fraction": 0.2, "validation": "split"},
}


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    return make_multimodal_frame(48, image_dir=tmp_path_factory.mktemp("images"), seed=0, missing=0.25)


@pytest.fixture(scope="module")
def fitted(frame, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    model = Lanistr(MODALITIES, label="label", **FAST)
    model.pretrain(frame.drop(columns="label"), run_dir=run)
    model.fit(frame, run_dir=run)
    return model, run


def test_pretraining_loss_decreases(frame):
    model = Lanistr(MODALITIES, label="label", **{**FAST, "pretrain": {**FAST["pretrain"], "epochs": 6}})
    model.pretrain(frame.drop(columns="label"))
    history = [h["train/loss/total"] for h in model.history_["pretrain"]]
    assert history[-1] < history[0], history


def test_every_loss_term_is_logged(fitted):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run = fitted
    tags = set()
    for phase in ("pretrain", "finetune"):
        acc = EventAccumulator(str(run / "tensorboard" / phase))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    for term in ("text", "image", "tabular", "timeseries", "mmm", "total"):
        assert f"pretrain/step/loss/{term}" in tags, sorted(tags)
    for tag in ("pretrain/step/lr", "finetune/step/lr", "finetune/step/loss/task", "finetune/val/loss"):
        assert tag in tags, sorted(tags)


def test_predict_outputs_and_metrics(fitted, frame):
    model, _ = fitted
    proba = model.predict_proba(frame)
    assert proba.shape == (len(frame), 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(model.predict(frame)) <= {0, 1}
    assert model.embed(frame).shape == (len(frame), 32)
    scores = model.evaluate(frame)
    assert set(scores) == {"accuracy", "macro_f1", "auroc"} and 0 <= scores["accuracy"] <= 1


def test_save_load_predict_identical(fitted, frame, tmp_path):
    model, _ = fitted
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "preprocessors", "weights.safetensors"]
    loaded = Lanistr.load(tmp_path / "m")
    np.testing.assert_array_equal(model.predict_proba(frame), loaded.predict_proba(frame))
    np.testing.assert_array_equal(model.embed(frame), loaded.embed(frame))


def test_load_rejects_weights_that_do_not_fit_the_config(fitted, tmp_path):
    import json

    model, _ = fitted
    path = model.save(tmp_path / "m")
    meta = json.loads((path / "config.json").read_text())
    meta["config"]["fusion_config"] = {"pooling": "query"}  # the config now builds an extra output query
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"saved weights do not match.*missing \['fusion.out_query'"):
        Lanistr.load(path)


def test_models_saved_with_the_query_readout_still_load(frame, tmp_path):
    import json

    small = frame[["review", "age", "size", "label"]].dropna(how="all", subset=["review", "age", "size"])
    model = Lanistr({"text": ["review"], "tabular": ["age", "size"]}, label="label",
                    fusion_config={"pooling": "query"}, **FAST).fit(small)
    path = model.save(tmp_path / "m")
    meta = json.loads((path / "config.json").read_text())
    meta["config"]["fusion_config"] = {}  # as written before `pooling` existed (the query was the only readout)
    (path / "config.json").write_text(json.dumps(meta))
    loaded = Lanistr.load(path)
    assert loaded.config.fusion_config["pooling"] == "query"
    np.testing.assert_array_equal(model.predict_proba(small), loaded.predict_proba(small))


def test_rows_missing_any_single_modality_predict(fitted, frame):
    model, _ = fitted
    cases = []
    for name, cols in MODALITIES.items():
        row = frame.dropna().iloc[[0]].copy()
        row.index = [f"no-{name}"]
        for c in cols:
            row[c] = None
        cases.append(row)
    proba = model.predict_proba(pd.concat(cases))
    assert proba.shape == (4, 2) and np.isfinite(proba).all()


def test_resume_continues_from_last_checkpoint(frame, tmp_path, monkeypatch):
    import shutil

    from lanistr_core import engine

    options = {**FAST, "finetune": {**FAST["finetune"], "epochs": 3, "val_fraction": 0.0}}

    original = engine.Trainer._run_epoch
    calls = {"n": 0}

    def crash_in_second_epoch(self, epoch, *args, **kwargs):
        if epoch == 1:
            raise KeyboardInterrupt("simulated kill")
        calls["n"] += 1
        return original(self, epoch, *args, **kwargs)

    monkeypatch.setattr(engine.Trainer, "_run_epoch", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        Lanistr(MODALITIES, label="label", **options).fit(frame, run_dir=tmp_path / "killed")
    monkeypatch.setattr(engine.Trainer, "_run_epoch", original)
    assert (tmp_path / "killed" / "checkpoints" / "finetune.safetensors").exists()
    # The uninterrupted reference shares the killed run's fitted preprocessors (WordPiece training
    # breaks ties differently per fit) but has no checkpoint, so it trains all 3 epochs.
    shutil.copytree(tmp_path / "killed" / "preprocessors", tmp_path / "full" / "preprocessors")
    full = Lanistr(MODALITIES, label="label", **options).fit(frame, run_dir=tmp_path / "full", resume=True)
    assert len(full.history_["finetune"]) == 3

    resumed_epochs = []
    def spy(self, epoch, *args, **kwargs):
        resumed_epochs.append(epoch)
        return original(self, epoch, *args, **kwargs)

    monkeypatch.setattr(engine.Trainer, "_run_epoch", spy)
    resumed = Lanistr(MODALITIES, label="label", **options).fit(frame, run_dir=tmp_path / "killed", resume=True)
    assert resumed_epochs == [1, 2]  # epoch 0 came from the checkpoint
    for (name, a), b in zip(full.model_.state_dict().items(), resumed.model_.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_zero_fill_mode_runs(frame):
    model = Lanistr(MODALITIES, label="label", missing="zero", **FAST).fit(frame)
    assert np.isfinite(model.predict_proba(frame)).all()


def test_regression_task():
    frame = make_multimodal_frame(48, modalities=("text", "tabular"), seed=2)
    data = frame.assign(score=frame["label"] * 2.5 + np.linspace(0, 1, len(frame)))
    model = Lanistr({"tabular": ["age", "size"], "text": ["review"]}, label="score", task="regression", **FAST)
    model.fit(data.drop(columns="label"))
    assert model.task_ == "regression"
    assert set(model.evaluate(data)) == {"mae", "rmse", "r2"}
    assert model.predict(data).dtype.kind == "f"


def test_modalities_by_name_detect_columns(frame):
    model = Lanistr(["text", "tabular", "timeseries", "image"], label="label", **FAST).fit(frame)
    assert model.columns_ == {"text": ["review"], "tabular": ["age", "size"], "timeseries": ["vitals"], "image": ["photo"]}


@pytest.mark.parametrize("fusion", ["concat_transformer", "late"])
def test_other_fusions_train(fusion):
    frame = make_multimodal_frame(40, modalities=("text", "tabular"), seed=3)
    model = Lanistr({"text": ["review"], "tabular": ["age", "size"]}, label="label", fusion=fusion, **FAST)
    model.pretrain(frame.drop(columns="label")).fit(frame)
    assert np.isfinite(model.predict_proba(frame)).all()


def test_clear_errors(frame):
    with pytest.raises(RegistryError, match="unknown modality 'smell'; known modalities: .*text"):
        Lanistr({"smell": ["review"]}, label="label", **FAST).fit(frame)
    with pytest.raises(ValueError, match=r"lacks columns assigned to modalities \(text: \['body'\]\)"):
        Lanistr({"text": ["body"]}, label="label", **FAST).fit(frame)
    with pytest.raises(TypeError, match=r"unknown Lanistr options \['epochs'\]"):
        Lanistr(MODALITIES, epochs=3)
    bad = frame.copy()
    bad.loc["row3", "label"] = np.nan
    with pytest.raises(ValueError, match=r"label column 'label' has 1 missing value.*row3"):
        Lanistr(MODALITIES, label="label", **FAST).fit(bad)
    empty = frame.copy()
    empty.loc["row5", ["review", "photo", "age", "size", "vitals"]] = None
    with pytest.raises(ValueError, match=r"every modality missing.*row5"):
        Lanistr(MODALITIES, label="label", **FAST).fit(empty)
    model = Lanistr(MODALITIES, label="label", **FAST)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(frame)


def test_early_stopping_follows_the_monitored_metric():
    frame = make_multimodal_frame(40, modalities=("text", "tabular"), seed=4)
    finetune = {**FAST["finetune"], "epochs": 3, "monitor": "macro_f1", "patience": 1}
    model = Lanistr({"text": ["review"], "tabular": ["age", "size"]}, label="label", **{**FAST, "finetune": finetune})
    model.fit(frame)
    history = model.history_["finetune"]
    assert all({"val/loss", "val/accuracy", "val/macro_f1", "val/auroc"} <= set(h) for h in history)
    # the run stops after the first epoch that fails to raise the best macro-F1 (patience 1)
    best = [max(h["val/macro_f1"] for h in history[: i + 1]) for i in range(len(history))]
    stalls = [i for i in range(1, len(history)) if history[i]["val/macro_f1"] <= best[i - 1]]
    assert len(history) == (stalls[0] + 1 if stalls else 3)


def test_monitor_must_fit_the_task():
    frame = make_multimodal_frame(30, modalities=("tabular",), seed=5)
    finetune = {**FAST["finetune"], "monitor": "rmse"}
    with pytest.raises(ValueError, match=r"finetune.monitor='rmse' does not apply to classification"):
        Lanistr({"tabular": ["age", "size"]}, label="label", **{**FAST, "finetune": finetune}).fit(frame)
    with pytest.raises(ValueError, match="pretrain.monitor must be 'loss'"):
        Lanistr({"tabular": ["age", "size"]}, **{**FAST, "pretrain": {"monitor": "auroc"}}).pretrain(frame)
    with pytest.raises(ValueError, match="monitor"):
        Lanistr({"tabular": ["age", "size"]}, **{**FAST, "finetune": {"monitor": "precision"}})


def test_rows_with_nothing_meet_one_error_whatever_made_them_empty(frame):
    from lanistr_core import MissingModalitiesError

    data = frame[["review", "label"]].dropna()
    model = Lanistr({"text": ["review"]}, label="label", **FAST).fit(data)
    null_cell = data.iloc[[0]].assign(review=None)  # absent by the core's rule (null)
    blank_text = data.iloc[[1]].assign(review="   ")  # absent by the text plugin's own rule
    for bad in (null_cell, blank_text):
        with pytest.raises(MissingModalitiesError,
                           match=rf"1 row\(s\) have every modality missing, e.g. rows \['{bad.index[0]}'\].*drop these rows"):
            model.predict(bad)
