"""CPU training speed of a language model with the full and the sampled softmax.

    python bench/cpu_training.py speed --corpus tang.jsonl [--variant 'LABEL=OPTIONS' ...]
                                       [--before OLD_CHECKOUT] [--steps 40] [--repeats 3] [--threads 2] [--json FILE]
    python bench/cpu_training.py curves RUN_DIR [RUN_DIR ...] [--png FILE]
    python bench/cpu_training.py profile [--negatives 0] [--keep 0] [--threads 1] [--vocab 6401]

``speed`` trains the bundled 2 x 512 configuration (``lstmkit train``'s defaults) for
``--steps`` steps in a fresh process per run, alternating the variants ``--repeats``
times, and reports each one's median training tokens per second (the run's own
``summary.json``, evaluation time left out). A variant is a label and the ``lstmkit
train`` options it adds, e.g. ``--variant 'k256=--sampled-softmax 256'``; the default
compares the full softmax with 256 negatives. The first variant is the baseline; with
``--before DIR`` it is another checkout's code (e.g. a git worktree of the last release)
training with its defaults.

``curves`` reads finished runs (``metrics.jsonl``, ``summary.json``) and gives their
validation perplexity (always the full softmax) against training tokens, as a table and,
with ``--png``, one plot: the check that a faster setting learns as much per token. Runs
may have been trained anywhere (a GPU gives a CPU setting's curve in minutes): the
per-token curve does not depend on the machine, only the tokens per second do.

``profile`` runs a few training steps of the same model (random tokens: 64 rows of 60,
the shape of a bucketed Tang batch) under torch's profiler and lists where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


DEFAULT_VARIANTS = ("full=", "k256=--sampled-softmax 256")


def parse_variants(texts: list[str]) -> dict[str, list[str]]:
    """``LABEL=OPTIONS`` strings as {label: the options, split like a shell would}."""
    variants = {}
    for text in texts:
        label, sep, options = text.partition("=")
        if not sep or not label.strip():
            raise SystemExit(f"--variant {text!r}: expected LABEL=OPTIONS")
        if label in variants:
            raise SystemExit(f"--variant {label!r} given twice")
        variants[label.strip()] = shlex.split(options)
    return variants


def speed(args: argparse.Namespace) -> dict:
    variants = parse_variants(args.variant or list(DEFAULT_VARIANTS))
    sources = dict.fromkeys(variants, ROOT / "src")
    if args.before:  # another checkout's code, with lstmkit train's defaults, goes first
        variants = {"before": [], **variants}
        sources["before"] = args.before.resolve() / "src"
    runs: dict[str, list[float]] = {label: [] for label in variants}
    env_threads = {"OMP_NUM_THREADS": str(args.threads)}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for n, (label, options) in enumerate(variants.items()):
                out = Path(tmp) / f"v{n}-{repeat}"
                command = [sys.executable, "-m", "lstmkit", "train", "--corpus", str(args.corpus),
                           "--out", str(out), "--epochs", "1", "--max-steps", str(args.steps),
                           "--device", "cpu", "--seed", str(repeat), "--log-every", "10", "-q",
                           *options]
                subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                               env={**_env(sources[label]), **env_threads})
                summary = json.loads((out / "summary.json").read_text())
                runs[label].append(summary["tokens_per_s"])
                print(f"repeat {repeat + 1}, {label}: {summary['tokens_per_s']:,.0f} tokens/s",
                      file=sys.stderr, flush=True)
    first = next(iter(runs))
    base = statistics.median(runs[first])
    result = {"command": " ".join(["python", "bench/cpu_training.py", *map(shlex.quote, sys.argv[1:])]),
              "threads": args.threads, "steps": args.steps,
              "variants": {label: " ".join(options) for label, options in variants.items()},
              "runs": runs, "median": {k: statistics.median(v) for k, v in runs.items()}}
    print(f"| variant | options | tokens/s, median of {args.repeats} | runs | vs {first} |")
    print("| --- | --- | ---: | --- | ---: |")
    for label, values in runs.items():
        median = statistics.median(values)
        print(f"| {label} | {' '.join(variants[label]) or '(defaults)'} | {median:,.0f} | "
              f"{', '.join(f'{v:,.0f}' for v in values)} | {median / base:.2f}× |")
    return result


def _env(src: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def curves(args: argparse.Namespace) -> dict:
    found = {}
    for run in args.runs:
        summary = json.loads((run / "summary.json").read_text())
        epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        # each epoch's validation, and the last one where a token budget ended the run
        epochs = [e for e in epochs if e.get("kind") in ("epoch", "budget") and "val_ppl" in e]
        if not epochs:
            raise SystemExit(f"{run}: no validated epoch in metrics.jsonl")
        per_step = summary["tokens"] / summary["step"]  # a run cut by a budget ends mid-epoch
        config = json.loads((run / "last" / "config.json").read_text())
        found[str(run)] = {
            "negatives": config["model"].get("sampled_softmax", 0),
            "setting": describe(config),
            "tokens_per_s": summary["tokens_per_s"],
            "points": [(e["step"] * per_step, e["val_ppl"]) for e in epochs]}
    print("| run | setting | tokens/s | " + " | ".join(
        f"after {t / 1e6:.2f} M tokens" for t, _ in next(iter(found.values()))["points"]) + " |")
    print("| --- | --- | ---: |" + " ---: |" * len(next(iter(found.values()))["points"]))
    for run, r in found.items():
        print(f"| {Path(run).name} | {r['setting']} | {r['tokens_per_s']:,.0f} | "
              + " | ".join(f"{p:.2f}" for _, p in r["points"]) + " |")
    if args.png:
        from lstmkit.core.plot import pyplot

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for r in found.values():
            xs, ys = zip(*r["points"])
            ax.plot([x / 1e6 for x in xs], ys, marker="o", label=r["setting"])
        ax.set_xlabel("training tokens (millions)")
        ax.set_ylabel("validation perplexity (full softmax, log scale)")
        ax.set_yscale("log")
        from matplotlib.ticker import FuncFormatter

        for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
            axis(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        plt.close(fig)
    return found


def describe(config: dict) -> str:
    """A run's training setting in words: its softmax, and its batch size and learning
    rate where they are not ``lstmkit train``'s defaults."""
    from lstmkit.core.config import LoopConfig
    from lstmkit.data.text import TextConfig

    k, keep = config["model"].get("sampled_softmax", 0), config["model"].get("sampled_keep", 0)
    words = ["full" if not k else f"sampled, {k}" + (f", {keep} kept" if keep else "")]
    if config["data"]["batch_size"] != TextConfig.batch_size:
        words.append(f"batch {config['data']['batch_size']}")
    if config["loop"]["lr"] != LoopConfig.lr:
        words.append(f"lr {config['loop']['lr']:g}")
    return ", ".join(words)


