"""``lstmkit serve``: the HTTP API and web page over the bundled models (or others)."""

from __future__ import annotations

import ipaddress
import os

import click

from ..errors import LstmkitError
from .base import main

LOOPBACK = ("localhost",)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; anything but loopback is reachable from other machines.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--model", "models", multiple=True, help="A model to serve: bundled name or folder, as NAME=DIR or DIR (repeat; default: the bundled tang and songci).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "int8"]), default="auto", show_default=True, help="What to write with; auto: int8 matmuls on a CPU (an LSTM), bf16 on CUDA.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=30.0, show_default=True, help="Seconds a request may take before it gets an error.")
@click.option("--max-n", type=click.IntRange(1, 64), default=8, show_default=True, help="Poems or texts per request at most.")
@click.option("--no-batching", is_flag=True, help="Write each request alone instead of batching concurrent ones.")
@click.option("--batch-poems", type=click.IntRange(1, 1024), default=32, show_default=True, help="Poems in one batched decoding pass at most.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Server processes, each with the models and its share of the cores' torch threads: under load, more poems per second (2 on 2 cores: 66 requests/s against 58.5; BENCHMARKS.md), at the cost of memory and start-up.")
def serve(host, port, models, device, precision, timeout, max_n, no_batching, batch_poems,
          workers) -> None:
    """Serve the web page (/) and the JSON API (/api/..., documented at /docs and /openapi.json)."""
    import uvicorn

    from ..web.app import Limits, create_app

    if not _loopback(host):
        click.echo(f"warning: listening on {host}: anyone who can reach this machine can use the "
                   "server (there is no authentication)", err=True)
    named = dict(_named(m) for m in models) if models else None
    limits = Limits(max_n=max_n, timeout_s=timeout, batching=not no_batching,
                    batch_max_poems=batch_poems)
    # Built here even for workers: a model that cannot load stops the command with its error.
    app = create_app(named, limits, device=device, precision=precision)
    served = ", ".join(app.state.models)
    if workers == 1:
        click.echo(f"lstmkit: serving {served} on http://{host}:{port}/ (Ctrl-C stops)")
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    import gc

    from ..web.workers import SETTINGS_ENV, settings_json, worker_threads

    del app
    gc.collect()
    threads = worker_threads(workers)
    os.environ[SETTINGS_ENV] = settings_json(named, limits, device, precision, threads)
    click.echo(f"lstmkit: serving {served} on http://{host}:{port}/ from {workers} worker "
               f"processes, {threads} torch thread(s) each (Ctrl-C stops)")
    uvicorn.run("lstmkit.web.workers:app_from_env", factory=True, workers=workers, host=host,
                port=port, log_level="warning")


def _named(model: str) -> tuple[str, str]:
    """NAME=DIR -> (NAME, DIR); a bundled name or a folder names itself by its last part."""
    if "=" in model:
        name, _, where = model.partition("=")
        if not name or not where:
            raise LstmkitError(f"--model {model}: expected NAME=DIR")
        return name, where
    return model.rstrip("/").split("/")[-1] or model, model


def _loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
