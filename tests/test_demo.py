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
    "finetune": {"epochs": 2, "batch_size": 16, "val_fraction": 0.2, "validation": "split"},
}


def test_load_reviews_has_the_documented_columns():
    reviews = load_reviews()
    assert len(reviews) == 23486
    columns = [c for cols in review_modalities().values() for c in cols] + REVIEW_LABELS
    assert set(columns) <= set(reviews.columns)
    assert set(reviews["Rating"].unique()) == {1, 2, 3, 4, 5}
    assert reviews["Review Text"].isna().any()  # missing text is part of the data


def test_demo_runs_both_arms_on_both_tasks(tmp_path):
    summary = run_demo(out=tmp_path, seeds=(0,), label_fraction=0.2, max_rows=400, options=TINY, verbose=False)
    arms = {(r["task"], r["arm"]) for r in summary["results"]}
    assert arms == {(task, arm) for task in TASKS for arm in ("pretrained", "scratch")}
    for r in summary["results"]:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["auroc"] <= 1.0
    assert json.loads((tmp_path / "results.json").read_text())["seeds"] == [0]
    assert "pretrain + fine-tune" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "seed0" / "pretrained" / "config.json").exists()
    assert (tmp_path / "model-rating" / "weights.safetensors").exists()


def test_demo_defaults_and_mmm_weight_flag(monkeypatch, tmp_path):
    assert DEMO_OPTIONS["mmm_weight"] == 0.0  # the measured choice documented in README
    seen = {}
    monkeypatch.setattr("lanistr_core.demo.run_demo", lambda **kw: seen.update(kw))
    assert cli.main(["demo", "--out", str(tmp_path), "--mmm-weight", "1", "--seeds", "0,2"]) == 0
    assert seen["options"] == {"mmm_weight": 1.0} and seen["seeds"] == (0, 2)


@pytest.mark.parametrize("bad", ["--seeds", "--mmm-weight"])
def test_demo_flags_reject_bad_values(bad, capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", bad, "x"])
