"""Load on ``lstmkit serve``: concurrent clients asking for poems, batching on and off.

    python bench/serve_load.py [--clients 64] [--requests 20] [--form 七绝] [--stream-share 0.25]
                               [--workers 1]

Starts ``lstmkit serve`` (the bundled Tang model) on a free loopback port in its own
process, as a user would (``--in-process``: in a thread of this one, where the clients
compete with it for the GIL), once with micro-batching and once without, and has
``--clients`` clients each send ``--requests`` requests one after another (a
``--stream-share`` of them to the streaming endpoint, read to the end). Reports per mode:
poems per second, p50 and p99 latency of whole requests (and per kind: poems, streams, a
stream's first character), and errors (any status but 200, or a stream without its
``done`` event). With ``--workers W`` above 1, the batching server runs W worker
processes (``lstmkit serve --workers``); the one-at-a-time server stays one process, and a
third row shows W processes without batching (W requests at a time), so the gain of the
processes and the gain of batching can be told apart.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx

from lstmkit.web.app import Limits, create_app
from lstmkit.web.background import running


async def client(http: httpx.AsyncClient, form: str, requests: int, stream_share: float,
                 rng: random.Random, latencies: dict[str, list[float]], errors: list[str]) -> None:
    for _ in range(requests):
        started = time.perf_counter()
        kind = "stream" if rng.random() < stream_share else "poems"
        try:
            if kind == "stream":
                async with http.stream("POST", "/api/poems/stream", json={"form": form}) as response:
                    chunks = []
                    async for chunk in response.aiter_text():
                        if not chunks and "event: char" in chunk:
                            latencies["first char"].append(time.perf_counter() - started)
                        chunks.append(chunk)
                    body = "".join(chunks)
                ok = response.status_code == 200 and "event: done" in body
            else:
                response = await http.post("/api/poems", json={"form": form})
                ok = response.status_code == 200
            if not ok:
                errors.append(str(response.status_code))
        except httpx.HTTPError as exc:
            errors.append(type(exc).__name__)
        latencies[kind].append(time.perf_counter() - started)


async def load(base: str, clients: int, requests: int, form: str, stream_share: float) -> dict:
    """Overall figures, and p50/p99 per kind of request (poems, stream)."""
    latencies, errors = {"poems": [], "stream": [], "first char": []}, []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*[client(http, form, requests, stream_share, random.Random(i),
                                      latencies, errors) for i in range(clients)])
        elapsed = time.perf_counter() - started
    every = latencies["poems"] + latencies["stream"]
    return {"requests": len(every), "seconds": elapsed, "poems_per_s": len(every) / elapsed,
            **percentiles(every), "errors": len(errors),
            "kinds": {kind: percentiles(found) for kind, found in latencies.items() if found}}


def percentiles(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {"n": len(ordered), "p50": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]}


@contextmanager
def serving(batching: bool, timeout: float, batch_poems: int, workers: int = 1):
    """``lstmkit serve`` in a child process on a free loopback port; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "lstmkit", "serve", "--port", str(port), "--model", "tang",
               "--timeout", str(timeout), "--batch-poems", str(batch_poems),
               "--workers", str(workers)] + ([] if batching else ["--no-batching"])
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"lstmkit serve did not start: {' '.join(command)}")
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        child.terminate()
        child.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20, help="per client")
    parser.add_argument("--form", default="七绝")
    parser.add_argument("--stream-share", type=float, default=0.25)
    parser.add_argument("--timeout", type=float, default=120.0, help="the server's per-request limit")
    parser.add_argument("--batch-poems", type=int, default=32, help="poems per batched pass at most")
    parser.add_argument("--in-process", action="store_true",
                        help="serve from a thread of this process instead of lstmkit serve")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes with batching on (lstmkit serve --workers)")
    args = parser.parse_args()
    if args.workers < 1 or (args.in_process and args.workers > 1):
        parser.error("--workers must be at least 1, and 1 with --in-process")
    modes = [(True, args.workers), (False, 1)] + ([(False, args.workers)] if args.workers > 1 else [])
    print("| batching | workers | requests | seconds | poems/s | p50 s | p99 s | by kind: p50/p99 s | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for batching, workers in modes:
        if args.in_process:
            server = running(create_app({"tang": "tang"}, Limits(
                timeout_s=args.timeout, batching=batching, batch_max_poems=args.batch_poems)))
        else:
            server = serving(batching, args.timeout, args.batch_poems, workers)
        with server as base:
            if workers > 1:  # /healthz answers once one worker is up: give the rest time
                time.sleep(5)
            asyncio.run(load(base, 2 * workers, 2, args.form, 0.0))  # warm up
            r = asyncio.run(load(base, args.clients, args.requests, args.form, args.stream_share))
        kinds = "; ".join(f"{kind} ({k['n']}) {k['p50']:.2f}/{k['p99']:.2f}"
                          for kind, k in r["kinds"].items())
        print(f"| {'on' if batching else 'off'} | {workers} | {r['requests']} | {r['seconds']:.1f} | "
              f"{r['poems_per_s']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | {kinds} | {r['errors']} |",
              flush=True)


if __name__ == "__main__":
    main()
