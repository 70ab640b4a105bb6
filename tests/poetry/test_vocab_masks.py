"""The vocabulary's masks: Han characters, tones and rhyme groups as the form reads them."""

from lstmkit.data.vocab import Vocab
from lstmkit.poetry.prosody import default_prosody
from lstmkit.poetry.vocab_masks import vocab_masks


def test_a_character_of_unknown_tone_is_never_placed_where_a_tone_is_held():
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", *"蝴嫦簷另东"])
    masks = vocab_masks(vocab, default_prosody())
    for char in "蝴嫦":
        index = vocab.index[char]
        assert masks.han[index] and not masks.known[index]
        assert not any(bool(m[index]) for m in masks.group.values())
    assert masks.tone["平"][vocab.index["簷"]] and masks.group["十四盐"][vocab.index["簷"]]
    assert masks.tone["仄"][vocab.index["另"]] and not masks.tone["平"][vocab.index["另"]]


def test_a_supplemented_character_is_used_by_the_masks():
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", *"啼迹东"])
    masks = vocab_masks(vocab, default_prosody())
    ti, ji = vocab.index["啼"], vocab.index["迹"]  # 啼 八齐 and 迹 十一陌, from the 廣韻
    assert masks.known[ti] and masks.tone["平"][ti] and masks.group["八齐"][ti]
    assert masks.tone["仄"][ji] and not masks.tone["平"][ji]
