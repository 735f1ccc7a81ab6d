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
