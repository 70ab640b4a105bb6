"""Language-model commands: ``train``, ``eval``, ``sweep``, ``export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..core.config import LoopConfig
from ..data.corpus import FORMATS, CleanConfig
from ..data.segment import LEVELS
from ..data.text import GIVEN, MODES, TextConfig
from ..errors import LstmkitError
from ..model import CELLS, ModelConfig
from .base import (
    Progress,
    exit_if_interrupted,
    loop_options,
    main,
    options,
    report_run,
    resumed_loop,
    run_settings,
)

# The options that describe a run, shared by train and sweep.
run_options = options(
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True),
    click.option("--t2s", is_flag=True, help="Convert traditional characters to simplified (OpenCC)."),
    click.option("--mode", type=click.Choice(MODES), default=TextConfig.mode, show_default=True, help="poems: one sequence per poem; stream: one long text in --seq-len windows with the state carried (truncated BPTT); auto: stream for plain text."),
    click.option("--level", type=click.Choice(LEVELS), default=TextConfig.level, show_default=True, help="Tokens: characters, or words (jieba for Chinese; words and punctuation for English)."),
    click.option("--reverse", is_flag=True, default=TextConfig.reverse, help="Read each poem right to left: a backward model, which lstmkit poem --backward uses to rank candidates."),
    click.option("--condition", type=float, default=TextConfig.condition, show_default=True, help="Poems: the share shown with their title and, drawn apart, their poet, so the model writes to a title or in a poet's manner (0: plain poems)."),
    click.option("--poets", type=int, default=TextConfig.poets, show_default=True, help="With --condition: the most prolific poets get a token of their own (the others share one)."),
    click.option("--seq-len", type=int, default=TextConfig.seq_len, show_default=True, help="Stream mode: tokens per window."),
    click.option("--min-chars", type=int, default=CleanConfig.min_chars, show_default=True),
    click.option("--max-chars", type=int, default=CleanConfig.max_chars, show_default=True),
    click.option("--cell", type=click.Choice(list(CELLS)), default=ModelConfig.cell, show_default=True),
    click.option("--embedding-size", type=int, default=ModelConfig.embedding_size, show_default=True),
    click.option("--hidden-size", type=int, default=ModelConfig.hidden_size, show_default=True),
    click.option("--layers", type=int, default=ModelConfig.layers, show_default=True),
    click.option("--dropout", type=float, default=ModelConfig.dropout, show_default=True),
    click.option("--tie-weights/--no-tie-weights", default=ModelConfig.tie_weights, show_default=True),
    click.option("--sampled-softmax", type=int, default=ModelConfig.sampled_softmax, show_default=True, help="Train the head on each batch's own targets and this many other tokens drawn at random, not the whole vocabulary: faster on a CPU for large vocabularies (0: the full softmax). Evaluation and writing always use the full softmax."),
    click.option("--sampled-keep", type=int, default=ModelConfig.sampled_keep, show_default=True, help="With --sampled-softmax: always score the special tokens and the most frequent ones, this many in all, and draw the others only from the rarer rest."),
    click.option("--batch-size", type=int, default=TextConfig.batch_size, show_default=True),
    click.option("--val-fraction", type=float, default=TextConfig.val_fraction, show_default=True),
    click.option("--min-freq", type=int, default=TextConfig.min_freq, show_default=True),
    loop_options(LoopConfig(), token_budget=True),
)
NOT_SETTINGS = ("force", "corpus", "out", "config_file", "resume", "fmt", "quiet", "param", "values",
                "tokens")


@main.command()
@click.option("--corpus", required=True, type=click.Path(), help="Poems (.jsonl, .json, a folder of chinese-poetry .json files, title:content lines) or plain text.")
@click.option("--out", required=True, type=click.Path(), help="Run folder: best/, last/, metrics.jsonl, curves.png, summary.json.")
@click.option("--config", "config_file", type=click.Path(), help="TOML file of settings (CLI options override it).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--force", is_flag=True, help="Start over in an --out that already holds a run or other files (they are deleted).")
@run_options
@click.pass_context
def train(ctx: click.Context, corpus: str, out: str, config_file: str | None, resume: bool,
          force: bool, fmt: str, quiet: bool, **_: object) -> None:
    """Train a language model on a corpus of poems or a long text."""
    from ..tasks.lm import split_settings
    from ..tasks.lm import train as train_lm

    values, typed = run_settings(ctx, config_file, NOT_SETTINGS)
    settings = split_settings(values)
    loop = resumed_loop(out, typed) if resume else None
    if loop is not None:
        settings["loop"] = LoopConfig(**loop)
    summary = train_lm(corpus, out, **settings, fmt=fmt, resume=resume, force=force,
                       on_event=Progress(quiet))
    if summary["rank"] != 0:  # in a torchrun job, rank 0 speaks for all
        return
    best = summary.get("best_val_ppl")
    report_run(summary, out, best and f"perplexity {best:.2f}")
    exit_if_interrupted(summary, f"lstmkit train --corpus {corpus} --out {out}")


@main.command("eval")
@click.option("--corpus", required=True, type=click.Path(), help="Poems to score, read like the training corpus.")
@click.option("--model", "model_dir", help="Model folder or bundled name (default: the bundled Tang model).")
@click.option("--split", type=click.Choice(["all", "val", "train"]), default="all", show_default=True, help="Score every poem, or only the model's validation (or training) split.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--batch-size", type=int, help="Poems per batch, or parallel stripes of a text (default: the model's training batch size).")
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "bf16", "int8"]), default="fp32", show_default=True, help="Score with these numbers (int8: the CPU writing path's matmuls, step by step).")
@click.option("--given", type=click.Choice(GIVEN), default="none", show_default=True, help="A model trained with --condition: what it is told of each poem before its body is scored.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_command(corpus, model_dir, split, fmt, batch_size, device, precision, given, as_json) -> None:
    """Perplexity and bits per character of a model on a corpus (read as in training)."""
    from ..bundled import load_for_writing
    from ..tasks.lm import score_corpus

    loaded = load_for_writing(model_dir, device, precision=precision)
    result, info = score_corpus(loaded, corpus, split, fmt, batch_size, given)
    if as_json:
        click.echo(json.dumps({**result.to_dict(), **info, "split": split, "given": given},
                              ensure_ascii=False))
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
@click.option("--force", is_flag=True, help="Train again the runs --out holds from other settings or data (they are deleted).")
@run_options
@click.pass_context
def sweep(ctx: click.Context, corpus, out, param, values, tokens, config_file, force, fmt, quiet,
          **_: object) -> None:
    """Train one model per value of a setting and compare them.

    The other options are every run's settings, as for lstmkit train (e.g. --epochs 3
    --hidden-size 256).
    """
    from tqdm import tqdm

    from ..sweep import parse_values, run_name, run_sweep

    param = param.replace("-", "_")
    parsed = parse_values(param, values)
    settings, typed = run_settings(ctx, config_file, NOT_SETTINGS)
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
            bar.set_postfix_str(run_name(param, event["value"]))
        elif event["event"] == "done":
            row = event["row"]
            ppl = row["val_ppl"]
            tqdm.write(f"{run_name(param, row['value'])}: validation perplexity "
                       f"{'-' if ppl is None else f'{ppl:.2f}'}, {row['tokens_per_s']:.0f} tokens/s, "
                       f"peak {row['peak_memory_mib']:.0f} MiB, {row['wall_s']:.0f} s", file=sys.stderr)
            bar.update(1)

    try:
        rows = run_sweep(corpus, out, param, parsed, settings, tokens, fmt, progress, force=force)
    finally:
        bar.close()
    click.echo(Path(out, "sweep.md").read_text(encoding="utf-8"), nl=False)
    click.echo(f"wrote {out}/sweep.csv, sweep.md, sweep-curves.png and sweep-summary.png "
               f"({len(rows)} runs)", err=True)


@main.command()
@click.option("--model", "model_dir", required=True, help="Checkpoint folder (e.g. runs/NAME/best) or bundled name.")
@click.option("--out", required=True, type=click.Path(), help="Folder to write.")
@click.option("--dtype", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp16", show_default=True)
@click.option("--force", is_flag=True, help="Replace what --out holds (never the model being exported).")
def export(model_dir, out, dtype, force) -> None:
    """Copy a language model without its training state, with weights in a smaller dtype."""
    from ..bundled import load_for_writing, model_folder
    from ..core.folders import claim_output, exclusive
    from ..tasks.lm import save_model

    source = model_folder(model_dir)
    claim_output(Path(out), force, sources=[source])
    loaded = load_for_writing(source, precision="fp32")
    meta = {k: v for k, v in loaded.meta.items() if k not in ("format", "version", "model")}
    target = Path(out)
    with exclusive(target.parent / f".{target.name}.lock", f"'{out}'", remove=True):
        claim_output(target, force, sources=[source])  # again: another export may have won
        save_model(out, loaded.model, loaded.vocab, {**meta, "weights_dtype": dtype}, dtype=dtype)
    size = sum(f.stat().st_size for f in Path(out).iterdir())
    click.echo(f"wrote {out} ({size / 1e6:.1f} MB, {dtype} weights)")

