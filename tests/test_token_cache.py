import os

import pytest
import torch

from lstmkit.data import token_cache
from lstmkit.data.corpus import load_text, split_text
from lstmkit.data.text import TextConfig, prepare_text, scoring_batches
from lstmkit.data.token_cache import TokenFile, cached_stream
from lstmkit.data.vocab import Vocab
from lstmkit.errors import CorpusError, LstmkitError

from conftest import FIXTURES

TEXTS = {
    "plain": "白日依山尽，\n黄河入海流。\nTo be, or not to be.\n" * 40,
    "windows": "\ufeffline one\r\nline two\r\n月落乌啼\rnext\r\n" * 30,
    "no newline": "x" * 3000,
    "astral": "𠀀𠀁ab\n" * 200,
}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(token_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "tokens"


def in_memory(path, fraction, vocab=None):
    text, _ = load_text(path)
    train, val = split_text(text, fraction)
    vocab = vocab or Vocab.build([list(train)], min_freq=1)
    return vocab, vocab.encode(list(train)), vocab.encode(list(val))


@pytest.mark.parametrize("name", TEXTS)
@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.3])
@pytest.mark.parametrize("chunk", [7, 1000, 4_000_000])
def test_the_cached_stream_equals_the_in_memory_one(tmp_path, cache, monkeypatch, name, fraction, chunk):
    path = tmp_path / "corpus.txt"
    path.write_bytes(TEXTS[name].encode("utf-8"))
    monkeypatch.setattr(token_cache, "CHUNK_CHARS", chunk)
    vocab, train, val = in_memory(path, fraction)
    cached = cached_stream(path, fraction)
    assert cached.vocab.tokens == vocab.tokens
    assert cached.train.tolist() == train and cached.val.tolist() == val
    again = cached_stream(path, fraction)  # from the cache
    assert again.train.tolist() == train and isinstance(again.train, TokenFile)
    smaller = Vocab(vocab.tokens[:max(4, len(vocab) - 3)])  # a model's vocabulary, lacking some
    given = cached_stream(path, fraction, vocab=smaller)
    assert given.train.tolist() == in_memory(path, fraction, smaller)[1]


def test_training_data_read_from_the_cache_equals_reading_in_memory(cache, monkeypatch):
    config = TextConfig(mode="stream", seq_len=16, batch_size=4, min_freq=1)
    cached = prepare_text(FIXTURES / "novel.txt", config)
    monkeypatch.setattr("lstmkit.data.text._cached", lambda *args: None)
    memory = prepare_text(FIXTURES / "novel.txt", config)
    assert not isinstance(cached.train.stream, torch.Tensor)
    assert cached.vocab.tokens == memory.vocab.tokens
    assert cached.train.fingerprint() == memory.train.fingerprint()  # a resumed run sees no change
    for part in ("train", "val"):
        a, b = getattr(cached, part), getattr(memory, part)
        assert a.plan(1) == b.plan(1)
        for key in a.plan(1)[:3]:
            x, y = a.collate(key), b.collate(key)
            assert torch.equal(x.inputs, y.inputs) and torch.equal(x.targets, y.targets)
            assert x.chars == pytest.approx(y.chars)
    assert cached.report.read == memory.report.read


def test_scoring_reads_the_cache_too(cache, monkeypatch):
    config = TextConfig(mode="stream", seq_len=16, batch_size=4, min_freq=1)
    vocab = prepare_text(FIXTURES / "novel.txt", config).vocab
    results = {}
    for use_cache in (True, False):
        if not use_cache:
            monkeypatch.setattr("lstmkit.data.text._cached", lambda *args: None)
        for split in ("all", "val", "train"):
            batches, info = scoring_batches(FIXTURES / "novel.txt", vocab, config, prepare_text.__defaults__[0],
                                            split)
            results[use_cache, split] = (batches.fingerprint(), info["data"], info["unknown"])
    for split in ("all", "val", "train"):
        assert results[True, split] == results[False, split]


def test_an_incomplete_entry_is_written_again(tmp_path, cache):
    path = tmp_path / "corpus.txt"
    path.write_text("春眠不觉晓\n" * 100, encoding="utf-8")
    first = cached_stream(path, 0.1)
    expected, meta, tokens = first.train.tolist(), first.path, first.vocab.tokens
    del first  # its map; a rewritten entry replaces the files, so maps in use stay valid
    data = meta.with_name(meta.stem + ".train")
    data.write_bytes(data.read_bytes()[:-2])  # a torn file
    assert cached_stream(path, 0.1).train.tolist() == expected
    meta.write_text("{not json", encoding="utf-8")
    assert cached_stream(path, 0.1).train.tolist() == expected
    path.write_text("夜来风雨声\n" * 100, encoding="utf-8")  # a changed corpus is a new entry
    assert cached_stream(path, 0.1).vocab.tokens != tokens
    assert not [f for f in os.listdir(cache) if ".tmp-" in f]


def test_empty_and_unwritable(tmp_path, monkeypatch):
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n", encoding="utf-8")
    monkeypatch.setenv(token_cache.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(CorpusError, match="is empty"):
        cached_stream(empty, 0.1)
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv(token_cache.CACHE_ENV, str(blocker))
    text = tmp_path / "t.txt"
    text.write_text("abc\n" * 50, encoding="utf-8")
    with pytest.raises(LstmkitError, match="cannot write the token cache"):
        cached_stream(text, 0.1)


def test_what_a_killed_writer_left_is_removed(tmp_path, cache):
    path = tmp_path / "corpus.txt"
    path.write_text("春眠不觉晓\n" * 100, encoding="utf-8")
    cache.mkdir(parents=True)
    dead = cache / ".abc.train.tmp-999999999"  # no such process
    mine = cache / f".abc.train.tmp-{os.getpid()}"  # a live writer's: kept
    dead.write_bytes(b"x")
    mine.write_bytes(b"x")
    cached_stream(path, 0.1)
    assert not dead.exists() and mine.exists()
