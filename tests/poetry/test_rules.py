import numpy as np

from lstmkit.data.vocab import Vocab
from lstmkit.poetry.rules import BiasBatch, RulesHook

NEG_INF = float("-inf")


def test_a_batch_adds_sparse_and_dense_biases_row_by_row_and_leaves_bans_to_the_mask():
    batch = BiasBatch()
    sparse = {1: -0.5, 2: NEG_INF, 3: 0.0}
    dense = np.array([0.25, 0.0, 1.0, 0.0], dtype=np.float32)
    assert batch.bans(sparse) == {2} and batch.bans(dense) == set()
    batch.add(0, sparse)
    batch.add(0, dense)
    batch.add(2, {1: -1.0})
    batch.add(2, {1: -1.0})  # two rules on one character add up
    total = np.zeros((3, 4), dtype=np.float32)
    out = batch.apply(total)
    assert out is total and out.dtype == np.float32  # added into the array given
    assert out.tolist() == [[0.25, -0.5, 1.0, 0.0], [0.0] * 4, [0.0, -2.0, 0.0, 0.0]]
    assert BiasBatch().apply(np.ones((2, 4), dtype=np.float32)).tolist() == [[1.0] * 4] * 2


class _BanAfter:
    """Bans the last character written, and costs 天 a little."""

    def __init__(self, vocab):
        self.vocab = vocab

    def bias(self, lines, text, length):
        costs = {self.vocab.index["天"]: -1.0}
        if text:
            costs[self.vocab.index[text[-1]]] = NEG_INF
        return costs


def test_the_hook_for_free_poems_reads_lines_and_applies_bans():
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", *"明月天地"])
    hook = RulesHook(vocab, [_BanAfter(vocab)], start="明")
    ids = vocab.index
    out = hook([[], [ids["月"], ids["，"]]])  # (2, V): the bias added to the logits
    assert out[0, ids["明"]] == NEG_INF and out[0, ids["天"]] == -1.0  # the start's 明
    assert out[1, ids["明"]] == 0.0 and out[1, ids["月"]] == 0.0  # a new line: nothing banned


def test_the_hook_for_free_poems_gives_none_when_no_rule_speaks():
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", *"明月天地"])
    assert RulesHook(vocab, [], start="明")([[], []]) is None
