"""The Python API (lstmkit.api through the lazy package attributes)."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import lstmkit
from lstmkit.cli import main
from lstmkit.errors import LstmkitError


def test_importing_lstmkit_loads_no_torch():
    code = "import sys, lstmkit; print('torch' in sys.modules, sorted(lstmkit.__all__)[:3])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("False")


def test_write_poems_equals_the_command(tiny_model_dir):
    poems = lstmkit.write_poems(n=2, model=tiny_model_dir, seed=4)
    cli = CliRunner().invoke(main, ["poem", "--model", str(tiny_model_dir), "-n", "2",
                                    "--seed", "4", "--json"])
    assert poems == json.loads(cli.output)


def test_write_poems_in_a_form_with_a_loaded_model():
    model = lstmkit.load("tang")
    poems = lstmkit.write_poems("五绝", n=2, model=model, seed=3, rhyme="七阳")
    assert [p["form"] for p in poems] == ["五绝", "五绝"]
    assert all(lstmkit.check_poem(p["text"], rhyme="七阳").ok for p in poems)
    assert lstmkit.write("明月", model=model, max_len=5, seed=1)[0].startswith("明月")
    with pytest.raises(LstmkitError, match="fits no form"):
        lstmkit.write_poems(acrostic="春夏秋", model=model)


def test_train_resume_and_evaluate(tmp_path, poems_path):
    out = tmp_path / "run"
    settings = dict(embedding_size=8, hidden_size=8, layers=1, batch_size=4, min_freq=1,
                    val_fraction=0.2, device="cpu", epochs=2, log_every=1)
    first = lstmkit.train(poems_path, out, max_steps=3, **settings)
    assert first["stopped"] == "reached max_steps=3"
    done = lstmkit.train(poems_path, out, resume=True, epochs=3)
    assert done["stopped"] == "done" and done["epoch"] == 3
    with pytest.raises(LstmkitError, match="keeps its own hidden_size"):
        lstmkit.train(poems_path, out, resume=True, hidden_size=16)
    with pytest.raises(LstmkitError, match="unknown setting"):
        lstmkit.train(poems_path, tmp_path / "other", hiden_size=16)
    scores = lstmkit.evaluate(poems_path, out / "best", split="val")
    assert scores["perplexity"] == pytest.approx(done["best_val_ppl"], rel=1e-4)
    loaded = lstmkit.load(out / "best")
    assert loaded.text_config.mode == "poems" and len(loaded.vocab) > 4


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        lstmkit.trian  # noqa: B018


def test_forecasting_from_python(tmp_path):
    summary = lstmkit.train_forecaster(tmp_path / "fc", demo="sine", quantiles="0.1,0.9",
                                       hidden_size=8, epochs=2, epoch_windows=64, device="cpu")
    assert summary["task"] == "forecast" and summary["epoch"] == 2
    forecaster = lstmkit.load(tmp_path / "fc" / "best")
    assert isinstance(forecaster, lstmkit.forecast.Forecaster)
    table = forecaster.predict().table
    assert len(table) == forecaster.config.horizon
    assert (table["q0.1"] <= table["forecast"]).all() and (table["forecast"] <= table["q0.9"]).all()
    assert "LSTM" in forecaster.evaluate().table()


def test_classifying_from_python(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 12)).astype(np.float32)
    y = np.where(np.arange(60) % 2 == 0, "up", "down")
    x[y == "up"] += np.linspace(0, 3, 12, dtype=np.float32)  # rising sequences
    np.savez(tmp_path / "slopes.npz", x_train=x, y_train=y)
    summary = lstmkit.train_classifier(tmp_path / "slopes.npz", tmp_path / "cl", hidden_size=8,
                                       epochs=4, device="cpu")
    assert summary["test"]["accuracy"] >= 0.8
    classifier = lstmkit.load(tmp_path / "cl" / "best")
    assert isinstance(classifier, lstmkit.classify.Classifier)
    assert classifier.predict([np.linspace(0, 3, 12), -np.linspace(0, 3, 12)]) == ["up", "down"]


def test_write_to_a_title_theme_and_poet(conditioned_dir):
    poet = lstmkit.load(conditioned_dir).vocab.tokens[-1][len("<poet:"):-1]
    plain = lstmkit.write("春", model=conditioned_dir, max_len=8, seed=1)
    titled = lstmkit.write("春", model=conditioned_dir, max_len=8, seed=1, title="春晓", poet=poet)
    themed = lstmkit.write("春", model=conditioned_dir, max_len=8, seed=1, theme="春 花")
    assert plain != titled and len(themed) == 1
    with pytest.raises(LstmkitError, match="not both"):
        lstmkit.write(model=conditioned_dir, title="春晓", theme="春")
