"""Which DataFrame columns the text modality claims."""

from __future__ import annotations

import pandas as pd

from lanistr_core import is_image_path, is_low_cardinality, is_string_column, non_null


def detect_text_column(series: pd.Series) -> bool:
    """True for free text: every non-null value is a ``str``, the column is not low-cardinality
    (those are categories, the tabular modality's), and at most half of the values are image
    paths (a column of mostly image paths belongs to the image modality).
    """
    if not is_string_column(series) or is_low_cardinality(series):
        return False
    values = non_null(series)
    # A majority rule rather than "any": a review that mentions "photo.jpg" is still text.
    return sum(is_image_path(value) for value in values) * 2 <= len(values)
