import pytest
import torch

from lstmkit.errors import LstmkitError
from lstmkit.model import LanguageModel, ModelConfig, int8_supported

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


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_step_equals_forward(cell):
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=11, cell=cell, embedding_size=6,
                                      hidden_size=5, layers=2, dropout=0.3)).eval()
    tokens = torch.randint(0, 11, (3, 4))
    with torch.inference_mode():
        _, state = model(tokens)
        expected, expected_state = model(tokens[:, :1], state)
        logits, new_state = model.step(tokens[:, 0], state)
    assert torch.allclose(logits, expected[:, 0], atol=1e-6)
    for a, b in zip(new_state if cell == "lstm" else [new_state],
                    expected_state if cell == "lstm" else [expected_state]):
        assert torch.allclose(a, b, atol=1e-6)


def test_fused_step_weights_follow_training():
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=7, embedding_size=4, hidden_size=4, layers=1))
    model.eval()
    tokens = torch.tensor([1, 2])
    with torch.inference_mode():
        _, state = model(tokens[:, None])
        before, _ = model.step(tokens, state)
    with torch.no_grad():
        model.rnn.weight_hh_l0.add_(0.5)  # as an optimizer step would
    with torch.inference_mode():
        after, _ = model.step(tokens, state)
        expected, _ = model(tokens[:, None], state)
    assert not torch.allclose(before, after)
    assert torch.allclose(after, expected[:, 0], atol=1e-6)


def _sequences():
    torch.manual_seed(0)
    x = torch.randn(3, 6, 2)
    lengths = torch.tensor([6, 2, 4])
    return x, lengths


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_sequence_model_ignores_padding(cell, bidirectional, pooling):
    from lstmkit.model import SequenceConfig, SequenceModel

    model = SequenceModel(SequenceConfig(input_size=2, output_size=5, cell=cell, hidden_size=4,
                                         layers=2, bidirectional=bidirectional,
                                         pooling=pooling)).eval()
    x, lengths = _sequences()
    batched = model(x, lengths)
    assert batched.shape == (3, 5)
    noisy = x.clone()
    for row, n in enumerate(lengths):
        noisy[row, n:] = 1e3  # whatever stands in the padding must not matter
    torch.testing.assert_close(model(noisy, lengths), batched)
    for row, n in enumerate(lengths):  # the same as each sequence alone, unpadded
        torch.testing.assert_close(model(x[row:row + 1, :n]), batched[row:row + 1],
                                   rtol=1e-5, atol=1e-6)


def test_sequence_config_errors():
    from lstmkit.model import SequenceConfig

    with pytest.raises(LstmkitError, match="pooling must be one of"):
        SequenceConfig(input_size=1, output_size=1, pooling="max")
    with pytest.raises(LstmkitError, match="input_size must be at least 1"):
        SequenceConfig(input_size=0, output_size=1)


def _trained_like_lstm(seed: int = 0) -> LanguageModel:
    torch.manual_seed(seed)
    model = LanguageModel(ModelConfig(vocab_size=40, embedding_size=32, hidden_size=48,
                                      layers=2, dropout=0.0))
    with torch.no_grad():  # weights of a trained model's scale, not the init's
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model.eval()


@pytest.mark.skipif(not int8_supported(), reason="int8 writing needs fbgemm (x86)")
def test_int8_writing_is_close_to_fp32_and_scoring_runs_the_same_steps():
    model = _trained_like_lstm()
    tokens = torch.randint(0, 40, (8, 12))
    with torch.inference_mode():
        exact, _ = model(tokens)
        model.quantize_for_writing()
        scored, _ = model(tokens)  # forward runs step by step on the int8 path
        state = None
        steps = []
        for t in range(tokens.shape[1]):
            if state is None:
                zeros = torch.zeros(2, 8, 48)
                state = (zeros, zeros.clone())
            logits, state = model.step(tokens[:, t], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), scored)
    p, q = exact.log_softmax(-1), scored.log_softmax(-1)
    kl = (p.exp() * (p - q)).sum(-1).mean()
    assert 0 < kl < 1e-3  # quantized, so not identical, but the distributions agree
    with torch.enable_grad():  # training (grad on) always uses the fp32 weights
        model.train()
        again, _ = model(tokens)
    torch.testing.assert_close(again, exact)


def test_int8_writing_is_refused_where_it_cannot_run():
    gru = LanguageModel(ModelConfig(vocab_size=V, cell="gru", embedding_size=E, hidden_size=H))
    with pytest.raises(LstmkitError, match="int8 writing needs an LSTM"):
        gru.quantize_for_writing()
    if int8_supported():
        half = _trained_like_lstm().to(torch.bfloat16)
        with pytest.raises(LstmkitError, match="fp32 weights"):
            half.quantize_for_writing()


def test_weights_to_be_loaded_skips_the_draw_and_restores_torch_init():
    from lstmkit.model import weights_to_be_loaded

    before = {name: getattr(torch.nn.init, name) for name in ("uniform_", "normal_", "zeros_")}
    with weights_to_be_loaded():
        filler = torch.full((3, 4), 7.0)
        assert torch.nn.init.uniform_(filler) is filler and bool((filler == 7.0).all())
        LanguageModel(ModelConfig(vocab_size=12, embedding_size=4, hidden_size=4, layers=1))
    assert {name: getattr(torch.nn.init, name) for name in before} == before
    drawn = torch.nn.init.uniform_(torch.full((3, 4), 7.0))
    assert bool((drawn < 1).all())
    with pytest.raises(RuntimeError), weights_to_be_loaded():  # restored after an error too
        raise RuntimeError("boom")
    assert torch.nn.init.normal_ is before["normal_"]


def test_multiply_adds_count_each_matmul_of_a_token():
    plain = ModelConfig(vocab_size=100, embedding_size=8, hidden_size=8, layers=2)
    assert plain.multiply_adds() == 2 * 4 * 8 * 16 + 8 * 100
    projected = ModelConfig(vocab_size=100, embedding_size=8, hidden_size=12, layers=1)
    assert projected.multiply_adds() == 4 * 12 * 20 + 12 * 8 + 8 * 100
    untied = ModelConfig(vocab_size=100, embedding_size=8, hidden_size=12, layers=1,
                         tie_weights=False, cell="gru")
    assert untied.multiply_adds() == 3 * 12 * 20 + 12 * 100


@pytest.mark.parametrize("settings, message", [
    ({"embedding_size": 512.0}, "embedding_size must be a whole number"),
    ({"layers": True}, "layers must be a whole number"),
    ({"vocab_size": "x"}, "vocab_size must be a whole number"),
    ({"dropout": "0.2"}, "dropout must be a finite number"),
    ({"dropout": float("nan")}, "dropout must be a finite number"),
    ({"tie_weights": "no"}, "tie_weights must be true or false"),
])
def test_a_setting_of_the_wrong_kind_is_named(settings, message):
    """config.json may hold anything: a wrong kind is refused by name, not a traceback."""
    with pytest.raises(LstmkitError, match=message):
        ModelConfig.from_dict({"vocab_size": 10, **settings})
    import numpy as np

    assert ModelConfig(vocab_size=np.int64(10), dropout=np.float32(0.1)).vocab_size == 10
