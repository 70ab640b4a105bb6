"""Language-model commands: ``train``, ``eval``, ``sweep``, ``export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..core.loop import RESUME_CHANGEABLE, LoopConfig
from ..data.corpus import FORMATS, CleanConfig
from ..data.segment import LEVELS
from ..data.text import MODES, TextConfig
from ..errors import LstmkitError
from ..model import CELLS, ModelConfig
from .base import Progress, explicit, log, main, options, read_toml

# The options that describe a run, shared by train and sweep.
run_options = options(
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True),
    click.option("--t2s", is_flag=True, help="Convert traditional characters to simplified (OpenCC)."),
    click.option("--mode", type=click.Choice(MODES), default=TextConfig.mode, show_default=True, help="poems: one sequence per poem; stream: one long text in --seq-len windows with the state carried (truncated BPTT); auto: stream for plain text."),
    click.option("--level", type=click.Choice(LEVELS), default=TextConfig.level, show_default=True, help="Tokens: characters, or words (jieba for Chinese; words and punctuation for English)."),
    click.option("--seq-len", type=int, default=TextConfig.seq_len, show_default=True, help="Stream mode: tokens per window."),
    click.option("--min-chars", type=int, default=CleanConfig.min_chars, show_default=True),
    click.option("--max-chars", type=int, default=CleanConfig.max_chars, show_default=True),
    click.option("--cell", type=click.Choice(list(CELLS)), default=ModelConfig.cell, show_default=True),
    click.option("--embedding-size", type=int, default=ModelConfig.embedding_size, show_default=True),
    click.option("--hidden-size", type=int, default=ModelConfig.hidden_size, show_default=True),
    click.option("--layers", type=int, default=ModelConfig.layers, show_default=True),
    click.option("--dropout", type=float, default=ModelConfig.dropout, show_default=True),
    click.option("--tie-weights/--no-tie-weights", default=ModelConfig.tie_weights, show_default=True),
    click.option("--epochs", type=int, default=LoopConfig.epochs, show_default=True),
    click.option("--batch-size", type=int, default=TextConfig.batch_size, show_default=True),
    click.option("--lr", type=float, default=LoopConfig.lr, show_default=True),
    click.option("--warmup-steps", type=int, default=LoopConfig.warmup_steps, show_default=True),
    click.option("--weight-decay", type=float, default=LoopConfig.weight_decay, show_default=True),
    click.option("--clip", type=float, default=LoopConfig.clip, show_default=True),
    click.option("--patience", type=int, default=LoopConfig.patience, show_default=True),
    click.option("--val-fraction", type=float, default=TextConfig.val_fraction, show_default=True),
    click.option("--min-freq", type=int, default=TextConfig.min_freq, show_default=True),
    click.option("--seed", type=int, default=LoopConfig.seed, show_default=True),
    click.option("--device", default=LoopConfig.device, show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
    click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default=LoopConfig.precision, show_default=True, help="auto: bf16 autocast on CUDA, fp32 elsewhere."),
    click.option("--log-every", type=int, default=LoopConfig.log_every, show_default=True),
    click.option("--save-every", type=int, default=LoopConfig.save_every, show_default=True, help="Also write last/ every N steps."),
    click.option("--max-steps", type=int, default=LoopConfig.max_steps, show_default=True, help="Stop (resumably) after N steps."),
    click.option("--max-minutes", type=float, default=LoopConfig.max_minutes, show_default=True, help="Stop (resumably) after this wall time."),
    click.option("--max-tokens", type=int, default=LoopConfig.max_tokens, show_default=True, help="Token budget: end after about this many training tokens, with a validation."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
)
NOT_SETTINGS = ("corpus", "out", "config_file", "resume", "fmt", "quiet", "param", "values",
                "tokens")


def _settings(ctx: click.Context, config_file: str | None = None) -> tuple[dict, dict]:
    """All run settings (defaults, then the TOML file, then typed options) and the typed ones."""
    values = {k: v for k, v in ctx.params.items() if k not in NOT_SETTINGS}
    typed = {k: v for k, v in explicit(ctx).items() if k in values}
    if config_file:
        values.update(read_toml(config_file))
        values.update(typed)
    return values, typed


@main.command()
@click.option("--corpus", required=True, type=click.Path(), help="Poems (.jsonl, .json, a folder of chinese-poetry .json files, title:content lines) or plain text.")
@click.option("--out", required=True, type=click.Path(), help="Run folder: best/, last/, metrics.jsonl, curves.png, summary.json.")
@click.option("--config", "config_file", type=click.Path(), help="TOML file of settings (CLI options override it).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@run_options
@click.pass_context
def train(ctx: click.Context, corpus: str, out: str, config_file: str | None, resume: bool,
          fmt: str, quiet: bool, **_: object) -> None:
    """Train a language model on a corpus of poems or a long text."""
    from ..tasks.lm import split_settings
    from ..tasks.lm import train as train_lm

    values, typed = _settings(ctx, config_file)
    settings = split_settings(values)
    last = Path(out) / "last"
    if resume and last.is_dir():
        # A resumed run keeps its settings; only a few may change, and only when typed.
        from ..core.checkpoint import read_config

        ignored = sorted(set(typed) - set(RESUME_CHANGEABLE))
        if ignored:
            log.warning("ignored on --resume (the run keeps its own): %s",
                        ", ".join("--" + k.replace("_", "-") for k in ignored))
        saved = LoopConfig.from_checkpoint(read_config(last)).to_dict()
        settings["loop"] = LoopConfig(**{
            **saved, "max_steps": 0, "max_minutes": 0.0,  # limits of the last invocation
            **{k: v for k, v in typed.items() if k in RESUME_CHANGEABLE}})
    summary = train_lm(corpus, out, **settings, fmt=fmt, resume=resume,
                       on_event=Progress(quiet))
    if summary["rank"] != 0:  # in a torchrun job, rank 0 speaks for all
        return
    best = summary.get("best_val_ppl")
    click.echo(f"{summary['stopped']} at step {summary['step']} ({summary['epoch']} epochs done) "
               f"after {summary['elapsed_s']:.0f} s"
               + (f"; best validation perplexity {best:.2f}" if best else "")
               + "; checkpoints in " + " and ".join(
                   f"{out}/{name}" for name in ("best", "last") if (Path(out) / name).is_dir()))
    if summary["stopped"] == "interrupted":
        click.echo(f"continue with: lstmkit train --corpus {corpus} --out {out} --resume", err=True)
        sys.exit(130)


@main.command("eval")
@click.option("--corpus", required=True, type=click.Path(), help="Poems to score, read like the training corpus.")
@click.option("--model", "model_dir", help="Model folder or bundled name (default: the bundled Tang model).")
@click.option("--split", type=click.Choice(["all", "val", "train"]), default="all", show_default=True, help="Score every poem, or only the model's validation (or training) split.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--batch-size", type=int, help="Poems per batch, or parallel stripes of a text (default: the model's training batch size).")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_command(corpus, model_dir, split, fmt, batch_size, device, as_json) -> None:
    """Perplexity and bits per character of a model on a corpus (read as in training)."""
    from ..bundled import load_for_writing
    from ..tasks.lm import score_corpus

    loaded = load_for_writing(model_dir, device, precision="fp32")
    result, info = score_corpus(loaded, corpus, split, fmt, batch_size)
    if as_json:
        click.echo(json.dumps({**result.to_dict(), **info, "split": split}, ensure_ascii=False))
        return
    click.echo(info["report"], err=True)
    click.echo(f"perplexity {result.perplexity:.2f}, {result.bits_per_char:.3f} bits/char, "
               f"loss {result.loss:.4f} nats/token over {result.tokens} tokens "
               f"of {info['data']} ({split}); {info['unknown']} {info['unit']}s outside the "
               "vocabulary")


@main.command()
@click.option("--corpus", required=True, type=click.Path(), help="Corpus for every run.")
@click.option("--out", required=True, type=click.Path(), help="Folder for the runs, sweep.csv, sweep.md and the plots.")
@click.option("--param", required=True, help="Setting to vary: seq_len, hidden_size, embedding_size, layers, batch_size, dropout, lr or weight_decay.")
@click.option("--values", required=True, help="Comma-separated values, e.g. 16,32,64,128,256.")
@click.option("--tokens", type=int, default=0, show_default=True, help="Training tokens per run (the same budget for every value; 0: --epochs decides).")
@click.option("--config", "config_file", type=click.Path(), help="TOML file of settings for every run.")
@run_options
@click.pass_context
def sweep(ctx: click.Context, corpus, out, param, values, tokens, config_file, fmt, quiet,
          **_: object) -> None:
    """Train one model per value of a setting and compare them.

    The other options are every run's settings, as for lstmkit train (e.g. --epochs 3
    --hidden-size 256).
    """
    from tqdm import tqdm

    from ..sweep import parse_values, run_sweep

    param = param.replace("-", "_")
    parsed = parse_values(param, values)
    settings, typed = _settings(ctx, config_file)
    clash = sorted({param, "max_tokens"} & set(typed))
    if clash:
        flags = ", ".join("--" + k.replace("_", "-") for k in clash)
        raise LstmkitError(f"{flags} cannot be passed to a sweep's runs (the sweep sets "
                           f"--{param.replace('_', '-')} and, from --tokens, --max-tokens itself)")
    if tokens < 0:
        raise LstmkitError(f"--tokens must not be negative (got {tokens})")
    bar = tqdm(total=len(parsed), unit="run", dynamic_ncols=True, file=sys.stderr,
               desc=f"sweep {param}", disable=quiet)

    def progress(event: dict) -> None:
        if event["event"] == "run":
            bar.set_postfix({param: f"{event['value']:g}"})
        elif event["event"] == "done":
            row = event["row"]
            ppl = row["val_ppl"]
            tqdm.write(f"{param}={row['value']:g}: validation perplexity "
                       f"{'-' if ppl is None else f'{ppl:.2f}'}, {row['tokens_per_s']:.0f} tokens/s, "
                       f"peak {row['peak_memory_mib']:.0f} MiB, {row['wall_s']:.0f} s", file=sys.stderr)
            bar.update(1)

    try:
        rows = run_sweep(corpus, out, param, parsed, settings, tokens, fmt, progress)
    finally:
        bar.close()
    click.echo(Path(out, "sweep.md").read_text(encoding="utf-8"), nl=False)
    click.echo(f"wrote {out}/sweep.csv, sweep.md, sweep-curves.png and sweep-summary.png "
               f"({len(rows)} runs)", err=True)


@main.command()
@click.option("--model", "model_dir", required=True, help="Checkpoint folder (e.g. runs/NAME/best) or bundled name.")
@click.option("--out", required=True, type=click.Path(), help="Folder to write.")
@click.option("--dtype", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp16", show_default=True)
def export(model_dir, out, dtype) -> None:
    """Copy a language model without its training state, with weights in a smaller dtype."""
    from ..bundled import load_for_writing
    from ..tasks.lm import save_model

    loaded = load_for_writing(model_dir, precision="fp32")
    meta = {k: v for k, v in loaded.meta.items() if k not in ("format", "version", "model")}
    save_model(out, loaded.model, loaded.vocab, {**meta, "weights_dtype": dtype}, dtype=dtype)
    size = sum(f.stat().st_size for f in Path(out).iterdir())
    click.echo(f"wrote {out} ({size / 1e6:.1f} MB, {dtype} weights)")

