"""A run folder: claimed and locked for one run, recovered after a crash, metrics in step."""

import json
import os

import pytest

from lstmkit.core.folders import LOCK, exclusive
from lstmkit.core.runfolder import run_folder, trim_metrics
from lstmkit.errors import LstmkitError
from lstmkit.tasks.lm import train

from conftest import TINY_MODEL, tiny_config


def _rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_new_run_needs_an_empty_folder_or_force(tmp_path, poems_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    with pytest.raises(LstmkitError, match=r"'.*mine' is not empty, --force to start over"):
        train(poems_path, mine, TINY_MODEL, **tiny_config(max_steps=1))
    assert [p.name for p in mine.iterdir() if p.name != LOCK] == ["notes.txt"]
    killed = tmp_path / "killed"  # a run killed before its first checkpoint
    killed.mkdir()
    (killed / "metrics.jsonl").write_text('{"kind": "step", "step": 1, "loss": 9.0}\n')
    with pytest.raises(LstmkitError, match="already holds a run; use --resume"):
        train(poems_path, killed, TINY_MODEL, **tiny_config(max_steps=1))
    train(poems_path, killed, TINY_MODEL, **tiny_config(max_steps=2), force=True)
    assert [r["step"] for r in _rows(killed) if r["kind"] == "step"] == [1, 2]  # nothing appended
    assert all(r.get("loss") != 9.0 for r in _rows(killed))
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(LstmkitError, match="is a file, not a folder"):
        train(poems_path, afile, TINY_MODEL, **tiny_config(max_steps=1))
    assert afile.read_text() == "x"


def test_resuming_a_finished_run_changes_nothing(tmp_path, poems_path):
    run = tmp_path / "r"
    train(poems_path, run, TINY_MODEL, **tiny_config(epochs=1))
    before = {name: (run / name).read_bytes() for name in ("summary.json", "metrics.jsonl")}
    with pytest.raises(LstmkitError, match=r"is finished .* resume with more --epochs"):
        train(poems_path, run, TINY_MODEL, **tiny_config(epochs=1), resume=True)
    assert before == {name: (run / name).read_bytes() for name in before}
    summary = train(poems_path, run, TINY_MODEL, **tiny_config(epochs=2), resume=True)
    assert summary["epoch"] == 2
    (run / "summary.json").unlink()  # killed after the last checkpoint, before the summary
    summary = train(poems_path, run, TINY_MODEL, **tiny_config(epochs=2), resume=True)
    assert summary["stopped"].startswith("done") and (run / "summary.json").exists()


def test_rows_logged_after_the_checkpoint_are_dropped_on_resume(tmp_path, poems_path):
    run = tmp_path / "r"
    train(poems_path, run, TINY_MODEL, **tiny_config(max_steps=6))
    with (run / "metrics.jsonl").open("a") as handle:  # steps logged after last/, then a kill
        handle.write('{"kind": "step", "step": 7, "loss": 1.0}\n{"kind": "step", "st')
    train(poems_path, run, TINY_MODEL, **tiny_config(max_steps=8), resume=True)
    steps = [r["step"] for r in _rows(run) if r["kind"] == "step"]
    assert steps == list(range(1, 9))


def test_trim_metrics_keeps_rows_up_to_the_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2, "kind": "epoch"}\n{"step": 3}\n{"bad json\n')
    trim_metrics(path, 2)
    assert path.read_text() == '{"step": 1}\n{"step": 2, "kind": "epoch"}\n'


def test_a_second_process_on_the_folder_is_refused(tmp_path, poems_path):
    run = tmp_path / "r"
    held = rf"run folder '.*r' is in use by another lstmkit process \(pid {os.getpid()}\)"
    with run_folder(run, resume=False), pytest.raises(LstmkitError, match=held):  # a train holds it
        train(poems_path, run, TINY_MODEL, **tiny_config(max_steps=1))
    with exclusive(tmp_path / "x.lock", "x", remove=True):
        pass
    assert not (tmp_path / "x.lock").exists()


def test_resume_finds_the_checkpoint_a_crash_left_under_its_temporary_name(tmp_path, poems_path):
    run = tmp_path / "r"
    train(poems_path, run, TINY_MODEL, **tiny_config(max_steps=6))
    # killed between the swap's renames: last/ gone, the complete new copy not yet in place
    os.replace(run / "last", run / ".last.new-999999999")
    (run / ".last.tmp-999999998").mkdir()  # and a half-written one of an older crash
    summary = train(poems_path, run, TINY_MODEL, **tiny_config(max_steps=8), resume=True)
    assert summary["step"] == 8
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".last")) == []
