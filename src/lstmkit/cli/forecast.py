"""Forecasting commands: ``lstmkit forecast train``, ``predict`` and ``eval``."""

from __future__ import annotations

from pathlib import Path

import click

from ..data.series_config import RELATIVES, TRANSFORMS, SeriesConfig
from ..data.series_csv import DEMOS, FILLS
from ..errors import LstmkitError
from ..model import CELLS
from ..tasks.forecast import DEFAULT_LOOP as FORECAST_LOOP
from ..tasks.forecast import DEFAULT_MODEL as FORECAST_MODEL
from ..tasks.forecaster import LOSSES, MAX_PANELS, ForecastConfig
from .base import (
    Progress,
    echo_json,
    exit_if_interrupted,
    loop_options,
    main,
    options,
    report_run,
    resumed_loop,
    run_settings,
)

# Defaults shown in --help come from the library's own (the CLI only fills their fields).
DATA = SeriesConfig(demo=DEMOS[0])
PRINTED_ROWS = 48  # a forecast table up to this long is printed as well as written

train_options = options(
    click.option("--csv", type=click.Path(), help="CSV file with a header row."),
    click.option("--demo", type=click.Choice(DEMOS), help="A built-in series instead of a file: sine is eight weeks of hourly values (two waves, a trend, noise)."),
    click.option("--target", help="The column to forecast."),
    click.option("--time", help="The time column (numbers, or dates in one format). Without it the rows are taken in file order."),
    click.option("--time-format", help="strptime format of --time, e.g. '%Y-%m' (default: guessed from the first row)."),
    click.option("--covariates", help="Further numeric columns read as inputs, comma-separated (their past values only)."),
    click.option("--id", "id", help="A column naming the series of a file holding several: one global model, each series scaled by itself."),
    click.option("--fill", type=click.Choice(FILLS), default=DATA.fill, show_default=True, help="Missing numbers: an error, the last value before them, or a straight line across the gap."),
    click.option("--transform", type=click.Choice(TRANSFORMS), default=DATA.transform, show_default=True, help="log for seasonal swings that grow with the level, diff for a random walk; inverted before any metric."),
    click.option("--window", type=int, default=DATA.window, show_default=True, help="Input steps (0: two seasons, at least 24; shortened for short series)."),
    click.option("--horizon", type=int, default=DATA.horizon, show_default=True, help="Steps forecast at once (0: one season up to 24, else 10)."),
    click.option("--season", type=int, help="Season length for seasonal naive and MASE (default: guessed from the time column: hourly 24, daily 7, weekly 52, monthly 12, quarterly 4; 0: none)."),
    click.option("--relative", type=click.Choice(RELATIVES), default=DATA.relative, show_default=True, help="The network forecasts a correction to this naive forecast: none, the last value, the value one season back, or blend (the last value plus a learned share of the seasonal change); auto: blend with a season, else last."),
    click.option("--center/--no-center", default=DATA.center, show_default=True, help="Inputs relative to the window's last value (level-free), or as scaled values."),
    click.option("--val-fraction", type=float, default=DATA.val_fraction, show_default=True, help="Of each series, before the test part (0: no validation, no early stopping)."),
    click.option("--test-fraction", type=float, default=DATA.test_fraction, show_default=True, help="Of each series, at its end; at least one horizon."),
    click.option("--batch-size", type=int, default=DATA.batch_size, show_default=True),
    click.option("--epoch-windows", type=int, default=DATA.epoch_windows, show_default=True, help="Training windows per epoch at least: fewer are repeated, so short series validate less often."),
    click.option("--quantiles", help="Quantile forecasts, e.g. 0.1,0.5,0.9 (pinball loss; the median, always added, is the point forecast)."),
    click.option("--loss", type=click.Choice(LOSSES), default=ForecastConfig.loss, show_default=True, help="Loss of a point forecast (without --quantiles)."),
    click.option("--cell", type=click.Choice(list(CELLS)), default="lstm", show_default=True),
    click.option("--hidden-size", type=int, default=FORECAST_MODEL["hidden_size"], show_default=True),
    click.option("--layers", type=int, default=FORECAST_MODEL["layers"], show_default=True),
    click.option("--dropout", type=float, default=FORECAST_MODEL["dropout"], show_default=True),
    loop_options(FORECAST_LOOP),
)
NOT_SETTINGS = ("force", "out", "config_file", "resume", "quiet")


@main.group()
def forecast() -> None:
    """Time-series forecasting: train on a CSV (or the demo), predict, evaluate against
    naive baselines."""


