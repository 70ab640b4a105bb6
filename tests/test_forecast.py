"""The forecasting task: training on the loop, resuming, predicting, evaluating against
the naive baselines, and the ``lstmkit forecast`` commands."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from lstmkit.cli import main
from lstmkit.data.series import SeriesConfig, seasonal_positions
from lstmkit.errors import LstmkitError
from lstmkit.model import SequenceConfig
from lstmkit.tasks.forecast import (
    BLEND_START,
    DEFAULT_LOOP,
    ForecastNet,
    build_net,
    elementwise_loss,
    load_forecaster,
    train,
)
from lstmkit.tasks.forecast_eval import (
    ErrorSums,
    Evaluation,
    mase_scale,
    naive_forecasts,
)
from lstmkit.tasks.forecaster import ForecastConfig, parse_quantiles

TANG = Path(__file__).resolve().parent.parent / "src" / "lstmkit" / "models" / "tang"
PNG = b"\x89PNG\r\n\x1a\n"
# A model and a loop of a second or two on one CPU thread.
TINY = ["--hidden-size", 8, "--epochs", 2, "--epoch-windows", 64, "--batch-size", 8,
        "--log-every", 1, "--device", "cpu", "--seed", 3, "-q"]


def run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def write_shops(path: Path, shops=("north",), n=96) -> Path:
    """Monthly sales of one or more shops: a yearly wave over a trend, with noise."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    frames = [pd.DataFrame({
        "month": pd.period_range("2010-01", periods=n, freq="M").strftime("%Y-%m"),
        "shop": shop,
        "sales": (k + 1) * (50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 1, n),
        "rain": rng.normal(0, 1, n)}) for k, shop in enumerate(shops)]
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def quantile_model(tmp_path_factory) -> Path:
    """A tiny quantile model over a monthly file with a covariate."""
    folder = tmp_path_factory.mktemp("forecast")
    csv = write_shops(folder / "shop.csv")
    out = folder / "run"
    run("forecast", "train", "--csv", csv, "--target", "sales", "--time", "month",
        "--covariates", "rain", "--quantiles", "0.1,0.9", "--out", out, *TINY)
    return out / "best"


def test_the_sine_demo_beats_the_naive_forecasts_after_a_short_run(tmp_path):
    loop = replace(DEFAULT_LOOP, epochs=3, device="cpu")
    train(SeriesConfig(demo="sine"), tmp_path / "run", loop=loop)
    forecaster = load_forecaster(tmp_path / "run" / "best")
    result = forecaster.evaluate()
    rmse = {name: values["rmse"] for name, values in result.metrics.items()}
    assert rmse["LSTM"] < 0.6 * rmse["last value"] and rmse["LSTM"] < 0.6 * rmse["drift"]
    assert result.origins == 202 - 24 + 1 and result.horizon == 24 and result.season == 24
    # The checkpoint says it is the demo: predict regenerates it without a file.
    assert forecaster.config.demo == "sine" and forecaster.config.csv is None
    forecast = forecaster.predict()
    assert len(forecast.table) == 24
    assert forecast.table["time"].iloc[0] == pd.Timestamp("2024-02-26 00:00")
    with pytest.raises(LstmkitError, match="trained on the demo 'sine', which has no columns"):
        forecaster.read(tmp_path / "any.csv")


def test_checkpoint_holds_what_predicting_needs_and_no_pickles(quantile_model):
    config = json.loads((quantile_model / "config.json").read_text())
    assert config["task"] == "forecast"
    data = config["data"]
    assert Path(data["csv"]).is_absolute() and data["target"] == "sales"
    assert data["covariates"] == ["rain"] and data["season"] == 12
    assert (data["window"], data["horizon"], data["transform"]) == (24, 12, "none")
    assert config["forecast"]["quantiles"] == [0.1, 0.5, 0.9]
    assert set(config["scaling"]["sales"]) == {"mean", "std", "covariate_mean", "covariate_std"}
    assert config["splits"]["sales"] == {"train": 68, "val": 14, "test": 14}
    assert config["model"]["input_size"] == 2 and config["model"]["output_size"] == 36
    assert sorted(p.name for p in quantile_model.iterdir()) == [
        "config.json", "model.safetensors", "trainer.json", "trainer.safetensors"] or \
        sorted(p.name for p in quantile_model.iterdir()) == ["config.json", "model.safetensors"]


def test_predict_writes_a_csv_and_a_png_with_ordered_quantiles(quantile_model, tmp_path):
    out = tmp_path / "f.csv"
    result = run("forecast", "predict", "--model", quantile_model, "--out", out)
    table = pd.read_csv(out)
    assert len(table) == 12 and table["time"].iloc[0] == "2018-01-01"
    assert (table["q0.1"] <= table["forecast"]).all() and (table["forecast"] <= table["q0.9"]).all()
    assert table["actual"].isna().all()
    assert (tmp_path / "f.png").read_bytes()[:8] == PNG
    assert "wrote" in result.output and "2018-12-01" in result.output


