import json

import pytest

from lstmkit.data.vocab import SPECIALS, Vocab
from lstmkit.errors import CheckpointError, VocabError


def test_specials_come_first_then_frequency_then_codepoint():
    vocab = Vocab.build(["山山水", "水月山"], min_freq=1)
    assert vocab.tokens[:4] == list(SPECIALS)
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    assert vocab.tokens[4:] == ["山", "水", "月"]  # 3, 2, 1 times
    tie = Vocab.build(["乙甲"], min_freq=1)
    assert tie.tokens[4:] == sorted("乙甲")  # ties by the character itself


def test_same_texts_give_same_ids_in_any_order():
    texts = ["床前明月光", "疑是地上霜", "举头望明月"]
    assert Vocab.build(texts).tokens == Vocab.build(list(reversed(texts))).tokens


def test_min_freq_sends_rare_characters_to_unk():
    vocab = Vocab.build(["明月明月光"], min_freq=2)
    assert "光" not in vocab and "明" in vocab
    assert vocab.encode("光明") == [vocab.unk_id, vocab.index["明"]]
    with pytest.raises(VocabError, match="min_freq"):
        Vocab.build(["x"], min_freq=0)


def test_round_trip(tmp_path):
    vocab = Vocab.build(["床前明月光，疑是地上霜。"])
    text = "明月光，地上霜。"
    assert vocab.decode(vocab.encode(text)) == text
    ids = [vocab.bos_id, *vocab.encode(text), vocab.eos_id, vocab.pad_id]
    assert vocab.decode(ids) == text
    assert vocab.decode(ids, keep_special=True) == "<bos>" + text + "<eos><pad>"
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert "床" in path.read_text("utf-8")  # plain JSON, not escaped
    assert Vocab.load(path).tokens == vocab.tokens


def test_strict_encode_names_unknown_characters():
    vocab = Vocab.build(["床前明月光"])
    assert vocab.unknown("明月照高楼") == ["照", "高", "楼"]
    with pytest.raises(VocabError, match="3 character\\(s\\) not in the model's vocabulary: 照 高 楼"):
        vocab.encode("明月照高楼", strict=True)


def test_corrupt_vocab_file(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text("{nope", "utf-8")
    with pytest.raises(CheckpointError, match="cannot read vocabulary"):
        Vocab.load(path)
    path.write_text(json.dumps({"tokens": ["a", "b"]}), "utf-8")
    with pytest.raises(CheckpointError, match="must start with"):
        Vocab.load(path)
    path.write_text(json.dumps({"tokens": 3}), "utf-8")
    with pytest.raises(CheckpointError, match="no 'tokens' list"):
        Vocab.load(path)
