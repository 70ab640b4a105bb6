"""The ``lstmkit`` command: parse options, call the library, turn errors into messages.

Every ``LstmkitError`` becomes one line ``Error: ...`` and exit status 1.
"""

from __future__ import annotations

import json
import logging
import sys
import tomllib
from pathlib import Path

import click

from .data.corpus import FORMATS, CleanConfig
from .data.segment import LEVELS
from .errors import LstmkitError
from .model import CELLS, ModelConfig
from .sample import SampleConfig
from .train import MODES, TrainConfig

log = logging.getLogger("lstmkit")


class LstmkitGroup(click.Group):
    """Runs a subcommand and shows library errors as one line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LstmkitError as exc:
            raise click.ClickException(str(exc)) from None
        except FileNotFoundError as exc:
            raise click.ClickException(f"{exc.strerror}: '{exc.filename}'") from None


@click.group(cls=LstmkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lstmkit")
@click.option("-v", "--verbose", is_flag=True, help="Show debug messages.")
def main(verbose: bool) -> None:
    """Recurrent language models for classical Chinese poetry and other text."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(message)s", stream=sys.stderr, force=True)


def _explicit(ctx: click.Context) -> dict:
    """The options the user typed (not defaults), by parameter name."""
    return {name: value for name, value in ctx.params.items()
            if ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT,
                                                      click.core.ParameterSource.DEFAULT_MAP)}


