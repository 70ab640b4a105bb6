import numpy as np
import pytest
import torch

from lstmkit.decoding import banning
from lstmkit.errors import LstmkitError, VocabError
from lstmkit.sample import Generator, SampleConfig, filter_logits, poem_lines
from lstmkit.tasks.lm import load_model


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    loaded = load_model(tiny_model_dir)
    return Generator(loaded.model, loaded.vocab)


def test_seeded_sampling_is_deterministic(generator):
    config = SampleConfig(seed=7, max_len=30)
    first = generator.generate("", 4, config)
    assert [s.text for s in first] == [s.text for s in generator.generate("", 4, config)]
    other = generator.generate("", 4, SampleConfig(seed=8, max_len=30))
    assert [s.text for s in first] != [s.text for s in other]


def test_stateful_logprob_equals_a_full_forward_pass(generator):
    """The carried state gives the same likelihood as re-reading the whole prefix."""
    sample = generator.generate("明月", 1, SampleConfig(seed=3, max_len=12))[0]
    vocab = generator.vocab
    ids = [vocab.bos_id, *vocab.encode(sample.text)]
    if sample.finished:
        ids.append(vocab.eos_id)
    with torch.no_grad():
        logits, _ = generator.model(torch.tensor([ids]))
    log_probs = torch.log_softmax(logits[0, :-1], -1)
    prompt = 3  # <bos> 明 月
    targets = torch.tensor(ids[prompt:])
    expected = log_probs[prompt - 1:].gather(1, targets[:, None]).sum().item()
    assert sample.logprob == pytest.approx(expected, abs=1e-4)
    assert sample.tokens == len(ids) - prompt


def test_start_text_is_kept_and_specials_never_written(generator):
    vocab = generator.vocab
    for sample in generator.generate("白日", 8, SampleConfig(seed=1, temperature=1.5, max_len=20)):
        assert sample.text.startswith("白日")
        assert not any(token in sample.text for token in ("<unk>", "<bos>", "<pad>", "<eos>"))
        assert sample.tokens <= 20
    assert vocab.unk_id not in vocab.encode("白日")


def test_writing_leaves_the_model_in_its_mode(generator):
    generator.model.train()
    generator.generate("", 1, SampleConfig(seed=0, max_len=5))
    assert generator.model.training
    generator.model.eval()


def test_greedy_is_the_argmax_path(generator):
    a = generator.generate("", 2, SampleConfig(temperature=0, max_len=15, seed=1))
    b = generator.generate("", 1, SampleConfig(temperature=0, max_len=15, seed=99))
    assert a[0].text == a[1].text == b[0].text


def test_hook_masks_are_obeyed(generator):
    vocab = generator.vocab
    allowed = np.full(len(vocab), -np.inf, dtype=np.float32)
    allowed[[vocab.index["山"], vocab.index["月"], vocab.eos_id]] = 0.0

    def only_mountains_and_moons(generated):  # the bias added to each step's logits
        return np.tile(allowed, (len(generated), 1))

    for sample in generator.generate("", 5, SampleConfig(seed=0, max_len=10), only_mountains_and_moons):
        assert set(sample.text) <= {"山", "月"}


def test_unknown_start_characters_are_named(generator):
    with pytest.raises(VocabError, match="not in the model's vocabulary: 𠀀 X"):
        generator.generate("明月𠀀X", 1)


def test_generate_finished_only_returns_whole_poems(generator):
    poems = generator.generate_finished("", 3, SampleConfig(seed=2, max_len=80))
    assert len(poems) == 3 and all(p.finished for p in poems)
    with pytest.raises(LstmkitError, match="raise --max-len"):
        generator.generate_finished("", 2, SampleConfig(seed=2, max_len=1, temperature=0),
                                    hook=banning([generator.vocab.eos_id], len(generator.vocab)))


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isfinite(filter_logits(logits, top_k=2)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.4)).tolist() == [[True, False, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.96)).all()


@pytest.mark.parametrize("settings, message", [
    ({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"), ({"top_k": -2}, "top_k"),
    ({"max_len": 0}, "max_len"),
])
def test_bad_sample_settings(settings, message):
    with pytest.raises(LstmkitError, match=message):
        SampleConfig(**settings)


def test_poem_lines():
    assert poem_lines("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。") == [
        "白日依山尽，黄河入海流。", "欲穷千里目，更上一层楼。"]
    assert poem_lines("未完") == ["未完"]


def test_draw_follows_the_distribution_and_never_picks_a_zero():
    from lstmkit.sample import draw

    probs = torch.tensor([[0.0, 0.5, 0.0, 0.3, 0.2, 0.0]]).expand(20000, -1)
    picks = draw(probs, torch.Generator().manual_seed(0))
    counts = torch.bincount(picks, minlength=6).double() / len(picks)
    assert counts[[0, 2, 5]].tolist() == [0.0, 0.0, 0.0]
    torch.testing.assert_close(counts, probs[0].double(), atol=0.015, rtol=0)


def test_writing_precision_auto_and_explicit():
    from lstmkit.model import LanguageModel, ModelConfig, int8_supported
    from lstmkit.sample import native_cpu_bf16, prepare_for_writing, writing_precision

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert writing_precision("auto", cuda) == "bf16"
    assert writing_precision("auto", cpu) == ("int8" if int8_supported() else
                                              "bf16" if native_cpu_bf16() else "fp32")
    assert writing_precision("auto", cpu, "gru") == ("bf16" if native_cpu_bf16() else "fp32")
    assert writing_precision("fp32", cuda) == "fp32"
    with pytest.raises(LstmkitError, match="precision must be one of"):
        writing_precision("fp8", cpu)
    model = LanguageModel(ModelConfig(vocab_size=10, embedding_size=8, hidden_size=8))
    if int8_supported():
        assert prepare_for_writing(model, "int8") == "int8" and model.int8
    assert prepare_for_writing(model, "bf16") == "bf16" and not model.int8
    assert next(model.parameters()).dtype == torch.bfloat16
    assert prepare_for_writing(model, "fp32") == "fp32"
    assert next(model.parameters()).dtype == torch.float32


def test_a_retrying_search_wraps_its_seed_past_64_bits(generator):
    last = SampleConfig(seed=2**64 - 1)
    assert last.round_seed(0) == 2**64 - 1 and last.round_seed(2) == 1
    assert SampleConfig().round_seed(3) is None
    assert generator.generate("", 1, SampleConfig(seed=2**64 - 1, max_len=4))  # torch takes it
