"""Does a title-, theme- and poet-conditioned model write to its title and like its poet?

    python bench/conditioning.py --corpus ../shared/data/tang.jsonl [--model tang] [-n 200]
                                 [--json FILE]

**Themes.** For each theme of ``THEMES`` (keyword sets chosen before any poem was read:
seasons, partings, the frontier, wine, the moon...), ``n`` 七绝 written with ``--theme``
(all constraints and rules on) against ``n`` written with no title. Measured: the share of
poems holding at least one keyword character, and the share holding a keyword character
or one of its collocates: the ``COLLOCATES`` body characters with the highest pointwise
mutual information with the keyword (per poem, seen in at least ``MIN_PAIR`` training
poems), learned from the training split.

**Poets.** A bag of character 1- and 2-grams (tf-idf, linear SVM; scikit-learn) is
trained to tell apart the model's poets (anonymous authors left out) on their training
poems, and tested on their held-out poems: its top-1 accuracy on real poems, and per poet
its recall. Then, for the ``--poets`` most prolific poets, ``n`` whole poems written with
``--poet`` and ``n`` written without: the share the classifier gives to the requested poet,
against chance (1 / poets) and against its recall on that poet's real held-out poems.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from lstmkit.bundled import load_for_writing
from lstmkit.data.condition import Conditioning
from lstmkit.data.corpus import load_poems, split_poems
from lstmkit.poetry.request import PoemRequest, poem_generator, write_poems
from lstmkit.poetry.theme import split_keywords, theme_title
from lstmkit.sample import SampleConfig

THEMES = ["月 秋", "送别", "春 花", "雪 梅", "边塞 征", "酒", "山 寺", "江 舟"]
COLLOCATES = 10
MIN_PAIR = 20
ANONYMOUS = {"不详", "无名氏", "佚名"}


def collocates(bodies: list[str], keyword: str) -> list[str]:
    """The body characters most associated (PMI over poems) with poems holding ``keyword``."""
    sets = [set(b) for b in bodies]
    holding = [s for s, b in zip(sets, bodies) if keyword in b]
    if not holding:
        return []
    df = Counter(c for s in sets for c in s)
    joint = Counter(c for s in holding for c in s)
    n, k = len(sets), len(holding)
    scores = {c: math.log((joint[c] / k) / (df[c] / n)) for c in joint
              if joint[c] >= MIN_PAIR and c not in keyword and c not in "，。？！；：、"}
    return sorted(scores, key=lambda c: (-scores[c], c))[:COLLOCATES]


def write(generator, n: int, seed: int, form: str | None, guidance: float, title: str = "",
          poet: str = "") -> list[str]:
    request = PoemRequest.make(form, title=title, poet=poet)
    config = SampleConfig(seed=seed, max_len=200, guidance=guidance)
    return [s.text for s in write_poems(generator, request, n, config)]


def theme_study(generator, bodies: list[str], n: int, guidance: float) -> dict:
    plain = write(generator, n, 1, "七绝", guidance)
    rows = []
    for theme in THEMES:
        words = split_keywords(theme)
        title, how = theme_title(words, generator.vocab)
        chars = {c for w in words for c in w}
        near = chars | {c for w in words for c in collocates(bodies, w)}
        poems = write(generator, n, 2, "七绝", guidance, title=title)

        def share(texts, wanted):
            return sum(any(c in t for c in wanted) for t in texts) / len(texts)

        rows.append({"theme": theme, "title": title, "how": how, "collocates": "".join(sorted(near - chars)),
                     "keywords": share(poems, chars), "keywords_plain": share(plain, chars),
                     "near": share(poems, near), "near_plain": share(plain, near),
                     "example": poems[0]})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return {"themes": rows, "n": n}


def poet_study(generator, train, val, n: int, top: int, guidance: float) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    poets = [p for p in generator.conditioning.poets if p not in ANONYMOUS]
    known = set(poets)
    tr = [(p.text, p.author) for p in train if p.author in known]
    te = [(p.text, p.author) for p in val if p.author in known]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    clf = LinearSVC(C=0.5).fit(vec.fit_transform([t for t, _ in tr]), [a for _, a in tr])
    guess = clf.predict(vec.transform([t for t, _ in te]))
    accuracy = sum(g == a for g, (_, a) in zip(guess, te)) / len(te)
    print(f"classifier: {len(poets)} poets, {len(tr)} training poems, top-1 {accuracy:.3f} "
          f"on {len(te)} held-out poems", flush=True)
    plain = write(generator, n, 5, None, guidance)
    plain_guess = list(clf.predict(vec.transform(plain)))
    rows = []
    for poet in poets[:top]:
        real = [g for g, (_, a) in zip(guess, te) if a == poet]
        poems = write(generator, n, 6, None, guidance, poet=poet)
        written = list(clf.predict(vec.transform(poems)))
        rows.append({"poet": poet, "conditioned": written.count(poet) / n,
                     "unconditioned": plain_guess.count(poet) / n,
                     "real_recall": real.count(poet) / len(real) if real else None,
                     "real_poems": len(real), "example": poems[0]})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return {"classifier": {"poets": len(poets), "train_poems": len(tr), "heldout_poems": len(te),
                           "top1": accuracy, "chance": 1 / len(poets)},
            "poets": rows, "n": n}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="../shared/data/tang.jsonl")
    parser.add_argument("--model", default="tang")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--poets", type=int, default=8, help="how many poets to write as")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--guidance", type=float, default=1.0, help="how hard titles and poets steer")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_for_writing(args.model)
    generator = poem_generator(loaded, args.model)
    if not Conditioning(loaded.vocab).active:
        raise SystemExit(f"model '{args.model}' was trained without titles and poets")
    poems, _ = load_poems(args.corpus, loaded.clean)
    train, val = split_poems(poems, loaded.text_config.val_fraction)
    started = time.perf_counter()
    result = {"model": args.model, "corpus": args.corpus, "guidance": args.guidance,
              **theme_study(generator, [p.text for p in train], args.n, args.guidance),
              **poet_study(generator, train, val, args.n, args.poets, args.guidance)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
