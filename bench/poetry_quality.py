"""Quality of constrained poems, plain and refined, beside real held-out poems.

    python bench/poetry_quality.py --corpus ../shared/data/tang.jsonl [--model DIR] [-n 200]
    python bench/poetry_quality.py --corpus ../shared/data/songci.jsonl --model songci --forms '' \
        --tunes 浣溪沙,菩萨蛮,水调歌头

For each form (and each 词牌 of ``--tunes``, as ``--form ci --tune NAME``) it writes ``n``
poems one at a time (seeds 0..n-1, default sampling settings) with the bundled model (or
``--model``) twice, interleaved seed by seed: **plain** (``--no-refine``: the form and the
repetition bans, the most likely of 4 candidates) and **refined** (repetition and couplet
rules, candidates ranked by ``poetry.rank``, with the backward model ``--backward`` when
given). It reports, beside the same numbers for the real poems of the form in the model's
held-out split (and, with ``--before``, for poems an older version wrote):

- the share passing shape, rhyme and tones under ``check_poem`` (strict for the regulated
  forms; ci are checked loose, by their tune's rhyme sets);
- repeated characters: the share of characters equal to an earlier one of the same poem;
  the share of poems using one character four or more times; stutters per 100 poems
  (doubled characters real poems do not double at that place, ``repetition.py``);
- for 律诗, the share whose two middle couplets are both parallel (``parallel.py``);
- the share of lines found verbatim among the lines of the corpus's training split (real
  held-out poems share some with other poems too), and the share of distinct lines;
- "judge" scores: the mean log-probability per token under the forward model and under
  the backward model, for the written poems and for the real held-out ones;
- the median and 90th-percentile wall time per poem (models already loaded);
- with ``--batched N``, poems per second when N poems are asked for at once (one batch of
  N x 4 candidate rows), for each variant.

Prints Markdown tables; ``--json FILE`` also saves the numbers and ``--plot FILE`` draws
the repetition and couplet numbers of each variant beside the real poems'.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from lstmkit.bundled import BUNDLED, bundled_model_dir, load_backward
from lstmkit.data.corpus import load_poems, split_of
from lstmkit.poetry.check import check_poem, split_lines
from lstmkit.poetry.forms import FORMS, get_form
from lstmkit.poetry.parallel import default_table as parallel_table
from lstmkit.poetry.rank import BackwardScorer, mean_logprobs
from lstmkit.poetry.repetition import default_table as repetition_table
from lstmkit.poetry.repetition import repeat_stats
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.sample import Generator, SampleConfig, prepare_for_writing
from lstmkit.tasks.lm import load_model


def lines_of(text: str) -> list[str]:
    return [line.text for line in split_lines(text)]


def describe(texts: list[str], form, tones: str, corpus_lines: set[str], generator: Generator,
             backward: BackwardScorer | None) -> dict:
    verdicts = [check_poem(t, form=form, tones=tones) for t in texts]
    lines = [line for t in texts for line in lines_of(t)]
    stats = [repeat_stats(t) for t in texts]
    table = repetition_table()
    found = {
        "poems": len(texts),
        "shape": sum(not (v.broken("shape") or v.broken("punctuation")) for v in verdicts) / len(texts),
        "rhyme": sum(not v.broken("rhyme") for v in verdicts) / len(texts),
        "tones": sum(not v.broken("tone") for v in verdicts) / len(texts),
        "all_rules": sum(v.ok for v in verdicts) / len(texts),
        "repeated": sum(s.repeats for s in stats) / sum(s.chars for s in stats),
        "four_times": sum(s.most_uses >= 4 for s in stats) / len(texts),
        "stutters_per_100": 100 * sum(len(table.stutters(lines_of(t), form)) for t in texts) / len(texts),
        "verbatim_lines": sum(line in corpus_lines for line in lines) / len(lines),
        "distinct_lines": len(set(lines)) / len(lines),
        "forward": statistics.mean(mean_logprobs(generator.model, generator.vocab, texts)),
        "backward": statistics.mean(backward.mean_logprobs(texts)) if backward else None,
    }
    if form.regulated and form.lines == 8:
        both = [parallel_table().parallel_lines(lines_of(t)) == [True, True] for t in texts]
        found["parallel"] = sum(both) / len(texts)
    return found


def held_out(poems, form, tones: str, val_fraction: float, tune: str | None,
             split: str = "val") -> list[str]:
    """The real poems of ``form`` (a tune's ci) in the model's held-out split (or ``split``)
    that keep it."""
    chosen = []
    for poem in poems:
        if split_of(poem.text, val_fraction) != split or (tune and poem.title != tune):
            continue
        lengths = [len(x) for x in lines_of(poem.text)]
        if lengths == list(form.lengths) and check_poem(poem.text, form=form, tones=tones).ok:
            chosen.append(poem.text)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="training corpus: copies and real poems")
    parser.add_argument("--model", default="tang",
                        help="model folder, or the name of a bundled model (tang, songci)")
    parser.add_argument("--backward", default=None,
                        help="backward model folder for the refined ranking (default: none)")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--tunes", default="", help="词牌 to write ci to, comma-separated")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "int8"],
                        help="weights to write with, as lstmkit poem --precision")
    parser.add_argument("--batched", type=int, default=0,
                        help="also time N poems of each form written in one call")
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--plot", dest="plot_path", help="PNG of the craft numbers")
    parser.add_argument("--numpy", action="store_true",
                        help="write as a one-off lstmkit poem does: fp32 in NumPy, without torch "
                             "(sample_numpy); the judge stays the torch model in --precision")
    parser.add_argument("--before", help="JSON of poems an older version wrote with the same "
                                         "seeds (bench/write_texts.py), shown as 'before'")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    name_given = args.model
    if args.model in BUNDLED:
        args.model = str(bundled_model_dir(args.model))
    loaded = load_model(args.model)
    precision = prepare_for_writing(loaded.model, args.precision)
    judge = Generator(loaded.model, loaded.vocab)  # scores the poems: the torch model
    generator = judge
    if args.numpy:
        from lstmkit.sample_numpy import NumpyGenerator, load_numpy

        generator, precision = NumpyGenerator.for_model(load_numpy(args.model)), "fp32 NumPy"
    backward = load_backward(args.backward)
    val_fraction = loaded.text_config.val_fraction
    poems, _ = load_poems(args.corpus)
    corpus_lines = {line for poem in poems if split_of(poem.text, val_fraction) == "train"
                    for line in lines_of(poem.text)}  # what the model was trained on
    before = json.loads(Path(args.before).read_text(encoding="utf-8")) if args.before else None
    results = {}
    jobs = [(name, FORMS[name], "strict", None) for name in args.forms.split(",") if name]
    jobs += [(tune, get_form("ci", tune), "loose", tune) for tune in args.tunes.split(",") if tune]
    variants = {"plain": (PoemRequest(refine=False), None), "refined": (PoemRequest(), backward)}
    for name, form, tones, tune in jobs:
        requests = {v: (PoemRequest(form, tones, refine=r.refine), b) for v, (r, b) in variants.items()}
        times = {v: [] for v in variants}
        texts = {v: [] for v in variants}
        for request, scorer in requests.values():  # warm-up
            write_poems(generator, request, 1, SampleConfig(seed=10_000), scorer)
        for seed in range(args.n):
            for variant, (request, scorer) in requests.items():
                started = time.perf_counter()
                poem = write_poems(generator, request, 1, SampleConfig(seed=seed), scorer)[0]
                times[variant].append(time.perf_counter() - started)
                texts[variant].append(poem.text)
        results[name] = {}
        for variant in variants:
            results[name][variant] = {
                **describe(texts[variant], form, tones, corpus_lines, judge, backward),
                "median_ms": 1000 * statistics.median(times[variant]),
                "p90_ms": 1000 * statistics.quantiles(times[variant], n=10)[-1],
                "examples": texts[variant][:3],
            }
            if args.batched:
                request, scorer = requests[variant]
                started = time.perf_counter()
                batch = write_poems(generator, request, args.batched, SampleConfig(seed=20_000),
                                    scorer)
                seconds = time.perf_counter() - started
                assert all(request.check(p.text).ok for p in batch)
                results[name][variant]["batched_poems_per_s"] = len(batch) / seconds
        if before and name in before:
            old = before[name]
            results[name] = {"before": {
                **describe(old["texts"], form, tones, corpus_lines, judge, backward),
                "median_ms": statistics.median(old["ms"]),
                "p90_ms": statistics.quantiles(old["ms"], n=10)[-1]}, **results[name]}
        real = held_out(poems, form, tones, val_fraction, tune)
        if real:
            results[name]["real"] = describe(real, form, tones, corpus_lines, judge, backward)
        print(f"{name}: done ({len(real)} real held-out poems of the form)", file=sys.stderr)
    print(f"model {name_given}, backward {args.backward or 'default'}, {args.n} poems per form "
          f"and variant, {precision} writing, torch threads {torch.get_num_threads()}\n")
    print_tables(results)
    if args.batched:
        print(f"\nwritten {args.batched} at once, poems/s: " + ", ".join(
            f"{name} {r['plain']['batched_poems_per_s']:.1f} plain, "
            f"{r['refined']['batched_poems_per_s']:.1f} refined" for name, r in results.items()))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, ensure_ascii=False, indent=2), "utf-8")
    if args.plot_path:
        plot(results, args.plot_path)


def plot(results: dict, path: str) -> None:
    """Grouped bars per form (named in ASCII: wujue, qijue, ..., a tune in pinyin): plain,
    refined and real, for each craft number."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pypinyin import lazy_pinyin

    panels = [("repeated", "repeated characters (%)", 100), ("four_times",
              "poems with one character 4+ times (%)", 100),
              ("stutters_per_100", "stutters per 100 poems", 1),
              ("parallel", "lüshi with both middle couplets parallel (%)", 100)]
    forms = list(results)
    variants = [(v, c) for v, c in (("before", "#777777"), ("plain", "#bbbbbb"),
                                    ("refined", "#3a7dc9"), ("real", "#e08a2c"))
                if any(v in rows for rows in results.values())]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    for ax, (key, title, scale) in zip(axes, panels):
        shown = [f for f in forms if any(key in results[f].get(v, {}) for v, _ in variants)]
        for k, (variant, colour) in enumerate(variants):
            values = [scale * (results[f].get(variant, {}).get(key) or 0) for f in shown]
            width = 0.8 / len(variants)
            ax.bar([i + (k - (len(variants) - 1) / 2) * width for i in range(len(shown))],
                   values, width, label=variant, color=colour)
        # ASCII names: the fonts of a plain machine hold no Han characters
        ax.set_xticks(range(len(shown)), [FORMS[f].alias if f in FORMS else "".join(lazy_pinyin(f))
                                          for f in shown])
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def print_tables(results: dict) -> None:
    print("| form | poems | all rules | repeated chars | one char 4+ times | stutters /100 "
          "| both middle couplets parallel | verbatim lines | distinct lines | judge fwd | "
          "judge bwd | median ms | p90 ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rows in results.items():
        for variant, r in rows.items():
            timing = (f"{r['median_ms']:.0f} | {r['p90_ms']:.0f}" if "median_ms" in r else "- | -")
            back = "-" if r["backward"] is None else f"{r['backward']:.3f}"
            print(f"| {name} | {variant} ({r['poems']}) | {_pct(r['all_rules'])} | "
                  f"{_pct(r['repeated'])} | {_pct(r['four_times'])} | {r['stutters_per_100']:.1f} | "
                  f"{_pct(r.get('parallel'))} | {_pct(r['verbatim_lines'])} | "
                  f"{_pct(r['distinct_lines'])} | {r['forward']:.3f} | {back} | {timing} |")


if __name__ == "__main__":
    main()
