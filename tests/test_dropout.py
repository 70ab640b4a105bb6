"""The CPU dropout: a Bernoulli mask of the asked probability, scaled to keep the mean,
reproducible from the seed; and a recurrent net run layer by layer gives the same numbers
as the module itself."""

import pytest
import torch
from torch import nn

from lstmkit.core.dropout import Dropout, dropout, run_layers
from lstmkit.model import LanguageModel, ModelConfig


@pytest.mark.parametrize("p", [0.1, 0.2, 0.55])
def test_drops_the_asked_share_and_keeps_the_mean(p):
    torch.manual_seed(0)
    x = torch.ones(200, 1000)
    y = dropout(x, p)
    kept = y != 0
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.005)
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)), rtol=1e-4)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)


def test_every_position_is_dropped_alike():
    """The four 16-bit numbers read from each random word are independent and uniform: no
    position in a group of four is dropped more often than another."""
    torch.manual_seed(1)
    y = dropout(torch.ones(100_000, 4), 0.3)
    shares = (y == 0).float().mean(dim=0)
    assert torch.allclose(shares, torch.full((4,), 0.3), atol=0.01)
    both = ((y[:, 0] == 0) & (y[:, 1] == 0)).float().mean().item()
    assert both == pytest.approx(0.09, abs=0.005)  # neighbours independent


def test_gradient_passes_through_the_kept_elements_only():
    torch.manual_seed(2)
    x = torch.randn(30, 40, requires_grad=True)
    y = dropout(x, 0.25)
    y.sum().backward()
    assert torch.equal(x.grad != 0, y != 0)
    assert torch.allclose(x.grad[y != 0], torch.tensor(1 / 0.75))


def test_seeded_and_off_when_not_training():
    x = torch.randn(7, 9)
    torch.manual_seed(3)
    a = dropout(x, 0.4)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.4))
    assert dropout(x, 0.4, training=False) is x and dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 0.99999999), x * 0.0)  # rounds to drop everything
    module = Dropout(0.4).eval()
    assert module(x) is x and "p=0.4" in repr(module)
    assert Dropout(0.4).state_dict() == {}


@pytest.mark.parametrize("cell,kwargs", [(nn.LSTM, {}), (nn.GRU, {}), (nn.RNN, {}),
                                         (nn.RNN, {"nonlinearity": "relu"})])
def test_layer_by_layer_is_the_module_without_dropout(cell, kwargs):
    torch.manual_seed(4)
    rnn = cell(6, 10, 3, batch_first=True, dropout=0.3, **kwargs).eval()
    x = torch.randn(2, 5, 6)
    state = ((torch.randn(3, 2, 10), torch.randn(3, 2, 10)) if cell is nn.LSTM
             else torch.randn(3, 2, 10))
    for given in (None, state):
        want_out, want_state = rnn(x, given)
        out, got_state = run_layers(rnn, x, given, Dropout(0.3).eval())
        assert torch.allclose(out, want_out, atol=1e-6)
        for a, b in zip(torch.utils._pytree.tree_leaves(got_state),
                        torch.utils._pytree.tree_leaves(want_state)):
            assert torch.allclose(a, b, atol=1e-6)


def test_training_language_model_drops_between_layers_and_learns():
    """On a CPU the model runs its layers one by one in training, with the cheaper dropout
    between them; in evaluation it is one call to the module, and the same numbers."""
    torch.manual_seed(5)
    model = LanguageModel(ModelConfig(vocab_size=30, embedding_size=8, hidden_size=12,
                                      layers=2, dropout=0.5))
    tokens = torch.randint(0, 30, (4, 9))
    model.train()
    torch.manual_seed(6)
    a, _ = model(tokens)
    torch.manual_seed(6)
    b, _ = model(tokens)
    assert torch.equal(a, b)  # seeded
    torch.manual_seed(7)
    assert not torch.equal(a, model(tokens)[0])  # dropout is on
    model.eval()
    out, _ = model(tokens)
    layered, _ = run_layers(model.rnn, model.embedding(tokens), None, model.drop)
    assert torch.allclose(out, model.head(model.project(layered)), atol=1e-6)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    first = None
    for _ in range(30):
        logits, _ = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 30), tokens[:, 1:].reshape(-1))
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first
