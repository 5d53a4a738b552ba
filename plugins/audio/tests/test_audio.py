"""The audio plugin: contracts, decoding (files, arrays, resampling, mix-down), cropping and padding,
unreadable clips, the mask token, detection, pretrained loading and learning through the facade."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from lanistr_core import PRESENT, Lanistr
from lanistr_core.testing import (
    check_modality,
    build_modality,
    check_encoder_contract,
    check_missing_rows,
    check_objective_contract,
    check_objective_learns,
    check_state_roundtrip,
)
from lanistr_plugin_audio import SPEC, AudioConfig, UnreadableAudioWarning, detect_audio_column
from lanistr_plugin_audio import clips as clips_module
from lanistr_plugin_audio.clips import load_clip

RATE = 8000  # the tiny preset's sample rate
PITCHES = (300.0, 1200.0)  # far apart on a 16-bin mel scale

# -- generated clips ------------------------------------------------------------------


def _tone(pitch: float, seconds: float = 1.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A sine tone with a random phase and a little noise, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * pitch * t + rng.uniform(0, 2 * np.pi)) + 0.05 * rng.standard_normal(t.size)
    return wave.astype(np.float32)


def _write(path: Path, samples: np.ndarray, rate: int = RATE, subtype: str | None = None) -> str:
    soundfile.write(path, samples, rate, subtype=subtype)
    return str(path)


def _frame(tmp_path: Path, n: int = 10) -> pd.DataFrame:
    """Mixed cells: WAV and FLAC paths (str and Path), stereo files, float arrays and lists, None and NaN."""
    cells: list[object] = []
    for i in range(n):
        wave = _tone(PITCHES[i % 2], seconds=0.4 + 0.15 * i, seed=i)  # some shorter, some longer than 1 s
        kind = i % 4
        if kind == 0:
            cells.append(_write(tmp_path / f"clip{i}.wav", wave))
        elif kind == 1:
            cells.append(Path(_write(tmp_path / f"clip{i}.flac", np.stack([wave, wave], axis=1))))  # stereo
        elif kind == 2:
            cells.append(wave)
        else:
            cells.append(wave.astype(np.float64).tolist())
    cells[2], cells[5] = None, float("nan")
    return pd.DataFrame({"clip": cells}, index=[f"r{i}" for i in range(n)])


def _broken_frame(tmp_path: Path) -> pd.DataFrame:
    """Nine rows: 3 garbage bytes, 5 null, 6 empty file, 7 missing file, 8 a WAV with no samples."""
    cells: list[object] = [_write(tmp_path / f"ok{i}.wav", _tone(PITCHES[i % 2], seed=i)) for i in range(9)]
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF" + b"this is not audio data" * 10)
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    cells[3], cells[5], cells[6] = str(garbage), None, str(empty)
    cells[7] = str(tmp_path / "does_not_exist.wav")
    cells[8] = _write(tmp_path / "silent.wav", np.zeros(0, dtype=np.float32))
    return pd.DataFrame({"clip": cells})


def _arrays(n: int, seconds: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"clip": [_tone(PITCHES[i % 2], seconds=seconds, seed=i) for i in range(n)]})


# -- contracts ------------------------------------------------------------------------------


def test_audio_passes_the_plugin_contract(tmp_path):
    frame = _frame(tmp_path)
    parts = build_modality(SPEC, frame, ["clip"])
    encoded = check_encoder_contract(SPEC, parts, frame)
    assert encoded.tokens.shape == (10, 2 + 12, 32)  # CLS + distillation + 2 x 6 patches, hidden 32 (tiny)
    check_objective_contract(SPEC, parts, frame)
    check_missing_rows(SPEC, parts, frame, missing_rows=[2, 5])
    check_state_roundtrip(SPEC, parts, frame)


@pytest.mark.parametrize("loss", ["l1", "mse"])
def test_objective_learns_on_a_fixed_batch(loss):
    frame = _arrays(8)
    frame.iloc[3, 0] = None
    torch.manual_seed(0)  # weight init independent of test order
    first, last = check_objective_learns(SPEC, build_modality(SPEC, frame, ["clip"], loss=loss), frame)
    assert last < first


def test_several_columns_are_separate_clip_slots():
    front, back = list(_arrays(5)["clip"]), list(_arrays(5, seconds=0.3)["clip"])
    front[1] = back[2] = None
    front[4] = back[4] = None  # row 4: no clip at all
    frame = pd.DataFrame({"front": front, "back": back})
    parts = build_modality(SPEC, frame, ["front", "back"])
    batch = parts.preprocessor.transform(frame)
    assert batch["fbank"].shape == (5, 2, 48, 16) and batch["patch_mask"].shape == (5, 2, 12)
    assert batch[PRESENT].tolist() == [True, True, True, True, False]
    encoded = check_encoder_contract(SPEC, parts, frame)
    assert encoded.tokens.shape == (5, 2 * 14, 32)
    assert not encoded.mask[1, :14].any() and encoded.mask[4].all()  # empty slot = padding; absent row: core decides
    check_objective_contract(SPEC, parts, frame)
    check_state_roundtrip(SPEC, parts, frame)


def test_loss_is_a_graph_zero_when_no_clip_is_present():
    frame = pd.DataFrame({"clip": [None, float("nan")]})
    parts = build_modality(SPEC, frame, ["clip"])
    masked, targets = parts.objective.mask(parts.preprocessor.transform(frame))
    loss = parts.objective.loss(parts.encoder(masked), targets)
    assert loss.item() == 0.0 and loss.requires_grad


# -- padding, masking, cropping ------------------------------------------------------------


def test_short_clips_are_padded_and_their_padding_is_masked():
    # 0.3 s at 8 kHz: 1 + (2400 - 400) // 160 = 13 real frames of 48; time patches start at 0, 8, 16, ...
    frame = pd.DataFrame({"clip": [_tone(300, seconds=0.3), _tone(300, seconds=1.0)]})
    parts = build_modality(SPEC, frame, ["clip"])
    batch = parts.preprocessor.transform(frame)
    assert batch["frames"][:, 0].tolist() == [13, 48]
    assert not batch["fbank"][0, 0, 13:].any() and batch["fbank"][0, 0, :13].abs().sum() > 0
    # The extractor itself pads from the same frame on: the frame count follows its geometry.
    raw = parts.preprocessor.extractor_(_tone(300, seconds=0.3), sampling_rate=RATE, return_tensors="np")
    padding = raw["input_values"][0, 13:]
    assert np.allclose(padding, padding[0]) and not np.allclose(raw["input_values"][0, 12], padding[0])
    encoded = parts.encoder.eval()(batch)
    time_real = [True, True, False, False, False, False]  # patches starting at frames 0 and 8 hold real frames
    assert encoded.mask[0].tolist() == [True, True] + time_real * 2 and encoded.mask[1].all()
    # Padded patches are out of attention: changing their values moves no real token.
    noisy = dict(batch, fbank=batch["fbank"].clone())
    noisy["fbank"][0, 0, 16:] = torch.randn(32, 16) * 10
    with torch.no_grad():
        a, b = parts.encoder(batch), parts.encoder(noisy)
    real = encoded.mask[0]
    torch.testing.assert_close(a.tokens[0][real], b.tokens[0][real], atol=1e-5, rtol=0)


def test_mask_token_replaces_exactly_the_masked_patches():
    frame = _arrays(2)
    parts = build_modality(SPEC, frame, ["clip"])
    encoder = parts.encoder.eval()
    batch = parts.preprocessor.transform(frame)
    with torch.no_grad():
        plain = encoder(batch).tokens
        direct = encoder.ast(input_values=batch["fbank"][:, 0]).last_hidden_state  # no mask: the hook is a no-op
        torch.testing.assert_close(plain, direct)
        masked = dict(batch, patch_mask=torch.zeros_like(batch["patch_mask"]))
        masked["patch_mask"][:, 0, 3] = True  # frequency row 0, time column 3: frames 24-31, bins 0-7
        reference = encoder(masked).tokens
        assert not torch.allclose(reference, plain)
        # Patches do not overlap at the tiny preset: the masked patch's own bins no longer matter...
        changed = dict(masked, fbank=masked["fbank"].clone())
        changed["fbank"][:, 0, 24:32, 0:8] += 5.0
        torch.testing.assert_close(encoder(changed).tokens, reference)
        # ...while those of an unmasked patch still do.
        changed["fbank"][:, 0, 32:40, 0:8] += 5.0
        assert not torch.allclose(encoder(changed).tokens, reference)


def test_masking_draws_the_ratio_of_real_patches_of_present_clips():
    frame = pd.DataFrame({"clip": [_tone(300), _tone(300, seconds=0.3), None]})
    parts = build_modality(SPEC, frame, ["clip"], mask_ratio=0.25)
    batch = parts.preprocessor.transform(frame)
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(1))
    counts = masked["patch_mask"].sum(dim=-1).squeeze(1).tolist()
    assert counts == [3, 1, 0]  # 25% of 12 patches; of the 4 real patches of the short clip; none when absent
    short = masked["patch_mask"][1, 0].reshape(2, 6)  # (frequency, time)
    assert not short[:, 2:].any()  # never a padded patch
    again, _ = parts.objective.mask(batch, torch.Generator().manual_seed(1))
    assert torch.equal(again["patch_mask"], masked["patch_mask"]) and not batch["patch_mask"].any()
    assert torch.equal(targets["fbank"], batch["fbank"])


def test_long_clips_are_centre_cropped_in_eval_and_randomly_in_training():
    frame = pd.DataFrame({"clip": [np.arange(20000, dtype=np.float32)]})
    pre = build_modality(SPEC, frame, ["clip"]).preprocessor
    samples = np.arange(20000, dtype=np.float32)
    assert not pre.training
    np.testing.assert_array_equal(pre.crop(samples), samples[6000:14000])  # centre 8000 of 20000
    torch.manual_seed(0)
    starts = {int(pre.train().crop(samples)[0]) for _ in range(20)}
    assert len(starts) > 5 and all(0 <= s <= 12000 for s in starts)
    np.testing.assert_array_equal(pre.train().crop(samples[:5000]), samples[:5000])  # short clips are not cropped
    long_tone = pd.DataFrame({"clip": [_tone(300, seconds=3.0) * np.linspace(0, 1, 24000, dtype=np.float32)]})
    a, b = pre.transform(long_tone)["fbank"], pre.transform(long_tone)["fbank"]
    assert not torch.equal(a, b)
    assert torch.equal(pre.eval().transform(long_tone)["fbank"], pre.transform(long_tone)["fbank"])


# -- decoding: files, arrays, resampling, mix-down ------------------------------------------


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[spectrum.argmax()])


@pytest.fixture()
def resample_calls(monkeypatch) -> list[tuple[int, int]]:
    """Records every (in_rate, out_rate) the plugin resamples with, still calling soxr."""
    calls: list[tuple[int, int]] = []
    real = clips_module.soxr.resample

    def spy(samples: np.ndarray, in_rate: int, out_rate: int, *args: object, **kwargs: object) -> np.ndarray:
        calls.append((in_rate, out_rate))
        return real(samples, in_rate, out_rate, *args, **kwargs)

    monkeypatch.setattr(clips_module.soxr, "resample", spy)
    return calls


def test_files_and_arrays_at_another_rate_are_resampled_with_soxr(tmp_path, resample_calls):
    path = _write(tmp_path / "hi.flac", _tone(1000, seconds=1.0, rate=16000), rate=16000)
    wave = load_clip(path, sample_rate=RATE)
    assert wave.dtype == np.float32 and wave.shape == (8000,) and abs(_peak_hz(wave, RATE) - 1000) <= 2
    assert resample_calls == [(16000, RATE)]
    wave = load_clip(_tone(500, rate=22050), sample_rate=RATE, array_sample_rate=22050)
    assert wave.shape == (8000,) and abs(_peak_hz(wave, RATE) - 500) <= 2
    load_clip(_tone(500), sample_rate=RATE)  # already at the rate: no resampling
    assert resample_calls == [(16000, RATE), (22050, RATE)]
    frame = pd.DataFrame({"clip": [_tone(500, rate=16000)]})
    parts = build_modality(SPEC, frame, ["clip"], array_sample_rate=16000)
    assert parts.preprocessor.transform(frame)["frames"].item() == 48 and len(resample_calls) == 3


def test_multichannel_files_are_mixed_down_to_mono(tmp_path):
    left, right = _tone(300, seed=1), _tone(1200, seed=2)
    path = _write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), subtype="FLOAT")
    np.testing.assert_allclose(load_clip(Path(path), sample_rate=RATE), (left + right) / 2, atol=1e-6)


def test_relative_paths_resolve_against_root_dir(tmp_path):
    _write(tmp_path / "a.ogg", _tone(300))
    frame = pd.DataFrame({"clip": ["a.ogg"]})
    parts = build_modality(SPEC, frame, ["clip"], root_dir=str(tmp_path))
    assert parts.preprocessor.transform(frame)[PRESENT].tolist() == [True]


# -- unreadable clips and bad cells ----------------------------------------------------------


def test_unreadable_clips_are_missing_with_one_warning(tmp_path):
    frame = _broken_frame(tmp_path)
    parts = build_modality(SPEC, frame, ["clip"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = parts.preprocessor.transform(frame)
    assert len(caught) == 1 and issubclass(caught[0].category, UnreadableAudioWarning)
    message = str(caught[0].message)
    assert "audio: 4 unreadable clips treated as missing (column 'clip', rows [3, 6, 7, 8])" in message
    assert "garbage.wav" in message
    assert batch[PRESENT].tolist() == [True, True, True, False, True, False, False, False, False]
    assert not batch["fbank"][[3, 6, 7, 8]].any()
    parts.encoder(batch)  # absent rows still encode


@pytest.mark.parametrize(
    ("row", "name"), [(3, "garbage.wav"), (6, "empty.flac"), (7, "does_not_exist.wav"), (8, "silent.wav")]
)
def test_unreadable_clip_raises_naming_file_and_row_when_asked(tmp_path, row, name):
    frame = _broken_frame(tmp_path)
    parts = build_modality(SPEC, frame, ["clip"], on_error="raise")
    with pytest.raises(ValueError, match=rf"column 'clip', row {row}: unreadable audio \(.*{name}"):
        parts.preprocessor.transform(frame.iloc[[0, row]])


@pytest.mark.parametrize(
    ("cell", "got"),
    [
        (17, "got int"),
        (b"RIFF", "got bytes"),
        (np.zeros((4000, 2), dtype=np.float32), r"got ndarray of dtype float32 and shape \(4000, 2\)"),
        (np.array(["a", "b"]), r"got ndarray of dtype <U1"),
        (["a", 0.5], "got a list holding non-numbers"),
        (np.array([0.1, np.nan]), "NaN or infinite"),
    ],
    ids=["int", "bytes", "two_d", "strings", "mixed_list", "nan"],
)
def test_wrong_type_names_column_and_row(cell, got):
    frame = pd.DataFrame({"clip": [_tone(300), None]}, index=["a", "b"])
    parts = build_modality(SPEC, frame, ["clip"])
    frame.at["b", "clip"] = cell
    with pytest.raises(ValueError, match=rf"column 'clip', row 'b': expected an audio file path.*{got}"):
        parts.preprocessor.transform(frame)


def test_missing_column_is_named():
    frame = _arrays(2)
    parts = build_modality(SPEC, frame, ["clip"])
    with pytest.raises(ValueError, match=r"audio column\(s\) \['clip'\] are missing"):
        parts.preprocessor.transform(frame.rename(columns={"clip": "sound"}))


# -- config, presets, state -------------------------------------------------------------------


# transformers' numpy fbank warns that some of AST's 128 mel filters are empty at 16 kHz / 512-point FFT.
@pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")
def test_config_validation_and_presets():
    with pytest.raises(ValueError, match="num_heads 3 must divide hidden_size 32"):
        SPEC.make_config("tiny", num_heads=3)
    with pytest.raises(ValueError, match="time_stride 9 must be at most patch_size 8"):
        SPEC.make_config("tiny", time_stride=9)
    with pytest.raises(ValueError, match="num_mel_bins 4 must be at least patch_size 8"):
        SPEC.make_config("tiny", num_mel_bins=4)
    with pytest.raises(ValueError, match="on_error"):
        SPEC.make_config("tiny", on_error="skip")
    with pytest.raises(ValueError, match="makes 48 frames but the AST takes max_length=40"):
        SPEC.build_preprocessor(SPEC.make_config("tiny", max_length=40), ["clip"])
    base = SPEC.make_config("base")
    assert (base.hidden_size, base.num_layers, base.num_heads, base.num_mel_bins, base.max_length, base.patch_size,
            base.frequency_stride, base.time_stride, base.sample_rate) == (768, 12, 12, 128, 1024, 16, 10, 10, 16000)
    assert SPEC.build_preprocessor(base, ["clip"]).n_patches == 12 * 101  # AST's 1212 patches
    assert SPEC.build_preprocessor(SPEC.make_config("small"), ["clip"]).n_patches == 4 * 24
    assert SPEC.make_config("tiny") == AudioConfig()  # the class defaults are the tiny preset
    assert SPEC.loss_weight == 1.0


def test_state_is_plain_json_and_checks_columns():
    frame = _arrays(2)
    parts = build_modality(SPEC, frame, ["clip"])
    state = parts.preprocessor.state_dict()
    assert state == {"columns": ["clip"], "sample_rate": 8000, "clip_samples": 8000, "num_mel_bins": 16,
                     "max_length": 48, "mean": pytest.approx(-4.2677393), "std": pytest.approx(4.5689974)}
    with pytest.raises(ValueError, match="saved audio columns"):
        SPEC.build_preprocessor(parts.config, ["sound"]).load_state_dict(state)
    longer = SPEC.build_preprocessor(parts.config, ["clip"])
    longer.load_state_dict({**state, "max_length": 64})  # the saved frame count wins over the derived one
    assert longer.ast_config_.max_length == 64 and longer.transform(frame)["fbank"].shape == (2, 1, 64, 16)


# -- detection and registration ----------------------------------------------------------------


def test_detection_claims_audio_and_leaves_time_series_alone(tmp_path):
    assert detect_audio_column(pd.Series([f"sounds/{i}.wav" for i in range(20)] + [None, "B.FLAC", "c.ogg"]))
    assert detect_audio_column(pd.Series([tmp_path / f"{i}.mp3" for i in range(4)]))
    assert detect_audio_column(pd.Series([_tone(300), None, _tone(1200)]))  # long 1-D float arrays
    assert detect_audio_column(pd.Series([_tone(300).astype(float).tolist()] * 2))
    rng = np.random.default_rng(0)
    short_series = [rng.normal(size=int(rng.integers(12, 300))) for _ in range(10)]
    assert not detect_audio_column(pd.Series(short_series))  # 1-D time series: far shorter
    assert not detect_audio_column(pd.Series([rng.normal(size=(5000, 2)) for _ in range(3)]))  # 2-D: multivariate series
    assert not detect_audio_column(pd.Series([np.arange(5000)] * 2))  # integer arrays: counters, ids
    assert not detect_audio_column(pd.Series([[0.5, 1.5, 2.5]] * 3))
    assert not detect_audio_column(pd.Series(["a loud song", "photo.png", "clip.wav"]))
    assert not detect_audio_column(pd.Series([1.0, 2.0]))
    assert not detect_audio_column(pd.Series([None, float("nan")]))


def test_entry_point_is_discovered(lanistr_isolated_registry):
    # Load only this plugin's entry point: other plugins installed alongside are not under test here.
    registry = lanistr_isolated_registry("audio")
    assert registry.get_modality("audio") is SPEC
    assert registry.owner("modality", "audio").distribution == "lanistr-plugin-audio"


def test_example_cells_pass_the_core_suite(tmp_path):
    check_modality(SPEC, tmp_path)


# -- pretrained weights ----------------------------------------------------------------------------


def _save_tiny_ast(path: Path) -> dict[str, torch.Tensor]:
    from transformers import ASTConfig, ASTModel

    torch.manual_seed(3)
    model = ASTModel(ASTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                               num_mel_bins=24, max_length=64, patch_size=8, frequency_stride=8, time_stride=8))
    model.save_pretrained(path)
    return model.state_dict()


def test_encoder_loads_local_pretrained_ast(tmp_path):
    saved = _save_tiny_ast(tmp_path / "ast")
    frame = _frame(tmp_path, n=6)
    # hidden_size, mel bins and max_length of the preset are ignored: the checkpoint defines them.
    parts = build_modality(SPEC, frame, ["clip"], pretrained_path=str(tmp_path / "ast"))
    assert parts.encoder.dim == 16 and parts.encoder.pretrained
    assert parts.preprocessor.transform(frame)["fbank"].shape == (6, 1, 64, 24)
    loaded = parts.encoder.ast.state_dict()
    assert loaded.keys() == saved.keys() and all(torch.equal(loaded[k], v) for k, v in saved.items())
    encoded = check_encoder_contract(SPEC, parts, frame)
    assert encoded.tokens.shape == (6, 2 + 3 * 8, 16)
    check_objective_contract(SPEC, parts, frame)


def test_missing_pretrained_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a local AST checkpoint directory"):
        SPEC.build_preprocessor(SPEC.make_config("tiny", pretrained_path=str(tmp_path / "nope")), ["clip"])


# -- end to end through the facade -------------------------------------------------------------------


def _pitch_frame(tmp_path: Path, n: int, seed: int) -> pd.DataFrame:
    """Label = which pitch plays; ``x`` is noise. Every 10th clip is a garbage file."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    cells = []
    for i, label in enumerate(labels):
        path = tmp_path / f"s{seed}_{i}.wav"
        if i % 10 == 7:
            path.write_bytes(b"not a wav file")
            cells.append(str(path))
            continue
        pitch = PITCHES[label] * rng.uniform(0.9, 1.1)
        cells.append(_write(path, _tone(pitch, seconds=float(rng.uniform(0.6, 1.4)), seed=seed * 1000 + i)))
    return pd.DataFrame({"clip": cells, "x": rng.normal(size=n), "label": labels})