@forecast.command()
@click.option("--out", required=True, type=click.Path(), help="Run folder: best/, last/, metrics.jsonl, curves.png, summary.json.")
@click.option("--config", "config_file", type=click.Path(), help="TOML file of settings (options typed here override it).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--force", is_flag=True, help="Start over in an --out that already holds a run or other files (they are deleted).")
@train_options
@click.pass_context
def train(ctx: click.Context, out: str, config_file: str | None, resume: bool, force: bool,
          quiet: bool, **_: object) -> None:
    """Train a forecasting model, then compare it with the naive baselines on the test part."""
    from ..tasks.forecast import load_forecaster, split_settings
    from ..tasks.forecast import train as train_forecast

    values, typed = run_settings(ctx, config_file, NOT_SETTINGS)
    loop = resumed_loop(out, typed) if resume else None
    if loop is not None:
        values = {**values, **loop, "csv": None, "demo": None}  # the data come from the run too
    values = {k: v for k, v in values.items() if v is not None}
    settings = split_settings(values)
    summary = train_forecast(**settings, out=out, resume=resume, force=force,
                             on_event=Progress(quiet))
    if summary["rank"] != 0:  # in a torchrun job, rank 0 speaks for all
        return
    best = summary.get("best_val_mae")
    report_run(summary, out, None if best is None else f"MAE {best:.4f} (scaled units)")
    exit_if_interrupted(summary, f"lstmkit forecast train --out {out}")
    if (Path(out) / "best").is_dir():
        click.echo(load_forecaster(Path(out) / "best").evaluate().table())


@forecast.command()
@click.option("--model", "model_dir", required=True, type=click.Path(), help="A forecasting model folder (e.g. runs/NAME/best).")
@click.option("--csv", type=click.Path(), help="Data to forecast from, with the training file's columns (default: the training data, or the demo).")
@click.option("--hide", type=click.Choice(["none", "horizon", "test"]), default="none", show_default=True, help="none: forecast the steps after the data; horizon: hide the last horizon and forecast it, truth beside; test: forecast the test part block by block.")
@click.option("--out", default="forecast.csv", show_default=True, type=click.Path(), help="The forecast as CSV.")
@click.option("--plot", type=click.Path(), help="The forecast as PNG (default: --out with .png).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--force", is_flag=True, help="Replace --out and --plot if they exist.")
def predict(model_dir: str, csv: str | None, hide: str, out: str, plot: str | None,
            device: str, force: bool) -> None:
    """Forecast the next horizon of each series, as CSV and a plot."""
    from ..core.device import resolve_device
    from ..core.folders import atomic_file, claim_file
    from ..tasks.forecast import load_forecaster

    plot = plot or str(Path(out).with_suffix(".png"))
    if Path(plot) == Path(out):
        raise LstmkitError(f"--plot '{plot}' and --out are one file; name another")
    claim_file(Path(out), force, sources=[csv])
    claim_file(Path(plot), force, sources=[csv], option="--plot")
    forecaster = load_forecaster(model_dir, resolve_device(device))
    result = forecaster.predict(forecaster.read(csv), hide=hide)
    with atomic_file(Path(out)) as tmp_csv, atomic_file(Path(plot)) as tmp_png:
        result.to_csv(tmp_csv)
        result.plot(tmp_png)
    table = result.table
    if len(table) <= PRINTED_ROWS:
        shown = table.drop(columns=["origin"]).dropna(axis=1, how="all")
        click.echo(shown.to_string(index=False, float_format="%.4g"))
    if hide != "none":
        error = (table["forecast"] - table["actual"]).abs().mean()
        click.echo(f"mean absolute error of the {len(table)} hidden steps: {error:.4g}")
    drawn = "" if len(result.panels) <= MAX_PANELS else \
        f", which draws the first {MAX_PANELS} of {len(result.panels)} series"
    click.echo(f"wrote {out} ({len(table)} rows) and {plot}{drawn}", err=True)


@forecast.command("eval")
@click.option("--model", "model_dir", required=True, type=click.Path(), help="A forecasting model folder.")
@click.option("--csv", type=click.Path(), help="Data with the training file's columns (default: the training data); its last --test-fraction is the test part.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_command(model_dir: str, csv: str | None, device: str, as_json: bool) -> None:
    """RMSE, MAE, MASE and sMAPE on the test part, beside the naive baselines'."""
    from ..core.device import resolve_device
    from ..tasks.forecast import load_forecaster

    forecaster = load_forecaster(model_dir, resolve_device(device))
    result = forecaster.evaluate(forecaster.read(csv))
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(result.table())
