"""Write poems for ``poetry_quality.py --before``: the same seeds, with whatever lstmkit is on
the path (e.g. an older checkout), into a JSON file of texts and times per form.

    PYTHONPATH=/path/to/old/src python bench/write_texts.py -n 200 --out before.json

Uses only what every version has: ``load_model``, ``Generator`` and
``PoemRequest``/``write_poems`` with their defaults, one poem per seed as
``poetry_quality.py`` writes them.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from lstmkit.poetry.forms import FORMS
from lstmkit.poetry.request import PoemRequest, write_poems
from lstmkit.sample import Generator, SampleConfig
from lstmkit.tasks.lm import load_model


def ready(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in the precision its version writes with by default (``auto``)."""
    try:  # versions with int8 writing
        from lstmkit.sample import prepare_for_writing
    except ImportError:
        from lstmkit.sample import writing_dtype
        return model.to(writing_dtype("auto", torch.device("cpu")))
    prepare_for_writing(model, "auto")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model folder")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_model(args.model)
    generator = Generator(ready(loaded.model), loaded.vocab)
    found = {}
    for name in args.forms.split(","):
        request = PoemRequest(FORMS[name])
        write_poems(generator, request, 1, SampleConfig(seed=10_000))  # warm-up
        texts, ms = [], []
        for seed in range(args.n):
            started = time.perf_counter()
            texts.append(write_poems(generator, request, 1, SampleConfig(seed=seed))[0].text)
            ms.append(1000 * (time.perf_counter() - started))
        found[name] = {"texts": texts, "ms": ms}
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(found, handle, ensure_ascii=False)


if __name__ == "__main__":
    main()
