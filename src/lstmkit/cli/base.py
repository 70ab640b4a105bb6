"""The command group, and what every command shares: one-line errors, settings from
typed options and TOML files, the training progress bar, JSON output."""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import sys
import tomllib
from pathlib import Path
from typing import ClassVar

import click

from ..core.config import PRECISIONS, RESUME_CHANGEABLE, LoopConfig
from ..errors import LstmkitError, printable

log = logging.getLogger("lstmkit")


class LstmkitGroup(click.Group):
    """Runs a subcommand and shows library errors as one line instead of a traceback.

    ``lazy`` (the root's): commands by name -> (the ``cli`` module that defines them, their
    one-line help). A command's module is imported only when the command is used, so
    ``lstmkit --help`` lists them all without importing torch (a test keeps the help lines
    equal to the commands' own)."""

    group_class = type  # subgroups (lstmkit forecast, lstmkit classify) are LstmkitGroups too
    lazy: ClassVar[dict[str, tuple[str, str]]] = {}  # the root sets its own

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy:
            importlib.import_module(f"lstmkit.cli.{self.lazy[name][0]}")
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.commands[name].get_short_help_str(formatter.width)
                 if name in self.commands else self.lazy[name][1])
                for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """As click's, but every error line has control characters escaped (an option's
        value is echoed in its error, and may hold a terminal escape sequence)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            _close_progress_bars()
            shown = io.StringIO()
            exc.show(file=shown)
            click.echo(printable(shown.getvalue(), newlines=True), err=True, nl=False)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except BrokenPipeError:  # the reader left (lstmkit poem | head): quietly, as click does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (LstmkitError, OSError, MemoryError, RuntimeError) as exc:
            message = _failure(exc, ctx)
            if message is None:
                raise
            _close_progress_bars()  # so the error starts a line of its own
            raise click.ClickException(message) from None


def _failure(exc: BaseException, ctx: click.Context) -> str | None:
    """The one line for a failure a user can act on; None for a bug (a traceback)."""
    if isinstance(exc, LstmkitError):
        return printable(_message(exc, ctx))
    if isinstance(exc, BrokenPipeError):
        return None  # LstmkitGroup.main ends quietly
    if isinstance(exc, OSError):  # a missing or unreadable file, a full disk, a read-only folder
        return f"{exc.strerror or exc}" + (f": '{exc.filename}'" if exc.filename else "")
    if isinstance(exc, MemoryError) or "can't allocate memory" in str(exc) \
            or "out of memory" in str(exc).lower():
        return OUT_OF_MEMORY
    return None


def _close_progress_bars() -> None:
    tqdm = sys.modules.get("tqdm")
    if tqdm is not None:
        for bar in list(getattr(tqdm.tqdm, "_instances", ())):
            bar.close()


OUT_OF_MEMORY = ("out of memory: ask for fewer or shorter results (-n, --max-len, "
                 "--candidates, --batch-size)")


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


main.lazy = {
    "check": ("poetry", "Explain a poem's form: 平仄 of each character, rhymes, and what breaks the rules."),
    "classify": ("classify", "Sequence classification: each time step a vector, one label per sequence."),
    "eval": ("lm", "Perplexity and bits per character of a model on a corpus (read as in training)."),
    "export": ("lm", "Copy a language model without its training state, with weights in a smaller dtype."),
    "forecast": ("forecast", "Time-series forecasting: train on a CSV (or the demo), predict, evaluate against naive baselines."),
    "poem": ("poetry", "Write whole poems; with --form or --acrostic, in a regulated form that is guaranteed."),
    "serve": ("serve", "Serve the web page (/) and the JSON API (/api/..., documented at /docs and /openapi.json)."),
    "sweep": ("lm", "Train one model per value of a setting and compare them."),
    "train": ("lm", "Train a language model on a corpus of poems or a long text."),
    "poets": ("poetry", "List the poets a model writes like (--poet), most prolific first."),
    "tunes": ("poetry", "List 词牌 with their patterns (line lengths and marks; 。 lines rhyme)."),
    "write": ("poetry", "Write free text: continue --start until the model ends or --max-len is reached."),
}


def explicit(ctx: click.Context) -> dict:
    """The options the user typed (not defaults), by parameter name."""
    return {name: value for name, value in ctx.params.items()
            if ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT,
                                                      click.core.ParameterSource.DEFAULT_MAP)}


SECTIONS = ("model", "data", "loop", "train", "clean", "forecast", "series")  # only for people


def read_toml(path: str) -> dict:
    """A TOML file's settings, flat (sections such as [model] and [loop] are optional, and
    must be one of ``SECTIONS``); names with - or _ alike."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise LstmkitError(f"cannot read config '{path}': {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise LstmkitError(f"config '{path}' is not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise LstmkitError(f"config '{path}' is not valid TOML: {exc}") from exc
    flat: dict = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in SECTIONS:
                raise LstmkitError(f"config '{path}': unknown section [{key}] (use "
                                   f"{', '.join(f'[{s}]' for s in SECTIONS)}, or none)")
            flat.update(value)
        else:
            flat[key] = value
    return {key.replace("-", "_"): value for key, value in flat.items()}


def checked_toml(ctx: click.Context, path: str, exclude: tuple[str, ...]) -> dict:
    """``read_toml``'s settings, each one an option of this command, of the option's type
    (no silent rounding: 1.5 is not an integer) and within its range or choices."""
    params = {p.name: p for p in ctx.command.params if p.name not in exclude}
    checked = {}
    for key, value in read_toml(path).items():
        param = params.get(key)
        if param is None or isinstance(param, click.Argument):
            command = " ".join(["lstmkit", *ctx.command_path.split()[1:]])
            raise LstmkitError(f"config '{path}': unknown setting '{key}' for {command}")
        kind = param.type
        wanted = {click.INT: (int,), click.FLOAT: (int, float), click.BOOL: (bool,)}.get(
            kind, (int,) if isinstance(kind, click.IntRange) else
            (int, float) if isinstance(kind, click.FloatRange) else (str,))
        if (isinstance(value, bool) and bool not in wanted) or not isinstance(value, wanted):
            names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
            raise LstmkitError(f"config '{path}': {key} must be {names[wanted[-1]]} "
                               f"(got {printable(repr(value))})")
        try:
            checked[key] = kind.convert(value, param, ctx)
        except click.BadParameter as exc:
            raise LstmkitError(f"config '{path}': {key}: {exc.message}") from None
    return checked


# JSON escapes C0 controls itself; DEL and the C1 controls (which terminals also obey) too.
_JSON_CONTROL = {code: f"\\u{code:04x}" for code in range(0x7f, 0xa0)}


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2).translate(_JSON_CONTROL))


