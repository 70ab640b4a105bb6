"""Sequence-classification commands: ``classify train``, ``classify predict``, ``classify eval``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import numpy as np

from ..core.config import LoopConfig
from ..data.sequences import NORMALISATIONS
from ..model import CELLS, POOLINGS
from ..tasks.classify import DATA, LOOP, MODEL
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

DATA_HELP = ("'digits' (scikit-learn's 8x8 digits, rows as steps), an MNIST-style IDX folder "
             "or images file, an .npz (x_train y_train [x_test y_test]), a .csv/.tsv/.txt "
             "table (one sequence per row) or a .ts file.")
source_options = options(
    click.option("--data", required=True, help=DATA_HELP),
    click.option("--test", "test_file", type=click.Path(), help="Separate test file (e.g. X_TEST.ts beside X_TRAIN.ts); without it a stratified --test-fraction is held out."),
    click.option("--labels", type=click.Path(), help="IDX labels of --data's images, when not named like them."),
    click.option("--test-labels", type=click.Path(), help="IDX labels of --test's images."),
)
train_options = options(
    click.option("--label-column", default=DATA.label_column, show_default=True, help="CSV/TSV label column: its header name or a 0-based index (-1: last). A file without a header has its label first."),
    click.option("--normalise", type=click.Choice(NORMALISATIONS), default=DATA.normalise, show_default=True, help="channel: each channel's mean/std over the training part; series: each sequence by its own; none."),
    click.option("--chunk", type=int, default=DATA.chunk, show_default=True, help="Consecutive values read as one time step (long series: fewer, wider steps)."),
    click.option("--batch-size", type=int, default=DATA.batch_size, show_default=True),
    click.option("--val-fraction", type=float, default=DATA.val_fraction, show_default=True, help="Stratified part of the training data for early stopping (0: none)."),
    click.option("--test-fraction", type=float, default=DATA.test_fraction, show_default=True, help="Stratified part held out for testing when the data have no test part."),
    click.option("--split-seed", type=int, default=DATA.split_seed, show_default=True, help="Seed of the test and validation splits."),
    click.option("--cell", type=click.Choice(list(CELLS)), default=MODEL.cell, show_default=True),
    click.option("--hidden-size", type=int, default=MODEL.hidden_size, show_default=True),
    click.option("--layers", type=int, default=MODEL.layers, show_default=True),
    click.option("--dropout", type=float, default=MODEL.dropout, show_default=True),
    click.option("--bidirectional/--unidirectional", default=MODEL.bidirectional, show_default=True),
    click.option("--pooling", type=click.Choice(POOLINGS), default=MODEL.pooling, show_default=True, help="What the head reads: the final state, or the mean over the real steps."),
    loop_options(LOOP),
)
NOT_SETTINGS = ("force", "data", "test_file", "labels", "test_labels", "out", "config_file", "resume",
                "quiet")


@main.group()
def classify() -> None:
    """Sequence classification: each time step a vector, one label per sequence."""


@classify.command()
@source_options
@click.option("--out", required=True, type=click.Path(), help="Run folder: best/, last/, metrics.jsonl, curves.png, test-report.json, confusion.png.")
@click.option("--config", "config_file", type=click.Path(), help="TOML file of settings (CLI options override it).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--force", is_flag=True, help="Start over in an --out that already holds a run or other files (they are deleted).")
@train_options
@click.pass_context
def train(ctx: click.Context, data, test_file, labels, test_labels, out, config_file, resume,
          force, quiet, **_: object) -> None:
    """Train a classifier, then test it beside the 1-NN Euclidean baseline."""
    from ..data.sequence_sources import Source
    from ..tasks.classify import split_settings
    from ..tasks.classify import train as train_classifier

    values, typed = run_settings(ctx, config_file, NOT_SETTINGS)
    settings = split_settings(values)
    loop = resumed_loop(out, typed) if resume else None
    if loop is not None:
        settings["loop"] = LoopConfig(**loop)
    source = Source(data, test_file, labels, test_labels)
    summary = train_classifier(source, out, **settings, resume=resume, force=force,
                               on_event=Progress(quiet))
    if summary["rank"] != 0:  # in a torchrun job, rank 0 speaks for all
        return
    best = summary.get("best_val_accuracy")
    report_run(summary, out, None if best is None else f"accuracy {best:.2%}")
    if "test" in summary:
        report = json.loads((Path(out) / "test-report.json").read_text(encoding="utf-8"))
        _show_report(report)
        click.echo(f"wrote {out}/test-report.json and {out}/confusion.png", err=True)
    exit_if_interrupted(summary, f"lstmkit classify train --data {data} --out {out}")

def _show_report(report: dict) -> None:
    """The summary line and the per-class table of a ``ClassReport.to_dict()``."""
    from ..tasks.classify_report import ClassReport

    shown = ClassReport(report["classes"], np.array(report["confusion"]),
                        report["baseline_1nn_accuracy"])
    click.echo(shown.summary())
    click.echo(shown.table())


@classify.command("eval")
@click.option("--model", "model_dir", required=True, type=click.Path(), help="Classifier folder (e.g. runs/NAME/best).")
@source_options
@click.option("--split", type=click.Choice(["test", "all"]), default="test", show_default=True, help="test: the test part, split as in training (with the 1-NN baseline); all: every sequence given.")
@click.option("--confusion", type=click.Path(), help="Also write the confusion matrix to this PNG.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_command(model_dir, data, test_file, labels, test_labels, split, confusion, device,
                     as_json) -> None:
    """Accuracy, macro-F1, a per-class table and the confusion matrix on labelled data."""
    from ..data.sequence_sources import Source
    from ..tasks.classify import evaluate_source, load_classifier

    classifier = load_classifier(model_dir, device)
    report = evaluate_source(classifier, Source(data, test_file, labels, test_labels), split)
    if confusion:
        report.plot(confusion)
    if as_json:
        echo_json({**report.to_dict(), "split": split})
        return
    _show_report(report.to_dict())


@classify.command()
@click.option("--model", "model_dir", required=True, type=click.Path(), help="Classifier folder (e.g. runs/NAME/best).")
@click.option("--input", "input_name", required=True, help="Sequences to label: a file in a training format (labels, if present, are ignored), an IDX folder (its test images) or 'digits' (the held-out test part).")
@click.option("--label-column", help="CSV/TSV label column to skip (default: the training data's; 'none': every column is a value).")
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of CSV.")
def predict(model_dir, input_name, label_column, proba, device, as_json) -> None:
    """Label each sequence: CSV (index, label, probability) on standard output."""
    from ..tasks.classify import load_classifier, predict_file

    classifier = load_classifier(model_dir, device)
    probabilities, raw = predict_file(classifier, input_name, label_column)
    classes = classifier.classes
    best = probabilities.argmax(axis=1)
    rows = []
    for i, k in enumerate(best):
        row = {"index": i, "label": classes[k], "probability": round(float(probabilities[i, k]), 6)}
        if proba:
            row.update({f"p_{c}": round(float(p), 6) for c, p in zip(classes, probabilities[i])})
        rows.append(row)
    if as_json:
        echo_json(rows)
    else:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["index"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(text.getvalue(), nl=False)
    if raw.labels is not None:
        right = sum(classes[k] == label for k, label in zip(best, raw.labels))
        click.echo(f"{right} of {len(raw.labels)} predictions match the file's labels "
                   f"({right / len(raw.labels):.2%})", err=True)
