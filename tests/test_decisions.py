"""Post-hoc logit adjustment (``logit_adjustment``): decisions move, probabilities and training do not."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from lanistr_core import Lanistr
from lanistr_core.config import LanistrConfig
from lanistr_core.metrics import classification_metrics, decide, decision_offset
from lanistr_core.testing.data import make_multimodal_frame

FAST = {"preset": "tiny", "verbose": False, "device": "cpu",
        "finetune": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "validation": "none"}}


def test_decide_divides_by_the_prior_to_the_power_tau():
    proba = np.array([[0.6, 0.4], [0.9, 0.1], [0.2, 0.8]])
    prior = np.array([0.8, 0.2])
    assert decide(proba).tolist() == [0, 0, 1]
    # tau 1: argmax of p / prior -> (0.75, 2.0), (1.125, 0.5), (0.25, 4.0)
    assert decide(proba, decision_offset(prior, 1.0)).tolist() == [1, 0, 1]
    assert decision_offset(prior, 0.0) is None and decision_offset(None, 1.0) is None
    # a class of probability 0 (absent from a reference's training labels) is never chosen
    assert decide(np.array([[0.0, 1.0]]), np.log(np.array([1e-9, 1.0]))).tolist() == [1]


def test_classification_metrics_score_adjusted_decisions_but_not_auroc():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.7, 0.3], [0.6, 0.4], [0.2, 0.8]])
    plain = classification_metrics(y, proba)
    adjusted = classification_metrics(y, proba, decision_offset(np.array([0.8, 0.2]), 1.0))
    assert plain["accuracy"] == 0.75 and adjusted["accuracy"] == 0.75  # row 2 flips to 1, row 1 to 1
    assert adjusted["auroc"] == plain["auroc"]
    assert adjusted["macro_f1"] == pytest.approx(f1_score(y, [0, 1, 1, 1], average="macro"))


@pytest.mark.parametrize("bad", [-0.5, 3.0, "1"])
def test_logit_adjustment_is_validated(bad):
    with pytest.raises((TypeError, ValueError)):
        LanistrConfig(modalities=["tabular"], logit_adjustment=bad)


@pytest.fixture(scope="module")
def imbalanced():
    frame = make_multimodal_frame(80, modalities=("tabular",), seed=3, missing=0.0)
    frame["label"] = np.where(np.arange(80) < 60, "common", "rare")  # 75% / 25%, independent of the inputs
    return frame


def test_prior_is_learned_saved_and_used_by_predict_and_evaluate(imbalanced, tmp_path):
    models = {}
    for tau in (0.0, 1.0):
        models[tau] = Lanistr({"tabular": ["age", "size"]}, label="label", seed=0, logit_adjustment=tau, **FAST)
        models[tau].fit(imbalanced)
    plain, adjusted = models[0.0], models[1.0]
    assert adjusted.class_prior_ == pytest.approx([0.75, 0.25])
    proba = adjusted.predict_proba(imbalanced)
    np.testing.assert_array_equal(proba, plain.predict_proba(imbalanced))  # training is not affected
    expected = np.array(["common", "rare"], dtype=object)[(proba / np.array([0.75, 0.25])).argmax(1)]
    assert (adjusted.predict(imbalanced) == expected).all()
    assert (plain.predict(imbalanced) == np.array(["common", "rare"], dtype=object)[proba.argmax(1)]).all()
    y = (imbalanced["label"] == "rare").to_numpy().astype(int)
    scores = adjusted.evaluate(imbalanced)
    assert scores["macro_f1"] == pytest.approx(f1_score(y, (expected == "rare").astype(int), average="macro"))
    assert scores["auroc"] == pytest.approx(plain.evaluate(imbalanced)["auroc"])
    loaded = Lanistr.load(adjusted.save(tmp_path / "m"))
    assert loaded.class_prior_ == pytest.approx([0.75, 0.25]) and loaded.config.logit_adjustment == 1.0
    assert (loaded.predict(imbalanced) == expected).all()


def test_reference_applies_the_same_rule():
    from lanistr_core.reference import class_probabilities, reference_pipeline, tfidf_reference

    frame = make_multimodal_frame(160, modalities=("text", "tabular"), seed=4, missing=0.1)
    frame["label"] = np.where(np.arange(160) % 5 == 0, 1, 0)  # 20% positives, weakly tied to the inputs
    train, val, test = frame.iloc[:100], frame.iloc[100:130], frame.iloc[130:]
    kwargs = dict(train=train, validation=val, test=test, text=["review"], tabular=["age", "size"], label="label")
    plain, adjusted = tfidf_reference(**kwargs), tfidf_reference(**kwargs, logit_adjustment=1.0)
    assert adjusted["C"] == plain["C"] and adjusted["auroc"] == plain["auroc"]  # C is chosen on AUROC
    columns = ["review", "age", "size"]
    model = reference_pipeline(["review"], ["age", "size"], train, adjusted["C"]).fit(train[columns], train["label"])
    proba = class_probabilities(model, test[columns], [0, 1])
    expected = (proba / np.array([0.8, 0.2])).argmax(1)  # the training rows' prior: 80% / 20%
    assert adjusted["macro_f1"] == pytest.approx(f1_score(test["label"], expected, average="macro"))
    assert plain["macro_f1"] == pytest.approx(f1_score(test["label"], proba.argmax(1), average="macro"))