def test_lanistr_learns_pitch_and_round_trips(tmp_path):
    train, test = _pitch_frame(tmp_path, 96, seed=1), _pitch_frame(tmp_path, 40, seed=2)
    model = Lanistr(
        {"audio": ["clip"], "tabular": ["x"]}, label="label", preset="tiny", device="cpu", verbose=False,
        pretrain={"epochs": 2, "batch_size": 16, "validation": "none"},
        finetune={"epochs": 12, "batch_size": 16, "validation": "none", "lr": 3e-3},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableAudioWarning)
        model.pretrain(train.drop(columns="label"))
        model.fit(train)
        proba = model.predict_proba(test)
        readable = np.arange(len(test)) % 10 != 7
        accuracy = float((proba.argmax(1) == test["label"].to_numpy())[readable].mean())
        assert accuracy >= 0.8, accuracy
        assert proba.shape == (40, 2) and np.isfinite(proba).all()  # rows with unreadable clips still predicted
        loaded = Lanistr.load(model.save(tmp_path / "model"))
        np.testing.assert_array_equal(proba, loaded.predict_proba(test))


def test_loading_an_audio_model_without_the_plugin_names_plugin_and_version(tmp_path, lanistr_plugins_missing):
    from lanistr_core import RegistryError

    model = Lanistr({"audio": ["clip"], "tabular": ["x"]}, label="label", preset="tiny", device="cpu",
                    verbose=False, finetune={"epochs": 1, "validation": "none"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableAudioWarning)
        path = model.fit(_pitch_frame(tmp_path, 24, seed=3)).save(tmp_path / "model")
    lanistr_plugins_missing("audio")  # as if lanistr-plugin-audio were not installed
    with pytest.raises(RegistryError, match=r"needs modality 'audio' from lanistr-plugin-audio 0\.1\.0, which is not installed"):
        Lanistr.load(path)


# -- accelerator (runs only where CUDA is available) ----------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_encoder_and_objective_run_on_cuda_under_bf16_autocast():
    frame = _arrays(4)
    parts = build_modality(SPEC, frame, ["clip"])
    parts.encoder.cuda(), parts.objective.cuda()
    batch = {k: v.cuda() for k, v in parts.preprocessor.transform(frame).items()}
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(0))
    assert masked["patch_mask"].is_cuda
    with torch.autocast("cuda", dtype=torch.bfloat16):
        encoded = parts.encoder(masked)
        loss = parts.objective.loss(encoded, targets)
    loss.backward()
    assert encoded.tokens.is_cuda and torch.isfinite(loss) and parts.encoder.mask_token.grad is not None
