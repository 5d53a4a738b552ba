"""Assigning DataFrame columns to modalities and validating frames against that assignment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from lanistr_core.registry import get_registry


def resolve_columns(
    modalities: Mapping[str, Sequence[str]] | Sequence[str], frame: pd.DataFrame, *, exclude: Sequence[str] = ()
) -> dict[str, list[str]]:
    """Map each modality name to its columns.

    ``modalities`` is either ``{"text": ["Title", ...], ...}`` (explicit) or a list of
    names, in which case every column of ``frame`` (except ``exclude``) is offered to
    each named modality's ``detect``. A column claimed by two modalities, or a named
    modality that claims nothing, is an error that says how to assign columns explicitly.
    """
    registry = get_registry()
    if isinstance(modalities, str):
        raise TypeError(f"modalities must be a list of names or a dict name -> columns, got the string {modalities!r}")
    if isinstance(modalities, Mapping):
        assignment = {name: [cols] if isinstance(cols, str) else list(cols) for name, cols in modalities.items()}
        for name in assignment:
            registry.get_modality(name)
        check_columns(assignment, frame)
        _check_disjoint(assignment)
        return assignment
    names = list(modalities)
    if not names:
        raise ValueError("modalities is empty; name at least one (see `lanistr plugins`)")
    specs = {name: registry.get_modality(name) for name in names}
    assignment = {name: [] for name in names}
    for column in frame.columns:
        if column in exclude:
            continue
        claims = [name for name, spec in specs.items() if spec.detect(frame[column])]
        if len(claims) > 1:
            raise ValueError(
                f"column {column!r} could belong to modalities {claims}; assign columns explicitly, e.g. "
                f"modalities={{{claims[0]!r}: [{column!r}, ...], {claims[1]!r}: [...]}}"
            )
        if claims:
            assignment[claims[0]].append(column)
    empty = [name for name, cols in assignment.items() if not cols]
    if empty:
        raise ValueError(
            f"no column of the data was detected as {empty}; assign columns explicitly, e.g. "
            f"modalities={{{empty[0]!r}: ['column name']}} (columns: {list(frame.columns)})"
        )
    return assignment


def check_columns(assignment: Mapping[str, Sequence[str]], frame: pd.DataFrame) -> None:
    """Raise ``ValueError`` naming every assigned column that ``frame`` lacks."""
    missing = {name: [c for c in cols if c not in frame.columns] for name, cols in assignment.items()}
    missing = {name: cols for name, cols in missing.items() if cols}
    if missing:
        detail = "; ".join(f"{name}: {cols}" for name, cols in missing.items())
        raise ValueError(f"the data lacks columns assigned to modalities ({detail}); it has {list(frame.columns)}")


def _check_disjoint(assignment: Mapping[str, Sequence[str]]) -> None:
    seen: dict[str, str] = {}
    for name, cols in assignment.items():
        if not cols:
            raise ValueError(f"modality {name!r} is assigned no columns")
        for col in cols:
            if col in seen:
                raise ValueError(f"column {col!r} is assigned to both {seen[col]!r} and {name!r}")
            seen[col] = name
