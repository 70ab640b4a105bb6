import pytest

from lstmkit.data.text import TextConfig, poem_tokens, prepare_text
from lstmkit.errors import LstmkitError

from conftest import FIXTURES


def test_reverse_reads_each_poem_right_to_left():
    assert poem_tokens(["白日依山尽，"], "char", reverse=True) == ["，尽山依日白"]
    forward = prepare_text(FIXTURES / "poems.jsonl", TextConfig(min_freq=1, val_fraction=0.0))
    backward = prepare_text(FIXTURES / "poems.jsonl",
                            TextConfig(min_freq=1, val_fraction=0.0, reverse=True))
    assert forward.vocab.tokens == backward.vocab.tokens  # the same characters, same split
    for ahead, behind in zip(forward.train.sequences, backward.train.sequences):
        # [bos, poem..., eos] both ways, the poem's characters in opposite orders
        assert behind[0] == ahead[0] and behind[-1] == ahead[-1]
        assert behind[1:-1].tolist() == ahead[1:-1].flip(0).tolist()


def test_reverse_needs_poems():
    with pytest.raises(LstmkitError, match="reverse"):
        TextConfig(mode="stream", reverse=True)
    with pytest.raises(LstmkitError, match="it needs poems, not a stream"):
        prepare_text(FIXTURES / "novel.txt", TextConfig(reverse=True))
