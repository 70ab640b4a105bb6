"""From a corpus to a language model's batches: read, clean, tokenize, split, build the
vocabulary, and cut training and validation batches.

``TextConfig`` is what the data needs (the loop's settings live in ``core.loop.LoopConfig``).
Poem mode gives each poem its own sequence (``PoemBatches``); stream mode reads one long
text in windows with the state carried (``StreamBatches``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..errors import LstmkitError
from .batching import PoemBatches, StreamBatches, count_id, encode_poems
from .condition import clean_title, extend_vocab, top_poets
from .condition_batches import ConditionedBatches, encode_variant, encode_variants
from .corpus import (
    CleanConfig,
    CorpusReport,
    Poem,
    detect_format,
    load_poems,
    load_text,
    resolve_corpus,
    split_of,
    split_poems,
    split_text,
)
from .segment import tokenize
from .text_config import GIVEN, MODES, TextConfig  # noqa: F401
from .token_cache import CachedStream, cached_stream
from .vocab import Vocab


@dataclass
class TextData:
    train: PoemBatches | StreamBatches
    val: PoemBatches | StreamBatches | None
    vocab: Vocab
    report: CorpusReport
    config: TextConfig  # with the mode resolved: poems or stream


def resolve_mode(mode: str, corpus: str | Path, fmt: str = "auto") -> str:
    """``auto`` is stream mode for a plain text file, poem mode for everything else."""
    if mode != "auto":
        return mode
    if fmt == "auto":
        fmt = detect_format(resolve_corpus(corpus))
    return "stream" if fmt == "text" else "poems"


def prepare_text(corpus: str | Path, config: TextConfig, clean: CleanConfig = CleanConfig(),
                 fmt: str = "auto", vocab: Vocab | None = None, seed: int = 0,
                 world: int = 1) -> TextData:
    """Read, clean, tokenize and split the corpus; build the vocabulary from the training
    split (unless one is given). ``world`` processes will share the training batches,
    shuffled by ``seed``."""
    config = replace(config, mode=resolve_mode(config.mode, corpus, fmt))
    if config.mode == "stream":
        return _prepare_stream(corpus, config, clean, fmt, vocab, seed, world)
    poems, report = load_poems(corpus, clean, fmt)
    train_poems, val_poems = split_poems(poems, config.val_fraction)
    if not train_poems:
        raise LstmkitError(f"corpus '{corpus}': every poem fell into the validation split; "
                           "lower --val-fraction or use a larger corpus")
    train_texts, val_texts = [p.text for p in train_poems], [p.text for p in val_poems]
    train_tokens = poem_tokens(train_texts, config.level, config.reverse)
    val_tokens = poem_tokens(val_texts, config.level, config.reverse)
    if vocab is None:
        vocab = Vocab.build(train_tokens, min_freq=config.min_freq)
        if config.condition:
            vocab = extend_vocab(vocab, top_poets([p.author for p in train_poems], config.poets))
    chars = [len(t) for t in train_texts]
    if config.condition:
        variants = encode_variants(train_tokens, title_tokens(train_poems, config.level),
                                   [p.author for p in train_poems], vocab, config.poets > 0)
        train = ConditionedBatches(variants, config.condition, config.batch_size, vocab,
                                   seed=seed, chars=chars)
    else:
        train = PoemBatches(encode_poems(train_tokens, vocab), config.batch_size, vocab.pad_id,
                            shuffle=True, seed=seed, chars=chars)
    val = (scoring_poems(val_poems, val_tokens, vocab, config) if val_poems else None)
    if train.steps(world) == 0:
        raise LstmkitError(f"{len(train)} training batches cannot be shared by {world} "
                           "processes; lower --batch-size")
    return TextData(train, val, vocab, report, config)


def _prepare_stream(corpus, config: TextConfig, clean: CleanConfig, fmt: str,
                    vocab: Vocab | None, seed: int, world: int) -> TextData:
    found = _cached(corpus, config, clean, fmt, vocab, config.val_fraction)
    if found is not None:  # read from disk as needed: memory does not grow with the corpus
        cached, report = found
        stream, val_stream, vocab = cached.train, cached.val, cached.vocab
        chars_per_token = val_chars = 1.0  # characters are the tokens
    else:
        text, report = load_text(corpus, clean, fmt)
        train_text, val_text = split_text(text, config.val_fraction)
        train_tokens = tokenize(train_text, config.level)
        vocab = vocab or Vocab.build([train_tokens], min_freq=config.min_freq)
        stream = torch.tensor(vocab.encode(train_tokens), dtype=torch.long)
        chars_per_token = len(train_text) / len(train_tokens)
        val_tokens = tokenize(val_text, config.level) if val_text else []
        val_stream = torch.tensor(vocab.encode(val_tokens), dtype=torch.long)
        val_chars = len(val_text) / max(len(val_tokens), 1)
    train = StreamBatches(stream, config.batch_size, config.seq_len, shuffle=True,
                          seed=seed, chars_per_token=chars_per_token)
    if train.steps(world) == 0:
        raise LstmkitError(
            f"corpus '{corpus}' has {len(stream)} training tokens: too few for "
            f"{world * config.batch_size} stripes of {config.seq_len}-token windows; "
            "lower --batch-size or --seq-len")
    val = scoring_stream(val_stream, val_chars, config, world) if len(val_stream) >= 2 else None
    return TextData(train, val, vocab, report, config)


def _cached(corpus, config: TextConfig, clean: CleanConfig, fmt: str, vocab: Vocab | None,
            val_fraction: float) -> tuple[CachedStream, CorpusReport] | None:
    """The token cache's streams (``data.token_cache``) and a corpus report, for a plain
    text read character by character as it is; None where the text must be read whole
    (word level, --t2s, poems joined into a stream)."""
    path = resolve_corpus(corpus)
    if fmt == "auto" and not path.is_dir():
        fmt = detect_format(path)
    if config.level != "char" or clean.t2s or fmt not in ("text", "lines"):
        return None
    cached = cached_stream(path, val_fraction, config.min_freq, vocab)
    return cached, CorpusReport(path=str(path), format=fmt, read=cached.lines, kept=cached.lines)


def scoring_stream(stream, chars_per_token: float, config: TextConfig,
                   world: int = 1) -> StreamBatches:
    """Batches that score a held-out token ``stream``: ``batch_size`` stripes in ``seq_len``
    windows, fewer stripes (and shorter windows if need be) for a short text."""
    seq_len = min(config.seq_len, len(stream) - 1)
    stripes = max(1, min(config.batch_size, (len(stream) - 1) // (seq_len * world)))
    return StreamBatches(stream, stripes, seq_len, shuffle=False, chars_per_token=chars_per_token)


def scoring_poems(poems: list[Poem], tokens: list, vocab: Vocab, config: TextConfig,
                  given: str = "none") -> PoemBatches:
    """Batches that score ``poems`` (their ``tokens``) in a fixed order. A conditioned
    model is given each poem's ``title``, ``poet``, ``both`` or nothing (``none``, as in
    training's validation), and scored on the bodies alone."""
    chars = [len(p.text) for p in poems]
    if given not in GIVEN:
        raise LstmkitError(f"given must be one of {', '.join(GIVEN)} (got '{given}')")
    if not config.condition:
        if given != "none":
            raise LstmkitError(f"this model was trained without titles and poets: it cannot "
                               f"be given the {given}")
        return PoemBatches(encode_poems(tokens, vocab), config.batch_size, vocab.pad_id,
                           shuffle=False, chars=chars)
    rows, prefix = encode_variant(tokens, title_tokens(poems, config.level), [p.author for p in poems],
                                  vocab, use_title=given in ("title", "both"), use_poet=given in ("poet", "both"))
    return PoemBatches(rows, config.batch_size, vocab.pad_id, shuffle=False, chars=chars, prefix=prefix)


