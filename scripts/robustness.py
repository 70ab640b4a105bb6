"""The long robustness run behind ``make robustness``: many fuzz cases, kills, two writers,
full disks; writes RELIABILITY.md with what was tried, what was handled and what was lost.

    python scripts/robustness.py [--fuzz 10000] [--kills 50] [--export-kills 20]
                                 [--sweep-kills 10] [--writers 10] [--disk-full 20]
                                 [--out RELIABILITY.md]

The same trials as ``tests/robustness`` (its ``harness.py`` and ``test_fuzz.py``), counted.
A trial is "handled" when the command ended in a result or a one-line refusal and nothing
was lost; anything else is listed with what happened.
"""

from __future__ import annotations

import argparse
import errno
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "robustness"), str(ROOT / "tests")]

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import harness  # noqa: E402
import test_fuzz as fuzz  # noqa: E402


def run_fuzz(cases: int) -> dict[str, tuple[Counter, list[str]]]:
    """Each property ``cases`` times (fresh random draws): outcomes and failures."""
    found: dict[str, tuple[Counter, list[str]]] = {}
    quiet = settings(max_examples=cases, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, strategy, trial in (
                ("corpus readers", fuzz.corpus_bytes(), lambda case: fuzz.read_corpus_case(folder, case)),
                ("poem checker", st.tuples(fuzz.TEXT, fuzz.FORMS, fuzz.TONES, fuzz.TUNES),
                 lambda case: fuzz.check_case(*case))):
            outcomes, failures = Counter(), []
            try:
                _property(quiet, strategy, trial, outcomes)()
            except Exception as exc:  # hypothesis shrank a failing case: report it
                failures.append(f"{type(exc).__name__}: {str(exc)[:300]}")
            found[name] = (outcomes, failures)
            print(f"fuzz {name}: {dict(outcomes)} {failures}", flush=True)
    return found


def _property(quiet, strategy, trial, outcomes: Counter):
    """The hypothesis test that runs ``trial`` on each case and counts its outcome."""
    @quiet
    @given(strategy)
    def prop(case):
        outcomes[trial(case)] += 1
    return prop


def run_trials(name: str, count: int, trial) -> tuple[Counter, list[str]]:
    outcomes, failures = Counter(), []
    for index in range(count):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                result = trial(Path(tmp), random.Random(index))
            except Exception as exc:
                result = f"{type(exc).__name__}: {exc}"
        outcomes["handled" if result == "handled" else "lost"] += 1
        if result != "handled":
            failures.append(f"#{index}: {result}")
        print(f"{name} {index + 1}/{count}: {result}", flush=True)
    return outcomes, failures


def export_trial(folder: Path, rng: random.Random) -> str:
    run = folder / "run"
    trained = harness.lstmkit(*harness._train_args(run, 1))
    if trained.returncode != 0:
        return f"training for the export failed: {trained.stderr.strip()}"
    return harness.kill_export(run / "best", folder / "out", rng)


def disk_full_trial(folder: Path, rng: random.Random) -> str:
    """In process: the disk fills at a random checkpoint write; the previous checkpoint must
    stay whole and the run must resume to the end once there is room again."""
    from lstmkit.core import checkpoint
    from lstmkit.tasks.lm import train

    import conftest

    run, corpus = folder / "r", harness.FIXTURES / "poems.jsonl"
    train(corpus, run, conftest.TINY_MODEL, **conftest.tiny_config(max_steps=2, save_every=1))
    real, calls, fail_at = checkpoint.save_file, [], rng.randint(1, 6)

    def full(tensors, path, **kwargs):
        calls.append(path)
        if len(calls) >= fail_at:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(tensors, path, **kwargs)

    checkpoint.save_file = full
    try:
        train(corpus, run, conftest.TINY_MODEL, **conftest.tiny_config(max_steps=8, save_every=1),
              resume=True)
        return "the full disk went unnoticed"
    except OSError:
        pass
    finally:
        checkpoint.save_file = real
    if [p.name for p in run.iterdir() if p.name.startswith(".")]:
        return "leftovers after the failed write"
    summary = train(corpus, run, conftest.TINY_MODEL, **conftest.tiny_config(max_steps=8), resume=True)
    return "handled" if summary["step"] == 8 else f"resumed to step {summary['step']}"


MEASURE = """
import sys
from lstmkit.data.corpus import load_poems
def hwm():  # KiB; VmHWM starts anew at exec, where ru_maxrss keeps the parent's
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
base = hwm()
poems, report = load_poems(sys.argv[1])
peak = hwm()
chars = sum(len(p.text) + len(p.title) + len(p.author) for p in poems)
print(base, peak, report.read, report.kept, chars)
"""


def corpus_memory(corpus: Path) -> str:
    """Peak memory of reading ``corpus`` in a fresh process, against what it keeps."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", MEASURE, str(corpus)], capture_output=True,
                          text=True, env=harness.ENV, timeout=600)
    if done.returncode != 0:
        return f"reading {corpus} failed: {done.stderr.strip()[-200:]}"
    base, peak, read, kept, chars = map(int, done.stdout.split())
    shown = os.path.relpath(corpus, ROOT)
    return (f"Reading `{shown}` ({corpus.stat().st_size / 2**20:.1f} MiB, {read} records): peak RSS "
            f"{peak / 1024:.1f} MiB, {(peak - base) / 1024:.1f} MiB over the interpreter with lstmkit "
            f"imported, for {kept} poems kept ({chars} characters of text, titles and authors: "
            f"{(peak - base) * 1024 / max(chars, 1):.1f} bytes per kept character).")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


HISTORY = "## History"


def kept_history(path: Path) -> list[str]:
    """The ``## History`` section of the report at ``path`` (what earlier runs found, in
    people's words), to carry into the new report; [] when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if HISTORY not in text.splitlines():
        return []
    section = text.split(HISTORY + "\n", 1)[1]
    body = section.split("\n## ", 1)[0].strip("\n")
    return ["", HISTORY, "", body] if body else []


def write_report(path: Path, rows: list[tuple[str, Counter, list[str]]], command: str,
                 seconds: float, memory: list[str]) -> None:
    """Write the report to ``path`` (whole or not at all), keeping its ``## History``."""
    history = kept_history(path)
    lines = ["# Reliability", "",
             "What `make robustness` (`python scripts/robustness.py`) tried, what was handled (a result, "
             "or a one-line refusal, with nothing of the user's lost) and what was not.", "",
             f"command: `{command}`  ", f"machine: {_cpu()}, {os.cpu_count()} cores, {platform.machine()}, "
             f"Python {platform.python_version()}, {platform.platform()}  ",
             f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {seconds / 60:.1f} minutes", "",
             "| kind | tried | handled | lost or crashed | outcomes |", "| --- | ---: | ---: | ---: | --- |"]
    for name, outcomes, failures in rows:
        tried = sum(outcomes.values()) + len(failures) * (name.startswith("fuzz"))
        lost = len(failures)
        shown = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        lines.append(f"| {name} | {tried} | {tried - lost} | {lost} | {shown} |")
    failures = [(name, f) for name, _, fs in rows for f in fs]
    lines += ["", "Failures:" if failures else "Nothing was lost.", ""]
    lines += [f"- {name}: {f}" for name, f in failures]
    lines += history
    if memory:
        lines += ["", "## Memory", ""] + [line for m in memory for line in (m, "")]
    lines += ["", "Kinds: *fuzz* runs random bytes, invalid UTF-8, byte-order marks, huge lines, JSON of "
              "the wrong shape and mixed scripts through the corpus readers (poems and stream text; a "
              "result must account for every record read) and random text, forms and tunes through "
              "the checker. *kill training* SIGKILLs a `lstmkit train` (checkpoint every step) at a "
              "random moment, resumes it to the end and checks every step is logged once and nothing "
              "temporary is left. *kill sweep* SIGKILLs a sweep of two runs and runs it again: it must "
              "finish with both runs whole. *kill export* SIGKILLs an export: the source must be unchanged and "
              "the output absent or whole. *two writers* starts two trains into one folder at once: "
              "one must run, the other be refused in one line. *disk full* fails a checkpoint write "
              "with ENOSPC at a random point: the previous checkpoint must stay whole and the run "
              "resume to the end (an injected error: no tmpfs is mounted).", ""]
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(lines), encoding="utf-8")
    os.replace(partial, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=10_000, help="fuzz cases in all (half per property)")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--export-kills", type=int, default=20)
    parser.add_argument("--sweep-kills", type=int, default=10)
    parser.add_argument("--writers", type=int, default=10)
    parser.add_argument("--disk-full", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "RELIABILITY.md"))
    parser.add_argument("--corpora", default=str(ROOT.parent / "shared" / "data" / "tang.jsonl") + ","
                        + str(ROOT.parent / "shared" / "data" / "songci.jsonl"),
                        help="corpora whose reading memory to report (missing ones are skipped)")
    args = parser.parse_args()
    started = time.monotonic()
    rows = [(f"fuzz: {name}", outcomes, failures)
            for name, (outcomes, failures) in run_fuzz(args.fuzz // 2).items()]
    for name, count, trial in (
            ("kill training", args.kills, lambda folder, rng: harness.kill_training(folder / "run", rng)),
            ("kill export", args.export_kills, export_trial),
            ("kill sweep", args.sweep_kills, lambda folder, rng: harness.kill_sweep(folder / "sweep", rng)),
            ("two writers", args.writers, lambda folder, rng: harness.two_writers(folder / "run")),
            ("disk full", args.disk_full, disk_full_trial)):
        outcomes, failures = run_trials(name, count, trial)
        rows.append((name, outcomes, failures))
    memory = [corpus_memory(Path(c)) for c in args.corpora.split(",") if c and Path(c).is_file()]
    command = "python scripts/robustness.py " + " ".join(sys.argv[1:])
    write_report(Path(args.out), rows, command.strip(), time.monotonic() - started, memory)
    print(f"wrote {args.out}")
    if any(failures for _, _, failures in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
