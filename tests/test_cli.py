"""The `lanistr` command line on CSV and Parquet files with a TOML config."""

import json

import pandas as pd
import pytest

from lanistr_core.cli import main
from lanistr_core.testing.data import make_multimodal_frame

CONFIG = """
label = "label"
preset = "tiny"
device = "cpu"
verbose = false
[modalities]
text = ["review"]
tabular = ["age", "size"]
[pretrain]
epochs = 1
batch_size = 8
val_fraction = 0.0
[finetune]
epochs = 1
batch_size = 8
"""


@pytest.fixture
def files(tmp_path):
    frame = make_multimodal_frame(40, modalities=("text", "tabular"), seed=1)
    frame.to_csv(tmp_path / "data.csv")
    frame.drop(columns="label").to_parquet(tmp_path / "unlabeled.parquet")
    (tmp_path / "run.toml").write_text(CONFIG)
    return tmp_path


def test_pretrain_fit_evaluate_predict(files, capsys):
    out = files / "runs"
    assert main(["pretrain", "--data", str(files / "unlabeled.parquet"), "--config", str(files / "run.toml"),
                 "--out", str(out / "pre")]) == 0
    assert (out / "pre" / "model" / "weights.safetensors").exists()
    assert main(["fit", "--data", str(files / "data.csv"), "--model", str(out / "pre" / "model"), "--label", "label",
                 "--out", str(out / "ft")]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out / "ft" / "model"), "--data", str(files / "data.csv")]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) == {"accuracy", "macro_f1", "auroc"}
    assert main(["predict", "--model", str(out / "ft" / "model"), "--data", str(files / "data.csv"),
                 "--output", str(files / "pred.csv"), "--proba"]) == 0
    pred = pd.read_csv(files / "pred.csv", index_col=0)
    assert list(pred.columns) == ["prediction", "proba_0", "proba_1"] and len(pred) == 40


def test_fit_from_flags_only(files):
    assert main(["fit", "--data", str(files / "data.csv"), "--modality", "text=review", "--modality",
                 "tabular=age,size", "--label", "label", "--preset", "tiny", "--device", "cpu",
                 "--finetune-epochs", "1", "--out", str(files / "flags")]) == 0


def test_cli_errors_are_readable(files):
    with pytest.raises(SystemExit, match="cannot read"):
        main(["evaluate", "--model", "x", "--data", str(files / "run.toml")])
    with pytest.raises(SystemExit, match="say which modalities"):
        main(["pretrain", "--data", str(files / "data.csv")])
    with pytest.raises(SystemExit, match="lanistr evaluate: error: .* is not a saved LANISTR model"):
        main(["evaluate", "--model", str(files / "nope"), "--data", str(files / "data.csv")])


def test_time_limit_flag_ends_training_and_saves(files):
    from lanistr_core import TimeLimitWarning

    with pytest.warns(TimeLimitWarning, match="finetune: time_limit=1.5s reached"):
        assert main(["fit", "--data", str(files / "data.csv"), "--modality", "text=review", "--modality",
                     "tabular=age,size", "--label", "label", "--preset", "tiny", "--device", "cpu",
                     "--finetune-epochs", "100000", "--time-limit", "1.5", "--out", str(files / "limited")]) == 0
    assert (files / "limited" / "model" / "weights.safetensors").exists()


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "lanistr_core", "plugins"], capture_output=True, text=True, check=True)
    assert "lanistr-builtins" in out.stdout and "modalities:" in out.stdout


def test_stream_flag_and_streamed_predict_write_every_row(files):
    frame = pd.read_csv(files / "data.csv", index_col=0)
    frame.to_parquet(files / "labeled.parquet", row_group_size=16)
    assert main(["fit", "--data", str(files / "labeled.parquet"), "--stream", "--config", str(files / "run.toml"),
                 "--out", str(files / "streamed")]) == 0
    model = str(files / "streamed" / "model")
    for output in ("pred.parquet", "pred_stream.csv"):
        assert main(["predict", "--model", model, "--data", str(files / "labeled.parquet"), "--chunk-rows", "7",
                     "--output", str(files / output), "--proba"]) == 0
    streamed = pd.read_parquet(files / "pred.parquet")
    assert list(streamed.index) == list(range(40)) and list(streamed.columns) == ["prediction", "proba_0", "proba_1"]
    as_csv = pd.read_csv(files / "pred_stream.csv", index_col=0)
    assert len(as_csv) == 40 and (as_csv["prediction"].to_numpy() == streamed["prediction"].to_numpy()).all()
    with pytest.raises(SystemExit, match="needs --output"):
        main(["predict", "--model", model, "--data", str(files / "labeled.parquet")])
    with pytest.raises(SystemExit, match="--stream reads Parquet"):
        main(["fit", "--data", str(files / "data.csv"), "--stream", "--config", str(files / "run.toml")])