def profile(args: argparse.Namespace) -> dict:
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from lstmkit.core.loop import train_step
    from lstmkit.data.batching import Batch
    from lstmkit.model import LanguageModel, ModelConfig
    from lstmkit.tasks.lm import training_loss

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=args.vocab, sampled_softmax=args.negatives,
                                      sampled_keep=args.keep))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    inputs = torch.randint(4, args.vocab, (64, 60))
    # Zipf-like targets, so a batch has a realistic number of distinct ones
    ranks = torch.arange(1, args.vocab - 3, dtype=torch.float)
    targets = 4 + torch.multinomial(1 / ranks, 64 * 60, replacement=True).view(64, 60)
    batch = Batch(inputs, targets, targets.numel(), 0.0)

    def loss_of(net, batch, amp, state):  # as the language-model task's loss picks it
        return training_loss(net, model, batch, 0, amp, state)

    def step():  # lstmkit's own training step (clipping at 1.0, as its default)
        train_step(loss_of, model, optimizer, batch, 1e-3, 1.0, None)

    for _ in range(2):
        step()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"{total / args.steps / 1e3:.0f} ms per step of 3,840 tokens, {args.threads} thread(s)")
    print("| operation | share of the step |")
    print("| --- | ---: |")
    rows = {}
    for event in events[:args.top]:
        rows[event.key] = event.self_cpu_time_total / total
        print(f"| {event.key} | {rows[event.key]:.1%} |")
    return {"ms_per_step": total / args.steps / 1e3, "shares": rows}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--corpus", type=Path, required=True)
    s.add_argument("--variant", action="append",
                   help="LABEL=lstmkit train options, repeatable (default: full softmax, k256)")
    s.add_argument("--before", type=Path,
                   help="a checkout of older code (a git worktree): its defaults run first, alternated")
    s.add_argument("--steps", type=int, default=40)
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--json", dest="json_path", type=Path)
    c = sub.add_parser("curves")
    c.add_argument("runs", type=Path, nargs="+")
    c.add_argument("--png", type=Path)
    c.add_argument("--json", dest="json_path", type=Path)
    p = sub.add_parser("profile")
    p.add_argument("--negatives", type=int, default=0)
    p.add_argument("--keep", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--vocab", type=int, default=6401)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", dest="json_path", type=Path)
    args = parser.parse_args(argv)
    result = {"speed": speed, "curves": curves, "profile": profile}[args.what](args)
    if args.json_path:
        args.json_path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