def options(*decorators):
    """Apply click option decorators in the order written."""
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


def loop_options(defaults: LoopConfig, token_budget: bool = False):
    """The options of the training loop, with a task's ``defaults``; the progress bar's
    ``-q``; ``--max-tokens`` where a token budget means something to the task."""
    return options(
        click.option("--epochs", type=int, default=defaults.epochs, show_default=True),
        click.option("--lr", type=float, default=defaults.lr, show_default=True, help="Peak learning rate (AdamW; linear warm-up, then cosine decay)."),
        click.option("--warmup-steps", type=int, default=defaults.warmup_steps, show_default=True),
        click.option("--weight-decay", type=float, default=defaults.weight_decay, show_default=True),
        click.option("--clip", type=float, default=defaults.clip, show_default=True, help="Largest gradient norm (0: no clipping)."),
        click.option("--patience", type=int, default=defaults.patience, show_default=True, help="Stop after this many epochs without a better validation score (0: never)."),
        click.option("--seed", type=int, default=defaults.seed, show_default=True),
        click.option("--device", default=defaults.device, show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
        click.option("--precision", type=click.Choice(PRECISIONS), default=defaults.precision, show_default=True, help="auto: bf16 autocast on CUDA, fp32 elsewhere."),
        click.option("--log-every", type=int, default=defaults.log_every, show_default=True),
        click.option("--save-every", type=int, default=defaults.save_every, show_default=True, help="Also write last/ every N steps."),
        click.option("--max-steps", type=int, default=defaults.max_steps, show_default=True, help="Stop (resumably) after N steps."),
        click.option("--max-minutes", type=float, default=defaults.max_minutes, show_default=True, help="Stop (resumably) after this wall time."),
        *([click.option("--max-tokens", type=int, default=defaults.max_tokens, show_default=True, help="Token budget: end after about this many training tokens, with a validation.")]
          if token_budget else []),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    )


def run_settings(ctx: click.Context, config_file: str | None, exclude: tuple[str, ...]
                 ) -> tuple[dict, dict]:
    """All of a run's settings (defaults, then the TOML file, then typed options) and the
    typed ones, leaving out the parameters in ``exclude`` (paths, flags)."""
    values = {k: v for k, v in ctx.params.items() if k not in exclude}
    typed = {k: v for k, v in explicit(ctx).items() if k in values}
    if config_file:
        values.update(checked_toml(ctx, config_file, exclude))
        values.update(typed)
    return values, typed


def resumed_loop(out: str, typed: dict) -> dict | None:
    """The loop settings a ``--resume`` of the run in ``out`` goes on with: its own, with the
    last invocation's limits lifted and the typed ones of ``RESUME_CHANGEABLE`` applied (the
    other typed settings are ignored, with a warning). None when there is nothing to resume."""
    from ..core.checkpoint import read_config

    last = Path(out) / "last"
    if not last.is_dir():
        return None
    ignored = sorted(set(typed) - set(RESUME_CHANGEABLE))
    if ignored:
        log.warning("ignored on --resume (the run keeps its own): %s",
                    ", ".join("--" + k.replace("_", "-") for k in ignored))
    saved = LoopConfig.from_checkpoint(read_config(last)).to_dict()
    return {**saved, "max_steps": 0, "max_minutes": 0.0,
            **{k: v for k, v in typed.items() if k in RESUME_CHANGEABLE}}


def report_run(summary: dict, out: str, best: str | None) -> None:
    """How a run ended, its best validation score (``best``, already worded) and where its
    checkpoints are."""
    click.echo(f"{summary['stopped']} at step {summary['step']} ({summary['epoch']} epochs done) "
               f"after {summary['elapsed_s']:.0f} s"
               + (f"; best validation {best}" if best else "")
               + "; checkpoints in " + " and ".join(
                   f"{out}/{name}" for name in ("best", "last") if (Path(out) / name).is_dir()))


def exit_if_interrupted(summary: dict, command: str) -> None:
    """After Ctrl-C: say how to go on, and exit with status 130."""
    if summary["stopped"] == "interrupted":
        click.echo(f"continue with: {command} --resume", err=True)
        sys.exit(130)


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
