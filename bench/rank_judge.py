"""How well candidate rankings tell a real poem from a spliced one, on held-out poems.

    python bench/rank_judge.py --corpus ../shared/data/tang.jsonl --backward runs/tang-r2l/best

For each real poem of a form (绝句 and 律诗) in the model's held-out split, a spliced twin
replaces one line (chosen at random, seeded) with the line at the same place of another
held-out poem of the form: each line is still a real line, but the poem no longer holds
together. A ranking "wins" a pair when it scores the real poem above its twin. Reported per
form: the share of pairs won by the forward model alone (what plain writing ranks by), the
backward model alone, and the whole score ``poetry.rank`` chooses candidates by
(``(1 - w) forward + w backward`` plus its couplet and repeat terms, for each backward share
``w`` of ``--weights``; default: the one ``poetry.rank.BACKWARD`` ships), with the number of
pairs. Higher is a better judge of
coherence; 50% is chance. ``--split train`` judges training poems instead (the models have
seen them; use it to choose ``w``, then report the held-out split).
"""

from __future__ import annotations

import argparse
import random

import torch
from poetry_quality import held_out, lines_of  # bench/ is on the path when run as a script

from lstmkit.bundled import BUNDLED, bundled_model_dir, load_backward
from lstmkit.data.corpus import load_poems
from lstmkit.poetry.check import split_lines
from lstmkit.poetry.forms import FORMS
from lstmkit.poetry.parallel import default_table as parallel_table
from lstmkit.poetry.rank import BACKWARD, PARALLEL, REPEAT, mean_logprobs, repeats_over
from lstmkit.sample import prepare_for_writing
from lstmkit.tasks.lm import load_model


def splice(poems: list[list[str]], marks: list[str], seed: int) -> list[tuple[str, str]]:
    """(real, spliced) texts: one line of each poem from another poem of the list."""
    rng = random.Random(seed)
    pairs = []
    for k, lines in enumerate(poems):
        other = poems[rng.choice([j for j in range(len(poems)) if j != k])]
        i = rng.randrange(len(lines))
        twin = list(lines)
        twin[i] = other[i]
        if twin == lines:
            continue
        pairs.append(("".join(a + m for a, m in zip(lines, marks)),
                      "".join(a + m for a, m in zip(twin, marks))))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--model", default="tang")
    parser.add_argument("--backward", required=True, help="backward model folder")
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=["val", "train"], default="val")
    parser.add_argument("--weights", default=str(BACKWARD),
                        help="backward shares to try, comma-separated")
    parser.add_argument("--limit", type=int, default=0, help="at most this many poems per form")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = bundled_model_dir(args.model) if args.model in BUNDLED else args.model
    loaded = load_model(folder)
    prepare_for_writing(loaded.model, "auto")
    loaded.model.eval()
    backward = load_backward(args.backward)
    val_fraction = loaded.text_config.val_fraction
    poems, _ = load_poems(args.corpus)
    print(f"model {args.model}, backward {args.backward or 'default'}, seed {args.seed}\n")
    weights = [float(w) for w in args.weights.split(",")]
    print(f"{args.split} split\n")
    print("| form | pairs | forward alone | backward alone | "
          + " | ".join(f"poetry.rank, w = {w:g}" for w in weights) + " |")
    print("| --- | ---: | ---: | ---: |" + " ---: |" * len(weights))
    for name in args.forms.split(","):
        form = FORMS[name]
        held = [lines_of(text) for text in
                held_out(poems, form, "strict", val_fraction, None, args.split)]
        pairs = splice(held[:args.limit] if args.limit else held, form.marks, args.seed)
        real = [a for a, _ in pairs]
        twin = [b for _, b in pairs]
        fwd = [mean_logprobs(loaded.model, loaded.vocab, texts) for texts in (real, twin)]
        bwd = [backward.mean_logprobs(texts) for texts in (real, twin)]
        craft = [[craft_score(t, form) for t in texts] for texts in (real, twin)]
        mixed = [won([[(1 - w) * f + w * b + c for f, b, c in zip(*side)]
                      for side in zip(fwd, bwd, craft)]) for w in weights]
        print(f"| {name} | {len(pairs)} | {won(fwd):.1%} | {won(bwd):.1%} | "
              + " | ".join(f"{m:.1%}" for m in mixed) + " |")


def won(scores: list[list[float]]) -> float:
    """The share of pairs whose real poem (first list) scores above its twin (second)."""
    real, twin = scores
    return sum(r > t for r, t in zip(real, twin)) / len(real)


def craft_score(text: str, form) -> float:
    """``poetry.rank``'s couplet and repeat terms for ``text``."""
    couplets = parallel_table().couplets([x.text for x in split_lines(text)]) if form.lines == 8 else []
    mean = sum(c.score for c in couplets) / len(couplets) if couplets else 0.0
    return PARALLEL * mean - REPEAT * repeats_over(text, form)


if __name__ == "__main__":
    main()
