"""The public helper plugins use to report unreadable cells (one counted warning per transform)."""

import pytest

from lanistr_core.cells import warn_unreadable


class UnreadableThingWarning(UserWarning):
    pass


def test_one_warning_counts_and_names_columns_and_rows():
    failures = {"photo": [f"r{i}" for i in range(12)], "back": ["r3"]}
    with pytest.warns(UnreadableThingWarning) as record:
        warn_unreadable(modality="image", noun="image", failures=failures, first_reason="OSError: truncated",
                        category=UnreadableThingWarning)
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith("image: 13 unreadable images treated as missing (column 'photo', rows ['r0'")
    assert "and 2 more; column 'back', rows ['r3'])" in message
    assert message.endswith("first error: OSError: truncated. Set on_error='raise' to stop instead.")
    with pytest.warns(UnreadableThingWarning, match="audio: 1 unreadable clip treated as missing"):
        warn_unreadable(modality="audio", noun="clip", failures={"c": ["x"]}, first_reason="e",
                        category=UnreadableThingWarning)
