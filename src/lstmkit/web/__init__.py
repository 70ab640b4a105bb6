"""The HTTP API and web page (``lstmkit serve``): ``create_app`` in ``app.py``."""
