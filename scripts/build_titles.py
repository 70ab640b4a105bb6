"""Build the package's table of real poem titles (``poetry/titles.json``) for ``--theme``.

    python scripts/build_titles.py ../shared/data/tang.jsonl

From the training split of the corpus (the 5% hash split the bundled model was trained
with, so held-out poems stay unseen): every title as the conditioned model reads it
(``data.condition.clean_title``) of at most ``MAX_CHARS`` characters, with how many poems
carry it. Stored as one newline-joined string and a list of counts, most common first.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "lstmkit" / "poetry" / "titles.json"
sys.path.insert(0, str(ROOT / "src"))

from lstmkit.data.condition import clean_title  # noqa: E402
from lstmkit.data.corpus import load_poems, split_poems  # noqa: E402

MAX_CHARS = 8  # longer titles are occasions and prefaces, not themes
VAL_FRACTION = 0.05


def main(corpus: str) -> None:
    poems, _ = load_poems(corpus)
    train, _ = split_poems(poems, VAL_FRACTION)
    counts = Counter(clean_title(p.title) for p in train)
    counts.pop("", None)
    titles = sorted((t for t in counts if len(t) <= MAX_CHARS), key=lambda t: (-counts[t], t))
    table = {"source": Path(corpus).name, "split": f"training ({1 - VAL_FRACTION:.0%} by text hash)",
             "titles": "\n".join(titles), "counts": [counts[t] for t in titles]}
    OUT.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(titles)} titles, {OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tang.jsonl")
