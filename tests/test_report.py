"""The modality report: subset metrics from presence masks, exact and Monte-Carlo Shapley values,
bootstrap intervals, outputs (DataFrame, JSON, markdown, PNG, TensorBoard) and the CLI."""

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

from lanistr_core import Lanistr, ModalityReport
from lanistr_core.cli import main
from lanistr_core.report import exact_weights, subset_predictions
from lanistr_core.testing.data import make_multimodal_frame

TEXT_TAB = {"text": ["review"], "tabular": ["age", "size"]}
THREE = {"text": ["review"], "tabular": ["age", "size"], "timeseries": ["vitals"]}
FOUR = {"text": ["review"], "image": ["photo"], "tabular": ["age", "size"], "timeseries": ["vitals"]}
FAST = {"preset": "tiny", "verbose": False, "device": "cpu", "seed": 0}
# removing a modality the label does not depend on may move the AUROC by less than this
MARGIN = 0.02
# the xor fixture's model has learned the interaction (its lowest AUROC over 11 seeds was 0.896)
XOR_LEARNED = 0.85


def tabular_only_frame(n: int, seed: int) -> pd.DataFrame:
    """Text, tabular and series where only the tabular columns carry the label: the text and the
    series are shuffled across rows, so they keep their look and missingness but lose the label."""
    frame = make_multimodal_frame(n, modalities=("text", "tabular", "timeseries"), seed=seed, missing=0.1)
    rng = np.random.default_rng(seed + 1)
    for col in ("review", "vitals"):
        frame[col] = frame[col].to_numpy()[rng.permutation(n)]
    return frame.dropna(subset=["review", "age", "vitals"], how="all")


@pytest.fixture(scope="module")
def single():
    """A late-fusion model fitted on tabular-only-label data, and its report on fresh rows.

    This recipe learned the label with model seeds 0-3 (the perceiver at seed 2 fit the shuffled
    modalities instead: a training failure the report showed, not one this test is about)."""
    model = Lanistr(THREE, label="label", fusion="late", **FAST,
                    finetune={"epochs": 10, "batch_size": 32, "lr": 3e-3, "validation": "none"})
    model.fit(tabular_only_frame(300, seed=0))
    test = tabular_only_frame(300, seed=100)
    return model, test, model.modality_report(test, n_bootstrap=200)


@pytest.fixture(scope="module")
def xor():
    """A perceiver model fitted on label = XOR(text cue, tabular cue), and its report on fresh gappy rows.

    This recipe reached test AUROC 0.896-0.976 with each of model seeds 0-10. The earlier 30 epochs
    at lr 3e-3 were seed luck: over seeds 0-8 they stayed below 0.9 (0.54-0.89) at 2 seeds without
    the CPU cross-attention kernel and at 4 with it (same mathematics, different rounding)."""
    train = make_multimodal_frame(400, modalities=("text", "tabular"), seed=0, missing=0.0, interaction=True)
    model = Lanistr(TEXT_TAB, label="label", **FAST,
                    finetune={"epochs": 60, "batch_size": 32, "lr": 1e-3, "validation": "none"})
    model.fit(train)
    test = make_multimodal_frame(300, modalities=("text", "tabular"), seed=100, missing=0.1, interaction=True)
    return model, test, model.modality_report(test, n_bootstrap=200)


def test_the_only_informative_modality_gets_the_credit(single):
    _, _, report = single
    assert report.method == "exact" and report.metric == "auroc"
    assert report.full_score > 0.75, report.to_markdown()
    top = max(report.shapley, key=report.shapley.get)
    assert top == "tabular", report.to_markdown()
    low, _ = report.shapley_ci["tabular"]
    for other in ("text", "timeseries"):
        assert low > report.shapley_ci[other][1], report.to_markdown()  # intervals do not overlap
        assert abs(report.drop(other)) < MARGIN, report.to_markdown()
    assert report.drop("tabular") > 0.2


def test_an_interaction_needs_both_modalities_and_they_share_the_credit(xor):
    _, _, report = xor
    pair, text, tab = report.scores[("text", "tabular")], report.alone("text"), report.alone("tabular")
    assert pair > XOR_LEARNED and pair - max(text, tab) > 0.3, report.to_markdown()
    total = sum(report.shapley.values())
    for m in ("text", "tabular"):
        assert 0.35 < report.shapley[m] / total < 0.65, report.to_markdown()
        assert report.drop(m) > 0.3


