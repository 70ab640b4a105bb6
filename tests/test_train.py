import itertools
import json
import math

import pytest
import torch

from lstmkit.core.loop import LoopConfig, lr_at
from lstmkit.data.batching import PoemBatches, encode_poems
from lstmkit.data.corpus import load_poems
from lstmkit.data.text import TextConfig
from lstmkit.errors import CheckpointError, LstmkitError
from lstmkit.tasks.lm import evaluate, load_model, train

from conftest import FIXTURES, TINY_MODEL, tiny_config


def _steps(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == "step"]


def test_training_lowers_the_loss_and_writes_the_run(tiny_run):
    steps = _steps(tiny_run)
    assert steps[-1]["loss"] < steps[0]["loss"] - 0.5
    assert (tiny_run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for folder in ("best", "last"):
        names = {p.name for p in (tiny_run / folder).iterdir()}
        assert {"config.json", "vocab.json", "model.safetensors"} <= names
    assert {p.name for p in (tiny_run / "last").iterdir()} >= {"trainer.json", "trainer.safetensors"}
    assert not [p for p in tiny_run.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    epochs = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, 9))
    best = min(epochs, key=lambda e: e["val_loss"])
    meta = json.loads((tiny_run / "best" / "config.json").read_text())
    assert meta["val_ppl"] == pytest.approx(best["val_ppl"])


def test_evaluate_matches_a_hand_computed_perplexity(tiny_model_dir, poems_path):
    loaded = load_model(tiny_model_dir)
    poems, _ = load_poems(poems_path)
    texts = [p.text for p in poems[:3]]
    batches = PoemBatches(encode_poems(texts, loaded.vocab), 2, loaded.vocab.pad_id, shuffle=False)
    result = evaluate(loaded.model, batches, torch.device("cpu"))
    nll, count = 0.0, 0
    with torch.no_grad():
        for seq in encode_poems(texts, loaded.vocab):  # one poem at a time, no padding
            logits, _ = loaded.model(seq[None, :-1])
            nll += torch.nn.functional.cross_entropy(logits[0], seq[1:], reduction="sum").item()
            count += len(seq) - 1
    assert result.tokens == count
    assert result.perplexity == pytest.approx(math.exp(nll / count), rel=1e-5)
    assert result.bits_per_char == pytest.approx(nll / math.log(2) / sum(map(len, texts)), rel=1e-5)


def test_resume_continues_with_the_same_next_losses(tmp_path, poems_path):
    straight = tmp_path / "straight"
    train(poems_path, straight, TINY_MODEL, **tiny_config(max_steps=9))
    split = tmp_path / "split"
    # 4 batches an epoch: step 6 is inside epoch 2, after one validation and best/ save.
    train(poems_path, split, TINY_MODEL, **tiny_config(max_steps=6))
    state = json.loads((split / "last" / "trainer.json").read_text())
    assert (state["step"], state["epoch"], state["batch_index"]) == (6, 1, 2)
    summary = train(poems_path, split, TINY_MODEL, **tiny_config(max_steps=9), resume=True)
    assert summary["step"] == 9
    expected = [(r["step"], r["loss"]) for r in _steps(straight)]
    got = [(r["step"], r["loss"]) for r in _steps(split)]
    assert [s for s, _ in got] == list(range(1, 10))
    assert [s for s, _ in got] == [s for s, _ in expected]
    assert [loss for _, loss in got] == pytest.approx([loss for _, loss in expected], rel=0, abs=1e-6)


def test_resuming_on_a_changed_corpus_is_refused(tmp_path, poems_path):
    train(poems_path, tmp_path / "r", TINY_MODEL, **tiny_config(max_steps=2))
    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("".join(poems_path.read_text("utf-8").splitlines(True)[:-1]), "utf-8")
    before = (tmp_path / "r" / "metrics.jsonl").read_text()
    with pytest.raises(LstmkitError, match=r"differ from the data the run in .* started on"):
        train(fewer, tmp_path / "r", TINY_MODEL, **tiny_config(max_steps=3), resume=True)
    assert (tmp_path / "r" / "metrics.jsonl").read_text() == before


def test_seeded_cpu_training_is_reproducible(tmp_path, poems_path):
    runs = []
    for name in ("a", "b"):
        train(poems_path, tmp_path / name, TINY_MODEL, **tiny_config(epochs=1, seed=5))
        runs.append([r["loss"] for r in _steps(tmp_path / name)])
    assert runs[0] == runs[1]


def test_early_stopping(tmp_path, poems_path):
    # A learning rate this small barely moves: validation stops improving at once.
    summary = train(poems_path, tmp_path / "r", TINY_MODEL,
                    **tiny_config(epochs=20, lr=1e-9, warmup_steps=0, patience=2))
    assert summary["stopped"].startswith("no better validation score")
    assert summary["epoch"] < 20


def test_refuses_to_overwrite_or_resume_nothing(tmp_path, poems_path, tiny_run):
    with pytest.raises(LstmkitError, match="already holds a run"):
        train(poems_path, tiny_run, TINY_MODEL, **tiny_config())
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(poems_path, tmp_path / "empty", TINY_MODEL, **tiny_config(), resume=True)


def test_bf16_autocast_on_cpu(tmp_path, poems_path):
    summary = train(poems_path, tmp_path / "bf16", TINY_MODEL,
                    **tiny_config(epochs=1, precision="bf16"))
    assert math.isfinite(summary["best_val_ppl"])


def test_schedule_warms_up_then_decays():
    config = LoopConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(step, 110, config) for step in range(111)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))
    assert lrs[110] == pytest.approx(0.1)


