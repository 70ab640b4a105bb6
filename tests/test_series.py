"""Reading, checking, transforming, splitting, scaling and windowing time series."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from lstmkit.cli import main
from lstmkit.data.series import (
    SeriesConfig,
    anchors,
    origins,
    prepare_series,
    split_series,
    transform,
    untransform,
    window_targets,
)
from lstmkit.data.series_csv import (
    demo_series,
    future_times,
    guess_season,
    read_csv_series,
)
from lstmkit.errors import LstmkitError


def monthly_csv(path, n=60, values=None, start="2000-01"):
    """A monthly CSV (Month, Sales, Price) with a yearly wave over a trend."""
    t = np.arange(n)
    if values is None:
        values = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    months = pd.period_range(start, periods=n, freq="M").strftime("%Y-%m")
    frame = pd.DataFrame({"Month": months, "Sales": values, "Price": 5 + np.cos(t)})
    frame.to_csv(path, index=False)
    return path


def config_for(path, **overrides) -> SeriesConfig:
    values = {"csv": str(path), "target": "Sales", "time": "Month", "window": 12,
              "horizon": 6, "relative": "none"}
    values.update(overrides)
    return SeriesConfig(**values)


def test_reads_a_monthly_file_and_guesses_its_season(tmp_path):
    path = monthly_csv(tmp_path / "m.csv")
    (series,) = read_csv_series(path, "Sales", "Month", ("Price",))
    assert len(series) == 60 and series.covariates.shape == (60, 1)
    assert series.times[1] == pd.Timestamp("2000-02-01")
    assert series.lines[0] == 2  # the header is line 1
    assert guess_season(series.times) == (12, "monthly time stamps")


@pytest.mark.parametrize("freq, season", [("h", 24), ("D", 7), ("W", 52), ("MS", 12),
                                          ("QS", 4), ("YS", None), ("5min", None)])
def test_season_guessed_from_the_clock(freq, season):
    assert guess_season(pd.date_range("2020-01-01", periods=40, freq=freq))[0] == season


def test_no_season_without_dates():
    assert guess_season(None)[0] is None
    assert guess_season(pd.Index([1885.0, 1886.0, 1887.0]))[0] is None
    # Business days: a 1-day step only 80% of the time is no obvious clock.
    assert guess_season(pd.bdate_range("2020-01-01", periods=60))[0] is None


def test_future_times_follow_the_calendar():
    months = pd.date_range("2000-01-01", periods=12, freq="MS")
    assert future_times(months, 12, 2) == [pd.Timestamp("2001-01-01"), pd.Timestamp("2001-02-01")]
    assert future_times(pd.Index([10.0, 12.0, 14.0]), 3, 2) == [16.0, 18.0]
    assert future_times(None, 5, 2) == [5, 6]


@pytest.mark.parametrize("name", ["none", "log", "diff"])
def test_transforms_round_trip(name):
    values = np.array([3.0, 5.0, 4.0, 8.0, 9.0, 7.0, 12.0])
    z = transform(values, name)
    at = np.array([2, 4])  # origins; forecast 3 steps after each
    steps = at[:, None] + np.arange(3)
    back = untransform(z[steps], name, values[at - 1])
    np.testing.assert_allclose(back, values[steps])


def test_log_of_a_non_positive_value_names_its_line(tmp_path):
    path = monthly_csv(tmp_path / "m.csv", values=np.r_[np.full(20, 5.0), 0.0, np.full(39, 6.0)])
    with pytest.raises(LstmkitError, match=r"log needs positive values, but line 22 .* is 0"):
        prepare_series(config_for(path, transform="log"))


def test_split_is_chronological_with_at_least_a_horizon_per_part():
    split = split_series(100, SeriesConfig(demo="sine", horizon=24))
    assert (split.train, split.val, split.test) == (52, 24, 24)
    split = split_series(1000, SeriesConfig(demo="sine", horizon=24))
    assert (split.train, split.val, split.test) == (700, 150, 150)


def test_windows_line_up_with_the_series(tmp_path):
    values = np.arange(60, dtype=float) ** 1.5
    config = config_for(monthly_csv(tmp_path / "m.csv", values=values), epoch_windows=1,
                        center=False)
    data = prepare_series(config)
    scaling = data.scalings[0]
    first = data.train.collate([0])
    z = (values - scaling.mean) / scaling.std
    # Origin 12: inputs are points 0..11, targets 12..17 (relative none: no anchor).
    np.testing.assert_allclose(first.inputs[0, :, 0].numpy(), z[:12], rtol=1e-5)
    np.testing.assert_allclose(first.targets[0].numpy(), z[12:18], rtol=1e-5)
    # Centred inputs are the same window less its last value.
    centred = prepare_series(replace(config, center=True)).train.collate([0])
    np.testing.assert_allclose(centred.inputs[0, :, 0].numpy(), z[:12] - z[11], atol=1e-6)


@pytest.mark.parametrize("relative", ["last", "season"])
def test_targets_are_the_values_less_a_naive_anchor(relative):
    config = SeriesConfig(demo="sine", window=4, horizon=5, season=3, relative=relative)
    z = np.arange(20, dtype=float) ** 2
    at = np.array([6, 9])
    base = anchors(z, at, config)
    if relative == "last":
        assert base.tolist() == [[25.0] * 5, [64.0] * 5]
    else:  # the same phase one season (or two) before: 3,4,5,3,4 for origin 6
        assert base[0].tolist() == [9.0, 16.0, 25.0, 9.0, 16.0]
    np.testing.assert_allclose(window_targets(z, at, config) + base,
                               z[at[:, None] + np.arange(5)])


def test_changing_later_values_changes_no_training_window_or_scaling(tmp_path):
    """No leakage: the validation and test parts may change freely; training sees none of it."""
    base = monthly_csv(tmp_path / "a.csv")
    values = pd.read_csv(base)["Sales"].to_numpy()
    config = config_for(base, relative="last", covariates=("Price",))
    before = prepare_series(config)
    split = before.splits[0]
    assert (split.train, split.val, split.test) == (42, 9, 9)
    changed = values.copy()
    changed[split.train:] *= 3  # every validation and test value
    after = prepare_series(replace(config, csv=str(monthly_csv(tmp_path / "b.csv", values=changed))))
    assert after.scalings == before.scalings
    assert torch.equal(after.train.batches.inputs, before.train.batches.inputs)
    assert torch.equal(after.train.batches.targets, before.train.batches.targets)
    assert not torch.equal(after.val.targets, before.val.targets)
    # The check can fail: one changed training value does change the training windows.
    changed = values.copy()
    changed[split.train - 1] += 1
    moved = prepare_series(replace(config, csv=str(monthly_csv(tmp_path / "c.csv", values=changed))))
    assert not torch.equal(moved.train.batches.targets, before.train.batches.targets)


def test_scaling_is_fitted_on_the_training_part_only(tmp_path):
    values = np.r_[np.linspace(0, 10, 42), np.full(18, 1000.0)]  # 42 training points
    data = prepare_series(config_for(monthly_csv(tmp_path / "m.csv", values=values),
                                     covariates=("Price",)))
    scaling = data.scalings[0]
    assert data.splits[0].train == 42
    assert scaling.mean == pytest.approx(5.0) and scaling.std == pytest.approx(values[:42].std())
    price = pd.read_csv(tmp_path / "m.csv")["Price"].to_numpy()
    assert scaling.covariate_mean[0] == pytest.approx(price[:42].mean())


def test_test_origins_keep_the_whole_horizon_in_the_test_part():
    config = SeriesConfig(demo="sine", window=5, horizon=4)
    split = split_series(100, config)
    at = origins(split, "test", config, 100)
    assert at[0] == split.test_start and at[-1] + config.horizon == 100
    train = origins(split, "train", config, 100)
    assert train[0] == 5 and train[-1] + config.horizon == split.train


def test_a_file_of_several_series_is_split_and_scaled_per_series(tmp_path):
    t = np.arange(50)
    frame = pd.concat([
        pd.DataFrame({"shop": name, "day": pd.date_range("2021-01-01", periods=50).strftime(
            "%Y-%m-%d"), "sales": scale * (10 + np.sin(t / 2))})
        for name, scale in (("north", 1.0), ("south", 100.0))])
    path = tmp_path / "shops.csv"
    frame.sample(frac=1, random_state=0).sort_values("day", kind="stable").to_csv(path, index=False)
    data = prepare_series(SeriesConfig(csv=str(path), target="sales", time="day", id="shop",
                                       window=7, horizon=3, epoch_windows=1))
    assert [s.name for s in data.series] == ["north", "south"] or \
        [s.name for s in data.series] == ["south", "north"]
    means = {s.name: c.mean for s, c in zip(data.series, data.scalings)}
    assert means["south"] == pytest.approx(100 * means["north"])
    per_series = origins(data.splits[0], "train", data.config, 50)
    assert data.train.examples == 2 * len(per_series)
    assert data.config.season == 7  # daily


def test_fill_forward_and_by_interpolation(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("t,y\n1,1\n2,\n3,\n4,4\n5,5\n6,NA\n", "utf-8")
    (ffill,) = read_csv_series(path, "y", "t", fill="ffill")
    assert ffill.values.tolist() == [1, 1, 1, 4, 5, 5]
    (line,) = read_csv_series(path, "y", "t", fill="interpolate")
    assert line.values.tolist() == [1, 2, 3, 4, 5, 5]
    with pytest.raises(LstmkitError, match="line 3: column 'y' has no value"):
        read_csv_series(path, "y", "t")
    path.write_text("t,y\n1,\n2,2\n", "utf-8")
    with pytest.raises(LstmkitError, match="line 2: column 'y' has no value before line 3"):
        read_csv_series(path, "y", "t", fill="ffill")


def test_the_demo_is_the_same_every_time():
    (a,), (b,) = demo_series("sine"), demo_series("sine")
    assert np.array_equal(a.values, b.values) and len(a) == 1344
    assert guess_season(a.times)[0] == 24
    assert a.values.std() > 2  # a wave, not a flat line


def _train_cli(*args):
    return CliRunner().invoke(main, ["forecast", "train", "--out", "/nonexistent/never-written",
                                     *map(str, args)])


BAD_FILES = {
    "missing value": ("Month,Sales\n2000-01,1\n2000-02,\n2000-03,3\n",
                      "line 3: column 'Sales' has no value (1 missing in all); fill gaps with --fill"),
    "non-numeric": ("Month,Sales\n2000-01,1\n2000-02,2\n2000-03,?0.2\n",
                    "line 4: column 'Sales' holds '?0.2', which is not a number"),
    "unsorted": ("Month,Sales\n2000-01,1\n2000-03,2\n2000-02,3\n",
                 "line 4: Month '2000-02' comes before the time of line 3 ('2000-03'); sort the file"),
    "duplicated": ("Month,Sales\n2000-01,1\n2000-02,2\n2000-02,3\n",
                   "line 4: Month '2000-02' repeats the time of line 3 ('2000-02'); remove"),
    "infinite": ("Month,Sales\n2000-01,1\n2000-02,inf\n",
                 "line 3: column 'Sales' holds 'inf', which is not a finite number"),
    "bad date": ("Month,Sales\n2000-01,1\n2000-13,2\n",
                 "line 3: column 'Month' holds '2000-13', not a time in the format %Y-%m"),
    "too short": ("Month,Sales\n" + "".join(f"20{y:02d}-{m:02d},{m + y}\n" for y in range(2)
                                            for m in range(1, 13)),
                  "has 24 points: too short for window 24 + horizon 12"),
    "constant": ("Month,Sales\n" + "".join(f"20{y:02d}-{m:02d},5\n" for y in range(9)
                                           for m in range(1, 13)),
                 "constant over the training part (76 points, value 5); there is nothing to forecast"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_fail_with_one_line_naming_the_place(tmp_path, case):
    text, message = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    path.write_text(text, "utf-8")
    extra = ["--window", 24] if case == "too short" else []
    result = _train_cli("--csv", path, "--target", "Sales", "--time", "Month", *extra)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1
    assert result.output.startswith(f"Error: '{path}' ") or "series 'Sales'" in result.output
    assert message in result.output


def test_a_missing_column_is_named_with_the_columns_there(tmp_path):
    path = monthly_csv(tmp_path / "m.csv")
    result = _train_cli("--csv", path, "--target", "Revenue", "--time", "Month")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: '{path}' has no column 'Revenue' (its columns: Month, Sales, Price)\n" \
        == result.output


@pytest.mark.parametrize("option, message", [
    (["--window", "-1"], "window must be at least 1, or 0 for automatic (got -1)"),
    (["--lr", "nan"], "lr must be a finite number (got nan)"),
    (["--lr", "0"], "lr must be positive (got 0.0)"),
    (["--quantiles", "0.1,1.5"], "quantiles must lie strictly between 0 and 1"),
    (["--quantiles", "0.1,x"], "quantiles must be numbers separated by commas"),
    (["--test-fraction", "0"], "test_fraction must be above 0 and below 0.5 (got 0.0)"),
    (["--val-fraction", "nan"], "val_fraction must be in [0, 0.5) (got nan)"),
    (["--season", "1"], "season must be at least 2, or 0 for none (got 1)"),
    (["--hidden-size", "0"], "hidden_size must be at least 1 (got 0)"),
    (["--csv", "x.csv"], "give either a CSV file (--csv) or a demo (--demo), not both"),
])
def test_bad_option_values_fail_with_one_line(option, message):
    result = _train_cli("--demo", "sine", *option)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output == f"Error: {message}\n" or message in result.output


def test_fill_through_the_command_line(tmp_path):
    lines = ["Month,Sales"] + [f"20{y:02d}-{m:02d},{'' if (y, m) == (3, 5) else 10 + m + y}"
                               for y in range(10) for m in range(1, 13)]
    path = tmp_path / "gap.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    refused = _train_cli("--csv", path, "--target", "Sales", "--time", "Month")
    assert refused.exit_code == 1 and "--fill" in refused.output
    data = prepare_series(SeriesConfig(csv=str(path), target="Sales", time="Month",
                                       fill="interpolate"))
    assert data.series[0].values[3 * 12 + 4] == pytest.approx((17 + 19) / 2)