def test_predict_from_a_file_with_newer_rows(quantile_model, tmp_path):
    newer = write_shops(tmp_path / "newer.csv", n=108)  # a year more of the same shop
    run("forecast", "predict", "--model", quantile_model, "--csv", newer, "--out",
        tmp_path / "f.csv")
    table = pd.read_csv(tmp_path / "f.csv")
    assert table["origin"].iloc[0] == "2018-12-01" and table["time"].iloc[0] == "2019-01-01"


@pytest.mark.parametrize("hide, rows", [("horizon", 12), ("test", 14)])
def test_predict_can_hide_known_steps_and_draw_the_truth(quantile_model, tmp_path, hide, rows):
    out = tmp_path / "hidden.csv"
    plot = tmp_path / "hidden-plot.png"
    result = run("forecast", "predict", "--model", quantile_model, "--hide", hide, "--out", out,
                 "--plot", plot)
    table = pd.read_csv(out)
    truth = pd.read_csv(Path(json.loads((quantile_model / "config.json").read_text())
                             ["data"]["csv"]))["sales"].to_numpy()
    assert len(table) == rows
    np.testing.assert_allclose(table["actual"].to_numpy(), truth[-rows:])
    assert plot.read_bytes()[:8] == PNG
    assert f"mean absolute error of the {rows} hidden steps" in result.output


def test_eval_prints_the_baselines_and_a_verdict(quantile_model):
    text = run("forecast", "eval", "--model", quantile_model).output
    for name in ("LSTM", "last value", "seasonal naive", "drift", "MASE", "sMAPE"):
        assert name in text
    assert "3 forecasts of 12 steps (36 points); season 12 (monthly time stamps)" in text
    assert "the LSTM beats all three baselines" in text or "the LSTM does not beat" in text
    assert "the 0.1-0.9 quantile band holds " in text and "(a calibrated band: 80%)" in text
    values = json.loads(run("forecast", "eval", "--model", quantile_model, "--json").output)
    assert set(values["metrics"]) == {"LSTM", "last value", "seasonal naive", "drift"}
    assert set(values["metrics"]["drift"]) == {"rmse", "mae", "mase", "smape"}


def test_a_language_model_is_refused_by_name():
    for command in ("predict", "eval"):
        result = run("forecast", command, "--model", TANG, ok=False)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output == (f"Error: {TANG} is a language model; lstmkit forecast {command} "
                                 "needs a forecasting model\n")


@pytest.mark.parametrize("command, args, wanted", [
    ("poem", [], "a language model"),
    ("write", [], "a language model"),
    ("eval", ["--corpus", "x.jsonl"], "a language model"),
    ("classify predict", ["--input", "digits"], "a sequence classifier"),
])
def test_other_commands_refuse_a_forecasting_model_by_name(quantile_model, command, args, wanted):
    result = run(*command.split(), "--model", quantile_model, *args, ok=False)
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {quantile_model} is a forecasting model; lstmkit {command} needs {wanted}")


def test_a_global_model_over_a_file_of_several_series(tmp_path):
    csv = write_shops(tmp_path / "shops.csv", shops=("north", "south"))
    out = tmp_path / "run"
    run("forecast", "train", "--csv", csv, "--target", "sales", "--time", "month", "--id", "shop",
        "--out", out, *TINY)
    config = json.loads((out / "best" / "config.json").read_text())
    assert set(config["scaling"]) == {"north", "south"}
    south, north = config["scaling"]["south"]["mean"], config["scaling"]["north"]["mean"]
    assert south == pytest.approx(2 * north, rel=0.05)  # each shop scaled by itself
    evaluation = json.loads(run("forecast", "eval", "--model", out / "best", "--json").output)
    assert evaluation["series"] == 2 and evaluation["origins"] == 2 * 3
    run("forecast", "predict", "--model", out / "best", "--out", tmp_path / "f.csv")
    table = pd.read_csv(tmp_path / "f.csv")
    assert table.groupby("series").size().to_dict() == {"north": 12, "south": 12}


def test_a_config_file_fills_settings_and_typed_options_win(tmp_path):
    csv = write_shops(tmp_path / "shop.csv")
    config = tmp_path / "run.toml"
    config.write_text('[data]\nwindow = 15\nhorizon = 6\n[model]\nhidden_size = 6\n'
                      '[loop]\nepochs = 1\n', "utf-8")
    run("forecast", "train", "--csv", csv, "--target", "sales", "--time", "month",
        "--config", config, "--horizon", 3, "--epoch-windows", 16, "-q", "--out", tmp_path / "r")
    saved = json.loads((tmp_path / "r" / "best" / "config.json").read_text())
    assert (saved["data"]["window"], saved["data"]["horizon"]) == (15, 3)
    assert saved["model"]["hidden_size"] == 6 and saved["loop"]["epochs"] == 1
    config.write_text("hiden_size = 6\n", "utf-8")
    result = run("forecast", "train", "--demo", "sine", "--config", config, "--out",
                 tmp_path / "bad", ok=False)
    assert result.exit_code == 1 and "unknown setting 'hiden_size' for lstmkit forecast train" in result.output