@pytest.mark.parametrize("config, settings, message", [
    (LoopConfig, {"epochs": 0}, "epochs must be at least 1"),
    (LoopConfig, {"lr": 0}, "lr must be positive"),
    (LoopConfig, {"lr": float("nan")}, "lr must be a finite number"),
    (LoopConfig, {"weight_decay": float("inf")}, "weight_decay must be a finite number"),
    (TextConfig, {"val_fraction": 1.0}, "val_fraction must be in"),
    (LoopConfig, {"precision": "fp8"}, "precision must be"),
])
def test_bad_train_settings(config, settings, message):
    with pytest.raises(LstmkitError, match=message):
        config(**settings)


def _play():
    return FIXTURES / "play.txt"


def test_plain_text_trains_as_a_stream(tmp_path):
    out = tmp_path / "stream"
    summary = train(_play(), out, TINY_MODEL, **tiny_config(epochs=2, seq_len=16, val_fraction=0.1))
    meta = json.loads((out / "best" / "config.json").read_text())
    assert meta["task"] == "lm" and meta["data"]["mode"] == "stream"
    assert meta["data"]["level"] == "char" and "\n" in json.loads((out / "best" / "vocab.json").read_text())["tokens"]
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["kind"] == "epoch"]
    assert len(epochs) == 2 and epochs[1]["val_loss"] < epochs[0]["val_loss"]
    # Characters are tokens here, so bits per character is the loss in bits.
    assert epochs[1]["val_bits_per_char"] == pytest.approx(epochs[1]["val_loss"] / math.log(2))
    written = json.loads((out / "summary.json").read_text())
    assert written["tokens"] == summary["tokens"] > 0 and written["peak_memory_mib"] > 0


def test_stream_training_carries_the_state_between_windows(tmp_path, monkeypatch):
    from lstmkit.model import LanguageModel

    calls = []
    forward = LanguageModel.forward

    def spy(self, tokens, state=None):
        logits, new = forward(self, tokens, state)
        if self.training:
            calls.append((None if state is None else state[0].clone(), new[0].detach().clone()))
        return logits, new

    monkeypatch.setattr(LanguageModel, "forward", spy)
    train(_play(), tmp_path / "r", TINY_MODEL, **tiny_config(epochs=1, seq_len=16, batch_size=4,
                                                           val_fraction=0.1))
    assert calls[0][0] is None  # an epoch starts from a zero state
    assert len(calls) > 5
    for (_, end), (start, _) in itertools.pairwise(calls):
        assert start is not None and torch.equal(start, end)  # batch k+1 starts where k ended


def test_stream_evaluation_equals_one_pass_over_each_stripe(tiny_model_dir):
    from lstmkit.data.batching import StreamBatches

    loaded = load_model(tiny_model_dir)
    stream = torch.tensor(loaded.vocab.encode(
        "".join(p.text for p in load_poems(FIXTURES / "poems.jsonl")[0])))
    batches = StreamBatches(stream, batch_size=2, seq_len=7, shuffle=False)
    result = evaluate(loaded.model, batches, torch.device("cpu"))
    stripe = (len(stream) - 1) // 2
    used = batches.steps() * 7
    nll = 0.0
    with torch.no_grad():
        for row in range(2):
            part = stream[row * stripe: row * stripe + used + 1]
            logits, _ = loaded.model(part[None, :-1])
            nll += torch.nn.functional.cross_entropy(logits[0], part[1:], reduction="sum").item()
    assert result.tokens == 2 * used
    assert result.nll == pytest.approx(nll, rel=1e-5)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_stream_resume_continues_with_the_same_next_losses(tmp_path, precision):
    settings = {"seq_len": 16, "batch_size": 4, "val_fraction": 0.1, "precision": precision}
    straight = tmp_path / "straight"
    train(_play(), straight, TINY_MODEL, **tiny_config(max_steps=9, **settings))
    split = tmp_path / "split"
    train(_play(), split, TINY_MODEL, **tiny_config(max_steps=4, **settings))
    state = json.loads((split / "last" / "trainer.json").read_text())
    assert state["batch_index"] == 4  # stopped inside the epoch, with a state to carry
    train(_play(), split, TINY_MODEL, **tiny_config(max_steps=9, **settings), resume=True)
    expected = [r["loss"] for r in _steps(straight)]
    got = [r["loss"] for r in _steps(split)]
    assert got == pytest.approx(expected, rel=0, abs=1e-6)


def test_token_budget_ends_with_a_validation(tmp_path, poems_path):
    summary = train(poems_path, tmp_path / "r", TINY_MODEL, **tiny_config(epochs=5, max_tokens=400))
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert summary["stopped"] == "spent max_tokens=400"
    assert 400 <= summary["tokens"] < 400 + 4 * 60  # whole steps of about 4 poems
    assert "val_ppl" in rows[-1] and rows[-1]["step"] == summary["step"]


def test_word_level_stream(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("lstmkit.data.segment._CACHE_MIN_CHARS", 0)  # cache even this small text
    out = tmp_path / "words"
    train(FIXTURES / "novel.txt", out, TINY_MODEL,
          **tiny_config(epochs=1, level="word", seq_len=8, val_fraction=0.1))
    tokens = json.loads((out / "best" / "vocab.json").read_text())["tokens"]
    assert "曹操" in tokens or "天下" in tokens  # words, not characters
    meta = json.loads((out / "best" / "config.json").read_text())
    assert meta["data"]["level"] == "word"
    assert list((tmp_path / "cache").rglob("*"))  # the segmentation was cached
