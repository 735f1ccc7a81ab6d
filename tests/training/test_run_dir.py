"""What a run may do with model_dir: never delete what kcnn did not write; a config-only run never blocks."""

import os

import pytest

from kcnn.training.config import ConfigError, ExperimentConfig
from kcnn.training.run_dir import RunFiles, check_run_dir, prepare_run_dir


def config(epochs=1):
    return ExperimentConfig.from_dict({"train": {"epochs": epochs}})


def run_in(path, cfg=None):
    files = RunFiles(str(path))
    prepare_run_dir(files, cfg or config(), "new", chief=True)
    return files


def test_a_new_or_empty_directory_is_new(tmp_path):
    assert check_run_dir(RunFiles(str(tmp_path / "a")), config(), overwrite=False) == "new"
    (tmp_path / "b").mkdir()
    assert check_run_dir(RunFiles(str(tmp_path / "b")), config(), overwrite=True) == "new"


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_directory_of_the_users_files_is_refused_even_with_overwrite(tmp_path, overwrite):
    (tmp_path / "photo.png").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="is not a kcnn run directory .*photo.png") as err:
        check_run_dir(RunFiles(str(tmp_path)), config(), overwrite=overwrite)
    assert err.value.field == "model_dir" and sorted(os.listdir(tmp_path)) == ["config.json", "photo.png"]


def test_overwrite_removes_only_the_runs_own_files(tmp_path):
    files = run_in(tmp_path / "run")
    (tmp_path / "run" / "history.json").write_text("{}")
    (tmp_path / "run" / "checkpoints").mkdir()
    (tmp_path / "run" / ".config.json.abc123.tmp").write_text("left by a crash")
    (tmp_path / "run" / "my_notes.txt").write_text("mine")
    action = check_run_dir(files, config(2), overwrite=True)
    assert action == "replace"
    prepare_run_dir(files, config(2), action, chief=True)
    assert sorted(os.listdir(tmp_path / "run")) == [".kcnn-run", "config.json", "my_notes.txt"]
    assert '"epochs": 2' in (tmp_path / "run" / "config.json").read_text()


def test_a_run_that_never_got_past_its_config_takes_a_new_one(tmp_path):
    files = run_in(tmp_path / "run")
    assert check_run_dir(files, config(), overwrite=False) == "resume"
    assert check_run_dir(files, config(5), overwrite=False) == "reconfigure"
    (tmp_path / "run" / "checkpoints").mkdir()
    with pytest.raises(ConfigError, match="different config"):
        check_run_dir(files, config(5), overwrite=False)


def test_runs_made_before_the_marker_are_still_runs(tmp_path):
    (tmp_path / "config.json").write_text(config().to_json())
    (tmp_path / "history.json").write_text("{}")
    assert check_run_dir(RunFiles(str(tmp_path)), config(), overwrite=False) == "resume"


@pytest.mark.parametrize("place", ["/proc/kcnn_run", "/sys/kcnn/run"])
def test_unwritable_places_are_refused(place):
    with pytest.raises(ConfigError, match="cannot write"):
        check_run_dir(RunFiles(place), config(), overwrite=False)


def test_a_file_is_not_a_run_directory(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_run_dir(RunFiles(str(tmp_path / "f")), config(), overwrite=False)