def title_tokens(poems: list[Poem], level: str) -> list:
    """Each poem's title as the model reads it (``condition.clean_title``), tokenized."""
    return poem_tokens([clean_title(p.title) for p in poems], level)


def scoring_batches(corpus: str | Path, vocab: Vocab, config: TextConfig, clean: CleanConfig,
                    split: str = "all", fmt: str = "auto", given: str = "none"
                    ) -> tuple[PoemBatches | StreamBatches, dict]:
    """Batches of ``corpus`` read, cleaned and tokenized as a model's training data was
    (``config`` with its mode resolved); ``split`` is all, or the model's val or train part;
    ``given``: what a conditioned model is told of each poem (see ``scoring_poems``).

    Returns the batches and a dict: ``report`` (the corpus summary), ``data`` (what is
    scored), ``unknown`` (tokens outside the vocabulary) and ``unit`` (character or word).
    """
    if split not in ("all", "val", "train"):
        raise LstmkitError(f"split must be all, val or train (got '{split}')")
    if config.mode == "stream":
        if given != "none":
            raise LstmkitError("a stream model reads no titles or poets")
        fraction = 0.0 if split == "all" else config.val_fraction
        found = _cached(corpus, config, clean, fmt, vocab, fraction)
        if found is not None:
            cached, report = found
            stream = cached.val if split == "val" else cached.train
            chars_per_token = 1.0
        else:
            text, report = load_text(corpus, clean, fmt)
            if split != "all":
                head, tail = split_text(text, config.val_fraction)
                text = tail if split == "val" else head
            tokens = tokenize(text, config.level)
            stream = torch.tensor(vocab.encode(tokens), dtype=torch.long)
            chars_per_token = len(text) / max(len(tokens), 1)
        if not len(stream):
            raise LstmkitError(f"corpus '{corpus}' has no text in the model's {split} split")
        if len(stream) < 2:
            raise LstmkitError(f"corpus '{corpus}': too little text to score ({len(stream)} token)")
        batches = scoring_stream(stream, chars_per_token, config)
        data, info = f"{len(stream)} tokens", {}
        unknown = count_id(stream, vocab.unk_id)
    else:
        poems, report = load_poems(corpus, clean, fmt)
        if split != "all":
            poems = [p for p in poems if split_of(p.text, config.val_fraction) == split]
            if not poems:
                raise LstmkitError(f"corpus '{corpus}' has no poems in the model's {split} split")
        texts = [p.text for p in poems]
        tokens = poem_tokens(texts, config.level, config.reverse)
        unknown = sum(1 for seq in tokens for t in seq if t not in vocab)
        batches = scoring_poems(poems, tokens, vocab, config, given)
        data, info = f"{len(texts)} poems", {"poems": len(texts)}
    return batches, {**info, "report": report.summary(), "data": data, "unknown": unknown,
                     "unit": "character" if config.level == "char" else "word"}


def poem_tokens(texts: list[str], level: str, reverse: bool = False) -> list:
    """Each poem's tokens: its characters, or its words from one (cached) segmentation;
    last token first when ``reverse``."""
    if level == "char" or not texts:
        return [t[::-1] for t in texts] if reverse else texts
    flat = tokenize("\n".join(texts), level)
    cuts = [i for i, tok in enumerate(flat) if tok == "\n"]
    poems = [flat[a + 1:b] for a, b in zip([-1, *cuts], [*cuts, len(flat)])]
    return [p[::-1] for p in poems] if reverse else poems