@pytest.mark.parametrize("fixture", ["single", "xor"])
def test_shapley_values_sum_to_full_minus_empty(fixture, request):
    _, _, report = request.getfixturevalue(fixture)
    assert abs(sum(report.shapley.values()) - (report.full_score - report.empty_score)) < 1e-9
    assert report.empty_score == 0.5  # the prior is one constant score: AUROC 0.5
    assert len(report.scores) == 2 ** len(report.modalities)  # every subset, empty included


def test_exact_weights_are_the_shapley_weights():
    _, weights = exact_weights(3)
    # v(S) = |S|: every modality adds 1 whatever came before, so each Shapley value is 1
    values = np.array([bin(s).count("1") for s in range(8)], dtype=float)
    np.testing.assert_allclose(weights @ values, [1, 1, 1])
    # v = 1 only for the full set: the credit is split equally
    np.testing.assert_allclose(weights @ np.eye(8)[7], [1 / 3] * 3)


def test_permutation_estimate_approximates_the_exact_values(single):
    model, test, exact = single
    mc = model.modality_report(test, n_bootstrap=0, max_exact=2, n_permutations=3000, seed=1)
    assert mc.method == "permutation" and mc.n_permutations == 3000
    assert abs(sum(mc.shapley.values()) - (mc.full_score - mc.empty_score)) < 1e-9
    for m in exact.modalities:
        assert abs(mc.shapley[m] - exact.shapley[m]) < 0.03, (mc.shapley, exact.shapley)
    assert math.isnan(mc.shapley_ci["text"][0])  # no resamples, no intervals


def test_the_full_set_is_the_model_and_a_hidden_modality_is_a_missing_one(xor):
    model, test, report = xor
    assert report.full_score == pytest.approx(model.evaluate(test)["auroc"], abs=1e-6)
    # subset {tabular}: the same predictions as the model on rows whose text cell is null
    pred, present = subset_predictions(model, test, [0b10])
    rows = present[:, 1]
    hidden = test.assign(review=None)[rows]
    np.testing.assert_allclose(pred[0][rows], model.predict_proba(hidden), atol=1e-5)
    assert np.isnan(pred[0][~rows]).all()  # nothing of the subset present: left to the prior


def test_missingness_pattern_counts_the_data(xor):
    _, test, report = xor
    text, tab = test["review"].notna(), test["age"].notna()
    assert report.missingness == {k: v for k, v in {
        ("text", "tabular"): int((text & tab).sum()), ("text",): int((text & ~tab).sum()),
        ("tabular",): int((~text & tab).sum())}.items() if v}
    assert report.present_fraction("text") == pytest.approx(text.mean())


def test_other_metrics_and_their_prior(xor):
    model, test, _ = xor
    report = model.modality_report(test, metric="accuracy", n_bootstrap=20)
    assert report.empty_score == pytest.approx(test["label"].value_counts(normalize=True).max())
    assert abs(sum(report.shapley.values()) - (report.full_score - report.empty_score)) < 1e-9
    with pytest.raises(ValueError, match=r"metric 'r2' does not apply to classification; use one of \['auroc'"):
        model.modality_report(test, metric="r2")


def test_regression_uses_a_higher_is_better_score_and_the_training_mean():
    frame = make_multimodal_frame(60, modalities=("text", "tabular"), seed=2)
    data = frame.assign(score=frame["label"] * 2.5 + np.linspace(0, 1, len(frame))).drop(columns="label")
    model = Lanistr(TEXT_TAB, label="score", task="regression", **FAST,
                    finetune={"epochs": 1, "batch_size": 16, "validation": "none"})
    model.fit(data)
    report = model.modality_report(data, n_bootstrap=10)
    assert report.metric == "r2" and report.task == "regression"
    mean = model.target_stats_["mean"]
    from sklearn.metrics import r2_score

    assert report.empty_score == pytest.approx(r2_score(data["score"], np.full(len(data), mean)))
    assert abs(sum(report.shapley.values()) - (report.full_score - report.empty_score)) < 1e-9
    assert model.modality_report(data, metric="neg_rmse", n_bootstrap=0).full_score < 0
    with pytest.raises(ValueError, match="use neg_rmse"):
        model.modality_report(data, metric="rmse")


