"""Bundled demo data: real product reviews (text + tabular), CC0 public domain."""

from __future__ import annotations

from importlib import resources

import pandas as pd

REVIEW_TEXT_COLUMNS = ["Title", "Review Text"]
REVIEW_TABULAR_COLUMNS = ["Age", "Positive Feedback Count", "Division Name", "Department Name", "Class Name"]
REVIEW_LABELS = ["Rating", "Recommended IND"]


def load_reviews() -> pd.DataFrame:
    """23,486 Women's E-Commerce Clothing Reviews (originally published on Kaggle; CC0).

    Columns: Clothing ID, Age, Title, Review Text, Rating (1-5), Recommended IND (0/1),
    Positive Feedback Count, Division Name, Department Name, Class Name. Title and
    Review Text have missing values (a missing-modality case in the wild).
    """
    with resources.as_file(resources.files("lanistr_core") / "data" / "womens_clothing_reviews.parquet") as path:
        return pd.read_parquet(path)


def review_modalities() -> dict[str, list[str]]:
    """The demo's column assignment: review title + body as text, the rest (minus labels) as tabular."""
    return {"text": list(REVIEW_TEXT_COLUMNS), "tabular": list(REVIEW_TABULAR_COLUMNS)}
