"""How fast the bundled Tang model writes 七绝, and where the time goes.

    python bench/writing_speed.py [--precision auto] [--sizes 1,4,16,64,100,256,1000] [--json F]
    python bench/writing_speed.py --device cuda --model DIR --sizes 1,100,1000,10000
    python bench/writing_speed.py --numpy --sizes 1,8    # fp32 in NumPy, without torch
    PYTHONPATH=OLD/src python bench/writing_speed.py ...   # the same for an older checkout

Uses only what older versions have too (``load_for_writing``, ``PoemRequest``,
``write_poems``, ``Generator.generate`` with a hook), so old and new code can be compared
on one machine in one sitting. Reports:

- one poem at a time (all rules on, refined, 4 candidates): median and p90 ms over
  ``--poems`` seeds, after a warm-up;
- where one batched pass of ``--rows`` candidate rows spends its time: the model and
  sampling alone (no hook), plus the form's mask (constraint without rules), plus the
  decoding rules (repetition, couplets): each the median of ``--repeats`` runs;
- ``--sizes``: poems per second and the process's peak memory (ru_maxrss, which only
  grows; on CUDA also the peak GPU memory allocated) for N poems asked for in one call,
  smallest first.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import torch

from lstmkit.bundled import load_for_writing
from lstmkit.poetry.request import PoemRequest, poem_generator, write_poems
from lstmkit.sample import SampleConfig


def timed(call, repeats: int, warm: bool = True) -> float:
    """Median seconds of ``call()`` over ``repeats`` runs (after one warm-up with ``warm``)."""
    if warm:
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tang", help="a bundled model's name or a model folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--form", default="七绝")
    parser.add_argument("--poems", type=int, default=30, help="poems timed one at a time")
    parser.add_argument("--rows", type=int, default=256, help="rows of the timed batched pass")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="1,4,16,64,100,256,1000")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--numpy", action="store_true",
                        help="write as a one-off command does: fp32 in NumPy, without torch "
                             "(sample_numpy; not in older code); OPENBLAS_NUM_THREADS sets its threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    request = PoemRequest.make(args.form)
    # rows=1 asks for NumPy where it can write the model (a small job, precision auto, CPU)
    loaded = (load_for_writing(args.model, rows=1) if args.numpy
              else load_for_writing(args.model, args.device, args.precision))
    generator = poem_generator(loaded, args.model)
    found: dict = {"model": args.model, "device": args.device, "precision": args.precision,
                   "engine": type(generator).__name__, "threads": torch.get_num_threads()}
    if args.device.startswith("cuda"):
        found["gpu"] = torch.cuda.get_device_name()

    write_poems(generator, request, 1, SampleConfig(seed=10_000))  # warm-up
    ms = []
    for seed in range(args.poems):
        started = time.perf_counter()
        write_poems(generator, request, 1, SampleConfig(seed=seed))
        ms.append(1000 * (time.perf_counter() - started))
    ms.sort()
    found["one"] = {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))]}
    save(found, args.json_path)

    rules = request.rules(generator.vocab)
    steps = request.constraint(generator.vocab, rules).max_tokens()
    config = SampleConfig(seed=1, max_len=steps)
    hooks = {"model and sampling": lambda: None,
             "+ form mask": lambda: request.constraint(generator.vocab, []),
             "+ rules": lambda: request.constraint(generator.vocab, rules)}
    found["pass"] = {"rows": args.rows, "steps": steps, "ms": {
        name: 1000 * timed(lambda hook=hook: generator.generate("", args.rows, config, hook=hook()),
                           args.repeats) for name, hook in hooks.items()}}
    save(found, args.json_path)

    found["sizes"] = []
    for n in map(int, args.sizes.split(",")):
        seconds = timed(lambda n=n: write_poems(generator, request, n, SampleConfig(seed=3)),
                        1 if n >= 256 else 3, warm=n < 1000)  # smaller sizes warmed it up
        row = {"poems": n, "poems_per_s": n / seconds,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if args.device.startswith("cuda"):
            row["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
        found["sizes"].append(row)
        print(f"{n} poems at once: {n / seconds:.1f} poems/s", flush=True)
        save(found, args.json_path)  # what is measured so far survives a time limit
    print(json.dumps(found, ensure_ascii=False, indent=1))


def save(found: dict, path: str | None) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(found, handle, ensure_ascii=False)


if __name__ == "__main__":
    main()
