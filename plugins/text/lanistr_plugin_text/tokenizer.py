"""WordPiece tokenizers: trained on the data with ``tokenizers``, or loaded from a local directory."""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from lanistr_plugin_text.config import SPECIAL_TOKENS

# Role -> token string. Roles are what the preprocessor and the MLM objective ask for.
SpecialTokens = dict[str, str]
ROLES: tuple[str, ...] = ("pad", "unk", "cls", "sep", "mask")
DEFAULT_SPECIAL_TOKENS: SpecialTokens = dict(zip(ROLES, SPECIAL_TOKENS, strict=True))


def train_wordpiece(
    texts: Sequence[str], *, vocab_size: int, min_frequency: int, lowercase: bool
) -> Tokenizer:
    """Train a BERT-style WordPiece tokenizer on ``texts`` with at most ``vocab_size`` entries.

    The special tokens come first (``[PAD]`` = 0, ``[UNK]``, ``[CLS]``, ``[SEP]``, ``[MASK]``).
    """
    tokenizer = Tokenizer(models.WordPiece(unk_token=DEFAULT_SPECIAL_TOKENS["unk"]))
    # BertNormalizer = clean control characters + split CJK + (optionally) lowercase and strip accents.
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    # The trainer always keeps the whole alphabet, once word-initial and once as a "##" piece,
    # so capping the alphabet at half the free room is what keeps the vocabulary <= vocab_size.
    limit_alphabet = min(1000, (vocab_size - len(SPECIAL_TOKENS)) // 2)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        limit_alphabet=limit_alphabet,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    # Note: the trainer breaks merge ties in hash-map order, so two fits on the same data can pick
    # different pieces; runs stay reproducible because the fitted tokenizer is saved with the model
    # (and with the run directory, which a resumed run reloads instead of refitting).
    return tokenizer


def load_pretrained_tokenizer(path: str) -> tuple[Tokenizer, SpecialTokens]:
    """Load the fast tokenizer saved in the local directory ``path`` (never the network).

    Returns a private ``tokenizers.Tokenizer`` copy and its special tokens by role.
    """
    from transformers import AutoTokenizer  # heavy import, only needed on this path

    hf_tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if not getattr(hf_tokenizer, "is_fast", False):
        raise ValueError(f"pretrained_path {path!r}: expected a fast (tokenizers-backed) tokenizer")
    special = {role: getattr(hf_tokenizer, f"{role}_token") for role in ROLES}
    missing = sorted(role for role, token in special.items() if token is None)
    if missing:
        raise ValueError(f"pretrained_path {path!r}: the tokenizer lacks the BERT special tokens {missing}")
    # A copy, so that enabling padding/truncation never touches the caller's tokenizer.
    return Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str()), {k: str(t) for k, t in special.items()}


def add_bert_template(tokenizer: Tokenizer, special: SpecialTokens) -> None:
    """Make every encoding ``[CLS] ... [SEP]``, the layout the BERT encoder expects."""
    cls, sep = special["cls"], special["sep"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, token_id(tokenizer, cls)), (sep, token_id(tokenizer, sep))],
    )


def token_id(tokenizer: Tokenizer, token: str) -> int:
    """The id of ``token``; a token missing from the vocabulary raises ``ValueError``."""
    index = tokenizer.token_to_id(token)
    if index is None:
        raise ValueError(f"token {token!r} is not in the tokenizer's vocabulary")
    return index


def special_token_ids(tokenizer: Tokenizer, special: SpecialTokens) -> list[int]:
    """Sorted ids of every special token: the BERT roles plus any added token flagged special."""
    ids = {token_id(tokenizer, token) for token in special.values()}
    ids |= {index for index, added in tokenizer.get_added_tokens_decoder().items() if added.special}
    return sorted(ids)
