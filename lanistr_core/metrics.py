"""Evaluation metrics (scikit-learn): accuracy, macro-F1, AUROC; MAE, RMSE, R^2."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score, roc_auc_score


def decision_offset(class_prior: np.ndarray | None, logit_adjustment: float) -> np.ndarray | None:
    """What :func:`decide` subtracts from the log-probabilities: ``logit_adjustment * log(prior)``
    (post-hoc logit adjustment, Menon et al. 2021), or None when there is nothing to subtract."""
    if class_prior is None or logit_adjustment == 0:
        return None
    return logit_adjustment * np.log(np.asarray(class_prior, dtype=np.float64))


def decide(proba: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """Predicted class indices: argmax of ``log(proba) - offset`` (plain argmax without an offset).

    With ``offset = log(prior)`` this is the argmax of ``p(y|x) / p(y)``, the rule that minimises the
    balanced error; a class of probability 0 is never predicted.
    """
    if offset is None:
        return proba.argmax(axis=1)
    with np.errstate(divide="ignore"):
        return (np.log(proba) - offset).argmax(axis=1)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, offset: np.ndarray | None = None) -> dict[str, float]:
    """accuracy, macro_f1 and AUROC (binary, or one-vs-rest macro over classes seen in ``y_true``).

    ``y_true`` holds class indices, ``proba`` is (n, n_classes). Accuracy and macro-F1 score the
    decisions of :func:`decide` with ``offset``; AUROC scores the probabilities themselves. AUROC is
    NaN (with a warning) when ``y_true`` holds a single class.
    """
    y_pred = decide(proba, offset)
    n_classes = proba.shape[1]
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=np.arange(n_classes), zero_division=0)),
    }
    seen = np.unique(y_true)
    if seen.size < 2:
        warnings.warn("AUROC is undefined when the labels hold a single class; reporting NaN", stacklevel=2)
        out["auroc"] = float("nan")
    elif n_classes == 2:
        out["auroc"] = float(roc_auc_score(y_true, proba[:, 1]))
    else:
        # one-vs-rest, macro over the classes present (a class absent from y_true has no ROC curve)
        out["auroc"] = float(np.mean([roc_auc_score(y_true == c, proba[:, c]) for c in seen]))
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """mae, rmse and r2."""
    return {
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "r2": float(r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
    }
