import json

import pytest
import torch

from lstmkit.data.vocab import Vocab
from lstmkit.errors import CheckpointError
from lstmkit.model import LanguageModel, ModelConfig
from lstmkit.tasks.lm import load_model, save_model


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    vocab = Vocab.build(["床前明月光，疑是地上霜。"])
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), embedding_size=8, hidden_size=12,
                                      tie_weights=True)).eval()
    save_model(tmp_path / "m", model, vocab, {"note": "test"})
    return tmp_path / "m", model, vocab


def test_save_load_gives_identical_logits(saved):
    folder, model, vocab = saved
    loaded = load_model(folder)
    tokens = torch.tensor([[1, *vocab.encode("明月光")]])
    torch.testing.assert_close(loaded.model(tokens)[0], model(tokens)[0], rtol=0, atol=0)
    assert loaded.vocab.tokens == vocab.tokens
    assert loaded.meta["note"] == "test"
    assert loaded.model.head.weight is loaded.model.embedding.weight


def test_half_precision_copy_is_close(saved, tmp_path):
    folder, model, vocab = saved
    save_model(tmp_path / "half", model, vocab, {}, dtype="fp16")
    assert (tmp_path / "half" / "model.safetensors").stat().st_size < (
        folder / "model.safetensors").stat().st_size
    tokens = torch.tensor([[1, *vocab.encode("明月光")]])
    torch.testing.assert_close(load_model(tmp_path / "half").model(tokens)[0], model(tokens)[0],
                               rtol=0, atol=1e-2)


def test_overwriting_is_atomic_and_leaves_nothing_behind(saved):
    folder, model, vocab = saved
    save_model(folder, model, vocab, {"note": "second"})
    assert json.loads((folder / "config.json").read_text())["note"] == "second"
    assert [p.name for p in folder.parent.iterdir()] == ["m"]


def test_a_failed_save_keeps_the_old_checkpoint(saved, monkeypatch):
    folder, model, vocab = saved

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("lstmkit.core.checkpoint.save_file", explode)
    with pytest.raises(OSError):
        save_model(folder, model, vocab, {"note": "broken"})
    assert json.loads((folder / "config.json").read_text())["note"] == "test"
    assert [p.name for p in folder.parent.iterdir()] == ["m"]


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "model.safetensors").write_bytes(b"garbage" * 10), "corrupt or not safetensors"),
    (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:100]),
     "corrupt or not safetensors"),
    (lambda f: (f / "config.json").write_text("{"), "not valid JSON"),
    (lambda f: (f / "config.json").write_text('{"format": "other"}'), "not an lstmkit model"),
    (lambda f: (f / "vocab.json").unlink(), "lacks vocab.json"),
    (lambda f: (f / "vocab.json").write_text('{"tokens": ["<pad>", "<bos>", "<eos>", "<unk>"]}'),
     "vocab.json has 4"),
])
def test_damaged_checkpoints_give_one_line_errors(saved, damage, message):
    folder, _, _ = saved
    damage(folder)
    with pytest.raises(CheckpointError, match=message) as info:
        load_model(folder)
    assert "\n" not in str(info.value)


def test_weights_that_do_not_fit_the_config(saved):
    folder, _, _ = saved
    config = json.loads((folder / "config.json").read_text())
    config["model"]["hidden_size"] = 16
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_model(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nothing")


def test_config_names_its_task_and_version(saved):
    folder, _, _ = saved
    config = json.loads((folder / "config.json").read_text())
    assert config["task"] == "lm" and config["version"] == 2


def test_version_1_folders_are_language_models(saved):
    folder, _, _ = saved
    config = json.loads((folder / "config.json").read_text())
    del config["task"]
    config["version"] = 1
    (folder / "config.json").write_text(json.dumps(config))
    assert load_model(folder).meta["task"] == "lm"


@pytest.mark.parametrize("task, message", [
    ("teleport", "unknown task 'teleport'"),
    ("../lm", "unknown task '../lm'"),
])
def test_unknown_task(saved, task, message):
    from lstmkit.tasks import load_model as load_any

    folder, _, _ = saved
    config = json.loads((folder / "config.json").read_text())
    config["task"] = task
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message):
        load_any(folder)


def test_another_tasks_folder_is_refused_by_name(saved):
    from lstmkit.tasks import WrongTaskError

    folder, _, _ = saved
    config = json.loads((folder / "config.json").read_text())
    config["task"] = "someday"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WrongTaskError, match="is a 'someday' model; this needs a language model"):
        load_model(folder)


def test_weights_with_nan_are_refused(saved):
    from safetensors.torch import load_file, save_file

    folder, _, _ = saved
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["embedding.weight"][0, 0] = float("nan")
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"NaN or infinite weights in embedding\.weight"):
        load_model(folder)


def test_weights_are_as_readable_as_the_config(tmp_path):
    """safetensors creates its files for their owner alone; a saved folder's weights get the
    mode the umask gives its JSON, so another account can read a shared or served model."""
    import os

    vocab = Vocab.build(["床前明月光"])
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), embedding_size=8, hidden_size=8))
    previous = os.umask(0o022)
    try:
        save_model(tmp_path / "m", model, vocab, {})
    finally:
        os.umask(previous)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "m").iterdir()}
    assert modes["model.safetensors"] == modes["config.json"] == 0o644, modes
