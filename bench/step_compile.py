"""Does ``torch.compile`` speed up the one-token writing step? Eager against compiled.

    python bench/step_compile.py --model DIR --device cuda [--rows 4,256,4096] [--json F]

Times ``LanguageModel.step`` (the fused one-step LSTM and head that every written character
goes through) in the writing precision the device gets, for a few batch sizes: eager,
``torch.compile`` (default mode: fused elementwise kernels) and ``mode="reduce-overhead"``
(CUDA graphs as well, on CUDA only), each the median of ``--repeats`` timings of ``--steps``
steps after warm-ups, with the compile time and the largest difference in logits from the
eager step. ``--eager-only`` skips compiling: the eager step's time and multiply-adds per
second by batch size, the floor that any writing on this machine stands on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from lstmkit.bundled import load_for_writing


def timed_steps(step, tokens, state, steps: int, repeats: int, sync) -> float:
    """Median milliseconds per step over ``repeats`` runs of ``steps`` steps."""
    times = []
    for _ in range(repeats):
        sync()
        started = time.perf_counter()
        for _ in range(steps):
            step(tokens, state)
        sync()
        times.append(1000 * (time.perf_counter() - started) / steps)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tang")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--rows", default="4,256,4096")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--eager-only", action="store_true", help="time the eager step alone")
    args = parser.parse_args()
    model = load_for_writing(args.model, args.device, args.precision).model.eval()
    device = next(model.parameters()).device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    modes = ["default", "reduce-overhead"] if device.type == "cuda" else ["default"]
    if args.eager_only:
        modes = []
    macs = model.config.multiply_adds()  # per row and step
    found = {"model": args.model, "device": torch.cuda.get_device_name() if device.type == "cuda"
             else "cpu", "dtype": str(next(model.parameters()).dtype), "int8": model.int8,
             "threads": torch.get_num_threads(), "macs_per_row": macs, "rows": []}
    layers, hidden = model.config.layers, model.config.hidden_size
    dtype = next(model.parameters()).dtype
    with torch.inference_mode():
        for rows in map(int, args.rows.split(",")):
            tokens = torch.randint(4, model.config.vocab_size, (rows,), device=device)
            state = tuple(torch.randn(layers, rows, hidden, device=device, dtype=dtype) * 0.1
                          for _ in range(2))
            reference, _ = model.step(tokens, state)
            row = {"rows": rows, "eager_ms": timed_steps(model.step, tokens, state, args.steps,
                                                         args.repeats, sync)}
            row["eager_gmac_s"] = macs * rows / row["eager_ms"] / 1e6
            for mode in modes:
                torch._dynamo.reset()
                compiled = torch.compile(model.step, mode=mode, dynamic=False)
                started = time.perf_counter()
                for _ in range(3):  # compile, then the warm-ups CUDA graphs need
                    out, _ = compiled(tokens, state)
                sync()
                row[f"{mode}_compile_s"] = time.perf_counter() - started
                row[f"{mode}_max_diff"] = float((out.float() - reference.float()).abs().max())
                row[f"{mode}_ms"] = timed_steps(compiled, tokens, state, args.steps,
                                                args.repeats, sync)
            found["rows"].append(row)
            print(json.dumps(row), flush=True)
            if args.json_path:
                with open(args.json_path, "w", encoding="utf-8") as handle:
                    json.dump(found, handle)
    print(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
