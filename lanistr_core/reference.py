"""The classical reference a practitioner tries first: TF-IDF text + one-hot / scaled tabular
columns into logistic regression (scikit-learn), regularisation chosen on a validation split.

Every demo run prints it next to LANISTR's numbers on the same labels and test rows, so a user sees
at once whether the deep model pays off on their budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sklearn.metrics import log_loss

from lanistr_core.metrics import classification_metrics, decision_offset

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def _joined_text(columns: Sequence[str]) -> Any:
    def join(frame: pd.DataFrame) -> list[str]:
        return frame[list(columns)].fillna("").astype(str).agg(" ".join, axis=1).tolist()

    return join


def class_probabilities(model: Any, features: pd.DataFrame, classes: Sequence[Any]) -> np.ndarray:
    """(rows, len(classes)) probabilities of a fitted scikit-learn classifier, in the order of ``classes``
    (a class absent from the model's training labels gets probability 0)."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(features), len(classes)))
    out[:, [index[c] for c in model.classes_]] = model.predict_proba(features)
    return out


def reference_pipeline(text: Sequence[str], tabular: Sequence[str], frame: pd.DataFrame, c: float) -> Any:
    """TF-IDF (1-2 grams, sublinear tf) on the joined text columns; numeric columns imputed (median)
    and scaled; other tabular columns one-hot encoded; logistic regression with inverse strength ``c``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = [c_ for c_ in tabular if pd.api.types.is_numeric_dtype(frame[c_])]
    categorical = [c_ for c_ in tabular if c_ not in numeric]
    parts = [("text", make_pipeline(FunctionTransformer(_joined_text(text)),
                                    TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)), list(text))]
    if numeric:
        parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        parts.append(("categorical", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)"),
            OneHotEncoder(handle_unknown="ignore")), categorical))
    return make_pipeline(ColumnTransformer(parts), LogisticRegression(C=c, max_iter=3000))


def tfidf_reference(
    *, train: pd.DataFrame, validation: pd.DataFrame, test: pd.DataFrame, text: Sequence[str],
    tabular: Sequence[str], label: str, select_on: str = "auroc", grid: Sequence[float] = C_GRID,
    logit_adjustment: float = 0.0,
) -> dict[str, Any]:
    """Fit on ``train`` for each C of ``grid``, keep the best ``select_on`` on ``validation`` (ties: the
    lower validation log-loss), score ``test``. ``logit_adjustment`` applies the decision rule of the
    LANISTR option of that name (class prior: the ``train`` labels), so both sides decide alike.

    Returns the test metrics (accuracy, macro_f1, auroc) plus ``C`` and the validation metrics of the
    chosen C as ``val_<name>``.
    """
    classes = sorted(train[label].unique().tolist())
    index = {c: i for i, c in enumerate(classes)}
    columns = [*text, *tabular]
    prior = train[label].map(index).value_counts(normalize=True).sort_index().to_numpy()
    offset = decision_offset(prior, logit_adjustment)

    def proba(model: Any, frame: pd.DataFrame) -> np.ndarray:
        return class_probabilities(model, frame[columns], classes)

    def scores(model: Any, frame: pd.DataFrame) -> dict[str, float]:
        return classification_metrics(frame[label].map(index).to_numpy(), proba(model, frame), offset)

    best: tuple[tuple[float, float], float, Any] | None = None
    y_val = validation[label].map(index).to_numpy()
    for c in grid:
        model = reference_pipeline(text, tabular, train, c).fit(train[columns], train[label])
        # ties of the selection metric (AUROC is often 1.0 on a few easy rows) go to the lower log-loss
        key = (scores(model, validation)[select_on], -log_loss(y_val, proba(model, validation), labels=range(len(classes))))
        if best is None or key > best[0]:
            best = (key, c, model)
    _, c, model = best
    val = {f"val_{k}": v for k, v in scores(model, validation).items()}
    return {**scores(model, test), "C": c, **val}
