"""Corpus reading, vocabularies and batching: everything before the model."""
