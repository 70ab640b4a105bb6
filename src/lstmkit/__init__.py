"""lstmkit: recurrent (LSTM, GRU, RNN) models, with classical Chinese poetry first."""

__version__ = "0.1.0"
