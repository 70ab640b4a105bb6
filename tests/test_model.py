import pytest
import torch

from lstmkit.errors import LstmkitError
from lstmkit.model import LanguageModel, ModelConfig

N, T, E, H, V = 2, 3, 4, 5, 6


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_shapes_and_state(cell, layers):
    model = LanguageModel(ModelConfig(vocab_size=V, cell=cell, embedding_size=E, hidden_size=H,
                                      layers=layers, tie_weights=False))
    tokens = torch.randint(0, V, (N, T))
    logits, state = model(tokens)
    assert logits.shape == (N, T, V)
    states = state if cell == "lstm" else (state,)
    assert all(s.shape == (layers, N, H) for s in states)
    # Feeding the sequence in two parts with the carried state gives the same logits.
    model.eval()
    full, _ = model(tokens)
    first, mid = model(tokens[:, :2])
    second, _ = model(tokens[:, 2:], mid)
    torch.testing.assert_close(torch.cat([first, second], 1), full)


def test_tied_weights_share_one_matrix_and_project_when_sizes_differ():
    model = LanguageModel(ModelConfig(vocab_size=V, embedding_size=E, hidden_size=H,
                                      tie_weights=True))
    assert model.head.weight is model.embedding.weight
    assert model.project is not None and model.project.weight.shape == (E, H)
    untied = LanguageModel(ModelConfig(vocab_size=V, embedding_size=E, hidden_size=H,
                                       tie_weights=False))
    assert untied.num_parameters() - model.num_parameters() == V * H - E * H


@pytest.mark.parametrize("settings, message", [
    ({"cell": "lstmx"}, "unknown cell"),
    ({"hidden_size": 0}, "hidden_size must be at least 1"),
    ({"dropout": 1.0}, "dropout must be in"),
])
def test_bad_settings(settings, message):
    with pytest.raises(LstmkitError, match=message):
        ModelConfig(vocab_size=V, **settings)
