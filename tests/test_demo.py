"""The bundled review data and the demo job, on a small slice with tiny models."""

import json

import pytest

from lanistr_core import cli
from lanistr_core.datasets import REVIEW_LABELS, load_reviews, review_modalities
from lanistr_core.demo import DEMO_OPTIONS, TASKS, run_demo

TINY = {
    "preset": "tiny",
    "device": "cpu",
    "modality_config": {"text": {"max_length": 32}},
    "pretrain": {"epochs": 1, "batch_size": 32, "val_fraction": 0.0},
    "finetune": {"epochs": 2, "batch_size": 16},
}


def test_load_reviews_has_the_documented_columns():
    reviews = load_reviews()
    assert len(reviews) == 23486
    columns = [c for cols in review_modalities().values() for c in cols] + REVIEW_LABELS
    assert set(columns) <= set(reviews.columns)
    assert set(reviews["Rating"].unique()) == {1, 2, 3, 4, 5}
    assert reviews["Review Text"].isna().any()  # missing text is part of the data


def test_demo_runs_every_arm_on_both_tasks(tmp_path):
    arms = ("pretrained", "finetune_only", "tfidf", "text_only")
    summary = run_demo(out=tmp_path, seeds=(0,), label_fraction=0.2, max_rows=400, options=TINY, arms=arms,
                       pretrain_rows=200, verbose=False)
    assert {(r["task"], r["arm"]) for r in summary["results"]} == {(task, arm) for task in TASKS for arm in arms}
    for r in summary["results"]:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["auroc"] <= 1.0
        assert r["n_test"] == summary["results"][0]["n_test"]  # every arm scores the same test rows
        # the validation metrics (deep arms: of the restored epoch): what recipes are chosen on
        assert {"val_auroc", "val_macro_f1", "val_accuracy"} <= set(r) and 0.0 <= r["val_macro_f1"] <= 1.0
    assert json.loads((tmp_path / "results.json").read_text())["seeds"] == [0]
    assert "| task | metric | pretrained | finetune_only | tfidf | text_only |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "seed0" / "pretrained" / "pretrained" / "config.json").exists()
    assert (tmp_path / "model-rating" / "weights.safetensors").exists()


def test_demo_defaults_and_flags(monkeypatch, tmp_path):
    text = DEMO_OPTIONS["modality_config"]["text"]
    assert text["pretrained_path"] == "minilm" and text["trainable_layers"] == 2 and DEMO_OPTIONS["mmm_weight"] == 0.0
    seen = {}
    monkeypatch.setattr("lanistr_core.demo.run_demo", lambda **kw: seen.update(kw))
    assert cli.main(["demo", "--out", str(tmp_path), "--mmm-weight", "1", "--seeds", "0,2",
                     "--arms", "tfidf,text_only", "--pretrain-rows", "0", "--logit-adjustment", "0.5"]) == 0
    assert seen["options"] == {"mmm_weight": 1.0, "logit_adjustment": 0.5} and seen["seeds"] == (0, 2)
    assert seen["arms"] == ("tfidf", "text_only") and seen["pretrain_rows"] is None


def test_demo_rejects_unknown_arms(tmp_path):
    with pytest.raises(ValueError, match=r"unknown demo arms \['bert'\]"):
        run_demo(out=tmp_path, arms=("bert",), verbose=False)


@pytest.mark.parametrize("bad", ["--seeds", "--mmm-weight"])
def test_demo_flags_reject_bad_values(bad, capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", bad, "x"])


def test_tfidf_reference_chooses_c_on_validation_and_scores_test():
    from lanistr_core.reference import tfidf_reference
    from lanistr_core.testing.data import make_multimodal_frame

    frame = make_multimodal_frame(160, modalities=("text", "tabular"), seed=4, missing=0.1)
    train, val, test = frame.iloc[:100], frame.iloc[100:130], frame.iloc[130:]
    scores = tfidf_reference(train=train, validation=val, test=test, text=["review"], tabular=["age", "size"],
                             label="label", grid=(0.01, 1.0, 100.0))
    assert scores["C"] in (0.01, 1.0, 100.0) and scores["accuracy"] > 0.9  # the label shows in every modality
    assert set(scores) == {"accuracy", "macro_f1", "auroc", "C", "val_auroc", "val_macro_f1", "val_accuracy"}
