"""Hostile arguments for the commands: each gives a non-zero exit, one error line on stderr,
no traceback, no raw control character on the terminal, and nothing of the user's changed."""

import hashlib
import shutil

import pytest
from click.testing import CliRunner

from lstmkit.cli import main

from conftest import FIXTURES

ESC = "\x1b"


def snapshot(folder):
    """Every file under ``folder`` with its content's hash (what a command must not touch)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def place(tmp_path, tiny_run):
    """A user's folder: a finished run, a file, a non-empty folder, a corpus that is not UTF-8."""
    shutil.copytree(tiny_run, tmp_path / "run")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.txt").write_text("mine")
    (tmp_path / "bad.txt").write_bytes("白日依山尽\n".encode() + b"\xff\xfe\n")
    return tmp_path


TINY = ["--embedding-size", "8", "--hidden-size", "8", "--layers", "1", "--batch-size", "4",
        "--min-freq", "1", "--device", "cpu", "-q"]
CASES = [
    (["poem", "--model", "{run}/best", "--temperature", "nan"], "temperature must be a finite number"),
    (["poem", "--model", "{run}/best", "--temperature", "inf"], "temperature must be a finite number"),
    (["poem", "--model", "{run}/best", "--seed", "99999999999999999999999"], "seed must be between"),
    (["poem", "--model", "{run}/best", "-n", "1000000000000"], "out of memory"),
    (["poem", "--form", ESC + "[2J七绝"], "unknown form '\\x1b[2J七绝'"),
    (["check", "--tune", ESC + "]0;pwned" + "\x07", "白日"], "unknown tune '\\x1b]0;pwned\\x07'"),
    (["export", "--model", "{run}/best", "--out", "{run}"], "would overwrite what this command reads"),
    (["export", "--model", "{run}/last", "--out", "{run}/last"], "would overwrite what this command reads"),
    (["export", "--model", "{run}/best", "--out", "{tmp}/notes.txt"], "is a file, not a folder"),
    (["export", "--model", "{run}/best", "--out", "{tmp}/mine"], "is not empty"),
    (["train", "--corpus", str(FIXTURES / "poems.jsonl"), "--out", "{run}", *TINY], "already holds a run"),
    (["train", "--corpus", str(FIXTURES / "poems.jsonl"), "--out", "{tmp}/mine", *TINY], "is not empty"),
    (["train", "--corpus", str(FIXTURES / "poems.jsonl"), "--out", "{tmp}/notes.txt", *TINY], "is a file"),
    (["train", "--corpus", "{tmp}/bad.txt", "--out", "{tmp}/new", *TINY], "not UTF-8 text (line 2, byte 16)"),
    (["train", "--corpus", str(FIXTURES / "poems.jsonl"), "--out", "{tmp}/new", "--weight-decay", "inf", *TINY],
     "weight_decay must be a finite number"),
    (["train", "--corpus", str(FIXTURES / "poems.jsonl"), "--out", "{run}", "--resume", "--epochs", "1"],
     "is finished"),
    (["forecast", "predict", "--model", "{run}/best", "--out", "{tmp}/notes.txt"], "exists (--force replaces it)"),
    (["forecast", "predict", "--model", "{run}/best", "--out", "{tmp}/mine"], "is a folder, not a file"),
    (["forecast", "predict", "--model", "{run}/best", "--out", "{tmp}/f.csv", "--plot", "{tmp}/notes.txt"],
     "--plot '"),
    (["write", "--model", "{run}/best", "--temperature", "-inf"], "temperature must be a finite number"),
    (["write", "--model", "{tmp}/notes.txt"], "model folder"),
    (["eval", "--model", "{run}/best", "--corpus", "{tmp}/bad.txt"], "not UTF-8 text (line 2, byte 16)"),
    (["eval", "--model", "{run}/best", "--corpus", "{tmp}/missing.jsonl"], "missing.jsonl"),
    (["sweep", "--corpus", "{tmp}/bad.txt", "--out", "{tmp}/mine", "--param", "lr", "--values", "0.1"],
     "holds something other than a sweep"),
    (["sweep", "--corpus", str(FIXTURES / "play.txt"), "--out", "{tmp}/new", "--param", "lr", "--values", "nan"],
     "lr must be a finite number"),
    (["tunes", ESC + "[1m"], "\\x1b[1m"),
    (["classify", "train", "--data", "{tmp}/notes.txt", "--out", "{tmp}/mine"], "is not empty"),
    (["classify", "predict", "--model", "{run}/best", "--input", "{tmp}/missing.csv"], "Error"),
    (["forecast", "train", "--demo", "sine", "--out", "{tmp}/notes.txt", "-q"], "is a file"),
    (["serve", "--model", "{tmp}/missing-model"], "missing-model"),
    (["poem", "--model", "{run}/best", "--form", "七绝", "--tune", "浣溪沙"], "does not go with --form 七绝"),
    (["poem", "--model", "{run}/best", "--rhyme", "七阳"], "--rhyme needs a form"),
    (["poem", "--model", "{run}/best", "--tones", "off"], "--tones off needs a form"),
    (["train", "--corpus", str(FIXTURES / "poems.jsonl"), "--out", "{tmp}/new", *TINY, "--min-freq", "999999"],
     "leaves 0 of"),
    (["train", "--corpus", str(FIXTURES / "poems.jsonl"), "--out", "{tmp}/diverge", "--lr", "1e30", "--clip", "0",
      "--log-every", "1", *TINY], "training diverged"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in enumerate(CASES)])
def test_a_hostile_argument_is_refused_in_one_line(place, args, message):
    before = snapshot(place)
    filled = [a.format(run=place / "run", tmp=place) for a in args]
    result = CliRunner().invoke(main, filled)
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert ESC not in result.output and "\x07" not in result.output
    after = snapshot(place)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing of the user's changed
    assert not [k for k in after if k not in before and not k.startswith(("new/", "diverge/"))]
    if "diverge" in " ".join(filled):
        assert not (place / "diverge" / "last").exists()  # no NaN weights were saved