def test_dataframe_dict_and_json_round_trip(xor, tmp_path):
    _, _, report = xor
    frame = report.to_frame()
    assert list(frame.index) == ["text", "tabular"]
    assert {"shapley", "shapley_low", "shapley_high", "alone", "drop_when_removed", "present_fraction"} <= set(frame)
    subsets = report.subsets_frame()
    assert list(subsets.index) == ["(none)", "text", "tabular", "text + tabular"]
    assert ModalityReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    report.to_json(tmp_path / "r.json")
    assert ModalityReport.from_json(tmp_path / "r.json") == report
    text = report.to_markdown()
    assert "| modality | Shapley [95% CI]" in text and "| text + tabular |" in text


def test_plot_and_tensorboard(xor, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, test, report = xor
    png = report.plot(tmp_path / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model, _, _ = xor
    model.modality_report(test, n_bootstrap=5, run_dir=tmp_path / "run")
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard" / "report"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in ("report/shapley/text", "report/shapley_low/tabular", "report/drop/text", "report/auroc/text+tabular",
                "report/auroc/(none)"):
        assert tag in tags, sorted(tags)


def test_four_modalities_few_thousand_rows_in_seconds_one_pass_per_subset(tmp_path):
    frame = make_multimodal_frame(2000, image_dir=tmp_path / "img", seed=0, missing=0.2)
    model = Lanistr(FOUR, label="label", **FAST, finetune={"epochs": 1, "batch_size": 16, "validation": "none"})
    model.fit(frame.iloc[:64])
    net, calls = model.model_, {"encode": 0, "fuse": 0}
    encode, fuse = net.encode, net.fuse

    def counting(name, fn):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapped

    net.encode, net.fuse = counting("encode", encode), counting("fuse", fuse)
    try:
        started = time.perf_counter()
        report = model.modality_report(frame, batch_size=256)
        seconds = time.perf_counter() - started
    finally:
        del net.encode, net.fuse  # back to the class's methods
    n_batches = math.ceil(len(frame) / 256)
    assert len(report.scores) == 16 and report.n_bootstrap == 200
    assert calls["encode"] == n_batches  # the encoders run once per row batch
    assert calls["fuse"] <= n_batches * 15  # fusion + head once per (batch, non-empty subset), not per row
    assert seconds < 30, seconds
    assert abs(sum(report.shapley.values()) - (report.full_score - report.empty_score)) < 1e-9


def test_clear_errors(xor):
    model, test, _ = xor
    with pytest.raises(RuntimeError, match="not fitted"):
        Lanistr(TEXT_TAB, label="label", **FAST).modality_report(test)
    with pytest.raises(ValueError, match=r"lacks columns assigned to modalities \(tabular: \['size'\]\)"):
        model.modality_report(test.drop(columns="size"))
    with pytest.raises(ValueError, match="lacks the label column 'label'"):
        model.modality_report(test.drop(columns="label"))
    with pytest.raises(ValueError, match="n_bootstrap"):
        model.modality_report(test, n_bootstrap=-1)


def test_cli_report_prints_the_table_and_writes_its_files(xor, tmp_path, capsys):
    model, test, _ = xor
    model.save(tmp_path / "model")
    test.to_csv(tmp_path / "test.csv")
    out = tmp_path / "out"
    assert main(["report", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "test.csv"),
                 "--out", str(out), "--bootstrap", "20"]) == 0
    printed = capsys.readouterr().out
    assert "| modality | Shapley [95% CI]" in printed and "| text + tabular |" in printed
    for name in ("report.json", "report.csv", "report_subsets.csv", "report.md", "report.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "tensorboard" / "report").is_dir()
    saved = ModalityReport.from_json(out / "report.json")
    assert saved.n_bootstrap == 20 and saved.scores[("text", "tabular")] > XOR_LEARNED


def test_cli_report_refuses_a_model_without_a_head(tmp_path):
    frame = make_multimodal_frame(24, modalities=("text", "tabular"), seed=3)
    model = Lanistr(TEXT_TAB, **FAST, pretrain={"epochs": 1, "batch_size": 8, "val_fraction": 0.0})
    model.pretrain(frame.drop(columns="label")).save(tmp_path / "pre")
    frame.to_csv(tmp_path / "d.csv")
    with pytest.raises(SystemExit, match="not fine-tuned"):
        main(["report", "--model", str(tmp_path / "pre"), "--data", str(tmp_path / "d.csv")])
