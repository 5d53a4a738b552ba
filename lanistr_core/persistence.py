"""Saving and loading a Lanistr model directory (JSON + safetensors; never pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import torch

from lanistr_core import __version__, assembly
from lanistr_core.config import LanistrConfig, config_from_dict, config_to_dict
from lanistr_core.registry import RegistryError, get_registry
from lanistr_core.serialization import load_state, load_tensors, read_json, save_state, save_tensors, write_json

if TYPE_CHECKING:
    from lanistr_core.facade import Lanistr

FORMAT_VERSION = 1


def save_model(model: Lanistr, path: Path) -> Path:
    """Write ``config.json``, ``weights.safetensors`` and ``preprocessors/<modality>.{json,safetensors}``."""
    path.mkdir(parents=True, exist_ok=True)
    registry = get_registry()
    for name, pre in model.preprocessors_.items():
        save_state(path / "preprocessors", name, pre.state_dict())
    tensors = {f"model.{k}": v for k, v in model.model_.state_dict().items()}
    tensors.update({f"pretraining_loss.{k}": v for k, v in model.pretraining_loss_.state_dict().items()})
    save_tensors(path / "weights.safetensors", tensors, metadata={"format": "lanistr", "version": __version__})
    plugins = {}
    for name in model.columns_:
        info = registry.owner("modality", name)
        plugins[name] = {"plugin": info.name, "distribution": info.distribution, "version": info.version}
    write_json(path / "config.json", {
        "format_version": FORMAT_VERSION,
        "lanistr_version": __version__,
        "config": config_to_dict(model.config),
        "columns": model.columns_,
        "modality_order": list(model.columns_),
        "modality_configs": assembly.config_dicts(model.modality_configs_),
        "plugins": plugins,
        "task": model.task_,
        "classes": model.classes_,
        "target_stats": model.target_stats_,
        "class_prior": getattr(model, "class_prior_", None),
        "fitted": bool(getattr(model, "fitted_", False)),
        "pretrained": bool(getattr(model, "pretrained_", False)),
    })
    return path


def load_model(cls: type[Lanistr], path: Path, *, device: str | None = None) -> Lanistr:
    """Rebuild a Lanistr from a directory written by :func:`save_model`."""
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a saved LANISTR model (no config.json)")
    meta = read_json(path / "config.json")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported model format {meta.get('format_version')} (this lanistr reads {FORMAT_VERSION})")
    tensors = load_tensors(path / "weights.safetensors")
    config = _upgrade_config(config_from_dict(meta["config"]), tensors)
    if device is not None:
        config = attrs.evolve(config, device=device)
    registry = get_registry()
    for name, info in meta["plugins"].items():
        try:
            registry.get_modality(name)
        except RegistryError as err:
            raise RegistryError(f"the saved model needs modality {name!r} from {info['distribution']} "
                                f"{info['version']}, which is not installed: {err}") from err
    model = cls.__new__(cls)
    model.config = config
    model.history_, model.training_ = {}, {}
    # the modality order fixes token order and modality-embedding rows: restore it exactly
    model.columns_ = {k: list(meta["columns"][k]) for k in meta["modality_order"]}
    model.task_, model.classes_, model.target_stats_ = meta["task"], meta["classes"], meta["target_stats"]
    model.class_prior_ = meta.get("class_prior")  # absent in models saved before logit_adjustment
    model.modality_configs_ = {
        name: registry.get_modality(name).config_cls(**values) for name, values in meta["modality_configs"].items()
    }
    model.preprocessors_ = assembly.build_preprocessors(model.columns_, model.modality_configs_)
    for name, pre in model.preprocessors_.items():
        pre.load_state_dict(load_state(path / "preprocessors", name))
    model.model_, model.pretraining_loss_ = assembly.build_networks(config, model.modality_configs_, model.preprocessors_)
    if model.task_ is not None:
        n_out = len(model.classes_) if model.task_ == "classification" else 1
        model.model_.head = assembly.build_head(config, n_out)
    _load_prefixed(model.model_, tensors, "model.")
    _load_prefixed(model.pretraining_loss_, tensors, "pretraining_loss.")
    model.model_.to(model.device)
    model.pretraining_loss_.to(model.device)
    model.fitted_, model.pretrained_ = meta["fitted"], meta["pretrained"]
    return model


def _upgrade_config(config: LanistrConfig, tensors: dict[str, Any]) -> LanistrConfig:
    """Models saved before the Perceiver's mean readout became the default pooled with an output query."""
    if config.fusion == "perceiver" and "pooling" not in config.fusion_config and "model.fusion.out_query" in tensors:
        return attrs.evolve(config, fusion_config={**config.fusion_config, "pooling": "query"})
    return config


def _load_prefixed(module: torch.nn.Module, tensors: dict[str, Any], prefix: str) -> None:
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing, unexpected = module.state_dict().keys() - state.keys(), state.keys() - module.state_dict().keys()
    if missing or unexpected:
        # e.g. a model saved by an older version whose architecture differs from what its config builds now
        raise ValueError(
            f"saved weights do not match the model its config builds: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]} (prefix {prefix!r})"
        )
    module.load_state_dict(state, strict=True)
