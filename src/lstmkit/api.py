"""The Python API for notebooks and scripts: the same library calls as the CLI, with plain
arguments and plain results.

    import lstmkit
    poems = lstmkit.write_poems(form="七绝", n=3, seed=1)      # the bundled Tang model
    lstmkit.check_poem(poems[0]["text"]).ok                     # True
    lstmkit.train("tang.jsonl", "runs/tang", epochs=3, hidden_size=256)
    model = lstmkit.load("runs/tang/best")                      # any task's model folder

    lstmkit.train_forecaster("runs/sine", demo="sine", quantiles="0.1,0.5,0.9")
    lstmkit.load("runs/sine/best").predict(hide="test").plot("sine.png")
    lstmkit.train_classifier("digits", "runs/digits")["test"]["accuracy"]
    lstmkit.load("runs/digits/best").predict(sequences)       # labels of new sequences

The task modules themselves are ``lstmkit.forecast`` and ``lstmkit.classify``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .poetry.check import CheckResult, check_poem
from .sample import SampleConfig

__all__ = ["CheckResult", "check_poem", "evaluate", "load", "train", "train_classifier",
           "train_forecaster", "write", "write_poems"]


def load(model: str | Path | None = None, device: str = "cpu", precision: str = "auto"):
    """A model by bundled name (``tang``, ``songci``) or folder, whatever its task.

    A language model comes ready to write with (weights in the dtype ``precision`` picks);
    a forecasting or classification model comes as its task's loaded type.
    """
    from .bundled import load_for_writing, model_folder
    from .core.checkpoint import read_config
    from .tasks import load_model

    folder = model_folder(model)
    if read_config(folder)["task"] == "lm":
        return load_for_writing(folder, device, precision)
    return load_model(folder, device)


def _language_model(model, device: str, precision: str, default: str = "tang",
                    rows: int | None = None):
    """``model`` if it is already loaded, else the language model it names, loaded to
    write ``rows`` rows once (``bundled.load_for_writing``)."""
    if hasattr(model, "vocab"):
        return model
    from .bundled import load_for_writing

    return load_for_writing(model, device, precision, default=default, rows=rows)


def write_poems(form: str | None = None, n: int = 1, *, model=None, tune: str | None = None,
                acrostic: str | None = None, start: str = "", tones: str = "strict",
                rhyme: str | None = None, candidates: int = 4, temperature: float = 0.8,
                top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                device: str = "cpu", precision: str = "auto", refine: bool = True,
                backward=None, title: str = "", theme: str | None = None, poet: str = "",
                guidance: float = SampleConfig.guidance) -> list[dict]:
    """``n`` poems as ``lstmkit poem --json`` prints them: text, lines, log-likelihood and,
    with a form (五绝 七绝 五律 七律, or ``tune="浣溪沙"`` for a ci), the form, tone pattern
    and rhyme group the checker found. ``model``: a bundled name, a folder or a model
    from ``load`` (default: Tang poems; the Song ci model for a ci). ``refine`` and
    ``backward`` (a right-to-left model's folder) as for ``lstmkit poem``; a model trained
    with titles and poets (the bundled ones) writes to ``title`` (or the title ``theme``'s
    keywords find, ``poetry.theme``) like ``poet``, steered by ``guidance``."""
    from .bundled import load_backward
    from .poetry.request import PoemRequest, poem_generator, poem_record
    from .poetry.request import write_poems as write_requested

    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                          guidance=guidance)
    request = PoemRequest.make(form, tune, tones, rhyme, acrostic, start, candidates, refine,
                               title=title, poet=poet)
    loaded = _language_model(model, device, precision, default=request.model_name,
                             rows=request.rows(n) if backward is None else None)
    generator = poem_generator(loaded, str(model))
    request = replace(request, title=_title(generator, title, theme))
    scorer = load_backward(backward, device) if refine and request.form is not None else None
    samples = write_requested(generator, request, n, config, scorer)
    return [poem_record(sample, request) for sample in samples]


def write(start: str = "", n: int = 1, *, model=None, max_len: int = SampleConfig.max_len,
          temperature: float = 0.8, top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
          device: str = "cpu", precision: str = "auto", title: str = "", theme: str | None = None,
          poet: str = "", guidance: float = SampleConfig.guidance) -> list[str]:
    """``n`` free continuations of ``start`` (each up to the model's end or ``max_len``
    tokens); ``title``, ``theme`` and ``poet`` as for ``write_poems``."""
    from .sample_numpy import generator_for

    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p, max_len=max_len,
                          seed=seed, guidance=guidance)
    generator = generator_for(_language_model(model, device, precision, rows=n))
    title = _title(generator, title, theme)
    return [sample.text for sample in generator.generate(start, n, config, title=title, poet=poet)]


def _title(generator, title: str, theme: str | None) -> str:
    """``title``, or the one ``theme``'s keywords find."""
    from .poetry.theme import title_or_theme

    return title_or_theme(title, theme, generator.vocab)[0]


def train(corpus: str | Path, out: str | Path, *, resume: bool = False, fmt: str = "auto",
          on_event=None, force: bool = False, **settings) -> dict:
    """Train a language model; ``settings`` are the options of ``lstmkit train`` by their
    Python names (``epochs=3, hidden_size=256, mode="stream", level="word"`` ...). Returns
    the run's summary; the run folder holds ``best/``, ``last/``, metrics and plots.

    With ``resume``, the run in ``out`` goes on with its own settings; of ``settings`` only
    ``epochs``, ``max_steps``, ``max_minutes``, ``max_tokens``, ``log_every``,
    ``save_every`` and ``device`` apply (others raise).
    """
    from .core.checkpoint import read_config
    from .core.loop import RESUME_CHANGEABLE, LoopConfig
    from .errors import LstmkitError
    from .tasks.lm import split_settings
    from .tasks.lm import train as train_lm

    if resume:
        fixed = sorted(set(settings) - set(RESUME_CHANGEABLE))
        if fixed:
            raise LstmkitError(f"a resumed run keeps its own {', '.join(fixed)}")
        last = Path(out) / "last"
        loop = LoopConfig.from_checkpoint(read_config(last)) if last.is_dir() else LoopConfig()
        parts = split_settings({})
        parts["loop"] = LoopConfig(**{**loop.to_dict(), "max_steps": 0, "max_minutes": 0.0,
                                      **settings})
    else:
        parts = split_settings(settings)
    return train_lm(corpus, out, **parts, fmt=fmt, resume=resume, on_event=on_event, force=force)


def evaluate(corpus: str | Path, model=None, split: str = "all", fmt: str = "auto",
             batch_size: int | None = None, device: str = "cpu") -> dict:
    """Perplexity, bits per character, loss and tokens of a language model on ``corpus``
    (read as its training data was), as ``lstmkit eval --json`` prints them."""
    from .tasks.lm import score_corpus

    loaded = _language_model(model, device, "fp32")
    result, info = score_corpus(loaded, corpus, split, fmt, batch_size)
    return {**result.to_dict(), **info, "split": split}


def train_forecaster(out: str | Path, *, resume: bool = False, on_event=None,
                     force: bool = False, **settings) -> dict:
    """Train a forecasting model; ``settings`` are the options of ``lstmkit forecast
    train`` by their Python names: the data (``csv=..., time=..., target=...`` or
    ``demo="sine"``, ``covariates``, ``id``, ``transform``, ``window``, ``horizon``, ...),
    ``quantiles="0.1,0.5,0.9"``, model and loop settings. Returns the run's summary; then
    ``load(out + "/best")`` gives a ``Forecaster`` (``predict``, ``evaluate``)."""
    from .tasks import forecast

    parts = forecast.split_settings(settings)
    return forecast.train(parts["data"], out, model=parts["model"], forecast=parts["forecast"],
                          loop=parts["loop"], resume=resume, on_event=on_event, force=force)


def train_classifier(data: str | Path, out: str | Path, *, test: str | Path | None = None,
                     labels: str | None = None, test_labels: str | None = None,
                     resume: bool = False, on_event=None, force: bool = False, **settings) -> dict:
    """Train a sequence classifier on ``data`` ("digits", an IDX folder or file, .npz,
    .csv/.tsv/.txt or .ts), with a separate ``test`` file if there is one; ``settings``
    are the options of ``lstmkit classify train`` by their Python names. Returns the run's
    summary with ``test`` (accuracy, macro-F1, the 1-NN baseline's accuracy); then
    ``load(out + "/best")`` gives a ``Classifier`` (``predict``, ``predict_proba``)."""
    from .data.sequence_sources import Source
    from .tasks import classify

    parts = classify.split_settings(settings)
    source = Source(str(data), *(None if x is None else str(x) for x in (test, labels, test_labels)))
    return classify.train(source, out, **parts, resume=resume, on_event=on_event, force=force)
