"""CPU training speed of a language model with the full and the sampled softmax.

    python bench/cpu_training.py speed --corpus tang.jsonl [--negatives 0,256] [--steps 40]
                                       [--repeats 3] [--threads 2] [--json FILE]
    python bench/cpu_training.py curves RUN_DIR [RUN_DIR ...] [--png FILE]
    python bench/cpu_training.py profile [--negatives 0] [--threads 1] [--vocab 6401]

``speed`` trains the bundled 2 x 512 configuration (``lstmkit train``'s defaults) for
``--steps`` steps in a fresh process per run, alternating the settings of ``--negatives``
(0: the full softmax) ``--repeats`` times, and reports each setting's median training
tokens per second (the run's own ``summary.json``, evaluation time left out).

``curves`` reads finished runs (``metrics.jsonl``, ``summary.json``) and gives their
validation perplexity (always the full softmax) against training tokens, as a table and,
with ``--png``, one plot: the check that a faster setting learns as much per token.

``profile`` runs a few training steps of the same model (random tokens: 64 rows of 60,
the shape of a bucketed Tang batch) under torch's profiler and lists where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def speed(args: argparse.Namespace) -> dict:
    settings = [int(k) for k in args.negatives.split(",")]
    runs: dict[int, list[float]] = {k: [] for k in settings}
    env_threads = {"OMP_NUM_THREADS": str(args.threads)}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for k in settings:
                out = Path(tmp) / f"k{k}-{repeat}"
                command = [sys.executable, "-m", "lstmkit", "train", "--corpus", str(args.corpus),
                           "--out", str(out), "--epochs", "1", "--max-steps", str(args.steps),
                           "--sampled-softmax", str(k), "--device", "cpu", "--seed", str(repeat),
                           "--log-every", "10", "-q"]
                subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                               env={**_env(), **env_threads})
                summary = json.loads((out / "summary.json").read_text())
                runs[k].append(summary["tokens_per_s"])
                print(f"repeat {repeat + 1}, negatives {k}: {summary['tokens_per_s']:,.0f} tokens/s",
                      file=sys.stderr, flush=True)
    base = statistics.median(runs[settings[0]])
    result = {"command": " ".join(["python", "bench/cpu_training.py", *sys.argv[1:]]),
              "threads": args.threads, "steps": args.steps, "runs": runs,
              "median": {k: statistics.median(v) for k, v in runs.items()}}
    print(f"| softmax | tokens/s, median of {args.repeats} | runs | vs first |")
    print("| --- | ---: | --- | ---: |")
    for k, values in runs.items():
        name = "full" if k == 0 else f"sampled, {k} negatives"
        median = statistics.median(values)
        print(f"| {name} | {median:,.0f} | {', '.join(f'{v:,.0f}' for v in values)} | "
              f"{median / base:.2f}× |")
    return result


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def curves(args: argparse.Namespace) -> dict:
    found = {}
    for run in args.runs:
        summary = json.loads((run / "summary.json").read_text())
        epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        epochs = [e for e in epochs if e.get("kind") == "epoch"]
        if not epochs:
            raise SystemExit(f"{run}: no finished epoch in metrics.jsonl")
        per_step = summary["tokens"] / summary["step"]  # a run cut by a budget ends mid-epoch
        config = json.loads((run / "last" / "config.json").read_text())
        found[str(run)] = {
            "negatives": config["model"].get("sampled_softmax", 0),
            "tokens_per_s": summary["tokens_per_s"],
            "points": [(e["step"] * per_step, e["val_ppl"]) for e in epochs]}
    print("| run | softmax | tokens/s | " + " | ".join(
        f"after {t / 1e6:.2f} M tokens" for t, _ in next(iter(found.values()))["points"]) + " |")
    print("| --- | --- | ---: |" + " ---: |" * len(next(iter(found.values()))["points"]))
    for run, r in found.items():
        k = r["negatives"]
        print(f"| {Path(run).name} | {'full' if not k else f'sampled, {k}'} | {r['tokens_per_s']:,.0f} | "
              + " | ".join(f"{p:.2f}" for _, p in r["points"]) + " |")
    if args.png:
        from lstmkit.core.plot import pyplot

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for r in found.values():
            k = r["negatives"]
            xs, ys = zip(*r["points"])
            ax.plot([x / 1e6 for x in xs], ys, marker="o",
                    label=f"{'full softmax' if not k else f'sampled softmax, {k} negatives'} "
                          f"({r['tokens_per_s']:,.0f} tokens/s)")
        ax.set_xlabel("training tokens (millions)")
        ax.set_ylabel("validation perplexity (full softmax)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        plt.close(fig)
    return found


def profile(args: argparse.Namespace) -> dict:
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from lstmkit.core.loop import train_step
    from lstmkit.data.batching import Batch
    from lstmkit.model import LanguageModel, ModelConfig
    from lstmkit.tasks.lm import batch_loss
    from lstmkit.tasks.lm_sampled import sampled_loss

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=args.vocab, sampled_softmax=args.negatives))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    inputs = torch.randint(4, args.vocab, (64, 60))
    # Zipf-like targets, so a batch has a realistic number of distinct ones
    ranks = torch.arange(1, args.vocab - 3, dtype=torch.float)
    targets = 4 + torch.multinomial(1 / ranks, 64 * 60, replacement=True).view(64, 60)
    batch = Batch(inputs, targets, targets.numel(), 0.0)

    def loss_of(net, batch, amp, state):  # as the language-model task's loss picks it
        if args.negatives:
            return sampled_loss(net, net.head, batch, 0, amp, args.negatives, state)
        return batch_loss(net, batch, 0, amp, state=state)

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
    s.add_argument("--negatives", default="0,256", help="comma-separated; 0 is the full softmax")
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
