import csv
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lstmkit.cli import main
from lstmkit.core.loop import LoopConfig
from lstmkit.data.sequence_sources import Source
from lstmkit.data.sequences import SequencesConfig
from lstmkit.tasks import load_model
from lstmkit.tasks.classify import (
    ClassifierSettings,
    evaluate_source,
    load_classifier,
    predict_file,
    train,
)
from lstmkit.tasks.classify_report import ClassReport, nearest_neighbour

BUNDLED_LM = Path(__file__).parents[1] / "src" / "lstmkit" / "models" / "tang"
TINY = ClassifierSettings(hidden_size=8, dropout=0.0)
CLASSES = ("down", "flat", "up")


def tiny_loop(**overrides) -> LoopConfig:
    values = {"epochs": 4, "lr": 1e-2, "warmup_steps": 2, "patience": 0, "log_every": 1,
              "device": "cpu"}
    return LoopConfig(**{**values, **overrides})


def slopes_csv(path: Path, per_class: int = 12, seed: int = 0) -> Path:
    """Rows of 5 to 12 values going down, flat or up, with string labels; shorter rows
    leave their last cells empty."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["kind", *(f"t{i}" for i in range(12))])
        for _ in range(per_class):
            for slope, kind in zip((-1.0, 0.0, 1.0), CLASSES):
                length = int(rng.integers(5, 13))
                values = slope * np.linspace(0, 1, length) + 0.05 * rng.normal(size=length)
                writer.writerow([kind, *(f"{v:.4f}" for v in values), *[""] * (12 - length)])
    return path


@pytest.fixture(scope="module")
def slopes_run(tmp_path_factory) -> Path:
    """A classifier run on the slopes CSV (string labels, rows of different lengths)."""
    folder = tmp_path_factory.mktemp("slopes")
    data = slopes_csv(folder / "slopes.csv")
    out = folder / "run"
    summary = train(Source(str(data)), out, TINY, SequencesConfig(label_column="kind",
                                                                   batch_size=8, chunk=1),
                    tiny_loop(epochs=15))
    assert summary["test"]["examples"] == 9
    return out


def run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_digits_short_run_far_above_chance(tmp_path):
    summary = train("digits", tmp_path / "d", ClassifierSettings(hidden_size=32),
                    SequencesConfig(batch_size=32), tiny_loop(epochs=2, log_every=20))
    assert summary["test"]["examples"] == 450
    assert summary["test"]["accuracy"] > 0.6  # chance is 0.1
    assert summary["test"]["baseline_1nn_accuracy"] > 0.9
    png = (tmp_path / "d" / "confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((tmp_path / "d" / "test-report.json").read_text())
    assert np.trace(np.array(report["confusion"])) == round(report["accuracy"] * 450)
    assert len(report["per_class"]) == 10


def test_string_labels_round_trip(slopes_run):
    config = json.loads((slopes_run / "best" / "config.json").read_text())
    assert config["task"] == "classify" and config["classes"] == sorted(CLASSES)
    assert config["model"]["input_size"] == 1 and config["channels"] == 1
    classifier = load_classifier(slopes_run / "best")
    ramps = [np.linspace(0, 1, 8), np.linspace(0, -1, 6), np.zeros(10)]
    assert classifier.predict(ramps) == ["up", "down", "flat"]
    assert classifier.predict_proba(ramps).sum(axis=1) == pytest.approx(np.ones(3), abs=1e-6)


def test_a_prediction_does_not_depend_on_padding(slopes_run):
    classifier = load_classifier(slopes_run / "best")
    short, long = np.linspace(0, 1, 5), np.linspace(1, 0, 12)
    alone = classifier.predict_proba([short])[0]
    beside = classifier.predict_proba([long, short])[1]
    padded = classifier.predict_proba(np.array([[*short, *[np.nan] * 7], long]))[0]
    np.testing.assert_allclose(beside, alone, atol=1e-6)
    np.testing.assert_allclose(padded, alone, atol=1e-6)
    # and the steps are all read: a sequence that differs only in its last value differs
    changed = classifier.predict_proba([[*short[:-1], 5.0]])[0]
    assert np.abs(changed - alone).max() > 1e-4


def test_load_model_finds_the_classifier(slopes_run):
    assert load_model(slopes_run / "best").classes == sorted(CLASSES)


def test_nearest_neighbour_on_a_tiny_case():
    train = torch.tensor([[[0.0], [0.0]], [[5.0], [5.0]], [[1.0], [0.0]]])  # (3, 2, 1)
    targets = torch.tensor([0, 1, 2])
    test = torch.tensor([[[0.9], [0.1]], [[4.0], [6.0]], [[0.1], [0.0]]])
    assert nearest_neighbour(train, targets, test).tolist() == [2, 1, 0]
    # A longer test sequence: the training ones go on with zeros.
    longer = torch.tensor([[[5.0], [5.0], [5.0]], [[0.0], [0.0], [1.0]]])
    assert nearest_neighbour(train, targets, longer).tolist() == [1, 0]
    # Blocks give the same answers as one pass.
    assert nearest_neighbour(train, targets, test, block=1).tolist() == [2, 1, 0]


def test_report_numbers():
    report = ClassReport.of(["a", "b", "c"], [0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0])
    assert report.accuracy == pytest.approx(4 / 6)
    rows = {row["label"]: row for row in report.per_class()}
    assert rows["a"]["precision"] == pytest.approx(0.5) and rows["a"]["recall"] == 0.5
    assert rows["b"]["precision"] == pytest.approx(2 / 3) and rows["b"]["recall"] == 1.0
    assert rows["c"]["f1"] == pytest.approx(2 / 3)
    assert report.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert report.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert "b          0.667   1.000   0.800        2" in report.table()


def test_resumed_run_repeats_the_uninterrupted_losses(tmp_path):
    data = slopes_csv(tmp_path / "slopes.csv")
    source = Source(str(data))
    # 21 training sequences in batches of 8 (3 a pass): 3 passes, 63 sequences in 8 batches.
    config = SequencesConfig(label_column="kind", batch_size=8, chunk=1, epoch_steps=8)
    train(source, tmp_path / "straight", TINY, config, tiny_loop(epochs=3))
    train(source, tmp_path / "split", TINY, config, tiny_loop(epochs=3, max_steps=13))
    train(source, tmp_path / "split", TINY, config, tiny_loop(epochs=3), resume=True)

    def losses(name):
        rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").open()]
        return {r["step"]: r["loss"] for r in rows if r["kind"] == "step"}

    straight, split = losses("straight"), losses("split")
    assert len(straight) == 3 * 8 and sorted(split) == sorted(straight)
    for step, loss in straight.items():
        assert split[step] == pytest.approx(loss, abs=1e-6)


def test_cli_train_predict_eval(tmp_path, slopes_run):
    data = slopes_csv(tmp_path / "slopes.csv")
    out = tmp_path / "run"
    result = run("classify", "train", "--data", data, "--out", out, "--label-column", "kind",
                 "--hidden-size", 8, "--epochs", 3, "--batch-size", 8, "--chunk", 1,
                 "--device", "cpu", "-q")
    assert "done at step" in result.output and "1-NN Euclidean baseline" in result.output
    assert "class  precision  recall" in result.output
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"

    model = slopes_run / "best"
    result = run("classify", "predict", "--model", model, "--input", data, "--proba")
    lines = result.output.strip().splitlines()
    assert lines[0] == "index,label,probability,p_down,p_flat,p_up"
    rows = list(csv.DictReader(lines[:37]))
    assert len(rows) == 36 and {row["label"] for row in rows} <= set(CLASSES)
    expected = load_classifier(model).predict(predict_file(load_classifier(model), str(data))[1])
    assert [row["label"] for row in rows] == expected
    assert "predictions match the file's labels" in result.output
    as_json = json.loads(run("classify", "predict", "--model", model, "--input", data,
                             "--json").stdout)
    assert [row["label"] for row in as_json] == expected

    result = run("classify", "eval", "--model", model, "--data", data, "--json")
    report = json.loads(result.stdout)
    direct = evaluate_source(load_classifier(model), str(data))
    assert report["accuracy"] == direct.accuracy and report["examples"] == 9
    assert report["baseline_1nn_accuracy"] is not None
    result = run("classify", "eval", "--model", model, "--data", data, "--split", "all",
                 "--confusion", tmp_path / "all.png")
    assert "on 36 sequences" in result.output
    assert (tmp_path / "all.png").read_bytes()[:4] == b"\x89PNG"


def test_config_file_fills_settings_and_the_command_line_wins(tmp_path):
    data = slopes_csv(tmp_path / "slopes.csv")
    config = tmp_path / "run.toml"
    config.write_text('[model]\nhidden_size = 6\ncell = "gru"\n[data]\nchunk = 2\n'
                      'label_column = "kind"\n[loop]\nepochs = 1\n', "utf-8")
    run("classify", "train", "--data", data, "--out", tmp_path / "r", "--config", config,
        "--hidden-size", 10, "--device", "cpu", "-q")
    saved = json.loads((tmp_path / "r" / "best" / "config.json").read_text())
    assert saved["model"]["hidden_size"] == 10 and saved["model"]["cell"] == "gru"
    assert saved["model"]["input_size"] == 2 and saved["data"]["chunk"] == 2
    assert saved["loop"]["epochs"] == 1 and saved["loop"]["lr"] == 1e-3
    config.write_text("hidden_size = 'big'\n", "utf-8")
    result = run("classify", "train", "--data", data, "--out", tmp_path / "s", "--config",
                 config, ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: config ") and "hidden_size must be an integer (got 'big')" in result.output


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, "utf-8")
    return path


@pytest.mark.parametrize("make_args, message", [
    (lambda d: ["--data", d / "missing.csv"], "'{d}/missing.csv' does not exist"),
    (lambda d: ["--data", _write(d / "x-images-idx3-ubyte", b"\x01\x02\x03\x04")],
     "is not an IDX file (bad magic number 01020304)"),
    (lambda d: ["--data", _write(d / "y-images-idx3-ubyte",
                                 struct.pack(">BBBBIII", 0, 0, 8, 3, 3, 2, 2) + b"\0" * 5)],
     "IDX header says 3 x 2 x 2 values (12 bytes) but the file holds 5"),
    (lambda d: ["--data", d / "arrays.npz"], "lacks y_train"),
    (lambda d: ["--data", _write(d / "u.csv", "a,b,label\n1,2,x\n3,4,y\n5,6,x\n"),
                "--label-column", "kind"], "has no column 'kind'"),
    (lambda d: ["--data", _write(d / "v.csv", "label,a,b\nx,1,2\nx,3,oops\n")],
     "row 3: 'oops' in column 3 is not a number"),
    (lambda d: ["--data", _write(d / "e.csv", "")], "is empty"),
    (lambda d: ["--data", _write(d / "f.csv", "label,a\nx,1\nx,2\ny,3\n")],
     "class 'y' has only 1 example: too few to split off a test part"),
    (lambda d: ["--data", d / "g.ts"], "line 4: 2 dimensions, earlier lines have 1"),
    (lambda d: ["--data", "digits", "--val-fraction", "1.5"], "val_fraction must be in [0, 1)"),
    (lambda d: ["--data", "digits", "--lr", "nan"], "lr must be a finite number"),
    (lambda d: ["--data", "digits", "--dropout", "1"], "dropout must be in [0, 1)"),
    (lambda d: ["--data", "digits", "--batch-size", "0"], "batch_size must be at least 1"),
    (lambda d: ["--data", "digits", "--chunk", "-2"], "chunk must be 0 (auto) or more"),
    (lambda d: ["--data", "digits", "--max-minutes", "inf"], "max_minutes must be a finite"),
])
def test_train_errors_are_one_line(tmp_path, make_args, message):
    np.savez(tmp_path / "arrays.npz", x_train=np.ones((3, 2)))
    (tmp_path / "g.ts").write_text("@classLabel true a b\n@data\n1,2:a\n3:4,5:b\n", "utf-8")
    args = make_args(tmp_path)
    result = run("classify", "train", *args, "--out", tmp_path / "r", ok=False)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert message.format(d=tmp_path) in lines[0]
    assert "Traceback" not in result.output


def test_idx_labels_of_another_count(tmp_path):
    images = struct.pack(">BBBBIII", 0, 0, 8, 3, 3, 2, 2) + bytes(12)
    labels = struct.pack(">BBBBI", 0, 0, 8, 1, 2) + bytes(2)
    _write(tmp_path / "z-images-idx3-ubyte", images)
    _write(tmp_path / "z-labels-idx1-ubyte", labels)
    result = run("classify", "train", "--data", tmp_path / "z-images-idx3-ubyte", "--out",
                 tmp_path / "r", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == (f"Error: '{tmp_path}/z-labels-idx1-ubyte' holds 2 labels "
                                     f"for the 3 sequences of '{tmp_path}/z-images-idx3-ubyte'")


def test_predict_refuses_a_language_model():
    result = run("classify", "predict", "--model", BUNDLED_LM, "--input", "digits", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {BUNDLED_LM} is a language model; lstmkit classify predict needs a sequence classifier")


def test_predict_with_a_model_of_other_width(tmp_path, slopes_run):
    np.savez(tmp_path / "wide.npz", x=np.ones((2, 5, 3)))
    result = run("classify", "predict", "--model", slopes_run / "best", "--input",
                 tmp_path / "wide.npz", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "sequences have 3 values per step; the model reads 1" in result.output
