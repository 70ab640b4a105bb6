"""lstmkit against the tutorial-style reference across batch sizes, side by side.

    python bench/batch_sweep.py [--device cuda] [--batch-sizes 64,128,...] [--seconds S]
                                [--sides reference,lstmkit] [--json FILE]

For every batch size, each side trains the same model size on the same poems for the same
wall-clock budget in a freshly spawned process of its own (``bench/compare.py``'s
harness, so the sides are exactly those of ``compare.py``), and the sweep records its
training throughput (real target tokens/s), validation perplexity after the budget and
peak GPU memory. The word-LM recipe trains at its own fixed batch of 20, so it is not
swept; ``compare.py`` measures it.

The share of the card's dense bf16 peak counts 6 FLOPs per multiply-add of the forward
pass (forward and backward together) over the real tokens only, so padding a side
computes is not credited to it. The peak is looked up from the device name (``--peak-tflops``
gives it where the name is not known). The reference trains in fp32 (TF32 where the card
has it), so its share of the *bf16* peak is a comparison against what the card could do,
not against what its precision allows.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lstmkit.model import ModelConfig

import compare

# Dense bf16 tensor-core peaks in TFLOP/s (the vendors' sheets, without sparsity).
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 80GB HBM3": 989.0, "H100 PCIe": 756.0, "A100": 312.0}


def peak_tflops(device_name: str) -> float | None:
    for key, peak in PEAK_BF16_TFLOPS.items():
        if key in device_name:
            return peak
    return None


def macs_per_token(settings: compare.Settings, vocab_size: int) -> int:
    """Multiply-adds of one token's forward pass for the model both sides train (the same
    sizes; lstmkit's head is tied, the reference's is not, and the head's matmul is the same)."""
    return ModelConfig(vocab_size=vocab_size, embedding_size=settings.embedding_size,
                       hidden_size=settings.hidden_size, layers=settings.layers).multiply_adds()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--batch-sizes", default="64,128,256,512,1024,2048",
                        help="comma-separated poems per batch")
    parser.add_argument("--seconds", type=float, default=20.0, help="training wall time per run")
    parser.add_argument("--sides", default="reference,lstmkit",
                        help="comma-separated, from: reference, lstmkit")
    parser.add_argument("--embedding-size", type=int, default=512)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--val-poems", type=int, default=1000)
    parser.add_argument("--poems", type=int, default=None, help="draw this many poems")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the card's dense bf16 peak (default: looked up by name)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test")
    parser.add_argument("--json", dest="json_path", type=Path)
    args = parser.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    except ValueError:
        parser.error("--batch-sizes: comma-separated whole numbers, e.g. 64,256")
    args.sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if not args.sides or any(s not in ("reference", "lstmkit") for s in args.sides):
        parser.error("--sides: from reference and lstmkit")
    if min(args.batch_sizes) <= 0 or args.seconds <= 0:
        parser.error("--batch-sizes and --seconds must be positive")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda asked for, but PyTorch sees no CUDA GPU")
    return args


def base_settings(args: argparse.Namespace) -> compare.Settings:
    profile = "quick" if args.quick else args.device
    values = dict(compare.PROFILES[profile])
    if not args.quick:
        values.update(embedding_size=args.embedding_size, hidden_size=args.hidden_size,
                      layers=args.layers, val_poems=args.val_poems, poems=args.poems)
    values.update(seconds=args.seconds, gen_poems=1, batch_poems=1)  # writing is not swept
    return compare.Settings(device=args.device, profile=profile, threads=args.threads, **values)


def render(summary: dict) -> str:
    rows = summary["rows"]
    sizes = sorted({r["batch_size"] for r in rows})
    cell = {(r["side"], r["batch_size"]): r for r in rows}
    lines = [f"| side | {' | '.join(f'batch {b}' for b in sizes)} |",
             "| --- |" + " ---: |" * len(sizes)]
    for side in summary["sides"]:
        for key, label, fmt in (("tokens_per_s", "tokens/s", "{:,.0f}"),
                                ("val_ppl", f"perplexity after {summary['seconds']:g} s", "{:.1f}"),
                                ("peak_gpu_mib", "peak GPU MiB", "{:,.0f}"),
                                ("peak_share", "share of bf16 peak", "{:.1%}")):
            values = [cell.get((side, b), {}).get(key) for b in sizes]
            shown = ["—" if v is None else fmt.format(v) for v in values]
            lines.append(f"| {side}: {label} | {' | '.join(shown)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = base_settings(args)
    data = compare.prepare(args.corpus or compare.default_corpus(), settings)
    macs = macs_per_token(settings, len(data.vocab_tokens))
    summary = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "torch": torch.__version__,
               "command": " ".join(["python", "bench/batch_sweep.py", *(argv or sys.argv[1:])]),
               "seconds": args.seconds, "sides": args.sides, "macs_per_token": macs,
               "vocab_size": len(data.vocab_tokens), "train_poems": len(data.train), "rows": []}
    for batch in args.batch_sizes:
        for side in args.sides:
            print(f"batch {batch}, {side}: training for {args.seconds:g} s ...", file=sys.stderr,
                  flush=True)
            run = dataclasses.replace(settings, batch_size=batch)
            try:
                result = compare.run_in_child(side, run, data)
            except Exception as exc:
                summary["rows"].append({"side": side, "batch_size": batch, "error": str(exc)[:300]})
                continue
            peak = args.peak_tflops or peak_tflops(result["device_name"])
            flops = 6 * macs * result["tokens_per_s"]
            row = {"side": side, "batch_size": batch, "tflops": flops / 1e12,
                   "peak_share": flops / (peak * 1e12) if peak else None, **result}
            summary["device_name"] = result["device_name"]
            summary["rows"].append(row)
            if args.json_path:  # saved as it goes: a cut-off sweep keeps what it measured
                args.json_path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(render(summary))
    return summary


if __name__ == "__main__":
    main()
