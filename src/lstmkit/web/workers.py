"""``lstmkit serve --workers N``: the same app in N processes sharing one listening socket.

One server process cannot keep two cores busy: between its batched passes' matmuls, the
form's masks, the rules, the HTTP handling and the JSON run one at a time under Python's
GIL (about 1.3 of 2 cores at 64 clients, BENCHMARKS.md "Serving under load"). Worker
processes each decode their own batches with their share of the cores' torch threads, so
one's Python runs while another's matmuls do. uvicorn starts the workers (a fresh
interpreter each) and gives each connection to one of them; each builds its app from the
settings the parent leaves in the environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from fastapi import FastAPI

from .app import Limits, create_app

SETTINGS_ENV = "LSTMKIT_SERVE_SETTINGS"


def worker_threads(workers: int) -> int:
    """torch threads per worker: the process's cores shared out, at least one each."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // workers)


def settings_json(models: dict | None, limits: Limits, device: str, precision: str,
                  threads: int) -> str:
    """What each worker needs to build the app, as the environment carries it."""
    return json.dumps({"models": models, "limits": asdict(limits), "device": device,
                       "precision": precision, "threads": threads})


def app_from_env() -> FastAPI:
    """The app of one worker (uvicorn calls this in each worker process)."""
    import torch

    settings = json.loads(os.environ[SETTINGS_ENV])
    torch.set_num_threads(settings["threads"])
    return create_app(settings["models"], Limits(**settings["limits"]),
                      device=settings["device"], precision=settings["precision"])