def _step_losses(folder: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return {row["step"]: row["loss"] for row in rows if row["kind"] == "step"}


def test_an_interrupted_run_resumes_with_the_same_losses(tmp_path):
    csv = write_shops(tmp_path / "shop.csv")
    args = ["--csv", csv, "--target", "sales", "--time", "month", *TINY, "--dropout", 0.3]
    run("forecast", "train", *args, "--out", tmp_path / "whole")
    first = run("forecast", "train", *args, "--out", tmp_path / "split", "--max-steps", 5)
    assert "reached max_steps=5 at step 5" in first.output
    second = run("forecast", "train", "--out", tmp_path / "split", "--resume", "-q")
    assert "done at step 18 (2 epochs done)" in second.output  # 66 windows / 8 a step
    whole, split = _step_losses(tmp_path / "whole"), _step_losses(tmp_path / "split")
    assert sorted(whole) == sorted(split) == list(range(1, 19))
    for step in whole:
        assert split[step] == pytest.approx(whole[step], abs=1e-6)


def test_quantiles_never_cross():
    torch.manual_seed(0)
    net = ForecastNet(SequenceConfig(input_size=1, output_size=4 * 3, hidden_size=8), 4, 3)
    for parameter in net.parameters():
        torch.nn.init.normal_(parameter, std=2.0)
    x = torch.randn(64, 10, 1)
    raw = net.body(x).view(-1, 4, 3)
    assert (raw.diff(dim=-1) < 0).any()  # the head alone would cross
    assert (net(x).diff(dim=-1) >= 0).all()


def test_a_blending_net_adds_a_learned_share_of_last_seasons_change():
    config = SeriesConfig(demo="sine", window=6, horizon=4, season=3, relative="blend")
    positions = seasonal_positions(config)
    assert positions.tolist() == [3, 4, 5, 3]  # step 4 reads two seasons back
    net = build_net(SequenceConfig(input_size=1, output_size=4), config, ForecastConfig())
    for parameter in net.body.parameters():
        torch.nn.init.zeros_(parameter)  # the LSTM says nothing: only the skip speaks
    x = torch.arange(6.0).view(1, 6, 1)  # the window's last value is 5
    share = torch.sigmoid(torch.tensor(BLEND_START))
    expected = share * (x[0, positions, 0] - 5.0)
    torch.testing.assert_close(net(x)[0, :, 0], expected)
    assert len(list(net.parameters())) == len(list(net.body.parameters())) + 1


def test_pinball_loss_weighs_under_and_over_forecasts_by_the_quantile():
    config = ForecastConfig(quantiles=(0.1, 0.5, 0.9))
    pred = torch.zeros(1, 1, 3)
    under = elementwise_loss(pred, torch.ones(1, 1), config)[0, 0]  # truth above the forecast
    over = elementwise_loss(pred, -torch.ones(1, 1), config)[0, 0]
    assert under.tolist() == pytest.approx([0.1, 0.5, 0.9])
    assert over.tolist() == pytest.approx([0.9, 0.5, 0.1])
    assert parse_quantiles("0.9, 0.1") == (0.1, 0.5, 0.9)


def test_naive_baselines_and_mase_by_hand():
    values = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 7.0, 6.0, 8.0])
    forecasts = naive_forecasts(values, np.array([4, 6]), horizon=3, season=2)
    assert forecasts["last value"].tolist() == [[3, 3, 3], [7, 7, 7]]
    assert forecasts["seasonal naive"].tolist() == [[4, 3, 4], [5, 7, 5]]
    np.testing.assert_allclose(forecasts["drift"], [[3 + 2 / 3, 3 + 4 / 3, 5], [8.2, 9.4, 10.6]])
    assert mase_scale(values[:4], season=2) == pytest.approx((3 + 1) / 2)
    assert mase_scale(values[:4], season=0) == pytest.approx((1 + 2 + 1) / 3)
    sums = ErrorSums()
    sums.add(np.array([[2.0, 4.0]]), np.array([[1.0, 4.0]]), scale=0.5)
    metrics = sums.metrics()
    assert metrics["mae"] == 0.5 and metrics["rmse"] == pytest.approx(0.5 ** 0.5)
    assert metrics["mase"] == 1.0 and metrics["smape"] == pytest.approx(200 / 3 / 2)


def test_the_verdict_says_whether_the_lstm_helps():
    def evaluation(ours):
        metrics = {name: {"mase": value, "rmse": 1, "mae": 1, "smape": 1} for name, value in
                   {"LSTM": ours, "last value": 1.3, "seasonal naive": 0.84, "drift": 1.5}.items()}
        return Evaluation(metrics, 1, 10, 12, 12, "monthly time stamps")

    assert evaluation(0.62).verdict() == ("the LSTM beats all three baselines on MASE (0.620 vs "
                                          "0.840 for seasonal naive, the best of them)")
    assert evaluation(0.91).verdict() == ("the LSTM does not beat seasonal naive "
                                          "(MASE 0.910 vs 0.840)")
    assert evaluation(1.4).verdict() == ("the LSTM does not beat seasonal naive (MASE 1.400 vs "
                                         "0.840), nor last value (1.300)")