def _read_toml(path: str) -> dict:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise LstmkitError(f"cannot read config '{path}': {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LstmkitError(f"config '{path}' is not valid TOML: {exc}") from exc
    flat: dict = {}
    for key, value in data.items():  # sections ([model], [train], [clean]) are optional
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return {key.replace("-", "_"): value for key, value in flat.items()}


def _split_settings(values: dict) -> tuple[dict, dict, dict]:
    """Sort flat option values into model, train and clean settings; reject unknown keys."""
    groups = {"model": {}, "train": {}, "clean": {}}
    names = {
        "model": set(ModelConfig.__dataclass_fields__) - {"vocab_size"},
        "train": set(TrainConfig.__dataclass_fields__),
        "clean": set(CleanConfig.__dataclass_fields__),
    }
    unknown = []
    for key, value in values.items():
        for group, known in names.items():
            if key in known:
                groups[group][key] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise LstmkitError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return groups["model"], groups["train"], groups["clean"]


class _Progress:
    """Draws training progress from the library's events with tqdm."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None

    def __call__(self, event: dict) -> None:
        from tqdm import tqdm

        kind = event["event"]
        if kind == "start":
            click.echo(event["report"], err=True)
            click.echo(
                f"{event['mode']} mode: {event['train_data']} for training, "
                f"{event['val_data']} for validation, vocabulary {event['vocab_size']}, {event['parameters'] / 1e6:.2f} M parameters, "
                f"{event['device']} {event['precision']}, padding {event['padding']:.1%}",
                err=True)
            if not self.quiet:
                self.bar = tqdm(total=event["total_steps"], initial=event["step"], unit="step",
                                dynamic_ncols=True, file=sys.stderr)
        elif kind == "step" and self.bar is not None:
            self.bar.update(event["step"] - self.bar.n)
            self.bar.set_postfix(epoch=event["epoch"], loss=f"{event['loss']:.3f}",
                                 ppl=f"{event['ppl']:.1f}",
                                 tok_s=f"{event['tokens_per_s']:.0f}")
        elif kind == "epoch":
            text = f"epoch {event['epoch']}: step {event['step']}"
            if "val_ppl" in event:
                text += (f", validation perplexity {event['val_ppl']:.2f}, "
                         f"{event['val_bits_per_char']:.3f} bits/char"
                         + (" (best)" if event["best"] else ""))
            (self.bar.write if self.bar else click.echo)(text, file=sys.stderr)
        elif kind == "end" and self.bar is not None:
            self.bar.close()


@main.command()
@click.option("--corpus", required=True, type=click.Path(), help="Poems (.jsonl, .json, a folder of chinese-poetry .json files, title:content lines) or plain text.")
@click.option("--out", required=True, type=click.Path(), help="Run folder: best/, last/, metrics.jsonl, curves.png, summary.json.")
@click.option("--config", "config_file", type=click.Path(), help="TOML file of settings (CLI options override it).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--t2s", is_flag=True, help="Convert traditional characters to simplified (OpenCC).")
@click.option("--mode", type=click.Choice(MODES), default=TrainConfig.mode, show_default=True, help="poems: one sequence per poem; stream: one long text in --seq-len windows with the state carried (truncated BPTT); auto: stream for plain text.")
@click.option("--level", type=click.Choice(LEVELS), default=TrainConfig.level, show_default=True, help="Tokens: characters, or words (jieba for Chinese; words and punctuation for English).")
@click.option("--seq-len", type=int, default=TrainConfig.seq_len, show_default=True, help="Stream mode: tokens per window.")
@click.option("--min-chars", type=int, default=CleanConfig.min_chars, show_default=True)
@click.option("--max-chars", type=int, default=CleanConfig.max_chars, show_default=True)
@click.option("--cell", type=click.Choice(list(CELLS)), default=ModelConfig.cell, show_default=True)
@click.option("--embedding-size", type=int, default=ModelConfig.embedding_size, show_default=True)
@click.option("--hidden-size", type=int, default=ModelConfig.hidden_size, show_default=True)
@click.option("--layers", type=int, default=ModelConfig.layers, show_default=True)
@click.option("--dropout", type=float, default=ModelConfig.dropout, show_default=True)
@click.option("--tie-weights/--no-tie-weights", default=ModelConfig.tie_weights, show_default=True)
@click.option("--epochs", type=int, default=TrainConfig.epochs, show_default=True)
@click.option("--batch-size", type=int, default=TrainConfig.batch_size, show_default=True)
@click.option("--lr", type=float, default=TrainConfig.lr, show_default=True)
@click.option("--warmup-steps", type=int, default=TrainConfig.warmup_steps, show_default=True)
@click.option("--weight-decay", type=float, default=TrainConfig.weight_decay, show_default=True)
@click.option("--clip", type=float, default=TrainConfig.clip, show_default=True)
@click.option("--patience", type=int, default=TrainConfig.patience, show_default=True)
@click.option("--val-fraction", type=float, default=TrainConfig.val_fraction, show_default=True)
@click.option("--min-freq", type=int, default=TrainConfig.min_freq, show_default=True)
@click.option("--seed", type=int, default=TrainConfig.seed, show_default=True)
@click.option("--device", default=TrainConfig.device, show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default=TrainConfig.precision, show_default=True, help="auto: bf16 autocast on CUDA, fp32 elsewhere.")
@click.option("--log-every", type=int, default=TrainConfig.log_every, show_default=True)
@click.option("--save-every", type=int, default=TrainConfig.save_every, show_default=True, help="Also write last/ every N steps.")
@click.option("--max-steps", type=int, default=TrainConfig.max_steps, show_default=True, help="Stop (resumably) after N steps.")
@click.option("--max-minutes", type=float, default=TrainConfig.max_minutes, show_default=True, help="Stop (resumably) after this wall time.")
@click.option("--max-tokens", type=int, default=TrainConfig.max_tokens, show_default=True, help="Token budget: end after about this many training tokens, with a validation.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx: click.Context, corpus: str, out: str, config_file: str | None, resume: bool,
          fmt: str, quiet: bool, **_: object) -> None:
    """Train a language model on a corpus of poems or a long text."""
    from .train import train as run_training

    values = {k: v for k, v in ctx.params.items()
              if k not in ("corpus", "out", "config_file", "resume", "fmt", "quiet")}
    typed = {k: v for k, v in _explicit(ctx).items() if k in values}
    if config_file:
        values.update(_read_toml(config_file))
        values.update(typed)
    model_settings, train_settings, clean_settings = _split_settings(values)
    if resume and (Path(out) / "last").is_dir():
        # A resumed run keeps its settings; only a few may change, and only when typed.
        from .checkpoint import read_config
        from .train import RESUME_CHANGEABLE

        ignored = sorted(set(typed) - set(RESUME_CHANGEABLE))
        if ignored:
            log.warning("ignored on --resume (the run keeps its own): %s",
                        ", ".join("--" + k.replace("_", "-") for k in ignored))
        saved = read_config(Path(out) / "last").get("train", {})
        train_settings = {**TrainConfig.from_dict(saved).to_dict(),
                          "max_steps": 0, "max_minutes": 0.0,  # limits of the last invocation
                          **{k: v for k, v in typed.items() if k in RESUME_CHANGEABLE}}
    summary = run_training(corpus, out, model_settings, TrainConfig(**train_settings),
                           CleanConfig(**clean_settings), fmt=fmt, resume=resume,
                           on_event=_Progress(quiet))
    if summary["rank"] != 0:  # in a torchrun job, rank 0 speaks for all
        return
    best = summary["best_val_ppl"]
    click.echo(f"{summary['stopped']} at step {summary['step']} ({summary['epoch']} epochs done) "
               f"after {summary['elapsed_s']:.0f} s"
               + (f"; best validation perplexity {best:.2f}" if best else "")
               + "; checkpoints in " + " and ".join(
                   f"{out}/{name}" for name in ("best", "last") if (Path(out) / name).is_dir()))
    if summary["stopped"] == "interrupted":
        click.echo(f"continue with: lstmkit train --corpus {corpus} --out {out} --resume", err=True)
        sys.exit(130)


BUNDLED = ("tang", "songci")  # the models shipped inside the package


def bundled_model_dir(name: str = "tang") -> Path:
    """A pre-trained model shipped inside the package: tang (poems, the default for every
    command) or songci (ci, the default for poem --form ci)."""
    if name not in BUNDLED:
        raise LstmkitError(f"no bundled model '{name}' (choose from {', '.join(BUNDLED)})")
    return Path(__file__).parent / "models" / name


def _load(model_dir: str | None, device: str = "cpu", precision: str = "fp32"):
    from .checkpoint import load_model
    from .sample import writing_dtype
    from .train import resolve_device

    folder = Path(model_dir) if model_dir else bundled_model_dir()
    loaded = load_model(folder, resolve_device(device))
    dtype = writing_dtype(precision, next(loaded.model.parameters()).device)
    loaded.model.to(dtype)
    return loaded


def _sampling_options(func):
    options = [
        click.option("--model", "model_dir", type=click.Path(), help="Model folder (default: the bundled Tang model; the Song ci model for --form ci)."),
        click.option("--start", default="", help="Text to continue (fed to the model once)."),
        click.option("-n", "count", type=int, default=1, show_default=True, help="How many samples."),
        click.option("--temperature", type=float, default=0.8, show_default=True, help="0 picks the most likely token."),
        click.option("--top-k", type=int, default=0, show_default=True, help="Keep the k most likely tokens (0: all)."),
        click.option("--top-p", type=float, default=1.0, show_default=True, help="Nucleus sampling mass."),
        click.option("--max-len", type=int, default=SampleConfig.max_len, show_default=True, help="New tokens at most."),
        click.option("--seed", type=int, help="Make the output reproducible."),
        click.option("--device", default="cpu", show_default=True),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True, help="Weights to write with; auto: bf16 where the hardware is fast at it."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text."),
    ]
    for option in reversed(options):
        func = option(func)
    return func




@main.command()
@_sampling_options
def write(model_dir, start, count, temperature, top_k, top_p, max_len, seed, device,
          precision, as_json) -> None:
    """Write free text: continue --start until the model ends or --max-len is reached."""
    from .sample import Generator

    loaded = _load(model_dir, device, precision)
    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p,
                          max_len=max_len, seed=seed)
    samples = Generator.for_model(loaded).generate(start, count, config)
    if as_json:
        click.echo(json.dumps([{"text": s.text, "finished": s.finished, "logprob": s.logprob,
                                "tokens": s.tokens} for s in samples], ensure_ascii=False,
                              indent=2))
        return
    click.echo("\n\n".join(s.text for s in samples))


@main.command()
@_sampling_options
@click.option("--form", help="五绝 七绝 五律 七律 (or wujue qijue wulv qilv), or ci with --tune; default: any shape the model writes.")
@click.option("--tune", help="词牌 for --form ci, e.g. 浣溪沙 (list: lstmkit tunes).")
@click.option("--tones", type=click.Choice(["strict", "loose", "off"]), default="strict", show_default=True, help="strict: a standard 平仄 pattern and rhyme; loose: rhyme only; off: shape only.")
@click.option("--rhyme", help="平水韵 level-tone group for the rhymes, e.g. 一东 (default: any).")
@click.option("--acrostic", help="藏头诗: line i starts with character i (4 -> 七绝, 8 -> 七律 unless --form says).")
@click.option("--candidates", type=int, default=4, show_default=True, help="Poems drawn per poem shown; the most likely are kept.")
def poem(model_dir, start, count, temperature, top_k, top_p, max_len, seed, device, precision,
         as_json, form, tune, tones, rhyme, acrostic, candidates) -> None:
    """Write whole poems; with --form or --acrostic, in a regulated form that is guaranteed."""
    from .sample import Generator, poem_lines

    start = "".join(start.split())
    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p,
                          max_len=max_len, seed=seed)
    if tune and not form:
        form = "ci"
    if not model_dir and form == "ci":
        model_dir = str(bundled_model_dir("songci"))
    loaded = _load(model_dir, device, precision)
    if loaded.meta.get("mode", "poems") != "poems" or loaded.meta.get("level", "char") != "char":
        raise LstmkitError(f"model '{model_dir}' was trained on a {loaded.meta.get('level')}-level "
                           f"{loaded.meta.get('mode')}; poems need a character-level poem model "
                           "(use lstmkit write for this one)")
    generator = Generator.for_model(loaded)
    if form or acrostic:
        from .poetry.constraint import PoemRequest, write_poems
        from .poetry.forms import get_form

        if not form:
            if len(acrostic) not in (4, 8):
                raise LstmkitError(f"an acrostic of {len(acrostic)} characters fits no form "
                                   "(4 for a 绝句, 8 for a 律诗)")
            form = "七绝" if len(acrostic) == 4 else "七律"
        if candidates < 1:
            raise LstmkitError(f"--candidates must be at least 1 (got {candidates})")
        request = PoemRequest(get_form(form, tune), tones, rhyme, acrostic, start, candidates)
        samples = write_poems(generator, request, count, config)
    else:
        samples = generator.generate_finished(start, count, config)
    if as_json:
        rows = [{"text": s.text, "lines": poem_lines(s.text), "logprob": s.logprob,
                 "tokens": s.tokens} for s in samples]
        if form:
            from .poetry.check import check_poem

            for row in rows:
                verdict = check_poem(row["text"], tones=tones, form=request.form, rhyme=rhyme)
                row.update(form=verdict.form, pattern=verdict.pattern,
                           rhyme_group=verdict.rhyme_group)
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo("\n\n".join("\n".join(poem_lines(s.text)) for s in samples))


@main.command()
@click.argument("text", required=False)
@click.option("--file", "path", type=click.Path(), help="Read the poem from a file (- for standard input).")
@click.option("--form", help="Check against this form instead of the one the shape suggests.")
@click.option("--tune", help="Check against a 词牌's pattern (see lstmkit tunes).")
@click.option("--tones", type=click.Choice(["strict", "loose", "off"]), default="strict", show_default=True)
@click.option("--rhyme", help="Demand this 平水韵 group.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check(text, path, form, tune, tones, rhyme, as_json) -> None:
    """Explain a poem's form: 平仄 of each character, rhymes, and what breaks the rules.

    Exits with status 0 when the poem keeps every rule, 2 when it breaks some.
    """
    from .poetry.check import check_poem, format_report

    if (text is None) == (path is None):
        raise LstmkitError("give the poem as an argument or with --file (one of them)")
    if path is not None:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LstmkitError(f"cannot read poem file '{path}': {exc}") from exc
    result = check_poem(text, tones=tones, form=form, rhyme=rhyme, tune=tune)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(result))
    if not result.ok:
        sys.exit(2)


@main.command("tunes")
@click.argument("names", nargs=-1)
@click.option("--min-ci", type=int, default=20, show_default=True, help="List tunes with at least this many ci in the corpus.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tunes_command(names, min_ci, as_json) -> None:
    """List 词牌 with their patterns (line lengths and marks; 。 lines rhyme)."""
    from .poetry.forms import get_form, tunes

    table = tunes()
    chosen = [table[get_form("ci", name).name] for name in names] if names else [
        t for t in table.values() if t.ci >= min_ci]
    if as_json:
        click.echo(json.dumps([{"name": t.form.name, "lengths": list(t.form.lengths),
                                "marks": t.form.marks, "rhyme_tone": t.form.rhyme_tone,
                                "follow": t.follow, "ci": t.ci} for t in chosen],
                              ensure_ascii=False, indent=2))
        return
    for t in chosen:
        shape = "".join("〇" * n + m for n, m in zip(t.form.lengths, t.form.marks))
        click.echo(f"{t.form.name}  {t.form.rhyme_tone}韵  {t.follow}/{t.ci} ci  {shape}")
    if not names:
        click.echo(f"{len(chosen)} of {len(table)} tunes with {min_ci}+ ci; "
                   "--min-ci 2 lists all", err=True)


@main.command("eval")
@click.option("--corpus", required=True, type=click.Path(), help="Poems to score, read like the training corpus.")
@click.option("--model", "model_dir", type=click.Path(), help="Model folder (default: the bundled Tang model).")
@click.option("--split", type=click.Choice(["all", "val", "train"]), default="all", show_default=True, help="Score every poem, or only the model's validation (or training) split.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--batch-size", type=int, help="Poems per batch, or parallel stripes of a text (default: the model's training batch size).")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_command(corpus, model_dir, split, fmt, batch_size, device, as_json) -> None:
    """Perplexity and bits per character of a model on a corpus (read as in training)."""
    from .train import score_corpus

    loaded = _load(model_dir, device)
    result, info = score_corpus(loaded, corpus, split, fmt, batch_size)
    values = {**result.to_dict(), **info, "split": split}
    if as_json:
        click.echo(json.dumps(values, ensure_ascii=False))
        return
    click.echo(info["report"], err=True)
    click.echo(f"perplexity {result.perplexity:.2f}, {result.bits_per_char:.3f} bits/char, "
               f"loss {result.loss:.4f} nats/token over {result.tokens} tokens "
               f"of {info['data']} ({split}); {info['unknown']} {info['unit']}s outside the "
               "vocabulary")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--corpus", required=True, type=click.Path(), help="Corpus for every run.")
@click.option("--out", required=True, type=click.Path(), help="Folder for the runs, sweep.csv, sweep.md and the plots.")
@click.option("--param", required=True, help="Setting to vary: seq_len, hidden_size, embedding_size, layers, batch_size, dropout, lr or weight_decay.")
@click.option("--values", required=True, help="Comma-separated values, e.g. 16,32,64,128,256.")
@click.option("--tokens", type=int, default=0, show_default=True, help="Training tokens per run (the same budget for every value; 0: --epochs decides).")
@click.pass_context
def sweep(ctx: click.Context, corpus, out, param, values, tokens) -> None:
    """Train one model per value of a setting and compare them.

    Other options go to every run's lstmkit train, e.g. --epochs 3 --hidden-size 256.
    """
    from tqdm import tqdm

    from .sweep import parse_values, run_sweep

    param = param.replace("-", "_")
    parsed = parse_values(param, values)
    if tokens < 0:
        raise LstmkitError(f"--tokens must not be negative (got {tokens})")
    bar = tqdm(total=len(parsed), unit="run", dynamic_ncols=True, file=sys.stderr,
               desc=f"sweep {param}")

    def progress(event: dict) -> None:
        if event["event"] == "run":
            bar.set_postfix({param: f"{event['value']:g}"})
        else:
            row = event["row"]
            ppl = row["val_ppl"]
            bar.write(f"{param}={row['value']:g}: validation perplexity "
                      f"{'-' if ppl is None else f'{ppl:.2f}'}, {row['tokens_per_s']:.0f} tokens/s, "
                      f"peak {row['peak_memory_mib']:.0f} MiB, {row['wall_s']:.0f} s", file=sys.stderr)
            bar.update(1)

    try:
        rows = run_sweep(corpus, out, param, parsed, ctx.args, tokens, progress)
    finally:
        bar.close()
    click.echo(Path(out, "sweep.md").read_text(encoding="utf-8"), nl=False)
    click.echo(f"wrote {out}/sweep.csv, sweep.md, sweep-curves.png and sweep-summary.png "
               f"({len(rows)} runs)", err=True)


@main.command()
@click.option("--model", "model_dir", required=True, type=click.Path(), help="Checkpoint folder, e.g. runs/NAME/best.")
@click.option("--out", required=True, type=click.Path(), help="Folder to write.")
@click.option("--dtype", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp16", show_default=True)
def export(model_dir, out, dtype) -> None:
    """Copy a model without its training state, with weights in a smaller dtype."""
    from .checkpoint import save_model

    loaded = _load(model_dir)
    meta = {k: v for k, v in loaded.meta.items() if k not in ("format", "version", "model")}
    save_model(out, loaded.model, loaded.vocab, {**meta, "weights_dtype": dtype}, dtype=dtype)
    size = sum(f.stat().st_size for f in Path(out).iterdir())
    click.echo(f"wrote {out} ({size / 1e6:.1f} MB, {dtype} weights)")
