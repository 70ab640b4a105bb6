"""Crashes on purpose: SIGKILL at random moments, two writers at once, a disk that fills.

Shared by the tests in this folder (a few cases, for CI) and ``scripts/robustness.py`` (many,
for RELIABILITY.md). Each trial returns what happened: ``handled`` (the run could go on, or
was refused in one line) or a description of what was lost.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TINY = ["--embedding-size", "8", "--hidden-size", "8", "--layers", "1", "--batch-size", "2",
        "--min-freq", "1", "--val-fraction", "0.2", "--device", "cpu", "-q"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def lstmkit(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=ENV)


def _train_args(out: Path, epochs: int) -> list[str]:
    return ["train", "--corpus", str(FIXTURES / "poems.jsonl"), "--out", str(out), *TINY,
            "--epochs", str(epochs), "--save-every", "1", "--log-every", "1"]


def _steps(out: Path) -> list[int]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if r.get("kind") == "step"]


def kill_training(out: Path, rng: random.Random, epochs: int = 3) -> str:
    """Start a run, SIGKILL it at a random moment, then resume it to the end: the run must
    finish with every step logged once and no temporary folder left."""
    child = subprocess.Popen([sys.executable, "-m", "lstmkit", *_train_args(out, epochs)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    time.sleep(rng.uniform(0.3, 4.0))  # start-up is most of it: kills land everywhere
    child.send_signal(signal.SIGKILL)
    child.wait()
    # What a user does next: --resume, and if there was no checkpoint yet, start over.
    resumed = lstmkit(*_train_args(out, epochs), "--resume")
    if resumed.returncode != 0 and "nothing to resume" in resumed.stderr:
        resumed = lstmkit(*_train_args(out, epochs), "--force")
    finished = "is finished" in resumed.stderr and (out / "summary.json").exists()
    if resumed.returncode != 0 and not finished:  # (finished: it had ended before the kill)
        return f"resume failed: {resumed.stderr.strip().splitlines()[-1:]}"
    steps = _steps(out)
    if steps != list(range(1, len(steps) + 1)):
        return f"metrics steps not once each: {steps}"
    summary = json.loads((out / "summary.json").read_text())
    if summary["epoch"] != epochs:
        return f"ended at epoch {summary['epoch']}"
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    if leftovers:
        return f"leftovers {leftovers}"
    return "handled"


def kill_export(source: Path, out: Path, rng: random.Random) -> str:
    """SIGKILL an export at a random moment: ``out`` is then absent or a whole model, and
    the source is untouched; a second export finishes."""
    before = {p.name: p.read_bytes() for p in source.iterdir() if p.is_file()}
    child = subprocess.Popen([sys.executable, "-m", "lstmkit", "export", "--model", str(source),
                              "--out", str(out)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=ENV)
    time.sleep(rng.uniform(0.2, 3.0))
    child.send_signal(signal.SIGKILL)
    child.wait()
    if {p.name: p.read_bytes() for p in source.iterdir() if p.is_file()} != before:
        return "the source changed"
    if out.exists() and not (out / "model.safetensors").is_file():
        return "a partial export in place"
    again = lstmkit("export", "--model", source, "--out", out, "--force")
    if again.returncode != 0:
        return f"export again failed: {again.stderr.strip()}"
    return "handled"


def two_writers(out: Path) -> str:
    """Two trains into one new folder at once: one runs, the other is refused in one line."""
    args = _train_args(out, 2)
    children = [subprocess.Popen([sys.executable, "-m", "lstmkit", *args], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True, env=ENV) for _ in range(2)]
    results = [(c.wait(timeout=300), c.stderr.read()) for c in children]
    codes = sorted(code for code, _ in results)
    refused = [err for code, err in results if code != 0]
    if codes != [0, 1]:
        return f"exit codes {codes}"
    message = refused[0].strip().splitlines()[-1]
    if "in use by another lstmkit process" not in message and "already holds a run" not in message:
        return f"refused with: {message}"
    steps = _steps(out)
    if steps != list(range(1, len(steps) + 1)):
        return f"interleaved metrics: {steps}"
    return "handled"


def kill_sweep(out: Path, rng: random.Random) -> str:
    """SIGKILL a sweep at a random moment, then run it again: it must finish, reusing or
    resuming what the first one did, with every run whole and nothing temporary left."""
    args = ["sweep", "--corpus", str(FIXTURES / "play.txt"), "--out", str(out), "--param", "seq_len",
            "--values", "8,16", "--tokens", "2000", "--epochs", "2", *TINY[:-1], "--save-every", "1", "-q"]
    child = subprocess.Popen([sys.executable, "-m", "lstmkit", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=ENV)
    time.sleep(rng.uniform(0.5, 8.0))
    child.send_signal(signal.SIGKILL)
    child.wait()
    again = lstmkit(*args)
    if again.returncode != 0:
        return f"the sweep again failed: {again.stderr.strip().splitlines()[-1:]}"
    rows = (out / "sweep.csv").read_text().splitlines()
    if len(rows) != 3:
        return f"sweep.csv has {len(rows) - 1} rows"
    for run in (out / "seq_len=8", out / "seq_len=16"):
        steps = _steps(run)
        if steps != sorted(set(steps)):
            return f"{run.name}: steps not once each, in order: {steps}"
    leftovers = [str(p.relative_to(out)) for p in out.rglob(".*")]
    return f"leftovers {leftovers}" if leftovers else "handled"
