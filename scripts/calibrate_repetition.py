"""Choose each form's repetition penalty so refined poems repeat as real ones do.

    OMP_NUM_THREADS=1 python scripts/calibrate_repetition.py [--model tang] [-n 60] \
        [--forms 五绝,七绝,五律,七律] [--grid 0.25,0.5,0.75,1,1.5,2,3]

One constant cannot serve every form: the model repeats more in a 七律 than in a 五绝 left
to itself (11% against 5.7% of the characters), while real poems repeat about as much in
both (2.0% and 1.7%), so the cost that brings one form down to real poems pushes another
far below. For each form this writes ``n`` refined poems per grid value (seeds 10000 and
up, kept apart from the benchmark's seeds 0..199) with the bundled model, and keeps in
``repetition.json`` (``forms[form]["penalty"]``) the value whose share of repeated
characters is nearest, by ratio, the form's ``repeat_share`` in the training split (the
target ``build_repetition.py`` recorded). Forms not calibrated (ci, free poems) keep
``repetition.PENALTY``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from lstmkit.bundled import load_for_writing  # noqa: E402
from lstmkit.poetry.forms import FORMS  # noqa: E402
from lstmkit.poetry.repetition import TABLE, default_table, repeat_stats  # noqa: E402
from lstmkit.poetry.request import PoemRequest, poem_generator, write_poems  # noqa: E402
from lstmkit.sample import SampleConfig  # noqa: E402

SEED = 10_000


def share_at(generator, form: str, penalty: float, n: int) -> float:
    """The repeated-character share of ``n`` refined poems of ``form`` at ``penalty``."""
    default_table().forms[form]["penalty"] = penalty  # what RepetitionRule reads by default
    stats = []
    for seed in range(SEED, SEED + n):
        poem = write_poems(generator, PoemRequest.make(form=form), 1, SampleConfig(seed=seed))[0]
        stats.append(repeat_stats(poem.text))
    return sum(s.repeats for s in stats) / sum(s.chars for s in stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tang")
    parser.add_argument("-n", type=int, default=60)
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--grid", default="0.25,0.5,0.75,1,1.5,2,3")
    args = parser.parse_args()
    grid = [float(x) for x in args.grid.split(",")]
    generator = poem_generator(load_for_writing(args.model), args.model)
    data = json.loads(TABLE.read_text(encoding="utf-8"))
    for form in args.forms.split(","):
        target = data["forms"][form]["repeat_share"]
        shares = {p: share_at(generator, form, p, args.n) for p in grid}
        best = min(grid, key=lambda p: abs(math.log(max(shares[p], 1e-4) / target)))
        print(f"{form}: target {target:.2%}; " + ", ".join(f"{p:g}: {s:.2%}" for p, s in shares.items())
              + f" -> {best:g}", flush=True)
        data["forms"][form]["penalty"] = best
    TABLE.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
