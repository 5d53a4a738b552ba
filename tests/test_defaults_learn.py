"""`Lanistr(...).pretrain(df).fit(df)` with every training option at its default learns, on a few
hundred rows, a label that only two modalities together determine."""

import numpy as np

from lanistr_core import Lanistr
from lanistr_core.testing.data import WORDS, make_multimodal_frame

MODALITIES = {"text": ["review"], "image": ["photo"], "tabular": ["age", "size"], "timeseries": ["vitals"]}


def test_interaction_label_needs_two_modalities():
    frame = make_multimodal_frame(2000, modalities=("text", "tabular"), seed=1, missing=0.0, interaction=True)
    cue_a = frame["review"].map(lambda text: int(text.split()[0] in WORDS[1]))
    cue_b = (frame["size"] == "XL").astype(int)
    assert ((cue_a ^ cue_b) == frame["label"]).all()
    # either cue alone says nothing about the label
    for cue in (cue_a, cue_b):
        assert abs(frame["label"][cue == 1].mean() - 0.5) < 0.05
    # rows keep at least one modality, and about 15% of the cells are missing
    gappy = make_multimodal_frame(400, modalities=("text", "tabular"), seed=2, missing=0.15, interaction=True)
    assert not gappy[["review", "age"]].isna().all(axis=1).any()
    assert 0.08 < gappy["review"].isna().mean() < 0.22


def test_all_defaults_pretrain_and_fit_learn_an_interaction(tmp_path):
    train = make_multimodal_frame(400, image_dir=tmp_path / "train", seed=0, missing=0.15, interaction=True)
    test = make_multimodal_frame(200, image_dir=tmp_path / "test", seed=100, missing=0.15, interaction=True)
    model = Lanistr(MODALITIES, label="label", preset="tiny")  # every training option at its default
    model.pretrain(train.drop(columns="label"))
    model.fit(train)
    scores = model.evaluate(test)
    assert scores["accuracy"] >= 0.85, (scores, model.training_)
    assert np.isfinite(model.predict_proba(test)).all()
