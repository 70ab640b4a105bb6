"""Writing without torch: NumPy's step and decoder give torch's fp32 numbers and texts."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.bundled import QUICK_ROWS, load_for_writing
from lstmkit.data.vocab import Vocab
from lstmkit.decoding import TorchUniforms, banning
from lstmkit.errors import CheckpointError
from lstmkit.model import LanguageModel, ModelConfig
from lstmkit.poetry.request import PoemRequest, poem_generator, write_poems
from lstmkit.sample import Generator, SampleConfig, draw, filter_logits
from lstmkit.sample_numpy import NumpyGenerator, NumpyLoaded, load_numpy, numpy_readable
from lstmkit.sample_numpy import draw as np_draw
from lstmkit.sample_numpy import filter_logits as np_filter_logits
from lstmkit.tasks.lm import load_model, save_model

CHARS = "明月松间照清泉石上流春风又绿江南岸何时照我还"


def _folder(tmp_path: Path, dtype: str = "fp32", data: dict | None = None,
            tokens: list[str] | None = None, **settings) -> Path:
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", *(tokens or ["，", "。", *dict.fromkeys(CHARS)])])
    config = ModelConfig(vocab_size=len(vocab), dropout=0.0, **settings)
    model = LanguageModel(config)
    with torch.no_grad():  # weights far from zero, so every gate and the head matter
        for p in model.parameters():
            p.normal_(0, 0.5)
    folder = tmp_path / f"m-{dtype}"
    save_model(folder, model, vocab, {"data": data or {"mode": "poems", "level": "char"}},
               dtype=dtype)
    return folder


SHAPES = {"tied, projected": dict(embedding_size=8, hidden_size=12, layers=2),
          "tied, same size": dict(embedding_size=8, hidden_size=8, layers=1),
          "untied": dict(embedding_size=8, hidden_size=12, layers=3, tie_weights=False)}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_numpy_step_gives_torchs_fp32_logits(tmp_path, shape):
    folder = _folder(tmp_path, **SHAPES[shape])
    model = load_model(folder).model.eval()
    mine = load_numpy(folder).model
    tokens = [1, 7, 9, 4, 12, 5]
    with torch.no_grad():
        expected, _ = model(torch.tensor([tokens, tokens[::-1]]))
    state = (np.zeros((mine.layers, 2, mine.hidden), np.float32),) * 2
    for t in range(len(tokens)):
        logits, state = mine.step(np.array([tokens[t], tokens[::-1][t]]), state)
        np.testing.assert_allclose(logits, expected[:, t].numpy(), rtol=1e-5, atol=1e-5)


CONFIGS = {"default": SampleConfig(max_len=20), "greedy": SampleConfig(temperature=0, max_len=20),
           "top-k": SampleConfig(top_k=5, max_len=20), "top-p": SampleConfig(top_p=0.7, max_len=20),
           "hot": SampleConfig(temperature=1.7, max_len=20)}


@pytest.mark.parametrize("name", CONFIGS)
def test_a_seed_writes_the_same_text_as_torchs_fp32_decoder(tmp_path, name):
    folder = _folder(tmp_path, **SHAPES["tied, projected"])
    loaded = load_model(folder)
    torchs = Generator.for_model(loaded)
    mine = NumpyGenerator.for_model(load_numpy(folder))
    hook = banning([loaded.vocab.index["月"]], len(loaded.vocab))
    for seed in range(4):
        config = SampleConfig(**{**CONFIGS[name].__dict__, "seed": seed})
        for start, kwargs in (("", {}), ("春风", {"hook": hook})):
            a = torchs.generate(start, 3, config, **kwargs)
            b = mine.generate(start, 3, config, **kwargs)
            assert [s.text for s in a] == [s.text for s in b]
            assert [s.tokens for s in a] == [s.tokens for s in b]
            np.testing.assert_allclose([s.logprob for s in a], [s.logprob for s in b], rtol=1e-5)
            if kwargs:
                assert all("月" not in s.text for s in b)


def test_a_word_level_stream_model_writes_as_with_torch(tmp_path):
    words = ["\n", "the", "moon", "is", "bright", "over", "river", ".", ","]
    folder = _folder(tmp_path, data={"mode": "stream", "level": "word"}, tokens=words,
                     embedding_size=8, hidden_size=8, layers=2)
    torchs = Generator.for_model(load_model(folder))
    mine = NumpyGenerator.for_model(load_numpy(folder))
    for start in ("", "the moon", "the sun"):  # nothing, known words, an unknown one
        config = SampleConfig(seed=5, max_len=12)
        a, b = torchs.generate(start, 2, config), mine.generate(start, 2, config)
        assert [s.text for s in a] == [s.text for s in b]
        assert all(not s.finished for s in b)  # a stream never ends


def test_guided_writing_matches_torch(conditioned_dir):
    folder = conditioned_dir
    loaded = load_model(folder)
    torchs = Generator.for_model(loaded)
    mine = NumpyGenerator.for_model(load_numpy(folder))
    poet = torchs.conditioning.poets[0]
    for seed in range(3):
        config = SampleConfig(seed=seed, max_len=24, guidance=2.0)
        a = torchs.generate("", 2, config, title="春夜", poet=poet)
        b = mine.generate("", 2, config, title="春夜", poet=poet)
        assert [s.text for s in a] == [s.text for s in b]


def test_regulated_poems_through_the_request_match_torch(verse_model_dir):
    request = PoemRequest.make("五绝", acrostic="春夏秋冬")
    torchs = poem_generator(load_for_writing(verse_model_dir, precision="fp32"))
    mine = poem_generator(load_for_writing(verse_model_dir, rows=request.rows(2)))
    assert isinstance(mine, NumpyGenerator) and isinstance(torchs, Generator)
    for seed in (1, 2):
        config = SampleConfig(seed=seed)
        a = write_poems(torchs, request, 2, config)
        b = write_poems(mine, request, 2, config)
        assert [s.text for s in a] == [s.text for s in b]
        assert [line[0] for line in b[0].text.split("。") if line][:2] == ["春", "秋"]


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1, 2**40 + 3, 2**64 - 1])
def test_the_uniforms_are_torchs(seed):
    gen = torch.Generator().manual_seed(seed)
    mine = TorchUniforms(seed)
    for n in (1, 4, 300, 1000):
        assert np.array_equal(mine.rand(n), torch.rand(n, 1, generator=gen)[:, 0].numpy())
    assert not np.array_equal(TorchUniforms(None).rand(8), TorchUniforms(None).rand(8))


def test_filter_and_draw_agree_with_torchs():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (6, 50)).astype(np.float32)
    for top_k, top_p in ((0, 1.0), (5, 1.0), (0, 0.6), (10, 0.9)):
        np.testing.assert_array_equal(np_filter_logits(logits, top_k, top_p),
                                      filter_logits(torch.from_numpy(logits), top_k, top_p).numpy())
    probs = torch.softmax(torch.from_numpy(logits), -1)
    for seed in range(5):
        expected = draw(probs, torch.Generator().manual_seed(seed)).numpy()
        assert np.array_equal(np_draw(probs.numpy(), TorchUniforms(seed)), expected)


def test_which_folders_numpy_reads(tmp_path, tiny_model_dir):
    assert numpy_readable(_folder(tmp_path, "fp16", embedding_size=8, hidden_size=8, layers=1))
    assert numpy_readable(tiny_model_dir)
    assert not numpy_readable(_folder(tmp_path, "bf16", embedding_size=8, hidden_size=8, layers=1))
    assert not numpy_readable(_folder(tmp_path / "gru", cell="gru", embedding_size=8, hidden_size=8))
    assert not numpy_readable(tmp_path / "nowhere")
    # What NumPy cannot read is loaded by torch, whatever is asked.
    bf16 = _folder(tmp_path / "b", "bf16", embedding_size=8, hidden_size=8, layers=1)
    assert not isinstance(load_for_writing(bf16, rows=1), NumpyLoaded)
    assert isinstance(load_for_writing(tiny_model_dir, rows=QUICK_ROWS), NumpyLoaded)
    assert not isinstance(load_for_writing(tiny_model_dir, rows=QUICK_ROWS + 1), NumpyLoaded)
    assert not isinstance(load_for_writing(tiny_model_dir, precision="fp32", rows=1), NumpyLoaded)


def test_broken_weights_are_one_line_errors(tmp_path):
    folder = _folder(tmp_path, embedding_size=8, hidden_size=12, layers=1)
    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:len(good) // 2])
    with pytest.raises(CheckpointError, match="corrupt or not safetensors"):
        load_numpy(folder)
    weights.write_bytes(good)
    config = json.loads((folder / "config.json").read_text())
    config["model"]["hidden_size"] = 10
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"does not match its config: rnn\.\w+ is of shape"):
        load_numpy(folder)


def test_nan_weights_are_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = _folder(tmp_path, embedding_size=8, hidden_size=12, layers=1)
    arrays = load_file(str(folder / "model.safetensors"))
    arrays["head.bias"][3] = np.nan
    save_file(arrays, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"NaN or infinite weights in head\.bias"):
        load_numpy(folder)


def test_a_poem_command_never_imports_torch(verse_model_dir):
    script = ("import sys\nfrom click.testing import CliRunner\nfrom lstmkit.cli import main\n"
              f"out = CliRunner().invoke(main, ['poem', '--model', {str(verse_model_dir)!r}, "
              "'--form', '五绝', '--seed', '3'])\n"
              "assert out.exit_code == 0, out.output\n"
              "print(len(out.output.splitlines()), 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "False"]


@pytest.mark.parametrize("setting, value, message", [
    ("layers", 0, "layers must be at least 1"), ("embedding_size", 8.0, "must be a whole number"),
    ("cell", "gru", "holds a gru: NumPy writes LSTMs")])
def test_wrong_settings_are_named_without_torch_too(tmp_path, setting, value, message):
    folder = _folder(tmp_path, embedding_size=8, hidden_size=12, layers=1)
    config = json.loads((folder / "config.json").read_text())
    config["model"][setting] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message):
        load_numpy(folder)
