"""lstmkit: recurrent (LSTM, GRU, RNN) models, with classical Chinese poetry first.

The public API (``lstmkit.api``, loaded on first use so ``import lstmkit`` stays light):

- ``load(model)``: a model by bundled name (``tang``, ``songci``) or folder, any task;
- ``write_poems(form, n, ...)``, ``write(start, n, ...)``, ``check_poem(text)``;
- ``train(corpus, out, **settings)``, ``evaluate(corpus, model)``: language models;
- ``train_forecaster(out, **settings)``, ``train_classifier(data, out, **settings)``;
- ``forecast`` and ``classify``: the forecasting and sequence-classification task modules.
"""

from importlib import import_module

__version__ = "0.1.0"

_API = ("CheckResult", "check_poem", "evaluate", "load", "train", "train_classifier",
        "train_forecaster", "write", "write_poems")
_LAZY = {
    **dict.fromkeys(_API, "lstmkit.api"),
    "LstmkitError": "lstmkit.errors",
}
_MODULES = {"forecast": "lstmkit.tasks.forecast", "classify": "lstmkit.tasks.classify"}
__all__ = [*_API, "LstmkitError", *_MODULES]


def __getattr__(name: str):
    if name in _MODULES:
        return import_module(_MODULES[name])
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lstmkit' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
