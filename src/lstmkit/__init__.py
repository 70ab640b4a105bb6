"""lstmkit: recurrent (LSTM, GRU, RNN) language models, with classical Chinese poetry first."""

from .checkpoint import load_model, save_model
from .data.corpus import CleanConfig, Poem, load_poems, split_poems
from .data.vocab import Vocab
from .errors import LstmkitError
from .model import LanguageModel, ModelConfig
from .train import TrainConfig, evaluate, train

__all__ = [
    "CleanConfig", "LanguageModel", "LstmkitError", "ModelConfig", "Poem", "TrainConfig",
    "Vocab", "evaluate", "load_model", "load_poems", "save_model", "split_poems", "train",
]
__version__ = "0.1.0"
