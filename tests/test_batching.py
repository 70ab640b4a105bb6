import itertools

import torch

from lstmkit.data.batching import PoemBatches, StreamBatches, encode_poems
from lstmkit.data.vocab import Vocab


def _batches(lengths, batch_size=4, shuffle=True, seed=0, pool=8):
    texts = ["山" * n for n in lengths]
    vocab = Vocab.build(texts)
    return PoemBatches(encode_poems(texts, vocab), batch_size, vocab.pad_id, shuffle, seed, pool)


def test_collate_shifts_targets_and_pads():
    vocab = Vocab.build(["明月光", "山"])
    batches = PoemBatches(encode_poems(["明月光", "山"], vocab), 2, vocab.pad_id, shuffle=False)
    batch = batches.collate([0, 1])
    m, y, g, s = (vocab.index[c] for c in "明月光山")
    # The short row reads its <eos> (2) too, but its target there is padding: no loss.
    assert batch.inputs.tolist() == [[1, m, y, g], [1, s, 2, 0]]
    assert batch.targets.tolist() == [[m, y, g, 2], [s, 2, 0, 0]]
    assert batch.tokens == 6  # 4 + 2 real targets; pads are not counted


def test_every_poem_once_per_epoch_and_plan_is_reproducible():
    batches = _batches(range(1, 101))
    plan = batches.plan(3)
    assert sorted(i for b in plan for i in b) == list(range(100))
    assert plan == _batches(range(1, 101)).plan(3)
    assert plan != batches.plan(4)
    assert len(plan) == len(batches) == 25


def test_bucketing_keeps_padding_small():
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(10, 200, (2000,), generator=gen).tolist()
    bucketed = _batches(lengths, batch_size=16, pool=64)
    assert bucketed.padding_fraction(bucketed.plan(0)) < 0.05
    # The same poems batched in a random order waste far more.
    random_plan = torch.randperm(2000, generator=gen).view(-1, 16).tolist()
    assert bucketed.padding_fraction(random_plan) > 0.3


def test_unshuffled_plan_is_sorted_by_length():
    batches = _batches([5, 1, 3, 2, 4], batch_size=2, shuffle=False)
    assert batches.plan() == [[1, 3], [2, 4], [0]]
    assert batches.tokens == 5 + 1 + 3 + 2 + 4 + 5  # characters plus one <eos> each


def test_stream_windows_continue_each_stripe():
    stream = torch.arange(100)
    batches = StreamBatches(stream, batch_size=3, seq_len=4, shuffle=False)
    plan = batches.plan(0)
    assert len(plan) == batches.steps() == 33 // 4  # stripes of (100 - 1) // 3 = 33 tokens
    windows = [batches.collate(key) for key in plan]
    assert [w.carry for w in windows] == [False] + [True] * (len(windows) - 1)
    for w in windows:
        assert w.inputs.shape == w.targets.shape == (3, 4)
        assert torch.equal(w.targets, w.inputs + 1)  # the next token of the same stripe
        assert w.tokens == 12 and w.chars == 12
    for before, after in itertools.pairwise(windows):  # row r goes on where row r stopped
        assert torch.equal(after.inputs[:, 0], before.targets[:, -1])
    assert windows[0].inputs[:, 0].tolist() == [0, 33, 66]


def test_stream_epochs_shift_the_windows_and_shards_split_the_stripes():
    batches = StreamBatches(torch.arange(1000), batch_size=2, seq_len=8, shuffle=True, seed=3)
    offsets = {batches.plan(epoch)[0][0] for epoch in range(1, 10)}
    assert batches.plan(0)[0][0] == 0 and len(offsets) > 1 and max(offsets) < 8
    assert batches.plan(4) == batches.plan(4)  # a pure function of (seed, epoch)
    rank0 = batches.collate(batches.plan(0, 0, 2)[0]).inputs[:, 0].tolist()
    rank1 = batches.collate(batches.plan(0, 1, 2)[0]).inputs[:, 0].tolist()
    assert rank0 + rank1 == [0, 249, 498, 747]  # four stripes, two per process
    assert len(batches.plan(0, 0, 2)) == len(batches.plan(0, 1, 2)) == batches.steps(2)


def test_array_batches_cover_every_example_once_per_epoch_and_shard():
    from lstmkit.data.batching import ArrayBatches

    inputs = torch.arange(10 * 4 * 2, dtype=torch.float).reshape(10, 4, 2)
    targets = torch.arange(10)
    lengths = torch.tensor([4, 1, 2, 3, 4, 4, 2, 1, 3, 4])
    batches = ArrayBatches(inputs, targets, 3, lengths=lengths, seed=1)
    assert len(batches) == 4 and batches.steps(2) == 2 and batches.tokens == int(lengths.sum())
    first, second = batches.plan(0), batches.plan(1)
    assert sorted(i for b in first for i in b) == list(range(10)) and first != second
    assert batches.plan(0) == first  # the same plan on a resumed run
    assert batches.plan(0, 1, 2) == first[1::2]
    batch = batches.collate(first[0])
    assert batch.inputs.shape[1] == int(lengths[first[0]].max())  # cut to the longest
    assert torch.equal(batch.targets, targets[first[0]])
    assert batch.tokens == int(lengths[first[0]].sum()) and not batch.carry
    fixed = ArrayBatches(inputs, targets, 4, shuffle=False)
    assert fixed.plan(3) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert fixed.collate([0, 1]).tokens == 8 and fixed.collate([0]).lengths is None


def test_epoch_batches_pass_over_small_data_several_times():
    from lstmkit.data.batching import ArrayBatches, EpochBatches

    data = ArrayBatches(torch.zeros(10, 3, 1), torch.arange(10), 4, seed=2)
    epochs = EpochBatches(data, passes=3)
    assert len(epochs) == 8 and epochs.steps() == 8 and epochs.steps(3) == 2
    plan = epochs.plan(0)
    assert [len(b) for b in plan] == [4] * 7 + [2]  # one stream: only the last batch is short
    flat = [i for b in plan for i in b]
    assert sorted(flat) == sorted(list(range(10)) * 3)  # every example three times
    assert flat[:10] != flat[10:20]  # each pass in its own order
    assert epochs.plan(1) != plan and epochs.plan(0) == plan
    assert epochs.plan(0, 1, 3) == plan[1::3]
    assert epochs.tokens == 3 * data.tokens and epochs.fingerprint() == data.fingerprint()
    assert EpochBatches.at_least(data, 8).passes == 3  # 3 batches a pass: 3 passes make 8+
    assert EpochBatches.at_least(data, 2).passes == 1
