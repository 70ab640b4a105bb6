"""Crashes on purpose, a few of each (``scripts/robustness.py`` runs many): SIGKILL during
training and export, two writers on one folder, a disk that fills during a checkpoint."""

import errno
import random

import pytest

from lstmkit.core import checkpoint
from lstmkit.errors import LstmkitError
from lstmkit.tasks.lm import train

from conftest import TINY_MODEL, tiny_config
from harness import kill_export, kill_sweep, kill_training, two_writers


@pytest.mark.parametrize("seed", [1, 2])
def test_a_run_killed_at_a_random_moment_resumes_to_the_end(tmp_path, seed):
    assert kill_training(tmp_path / "run", random.Random(seed)) == "handled"


def test_an_export_killed_at_a_random_moment_loses_nothing(tmp_path, tiny_model_dir):
    import shutil

    source = tmp_path / "model"
    shutil.copytree(tiny_model_dir, source)
    assert kill_export(source, tmp_path / "out", random.Random(3)) == "handled"


def test_a_sweep_killed_at_a_random_moment_finishes_when_run_again(tmp_path):
    assert kill_sweep(tmp_path / "sweep", random.Random(4)) == "handled"


def test_two_writers_on_one_folder(tmp_path):
    assert two_writers(tmp_path / "run") == "handled"


def test_a_full_disk_during_a_checkpoint_keeps_the_last_one_and_resumes(tmp_path, poems_path, monkeypatch):
    run = tmp_path / "r"
    train(poems_path, run, TINY_MODEL, **tiny_config(max_steps=4, save_every=2))
    kept = (run / "last" / "model.safetensors").read_bytes()
    real, calls = checkpoint.save_file, []

    def full(tensors, path, **kwargs):
        calls.append(path)
        if len(calls) >= 2:  # the disk fills while a later checkpoint is written
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(tensors, path, **kwargs)

    monkeypatch.setattr(checkpoint, "save_file", full)
    with pytest.raises(OSError, match="No space left"):
        train(poems_path, run, TINY_MODEL, **tiny_config(max_steps=8, save_every=2), resume=True)
    monkeypatch.setattr(checkpoint, "save_file", real)
    assert (run / "last" / "model.safetensors").read_bytes() == kept  # the previous one, whole
    assert not [p for p in run.iterdir() if p.name.startswith(".")]
    summary = train(poems_path, run, TINY_MODEL, **tiny_config(max_steps=8), resume=True)
    assert summary["step"] == 8


def test_an_out_that_cannot_be_written_is_one_line(tmp_path, poems_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((LstmkitError, OSError)):
        train(poems_path, blocker / "run", TINY_MODEL, **tiny_config(max_steps=1))
