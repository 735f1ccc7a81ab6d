"""What a model needs to know about a dataset, and tfds' split syntax that every source takes.

Splits take tfds' slicing syntax for a contiguous part: ``train[:90%]``, ``train[54000:]``;
a split name the dataset does not have is refused, listing the ones it has.
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from kcnn.data.errors import DataArgumentError

__all__ = ["DatasetInfo", "TASKS", "parse_split", "check_split_name", "split_slice"]

TASKS = ("classification", "segmentation")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    ``task``: "classification" (labels are class indices) or "segmentation" (labels are
    HxW masks of class indices). For segmentation ``num_classes`` counts the background
    class, which is ``class_names[0] == "background"`` where the dataset has one, and
    ``ignore_label`` is the mask value that marks unlabelled pixels (255), or None where
    every pixel has a class.
    """

    name: str
    image_shape: tuple
    num_classes: int
    class_names: tuple
    num_examples: int | None
    source: str
    task: str = "classification"
    ignore_label: int | None = None


_SPLIT = re.compile(r"^(\w+)(?:\[(-?\d+%?)?:(-?\d+%?)?\])?$")


def parse_split(split: str) -> tuple[str, str | None, str | None]:
    """'train[:90%]' -> ('train', None, '90%')."""
    m = _SPLIT.match(split.replace(" ", ""))
    if not m:
        raise DataArgumentError("split", f"split {split!r}: expected NAME or NAME[start:stop] (e.g. 'train[:90%]')")
    return m.group(1), m.group(2), m.group(3)


def check_split_name(split: str, names, dataset: str) -> str:
    """The base name of ``split``; DataArgumentError when ``dataset`` has no split of that name."""
    base = parse_split(split)[0]
    if base not in names:
        close = difflib.get_close_matches(base, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DataArgumentError("split", f"{dataset} has no split {base!r}{hint}; its splits: {', '.join(names)}")
    return base


def _bound(value: str | None, n: int, default: int) -> int:
    if value is None:
        return default
    k = round(n * int(value[:-1]) / 100) if value.endswith("%") else int(value)
    return max(0, min(n, k + n if k < 0 else k))


def split_slice(split: str, n: int) -> slice:
    """The part of ``n`` examples that ``split`` selects, as a slice with non-negative bounds."""
    _, start, stop = parse_split(split)
    return slice(_bound(start, n, 0), _bound(stop, n, n))
