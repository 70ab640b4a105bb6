"""How fast the bundled Tang model writes 七绝, and where the time goes.

    python bench/writing_speed.py [--precision auto] [--sizes 1,4,16,64,100,256,1000] [--json F]
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
  grows) for N poems asked for in one call, smallest first.
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


def timed(call, repeats: int) -> float:
    """Median seconds of ``call()`` over ``repeats`` runs after one warm-up."""
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--form", default="七绝")
    parser.add_argument("--poems", type=int, default=30, help="poems timed one at a time")
    parser.add_argument("--rows", type=int, default=256, help="rows of the timed batched pass")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="1,4,16,64,100,256,1000")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = poem_generator(load_for_writing("tang", "cpu", args.precision), "tang")
    request = PoemRequest.make(args.form)
    found: dict = {"precision": args.precision, "threads": torch.get_num_threads()}

    write_poems(generator, request, 1, SampleConfig(seed=10_000))  # warm-up
    ms = []
    for seed in range(args.poems):
        started = time.perf_counter()
        write_poems(generator, request, 1, SampleConfig(seed=seed))
        ms.append(1000 * (time.perf_counter() - started))
    ms.sort()
    found["one"] = {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))]}

    rules = request.rules(generator.vocab)
    steps = request.constraint(generator.vocab, rules).max_tokens()
    config = SampleConfig(seed=1, max_len=steps)
    hooks = {"model and sampling": lambda: None,
             "+ form mask": lambda: request.constraint(generator.vocab, []),
             "+ rules": lambda: request.constraint(generator.vocab, rules)}
    found["pass"] = {"rows": args.rows, "steps": steps, "ms": {
        name: 1000 * timed(lambda hook=hook: generator.generate("", args.rows, config, hook=hook()),
                           args.repeats) for name, hook in hooks.items()}}

    found["sizes"] = []
    for n in map(int, args.sizes.split(",")):
        seconds = timed(lambda n=n: write_poems(generator, request, n, SampleConfig(seed=3)),
                        1 if n >= 256 else 3)
        found["sizes"].append({"poems": n, "poems_per_s": n / seconds,
                               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        print(f"{n} poems at once: {n / seconds:.1f} poems/s", flush=True)
    print(json.dumps(found, ensure_ascii=False, indent=1))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            json.dump(found, handle, ensure_ascii=False)


if __name__ == "__main__":
    main()
