import json
import logging
import sys

import pytest

from lstmkit.data import segment
from lstmkit.data.segment import detokenize, join_function, tokenize
from lstmkit.errors import LstmkitError

CHINESE = "却说曹操引兵追赶。\n话说天下大势"
ENGLISH = "ROMEO: I'll go, don't stay!\nJULIET:"
MIXED = '我爱Python编程。Hello, world!\n第二行（注）He said "hi there" (twice).'


def long_text(text: str) -> str:
    """``text`` repeated on lines until it is long enough to be cached."""
    return (text + "\n") * (segment._CACHE_MIN_CHARS // len(text) + 1)


@pytest.fixture(autouse=True)
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv(segment.CACHE_ENV, str(root))
    return root


@pytest.fixture
def segmented(monkeypatch) -> list[str]:
    """The texts handed to the chunk segmenter, in order."""
    calls = []
    real = segment._segment_chunk

    def counting(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(segment, "_segment_chunk", counting)
    return calls


def cache_files(root):
    return sorted((root / "segment").glob("*.json"))


def test_char_level_is_one_token_per_character():
    text = "床前 明月光\n疑是"
    assert tokenize(text) == list(text)
    assert join_function("char")(tokenize(text, "char")) == text


def test_unknown_level_and_bad_workers_are_clear_errors():
    with pytest.raises(LstmkitError, match="unknown tokenisation level 'bpe': use one of char, word"):
        tokenize("x", "bpe")
    with pytest.raises(LstmkitError, match="unknown tokenisation level"):
        join_function("bpe")
    with pytest.raises(LstmkitError, match="workers must be at least 1"):
        tokenize("x", "word", workers=0)


def test_chinese_is_segmented_into_words_and_joined_back():
    tokens = tokenize(CHINESE, "word")
    assert {"却说", "追赶", "天下", "大势"} <= set(tokens)
    assert tokens.count("\n") == 1
    assert detokenize(tokens) == CHINESE
    assert join_function("word") is detokenize


def test_english_words_keep_inner_apostrophes():
    tokens = tokenize(ENGLISH, "word")
    assert tokens == ["ROMEO", ":", "I'll", "go", ",", "don't", "stay", "!", "\n", "JULIET", ":"]
    assert detokenize(tokens) == ENGLISH
    assert tokenize("o'er  the\tsea", "word") == ["o'er", "the", "sea"]


def test_mixed_text_round_trips():
    tokens = tokenize(MIXED, "word")
    assert {"Python", "编程", "（", "\"", "twice"} <= set(tokens)
    assert detokenize(tokens) == MIXED


def test_detokenize_attaches_contractions_and_drops_special_tokens():
    tokens = ["<bos>", "They", "do", "n't", "know", "it", "'s", "<unk>", "here", "(", "yet", ")",
              ".", "<eos>"]
    assert detokenize(tokens) == "They don't know it's here (yet)."
    assert detokenize(["well", "-", "known", "\n", "<unk>", "山", "，", "水"]) == "well-known\n山，水"


def test_missing_jieba_is_a_clear_error_for_word_level_only(monkeypatch):
    monkeypatch.setitem(sys.modules, "jieba", None)  # import jieba now raises ImportError
    with pytest.raises(LstmkitError, match="pip install jieba"):
        tokenize(CHINESE, "word")
    assert tokenize(CHINESE) == list(CHINESE)


def test_cache_is_reused_and_keyed_by_the_text(cache_root, segmented):
    text = long_text(MIXED)
    first = tokenize(text, "word")
    assert len(segmented) == 1
    assert len(cache_files(cache_root)) == 1

    assert tokenize(text, "word") == first
    assert len(segmented) == 1  # read from the cache

    changed = text.replace("编程", "写诗", 1)
    assert tokenize(changed, "word")[:3] == ["我", "爱", "Python"]
    assert len(segmented) == 2
    assert len(cache_files(cache_root)) == 2

    assert tokenize(text, "word", cache=False) == first
    assert len(segmented) == 3


def test_short_texts_are_not_cached(cache_root, segmented):
    tokenize(ENGLISH, "word")
    tokenize(ENGLISH, "word")
    assert len(segmented) == 2
    assert cache_files(cache_root) == []


@pytest.mark.parametrize("junk", [b"[\"ROMEO\", ", b"\xff\xfe", b'{"tokens": []}'])
def test_corrupt_cache_file_is_ignored_and_rewritten(cache_root, segmented, caplog, junk):
    text = long_text(ENGLISH)
    expected = tokenize(text, "word")
    [path] = cache_files(cache_root)
    path.write_bytes(junk)
    with caplog.at_level(logging.WARNING, logger=segment.__name__):
        assert tokenize(text, "word") == expected
    assert "ignoring unreadable segmentation cache" in caplog.text
    assert len(segmented) == 2
    assert json.loads(path.read_text(encoding="utf-8")) == expected
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_unwritable_cache_only_warns(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv(segment.CACHE_ENV, str(blocker))
    text = long_text(ENGLISH)
    with caplog.at_level(logging.WARNING, logger=segment.__name__):
        tokens = tokenize(text, "word")
    assert tokens[:3] == ["ROMEO", ":", "I'll"]
    assert "could not write the segmentation cache" in caplog.text


def test_chunks_end_at_line_boundaries():
    text = long_text(MIXED)
    chunks = segment._chunks(text, 100)
    assert len(chunks) > 10
    assert "".join(chunks) == text
    assert all(chunk.endswith("\n") for chunk in chunks)
    assert segment._chunks("", 100) == []


def test_parallel_segmentation_equals_serial(monkeypatch):
    pools = []

    class RecordingPool(segment.ProcessPoolExecutor):
        def __init__(self, workers):
            pools.append(workers)
            super().__init__(workers)

    monkeypatch.setattr(segment, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(segment, "_CHUNK_CHARS", 200)
    text = (CHINESE + "\n" + ENGLISH + "\n" + MIXED + "\n") * 20

    serial = tokenize(text, "word", cache=False, workers=1)
    assert pools == []
    parallel = tokenize(text, "word", cache=False, workers=2)
    assert pools == [2]
    assert parallel == serial == segment._segment_chunk(text)


def test_jieba_is_kept_quiet():
    tokenize(CHINESE, "word")
    assert logging.getLogger("jieba").getEffectiveLevel() >= logging.WARNING
