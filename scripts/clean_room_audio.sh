#!/usr/bin/env bash
# Clean-room check that a modality arrives with `pip install` and leaves with `pip uninstall`:
#  1. a fresh venv with only the core and the tabular plugin (non-editable): an audio model fails with
#     a clear error;
#  2. `pip install ./plugins/audio` (non-editable): `lanistr plugins` lists audio, and pretraining +
#     fitting on audio + tabular columns works, with no change to the core;
#  3. `pip uninstall lanistr-plugin-audio`, the four built-in plugins installed: the core's tests pass.
# Usage: bash scripts/clean_room_audio.sh [WORKDIR]   (about 10 minutes; needs the package index)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${1:-$(mktemp -d)}
PYTHON=${PYTHON:-python3}
"$PYTHON" -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
"$PY" -m pip install --quiet --upgrade pip
echo "== 1. core (+ the tabular plugin, for the audio + tabular model below), no audio plugin"
"$PY" -m pip install --quiet "$ROOT[test]" "$ROOT/plugins/tabular"
cd "$WORK"
"$PY" - <<'PY'
import pandas as pd
from lanistr_core import Lanistr, RegistryError, list_modalities
print("installed modalities:", list_modalities())
try:
    Lanistr({"audio": ["clip"]}, label="label").fit(pd.DataFrame({"clip": ["a.wav", "b.wav"], "label": [0, 1]}))
except RegistryError as err:
    print("error as expected:", err)
else:
    raise SystemExit("an audio model built without the audio plugin")
PY
echo "== 2. pip install ./plugins/audio (not editable)"
"$PY" -m pip install --quiet "$ROOT/plugins/audio"
"$WORK/venv/bin/lanistr" plugins
"$PY" - <<'PY'
import tempfile, warnings
from pathlib import Path
import numpy as np, pandas as pd, soundfile
from lanistr_core import Lanistr

rate, tmp = 8000, Path(tempfile.mkdtemp())
def frame(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    clips = []
    for i, y in enumerate(labels):
        t = np.arange(int(rate * rng.uniform(0.6, 1.2))) / rate
        wave = 0.5 * np.sin(2 * np.pi * (440 if y else 1320) * rng.uniform(0.9, 1.1) * t) + rng.normal(0, 0.05, t.size)
        soundfile.write(tmp / f"{seed}_{i}.wav", wave.astype(np.float32), rate)
        clips.append(str(tmp / f"{seed}_{i}.wav"))
    return pd.DataFrame({"clip": clips, "x": rng.normal(size=n), "label": labels})
train, test = frame(96, 1), frame(40, 2)
model = Lanistr({"audio": ["clip"], "tabular": ["x"]}, label="label", preset="tiny", verbose=False,
                pretrain={"epochs": 2, "batch_size": 16}, finetune={"epochs": 12, "batch_size": 16, "lr": 3e-3})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model.pretrain(train.drop(columns="label")).fit(train)
print("pretrain + fit on audio + tabular: test accuracy", model.evaluate(test)["accuracy"])
PY
echo "== 3. pip uninstall lanistr-plugin-audio; the core's tests with the four built-in plugins"
"$PY" -m pip uninstall --quiet --yes lanistr-plugin-audio
"$PY" -m pip install --quiet "$ROOT/plugins/text" "$ROOT/plugins/image" "$ROOT/plugins/timeseries"
"$WORK/venv/bin/lanistr" plugins
cd "$ROOT"
"$PY" -m pytest -q -p no:cacheprovider tests
