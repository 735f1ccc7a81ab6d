import os
import re

import pytest

from kcnn.studies import STUDIES, run_study, study, study_names

NOTES_DIR = "/work/shared/notes"


def test_names_run_in_the_issues_order_and_each_module_has_a_run():
    import importlib

    names = study_names()
    assert [STUDIES[n].item for n in names] == sorted(STUDIES[n].item for n in names)
    for name in names:
        assert callable(importlib.import_module(f"kcnn.studies.{STUDIES[name].module}").run)


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_each_quote_is_the_notes_own_words(name):
    if not os.path.isdir(NOTES_DIR):
        pytest.skip(f"{NOTES_DIR} (the CNN notes) is not on this machine")
    entry = STUDIES[name]
    text = "".join(open(os.path.join(NOTES_DIR, f), encoding="utf-8").read() for f in entry.source.split("; "))
    text = " ".join(text.split())
    # Fragments between the quote's ellipses, without bracketed remarks ([000], [the figure ...]).
    fragments = [f.strip(" -;") for f in re.split(r"…|\[[^]]*\]", entry.quote)]
    for fragment in filter(None, fragments):
        assert " ".join(fragment.split()) in text, f"{name}: {fragment!r} is not in {entry.source}"


def test_an_unknown_study_names_the_closest():
    with pytest.raises(ValueError, match=r"unknown study 'activatons'; closest: activations"):
        study("activatons")
    with pytest.raises(ValueError, match="unknown study"):
        run_study("no_such_study", quick=True)


def test_markdown_row_has_the_six_columns_and_escapes_pipes():
    from kcnn.studies import markdown_row

    result = {
        "issue_item": 3,
        "claim": "c",
        "source": "000.txt",
        "quote": "q",
        "measured": "a|b",
        "reason": "r",
        "command": "kcnn-study batchnorm",
        "wall_seconds": 90.0,
        "cpu_seconds": 120.0,
        "load_average": [4.0, 3.0, 2.0],
        "verdict": "partly",
    }
    row = markdown_row(result)
    assert row.startswith(
        "| 3. c | 000.txt: \u201cq\u201d | a\\|b: r | `kcnn-study batchnorm` | 1.5 min (2.0 CPU-min, load 4.0)"
    )
    assert row.endswith("| **partly** |") and row.count(" | ") == 5
