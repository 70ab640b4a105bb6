"""The sampled softmax for training: exact when it draws every other token, an unbiased
normaliser when it draws a few, and a run trained with it is evaluated with the full one."""

import json
import math

import pytest
import torch

from lstmkit.data.batching import Batch
from lstmkit.errors import LstmkitError
from lstmkit.model import LanguageModel, ModelConfig
from lstmkit.tasks.lm import batch_loss, load_model, train
from lstmkit.tasks.lm_sampled import candidates, sampled_loss

from conftest import FIXTURES, TINY_MODEL, tiny_config

PAD = 0


def model_and_batch(vocab=40, seed=0):
    torch.manual_seed(seed)
    model = LanguageModel(ModelConfig(vocab_size=vocab, embedding_size=12, hidden_size=16,
                                      layers=2, dropout=0.0))
    inputs = torch.randint(4, vocab, (3, 7))
    targets = torch.randint(4, 20, (3, 7))  # only some of the vocabulary are targets
    targets[2, 5:] = PAD
    inputs[2, 6:] = PAD
    return model, Batch(inputs, targets, int((targets != PAD).sum()), 0.0)


def test_every_other_token_drawn_is_the_full_cross_entropy_and_its_gradient():
    model, batch = model_and_batch()
    full, _ = batch_loss(model, batch, PAD, None)
    full.backward()
    want = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    sampled, _ = sampled_loss(model, model.head, batch, PAD, None, negatives=1000)
    sampled.backward()
    assert sampled.item() == pytest.approx(full.item(), rel=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, want[name], atol=1e-6), name


def test_candidates_keep_every_target_and_draw_distinct_others():
    targets = torch.tensor([5, 9, 5, 30, 9])
    torch.manual_seed(1)
    ids, offsets, index = candidates(targets, 50, negatives=10)
    assert ids[:3].tolist() == [5, 9, 30] and len(set(ids.tolist())) == 13
    assert torch.equal(ids[index], targets)
    assert offsets[:3].tolist() == [0, 0, 0]
    assert offsets[3:].allclose(torch.full((10,), math.log(47 / 10)))


def test_kept_ids_are_always_scored_exactly_and_never_drawn():
    targets = torch.tensor([5, 9, 5, 30, 9])
    torch.manual_seed(3)
    ids, offsets, index = candidates(targets, 50, negatives=10, keep=8)
    exact = ids[offsets == 0].tolist()
    assert exact == [0, 1, 2, 3, 4, 5, 6, 7, 9, 30]  # the kept ids and the other targets
    assert torch.equal(ids[index], targets)
    drawn = ids[offsets != 0]
    assert len(drawn) == 10 and drawn.min() >= 8 and not set(drawn.tolist()) & {9, 30}
    assert offsets[offsets != 0].allclose(torch.full((10,), math.log(40 / 10)))


def test_keeping_the_whole_vocabulary_is_the_full_cross_entropy():
    model, batch = model_and_batch()
    full, _ = batch_loss(model, batch, PAD, None)
    sampled, _ = sampled_loss(model, model.head, batch, PAD, None, negatives=3, keep=40)
    assert sampled.item() == pytest.approx(full.item(), rel=1e-6)


def test_a_few_negatives_estimate_the_normaliser_without_bias():
    """Averaged over draws, exp(-loss) of the sampled softmax's normaliser matches the
    full one: the drawn tokens stand in, by their weight, for the ones left out."""
    model, batch = model_and_batch(vocab=60)
    with torch.no_grad():
        features, _ = model(batch.inputs, head=False)
        keep = batch.targets != PAD
        logits = model.head(features[keep])  # (N, V)
        full = torch.logsumexp(logits, dim=1).exp()
        torch.manual_seed(2)
        total = torch.zeros_like(full)
        draws = 3000
        for _ in range(draws):
            ids, offsets, _ = candidates(batch.targets[keep], 60, negatives=5)
            total += (logits[:, ids] + offsets).exp().sum(dim=1)
    assert torch.allclose(total / draws, full, rtol=0.02)


def test_negative_setting_is_refused():
    with pytest.raises(LstmkitError, match="sampled_softmax"):
        ModelConfig(vocab_size=10, sampled_softmax=-1)
    with pytest.raises(LstmkitError, match="sampled_keep"):
        ModelConfig(vocab_size=10, sampled_softmax=4, sampled_keep=-1)
    with pytest.raises(LstmkitError, match="set sampled_softmax too"):
        ModelConfig(vocab_size=10, sampled_keep=8)


def test_a_run_trained_with_it_is_scored_with_the_full_softmax(tmp_path):
    out = tmp_path / "run"
    summary = train(FIXTURES / "poems.jsonl", out, {**TINY_MODEL, "sampled_softmax": 8},
                    **tiny_config(epochs=2))
    assert math.isfinite(summary["best_val_ppl"])
    loaded = load_model(out / "best")
    assert loaded.model.config.sampled_softmax == 8
    saved = json.loads((out / "best" / "config.json").read_text())
    assert saved["model"]["sampled_softmax"] == 8
    # the run's validation perplexity is the full softmax's: lstmkit eval gives it again
    from lstmkit.data.text import prepare_text
    from lstmkit.tasks.lm import evaluate

    data = prepare_text(FIXTURES / "poems.jsonl", loaded.text_config, loaded.clean, "auto",
                        loaded.vocab, 0, 1)
    result = evaluate(loaded.model, data.val, torch.device("cpu"))
    assert result.perplexity == pytest.approx(saved["val_ppl"], rel=1e-5)
