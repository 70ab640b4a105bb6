"""Shared fixtures: the tiny corpora in fixtures/ and a tiny model trained once per session."""

from pathlib import Path

import pytest
import torch

from lstmkit.tasks.lm import split_settings, train

FIXTURES = Path(__file__).parent / "fixtures"

# Small enough to train in a second on a CPU, big enough to learn the fixture poems a little.
TINY_MODEL = {"embedding_size": 16, "hidden_size": 24, "layers": 2, "dropout": 0.1,
              "tie_weights": False}


def tiny_config(**overrides) -> dict:
    """``train``'s data and loop settings for a run of seconds; ``overrides`` are flat."""
    values = {"epochs": 3, "batch_size": 4, "lr": 1e-2, "warmup_steps": 2, "val_fraction": 0.2,
              "min_freq": 1, "log_every": 1, "device": "cpu", "patience": 0}
    values.update(overrides)
    settings = split_settings(values)
    return {"data": settings["data"], "loop": settings["loop"]}


def verse_generator():
    """A generator over an untrained model of every character of the rhyme table: near-uniform
    choices, so the constraints and rules alone must make the form."""
    from lstmkit.data.vocab import Vocab
    from lstmkit.model import LanguageModel, ModelConfig
    from lstmkit.poetry.prosody import default_prosody
    from lstmkit.sample import Generator

    torch.manual_seed(0)
    chars = sorted({c for g in default_prosody().groups.values() for c in g.chars})
    vocab = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "，", "。", "、", "？", *chars])
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), embedding_size=8, hidden_size=8,
                                      layers=1, dropout=0.0, tie_weights=False))
    return Generator(model.eval(), vocab)


@pytest.fixture(scope="session")
def verse_model_dir(tmp_path_factory):
    """``verse_generator``'s untrained model saved as a model folder (for the CLI and server)."""
    from lstmkit.tasks.lm import save_model

    generator = verse_generator()
    folder = tmp_path_factory.mktemp("verse") / "model"
    save_model(folder, generator.model, generator.vocab, {})
    return folder


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)


@pytest.fixture
def poems_path() -> Path:
    return FIXTURES / "poems.jsonl"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A run folder (best/, last/, metrics.jsonl, curves.png) trained on the fixture poems."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    train(FIXTURES / "poems.jsonl", out, TINY_MODEL, **tiny_config(epochs=8))
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_run) -> Path:
    return tiny_run / "best"


@pytest.fixture(scope="session")
def conditioned_dir(tmp_path_factory) -> Path:
    """A tiny model trained with titles and the fixture's three most prolific poets."""
    out = tmp_path_factory.mktemp("cond") / "run"
    train(FIXTURES / "poems.jsonl", out, TINY_MODEL,
          **tiny_config(epochs=2, condition=0.5, poets=3, batch_size=4))
    return out / "best"


@pytest.fixture(autouse=True, scope="session")
def _token_cache(tmp_path_factory):
    """Stream corpora are tokenized into a cache folder (data.token_cache): one per test
    session, never the user's."""
    import os

    os.environ.setdefault("LSTMKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
