"""Build the package's table of parallel couplets (对仗), ``poetry/parallel.json``.

    python scripts/build_parallel.py ../shared/data/tang.jsonl

From the training split of the Tang poems (the 5% hash split the bundled model was trained
with; the held-out poems stay unseen, so the report's real share is honest):

1. Character classes. Every couplet of every poem of regulated shape gives pairs of
   characters at mirrored positions (line 1 position i against line 2 position i). Poets
   pair like with like (numbers, colours, directions, nature nouns, verbs of motion), so a
   character's partners say what class it is: the pair counts are turned into positive
   PMI, reduced by SVD and clustered (k-means) into ``CLASSES`` classes. Characters seen in
   fewer than ``MIN_PAIRS`` pairs share one class of the rare.
2. Pairings. The middle couplets (颔联 lines 3-4, 颈联 lines 5-6) of the training 律诗
   that keep their form (``check_poem`` strict) give the pair counts of parallel writing,
   per character pair (kept when seen ``MIN_PAIR_COUNT`` times) and per class pair.
3. The threshold: the couplet score (see ``lstmkit.poetry.parallel``) that best tells the
   middle couplets of 律诗 from their first and last couplets, which need not be parallel
   (balanced accuracy). It is chosen on a tenth of the training 律诗 scored by a table built
   from the other nine tenths, so that a couplet is never judged by counts that include its
   own pairs; the shipped table is then built from all training 律诗.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "lstmkit" / "poetry" / "parallel.json"
sys.path.insert(0, str(ROOT / "src"))

from lstmkit.data.corpus import load_poems, split_of, split_poems  # noqa: E402
from lstmkit.poetry.check import check_poem, split_lines  # noqa: E402
from lstmkit.poetry.parallel import MIDDLE, ParallelTable  # noqa: E402

CLASSES = 64
MIN_PAIRS = 20
MIN_PAIR_COUNT = 2
DIMENSIONS = 48


def regulated_lines(poems) -> list[list[str]]:
    """The lines of each poem of 4 or 8 lines of 5 or 7 characters."""
    found = []
    for poem in poems:
        lines = [line.text for line in split_lines(poem.text)]
        if len(lines) in (4, 8) and len({len(x) for x in lines}) == 1 and len(lines[0]) in (5, 7):
            found.append(lines)
    return found


def mirrored(a: str, b: str):
    return zip(a, b)


def classes_of(poems: list[list[str]]) -> tuple[dict[str, int], int]:
    pairs = Counter()
    for lines in poems:
        for k in range(0, len(lines), 2):
            for x, y in mirrored(lines[k], lines[k + 1]):
                pairs[x, y] += 1
                pairs[y, x] += 1
    seen = Counter()
    for (x, _), n in pairs.items():
        seen[x] += n
    chars = sorted(c for c, n in seen.items() if n >= MIN_PAIRS)
    index = {c: i for i, c in enumerate(chars)}
    rows, cols, vals = [], [], []
    total = sum(pairs.values())
    for (x, y), n in pairs.items():
        if x in index and y in index:
            pmi = math.log(n * total / (seen[x] * seen[y]))
            if pmi > 0:
                rows.append(index[x])
                cols.append(index[y])
                vals.append(pmi)
    matrix = coo_matrix((vals, (rows, cols)), shape=(len(chars), len(chars))).tocsr()
    vectors = TruncatedSVD(DIMENSIONS, random_state=0).fit_transform(matrix)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    labels = KMeans(CLASSES, n_init=4, random_state=0).fit_predict(vectors)
    return {c: int(label) for c, label in zip(chars, labels)}, CLASSES


def regulated_lv(shaped: list[list[str]]) -> list[list[str]]:
    """The eight-line poems that keep a regulated form (strict check)."""
    return [lines for lines in shaped if len(lines) == 8
            and check_poem("".join(a + m for a, m in zip(lines, "，。" * 4))).ok]


def table_data(lv: list[list[str]], cls: dict[str, int], rare: int) -> dict:
    pairs, chars = Counter(), Counter()
    for lines in lv:
        for first in MIDDLE:
            for x, y in mirrored(lines[first], lines[first + 1]):
                pairs[x, y] += 1
                pairs[y, x] += 1
                chars[x] += 1
                chars[y] += 1
    class_pairs = np.zeros((rare + 1, rare + 1))
    for (x, y), n in pairs.items():
        class_pairs[cls.get(x, rare), cls.get(y, rare)] += n
    return {
        "source": "training split (95%) of tang.jsonl; built by scripts/build_parallel.py",
        "regulated_poems": len(lv),
        "chars": "".join(chars),
        "counts": [chars[c] for c in chars],
        "classes": [cls.get(c, rare) for c in chars],
        "class_pairs": class_pairs.astype(int).tolist(),
        "pairs": {f"{x}{y}": n for (x, y), n in sorted(pairs.items()) if n >= MIN_PAIR_COUNT},
        "threshold": 0.0,
    }


def build(source: Path) -> tuple[dict, dict]:
    poems, _ = load_poems(source)
    train, val = split_poems(poems, 0.05)
    shaped = regulated_lines(train)
    cls, rare = classes_of(shaped)
    lv = regulated_lv(shaped)
    fit = [x for x in lv if split_of("".join(x), 0.1) == "train"]
    tune = [x for x in lv if split_of("".join(x), 0.1) == "val"]
    table = ParallelTable(table_data(fit, cls, rare))
    middle = np.array([table.couplet_score(x[f], x[f + 1]) for x in tune for f in MIDDLE])
    outer = np.array([table.couplet_score(x[f], x[f + 1]) for x in tune for f in (0, 6)])
    best = max(sorted(set(np.round(middle, 2))),
               key=lambda t: np.mean(middle >= t) + np.mean(outer < t))
    data = table_data(lv, cls, rare)
    data["threshold"] = float(best)
    held = regulated_lv(regulated_lines(val))
    table = ParallelTable(data)
    report = {
        "training 律诗": len(lv), "threshold": best,
        "tuning 律诗 (scored by the other 9/10)": len(tune),
        "their middle couplets passing": float(np.mean(middle >= best)),
        "their first/last couplets passing": float(np.mean(outer >= best)),
        "held-out 律诗": len(held),
        "held-out 律诗 with both middle couplets passing": float(np.mean(
            [table.parallel_lines(lines) == [True, True] for lines in held])),
    }
    return data, report


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    data, report = build(Path(sys.argv[1]))
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n",
                   encoding="utf-8")
    for key, value in report.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)")
