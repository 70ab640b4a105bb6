"""Output folders: the swap survives a crash at any point; outputs never destroy inputs."""

import os

import pytest

from lstmkit.core import folders
from lstmkit.core.folders import atomic_dir, claim_output, recover_dir
from lstmkit.errors import LstmkitError


def _write(target, text):
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text(text)


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_crash_at_any_rename_of_the_swap_keeps_a_complete_copy(tmp_path, monkeypatch, fail_at):
    target = tmp_path / "last"
    _write(target, "old")
    real, calls = os.replace, []

    def crashing(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise KeyboardInterrupt  # as a kill would stop it, between two renames
        return real(src, dst)

    monkeypatch.setattr(folders.os, "replace", crashing)
    with pytest.raises(KeyboardInterrupt):
        _write(target, "new")
    monkeypatch.setattr(folders.os, "replace", real)
    # the process is "gone": its leftovers carry a pid no process has
    for path in tmp_path.glob(f".last.*-{os.getpid()}"):
        os.replace(path, path.with_name(path.name.rsplit("-", 1)[0] + "-999999999"))
    recover_dir(target)
    text = (target / "a.txt").read_text()
    assert text == ("old" if fail_at == 1 else "new")  # the newest complete copy
    assert [p.name for p in tmp_path.iterdir()] == ["last"]


def test_an_error_while_writing_leaves_the_old_copy_and_no_temporary(tmp_path):
    target = tmp_path / "best"
    _write(target, "old")
    with pytest.raises(OSError), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise OSError(28, "No space left on device")
    assert (target / "a.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["best"]


def test_recovery_leaves_a_live_process_alone(tmp_path):
    busy = tmp_path / f".last.tmp-{os.getpid()}"
    busy.mkdir()
    recover_dir(tmp_path / "last")
    assert busy.is_dir() and not (tmp_path / "last").exists()


def test_claim_output_refuses_what_would_destroy_something(tmp_path):
    model = tmp_path / "run" / "best"
    model.mkdir(parents=True)
    for out in (model, model.parent, model / "inner"):  # itself, a folder holding it, inside it
        with pytest.raises(LstmkitError, match="would overwrite what this command reads"):
            claim_output(out, force=True, sources=[model])
    afile = tmp_path / "f.txt"
    afile.write_text("mine")
    with pytest.raises(LstmkitError, match="is a file, not a folder"):
        claim_output(afile)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("mine")
    with pytest.raises(LstmkitError, match="is not empty"):
        claim_output(full)
    claim_output(full, force=True)  # allowed: the command replaces it
    claim_output(afile, force=True)
    assert not afile.exists()
    claim_output(tmp_path / "new" / "deeper")  # missing folders are fine
    with pytest.raises(LstmkitError, match="is a file, not a folder"):
        claim_output(full / "x" / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_claim_output_names_a_folder_it_cannot_write(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(LstmkitError, match="cannot write in"):
            claim_output(locked / "out")
    finally:
        locked.chmod(0o700)


def test_claim_file_and_atomic_file(tmp_path):
    from lstmkit.core.folders import atomic_file, claim_file

    data = tmp_path / "data.csv"
    data.write_text("x")
    with pytest.raises(LstmkitError, match="is what this command reads"):
        claim_file(data, force=True, sources=[data])
    with pytest.raises(LstmkitError, match="exists"):
        claim_file(data)
    with pytest.raises(LstmkitError, match="is a folder"):
        claim_file(tmp_path)
    claim_file(tmp_path / "new.csv")
    with pytest.raises(LstmkitError, match="is a file, not a folder"):
        claim_file(data / "inside.csv", force=True)
    assert data.read_text() == "x"  # a file in the way is never removed for a file output
    with pytest.raises(RuntimeError), atomic_file(data) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert data.read_text() == "x" and [p.name for p in tmp_path.iterdir()] == ["data.csv"]
    with atomic_file(data) as tmp:
        tmp.write_text("whole")
    assert data.read_text() == "whole" and [p.name for p in tmp_path.iterdir()] == ["data.csv"]
