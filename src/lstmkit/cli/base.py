"""The command group, and what every command shares: one-line errors, settings from
typed options and TOML files, the training progress bar, JSON output."""

from __future__ import annotations

import json
import logging
import sys
import tomllib

import click

from ..errors import LstmkitError

log = logging.getLogger("lstmkit")


class LstmkitGroup(click.Group):
    """Runs a subcommand and shows library errors as one line instead of a traceback."""

    group_class = type  # subgroups (lstmkit forecast, lstmkit classify) are LstmkitGroups too

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LstmkitError as exc:
            raise click.ClickException(_message(exc, ctx)) from None
        except FileNotFoundError as exc:
            raise click.ClickException(f"{exc.strerror}: '{exc.filename}'") from None


def _message(exc: LstmkitError, ctx: click.Context) -> str:
    """The error's line; a model of the wrong task names the command that needs another."""
    from ..tasks import WrongTaskError, describe

    if isinstance(exc, WrongTaskError):
        below_root = ctx.command_path[len(ctx.find_root().command_path):].split()
        command = " ".join(["lstmkit", *below_root, ctx.invoked_subcommand or ""]).strip()
        return f"{exc.folder} is {describe(exc.found)}; {command} needs {describe(exc.wanted)}"
    return str(exc)


@click.group(cls=LstmkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lstmkit")
@click.option("-v", "--verbose", is_flag=True, help="Show debug messages.")
def main(verbose: bool) -> None:
    """Recurrent (LSTM, GRU, RNN) models: classical Chinese poetry and other text, time-series
    forecasting and sequence classification."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(message)s", stream=sys.stderr, force=True)


def explicit(ctx: click.Context) -> dict:
    """The options the user typed (not defaults), by parameter name."""
    return {name: value for name, value in ctx.params.items()
            if ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT,
                                                      click.core.ParameterSource.DEFAULT_MAP)}


def read_toml(path: str) -> dict:
    """A TOML file's settings, flat (sections such as [model] and [loop] are optional)."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise LstmkitError(f"cannot read config '{path}': {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LstmkitError(f"config '{path}' is not valid TOML: {exc}") from exc
    flat: dict = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return {key.replace("-", "_"): value for key, value in flat.items()}


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def options(*decorators):
    """Apply click option decorators in the order written."""
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


class Progress:
    """Draws training progress from the library's events with tqdm."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None

    def __call__(self, event: dict) -> None:
        from tqdm import tqdm

        kind = event["event"]
        if kind == "start":
            click.echo(event["report"], err=True)
            click.echo(f"{event['data']}, {event['parameters'] / 1e6:.2f} M parameters, "
                       f"{event['device']} {event['precision']}"
                       + (f", padding {event['padding']:.1%}" if "padding" in event else ""),
                       err=True)
            if not self.quiet:
                self.bar = tqdm(total=event["total_steps"], initial=event["step"], unit="step",
                                dynamic_ncols=True, file=sys.stderr)
        elif kind == "step" and self.bar is not None:
            self.bar.update(event["step"] - self.bar.n)
            shown = {"epoch": event["epoch"], "loss": f"{event['loss']:.3f}"}
            if "ppl" in event:
                shown["ppl"] = f"{event['ppl']:.1f}"
            shown["tok_s"] = f"{event['tokens_per_s']:.0f}"
            self.bar.set_postfix(shown)
        elif kind == "epoch":
            text = f"epoch {event['epoch']}: step {event['step']}"
            if event["text"]:
                text += f", {event['text']}" + (" (best)" if event["best"] else "")
            (self.bar.write if self.bar else click.echo)(text, file=sys.stderr)
        elif kind == "end" and self.bar is not None:
            self.bar.close()
