import pytest
import torch

from lstmkit.errors import LstmkitError
from lstmkit.poetry.forms import FORMS
from lstmkit.poetry.rank import PARALLEL, REPEAT, BackwardScorer, Candidate, rank, repeats_over
from lstmkit.sample import Sample
from lstmkit.tasks.lm import load_model, train

from conftest import FIXTURES, TINY_MODEL, tiny_config

JINGYESI = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


@pytest.fixture(scope="module")
def backward_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r2l"
    train(FIXTURES / "poems.jsonl", out, TINY_MODEL, **tiny_config(epochs=30, reverse=True))
    return out / "last"  # best/ is chosen on unseen poems; last/ has learned the fixture


def test_a_backward_model_learns_poems_read_right_to_left(backward_dir):
    scorer = BackwardScorer(load_model(backward_dir))
    reversed_once = JINGYESI[::-1]
    # It was trained on the poems reversed: the poem itself reads well backwards, its
    # reversal (the poem backwards read backwards, i.e. forwards) does not.
    real, flipped = scorer.mean_logprobs([JINGYESI, reversed_once])
    assert real > flipped + 0.5


def test_the_backward_score_is_the_mean_log_probability_of_the_reversed_poem(backward_dir):
    loaded = load_model(backward_dir)
    vocab = loaded.vocab
    text = "白日依山尽，黄河入海流。"
    ids = [vocab.bos_id, *vocab.encode(list(text[::-1])), vocab.eos_id]
    with torch.no_grad():
        logits, _ = loaded.model(torch.tensor([ids[:-1]]))
    expected = torch.log_softmax(logits[0], -1).gather(1, torch.tensor(ids[1:])[:, None]).mean()
    # scored together with a longer poem: padding must not change it
    got = BackwardScorer(loaded).mean_logprobs([text, JINGYESI])[0]
    assert got == pytest.approx(float(expected), abs=1e-5)


def test_a_forward_model_is_refused_as_backward(tiny_model_dir):
    with pytest.raises(LstmkitError, match=r"left to right.*--reverse"):
        BackwardScorer(load_model(tiny_model_dir), "runs/tiny")


def test_rank_prefers_parallel_couplets_and_fewer_repeats():
    lv = FORMS["五律"]
    parallel = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
    loose = "国破山河在，城春草木深。感时花溅泪，不知何处心。烽火连三月，今朝又见金。白头搔更短，浑欲不胜簪。"
    same = dict(finished=True, logprob=-100.0, tokens=41)
    ranked = rank([Sample(loose, **same), Sample(parallel, **same)], lv)
    assert [c.sample.text for c in ranked] == [parallel, loose]
    assert ranked[1].repeats > 0 == ranked[0].repeats  # the loose one reuses 不
    assert ranked[0].score - ranked[1].score == pytest.approx(
        PARALLEL * (ranked[0].couplets - ranked[1].couplets) + REPEAT * ranked[1].repeats)
    assert repeats_over("春风春雨春花春", FORMS["七绝"]) > repeats_over(parallel, lv) == 0


def test_with_a_backward_model_both_directions_count():
    forward_only = Candidate(Sample("a", True, -10.0, 5), -2.0, None, 0.0, 0.0)
    both = Candidate(Sample("b", True, -10.0, 5), -2.0, -4.0, 0.0, 0.0)
    assert forward_only.score == -2.0 and both.score == -3.0
