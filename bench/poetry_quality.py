"""Quality of constrained poems: form pass rates, copying, diversity, time per poem.

    python bench/poetry_quality.py --corpus ../shared/data/tang.jsonl [--model DIR] [-n 200]
    python bench/poetry_quality.py --corpus ../shared/data/songci.jsonl --model songci --forms '' \
        --tunes 浣溪沙,菩萨蛮,水调歌头

For each form (and each 词牌 of ``--tunes``, as ``--form ci --tune NAME``) it writes ``n``
poems one at a time (seeds 0..n-1, default sampling settings) with the bundled model (or
``--model``) and reports:

- the share passing shape, rhyme and tones under ``check_poem`` (strict for the regulated
  forms; ci are checked loose, as they are written: tune tone patterns are not derived);
- the share of generated lines found verbatim among the corpus's lines;
- the share of distinct lines among all generated lines;
- the median and 90th-percentile wall time per poem (model already loaded);
- with ``--batched N``, poems per second when N poems are asked for at once (one batch of
  N x 4 candidate rows).

Prints a Markdown table; ``--json FILE`` also saves the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from lstmkit.bundled import BUNDLED, bundled_model_dir
from lstmkit.data.corpus import load_poems
from lstmkit.poetry.check import check_poem, split_lines
from lstmkit.poetry.forms import FORMS, get_form
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.sample import Generator, SampleConfig, writing_dtype
from lstmkit.tasks.lm import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="training corpus, for verbatim copies")
    parser.add_argument("--model", default="tang",
                        help="model folder, or the name of a bundled model (tang, songci)")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--tunes", default="", help="词牌 to write ci to, comma-separated")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                        help="weights to write with, as lstmkit poem --precision")
    parser.add_argument("--batched", type=int, default=0,
                        help="also time N poems of each form written in one call")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model in BUNDLED:
        args.model = str(bundled_model_dir(args.model))
    loaded = load_model(args.model)
    dtype = writing_dtype(args.precision, torch.device("cpu"))
    generator = Generator(loaded.model.to(dtype), loaded.vocab)
    poems, _ = load_poems(args.corpus)
    corpus_lines = {line.text for poem in poems for line in split_lines(poem.text)}
    results = {}
    jobs = [(name, FORMS[name], "strict") for name in args.forms.split(",") if name]
    jobs += [(tune, get_form("ci", tune), "loose") for tune in args.tunes.split(",") if tune]
    for name, form, tones in jobs:
        request = PoemRequest(form, tones)
        write_poems(generator, request, 1, SampleConfig(seed=10_000))  # warm-up
        times, texts = [], []
        for seed in range(args.n):
            started = time.perf_counter()
            texts.append(write_poems(generator, request, 1, SampleConfig(seed=seed))[0].text)
            times.append(time.perf_counter() - started)
        verdicts = [check_poem(t, form=form, tones=tones) for t in texts]
        lines = [line.text for t in texts for line in split_lines(t)]
        results[name] = {
            "poems": len(texts),
            "checked": tones,
            "shape": sum(not (v.broken("shape") or v.broken("punctuation")) for v in verdicts) / len(texts),
            "rhyme": sum(not v.broken("rhyme") for v in verdicts) / len(texts),
            "tones": sum(not v.broken("tone") for v in verdicts) / len(texts),
            "all_rules": sum(v.ok for v in verdicts) / len(texts),
            "verbatim_lines": sum(line in corpus_lines for line in lines) / len(lines),
            "distinct_lines": len(set(lines)) / len(lines),
            "median_ms": 1000 * statistics.median(times),
            "p90_ms": 1000 * statistics.quantiles(times, n=10)[-1],
            "example": texts[0],
        }
        if args.batched:
            started = time.perf_counter()
            batch = write_poems(generator, request, args.batched, SampleConfig(seed=20_000))
            seconds = time.perf_counter() - started
            assert all(check_poem(p.text, form=form, tones=tones).ok for p in batch)
            results[name]["batched_poems_per_s"] = len(batch) / seconds
        print(f"{name}: done", file=sys.stderr)
    print(f"model {args.model}, {args.n} poems per form, {dtype} weights, "
          f"torch threads {torch.get_num_threads()}\n")
    print("| form | shape | rhyme | tones | all rules | verbatim lines | distinct lines | median ms/poem | p90 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        tones = f"{r['tones']:.1%}" if r["checked"] == "strict" else "not held"
        print(f"| {name} | {r['shape']:.1%} | {r['rhyme']:.1%} | {tones} | {r['all_rules']:.1%} "
              f"| {r['verbatim_lines']:.1%} | {r['distinct_lines']:.1%} | {r['median_ms']:.0f} | {r['p90_ms']:.0f} |")
    if args.batched:
        print(f"\nwritten {args.batched} at once: " + ", ".join(
            f"{name} {r['batched_poems_per_s']:.1f} poems/s" for name, r in results.items()))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, ensure_ascii=False, indent=2), "utf-8")


if __name__ == "__main__":
    main()
