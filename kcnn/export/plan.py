"""What ``kcnn-export`` checks before any work, and the export it then runs.

:func:`plan_export` takes the command's arguments (a run directory or a ``.keras`` file,
the dataset, formats, name, version, output, numbers) and checks all of them: the files,
the dataset and its splits, the class names against the model's outputs, the formats'
dependencies and calibration needs, and the version directory (writable; an existing one
only with ``overwrite``, and only when it is a kcnn export). A mistake raises
:class:`ExportArgumentError` naming the argument. :func:`run_export` does the export.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from kcnn import data as kdata
from kcnn.data.pipeline import RESIZE_MODES
from kcnn.export import source
from kcnn.export.exporter import (
    check_export,
    check_export_directory,
    check_export_formats,
    check_name,
    export_version,
    next_version,
    take_examples,
)
from kcnn.export.formats import EXPORT_FORMATS, FORMATS

__all__ = ["ExportArgumentError", "ExportPlan", "plan_export", "run_export"]


class ExportArgumentError(ValueError):
    """A bad export argument; ``argument`` is its name (the command line's flag without ``--``)."""

    def __init__(self, argument: str, message: str):
        super().__init__(f"--{argument}: {message}")
        self.argument = argument
        self.message = message


@dataclasses.dataclass
class ExportPlan:
    source: source.ExportSource
    formats: list
    name: str
    version: int
    directory: str
    output: str
    overwrite: bool
    accuracy: bool
    calibration_examples: int
    verify_examples: int
    test_examples: int
    latency_runs: int


def _blame(argument: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        raise ExportArgumentError(argument, str(err)) from None


def _source(model_dir, keras, dataset, data_dir, train_split, test_split, resize, labels) -> source.ExportSource:
    for argument, split in (("train_split", train_split), ("test_split", test_split)):
        if split is not None:
            _blame(argument, kdata.sources.parse_split, split)
    if model_dir is not None:
        for argument, value in (("dataset", dataset), ("data_dir", data_dir), ("labels", labels), ("resize", resize)):
            if value is not None:
                raise ExportArgumentError(
                    argument, "comes from the run's config.json with --model_dir; it goes with --keras"
                )
        _blame("model_dir", source.read_run_config, model_dir)
        load = lambda: source.from_model_dir(model_dir, train_split=train_split, test_split=test_split)
        model_argument = "model_dir"
    else:
        if resize is not None and resize not in RESIZE_MODES:
            raise ExportArgumentError("resize", f"must be one of {', '.join(RESIZE_MODES)}; got {resize!r}")
        if labels is not None and not os.path.isfile(labels):
            raise ExportArgumentError("labels", f"{labels}: no such file")
        if dataset is not None:
            _blame(
                "data_dir" if data_dir and not os.path.isdir(data_dir) else "dataset",
                source.describe_dataset,
                dataset,
                data_dir=data_dir,
            )
        for argument, value in (("train_split", train_split), ("test_split", test_split), ("resize", resize)):
            if value is not None and dataset is None:
                raise ExportArgumentError(argument, "needs --dataset")
        load = lambda: source.from_keras(
            keras,
            dataset=dataset,
            data_dir=data_dir,
            train_split=train_split or "train",
            test_split=test_split or "test",
            resize=resize or "pad",
            labels=labels,
        )
        model_argument = "keras"
    try:
        return load()
    except kdata.DataArgumentError as err:
        raise ExportArgumentError(err.argument if err.argument != "name" else "dataset", str(err)) from None
    except ValueError as err:
        if "classes but the model has" in str(err):  # the class names do not fit the model's outputs
            model_argument = "labels" if labels else "dataset" if dataset else model_argument
        raise ExportArgumentError(model_argument, str(err)) from None


def plan_export(
    *,
    model_dir=None,
    keras=None,
    dataset=None,
    data_dir=None,
    train_split=None,
    test_split=None,
    resize=None,
    labels=None,
    output="saved_models",
    name=None,
    version=None,
    formats=(),
    accuracy=True,
    overwrite=False,
    calibration_examples=500,
    verify_examples=1000,
    test_examples=0,
    latency_runs=50,
) -> ExportPlan:
    """Every check of an export, before any work; ExportArgumentError naming the argument."""
    if (model_dir is None) == (keras is None):
        raise ExportArgumentError(
            "model_dir", "give exactly one of --model_dir (a kcnn-train run) or --keras (a .keras file)"
        )
    formats = _blame("formats", check_export_formats, formats)
    if not formats:
        raise ExportArgumentError("formats", f"no formats given; choose from {', '.join(EXPORT_FORMATS)}")
    if name is not None:
        _blame("name", check_name, name)
    _blame("output", check_export_directory, os.path.join(output, name or "new", "new"))
    src = _source(model_dir, keras, dataset, data_dir, train_split, test_split, resize, labels)
    if src.dataset is None:
        if calibrated := [f for f in formats if FORMATS[f].calibrate]:
            raise ExportArgumentError("formats", f"{calibrated[0]} is calibrated on training images: give --dataset")
        if accuracy:
            raise ExportArgumentError("accuracy", "test accuracy needs --dataset; pass --noaccuracy to skip it")
    name = name or src.name
    try:
        check_name(name)
    except ValueError as err:
        raise ExportArgumentError("name", f"{err} (the model's name); pass --name") from None
    base = os.path.join(os.path.abspath(output), name)
    version = next_version(base) if version is None else version
    directory = os.path.join(base, str(version))
    try:
        check_export_directory(directory, overwrite=overwrite)
    except FileExistsError:
        raise ExportArgumentError("version", f"{directory} exists; pass --overwrite to replace it") from None
    except ValueError as err:
        raise ExportArgumentError("overwrite" if overwrite else "output", str(err)) from None
    _blame(
        "formats", check_export, src.model, formats, class_names=src.class_names, calibration=True, verification=True
    )
    return ExportPlan(
        src,
        formats,
        name,
        version,
        directory,
        output,
        overwrite,
        accuracy,
        calibration_examples,
        verify_examples,
        test_examples,
        latency_runs,
    )


def _verification_data(p: ExportPlan) -> dict:
    """What export_model verifies on: the test split, only its parity images (no accuracy),
    or seeded random images when there is no dataset."""
    src = p.source
    if src.dataset is None:
        rng = np.random.default_rng(0)
        return {"sample_images": rng.integers(0, 256, (p.verify_examples, *src.preprocessing.image_shape), np.uint8)}
    if not p.accuracy:
        return {"sample_images": take_examples(src.load(src.test_split), p.verify_examples)[0]}
    return {"test_data": src.load(src.test_split), "test_examples": p.test_examples or None}


def run_export(p: ExportPlan, log=None) -> dict:
    """Write and verify the planned export (kcnn.export.export_version); returns its report."""
    src = p.source
    calibrate = any(FORMATS[f].calibrate for f in p.formats)
    return export_version(
        src.model,
        p.output,
        p.name,
        p.formats,
        version=p.version,
        overwrite=p.overwrite,
        class_names=src.class_names,
        preprocessing=src.preprocessing,
        calibration_data=src.load(src.train_split) if calibrate else None,
        calibration_examples=p.calibration_examples,
        verify_examples=p.verify_examples,
        latency_runs=p.latency_runs,
        ignore_label=src.ignore_label,
        metadata={"source": os.path.abspath(src.path)},
        log=log,
        **_verification_data(p),
    )
